-- papers_fts merges its segments 8 at a time instead of FTS5's default 4: a day's write
-- (every paper's terms, then their share of the merges) costs ~20 % less of FTS5's CPU, at
-- 15 -> 18 segments for a search to read at 200,000 papers (no difference measured in its
-- latency; bench/README.md, 2026-12-07). Search results do not depend on the segments.
INSERT INTO papers_fts (papers_fts, rank) VALUES ('automerge', 8);
