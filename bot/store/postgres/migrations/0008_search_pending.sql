-- GIN puts new index entries in a pending list (up to 4 MB) and every search of the index reads
-- all of it; a search of the window asks GIN once per slice (up to 16 times), so after a few
-- days of ingest a search read ~175 pending pages per slice at 200,000 papers (its GIN lookups
-- alone read ~20 pages each once the list is empty). Only a vacuum or an analyze of the table
-- empties it, and autovacuum's default thresholds (20% of the rows changed) waited months.
-- Now autovacuum visits these tables after every 100 new rows (a day's list): the pending
-- list is moved into the index in the background, within a minute of an ingest, and an
-- ingest pays nothing more (a smaller `gin_pending_list_limit` or `fastupdate = off` made
-- the 200-paper ingest 1.7x and 2.7x as slow).
ALTER TABLE paper_search SET (
    autovacuum_vacuum_insert_threshold = 100,
    autovacuum_vacuum_insert_scale_factor = 0
);
ALTER TABLE papers SET (
    autovacuum_vacuum_insert_threshold = 100,
    autovacuum_vacuum_insert_scale_factor = 0
);
