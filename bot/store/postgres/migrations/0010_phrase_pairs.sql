-- Phrases through GIN. A phrase was asked of GIN as all of its words, and `search @@ phrase`
-- was then tested on every paper holding them: for a phrase of two common words ("linear
-- models") that is tens of thousands of rows to read and decompress for a window of 2,000.
-- Now each paper also has a `pairs` vector: one lexeme 'a~b' for every two COMMON words at
-- adjacent text positions (weights A, B, D) of its `search` vector, with no positions, and the
-- text GIN index holds them too; a phrase asks GIN for its pairs of adjacent common words and
-- for its other words plainly (bot/store/postgres/fts.py), so a phrase of two common words
-- finds exactly its papers and the exact test runs on those. Only common words pair: a
-- phrase with a rarer word is cheap already, and every pair costs GIN an entry when a paper
-- is written (all pairs: ~190 a paper; common ones: ~31).
--
-- The common words are `pair_words`, version 1: the same set as PAIR_WORDS in
-- bot/store/postgres/pair_words.py (a test checks it). Changing it takes a new migration that
-- rewrites this table and every row's `pairs`.
--
-- The store writes `pairs` with `search` (from the same positions, in Python). A papers row
-- whose `pairs` is NULL (rows stored before this migration, or written by a process that does
-- not know the column) gets them derived here, as does one whose `search` changed while its
-- `pairs` did not. `pairs` is kept out of line in paper_search (STORAGE EXTERNAL): only GIN
-- reads it, when a row is written, so the rows a search visits stay as narrow as before.
CREATE TABLE pair_words (word TEXT PRIMARY KEY);
INSERT INTO pair_words SELECT regexp_split_to_table(trim($words$
0 1 10 2 3 5 abil abl accur accuraci achiev across activ adapt addit address adopt
advanc affect ai aim algorithm align allow along also altern amount analysi analyz
appear appli applic approach approxim architectur argu aris art associ assum assumpt
asymptot avail averag base baselin batch becom behavior benchmark benefit best better
beyond bias bound budget build call cannot capabl captur case caus central certain
challeng chang character choic class classic classif classifi close code com combin
common compar complet complex compon comprehens comput condit confirm connect consid
consist constant constraint construct contain context continu contrast contribut control
convent converg correct correl correspond cost could covari critic crucial current d
data dataset decis decreas deep defin demonstr dens densiti depend deriv descent describ
design desir despit develop differ differenti diffus dimens dimension direct discov
discoveri distribut diverg divers domain downstream drive driven due dynam e effect
effici either emerg empir enabl enhanc entropi equat error establish estim evalu even
evid exact examin exampl exhibit exist expect experi experiment explain explicit explor
extend extens extrem f fact factor famili far faster featur field final find fine finit
first fit fix focus follow form formul forward found four framework free fulli function
fundament furthermor g gain gap gaussian general generat github give given good gradient
guid handl hidden high higher highlight hold howev http hyperparamet hypothesi identifi
ii iii illustr imag imagenet impact implement impli implic import improv includ incorpor
increas independ indic infer infinit influenc inform initi input insight inspir instanc
instead interact interest interpret introduc investig involv issu iter kernel key
knowledg known l label languag larg larger law layer lead learn less level leverag like
likelihood limit linear literatur llm log long loss low lower machin magnitud make mani
match mathemat matrix maxim may mean measur mechan memori method metric minim mixtur
model modern moreov motiv much multi multipl n natur near need negat network neural new
nois non nonlinear normal novel number numer o object observ obtain occur offer often
one onlin open oper optim order origin outperform output overal overfit paper paradigm
paramet parameter particular pattern per perfect perform perspect phase phenomenon
physic point poor posit possibl potenti power practic pre precis predict present
pretrain previous principl prior probabl problem procedur process properti propos prove
provid qualiti question random rang rank rate rather ratio real reason recent reduc
reduct reflect regim regress regular reinforc relat relationship reli remain remark
repres represent requir research resourc respect respons result reveal risk robust role
sampl scalabl scalar scale scenario score search second select self separ set sever
shape shift show shown signal signific similar simpl simul singl size slow small smaller
smooth solut solv sourc space special specif speed stabil standard start state statist
step still stochast strategi strong structur studi substanti success suffici suggest
supervis support surpris system systemat target task techniqu term test theoret theori
therefor three thu time token top toward trade tradit train transform transit tune two
typic understand uniform unlik updat us use usual util valid valu vari variabl varianc
variat various vector verifi via vision way weight well wide width within without work
world would x yet yield zero
$words$, E' \n'), '\s+');
CREATE FUNCTION search_pairs(v tsvector) RETURNS tsvector
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    WITH t AS (
        SELECT w.lexeme, p FROM unnest(ts_filter(v, '{a,b,d}')) w, unnest(w.positions) p
        WHERE w.lexeme IN (SELECT word FROM pair_words)
    )
    SELECT coalesce(array_to_tsvector(array_agg(DISTINCT a.lexeme || '~' || b.lexeme)), '')
    FROM t a JOIN t b ON b.p = a.p + 1
$$;

ALTER TABLE papers ADD COLUMN pairs TSVECTOR;
ALTER TABLE paper_search ADD COLUMN pairs TSVECTOR NOT NULL DEFAULT '';
ALTER TABLE paper_search ALTER COLUMN pairs SET STORAGE EXTERNAL;

CREATE OR REPLACE FUNCTION paper_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pairs tsvector := NEW.pairs;
    -- Only the list date changed: the pairs in paper_search stay (papers.pairs may be older
    -- than them, when a process that does not know the column wrote the text).
    same_text boolean := TG_OP = 'UPDATE' AND OLD.search IS NOT DISTINCT FROM NEW.search
                         AND OLD.pairs IS NOT DISTINCT FROM NEW.pairs;
BEGIN
    IF pairs IS NULL OR (TG_OP = 'UPDATE' AND OLD.search IS DISTINCT FROM NEW.search
                         AND OLD.pairs IS NOT DISTINCT FROM NEW.pairs) THEN
        pairs := search_pairs(NEW.search);
    END IF;
    INSERT INTO paper_search (pk, list_date, search, pairs)
    VALUES (NEW.pk, NEW.list_date, NEW.search, pairs)
    ON CONFLICT (pk) DO UPDATE
        SET list_date = excluded.list_date, search = excluded.search,
            pairs = CASE WHEN same_text THEN paper_search.pairs ELSE excluded.pairs END;
    RETURN NULL;
END
$$;
DROP TRIGGER papers_search_update ON papers;
CREATE TRIGGER papers_search_update AFTER UPDATE OF search, list_date, pairs ON papers
    FOR EACH ROW
    WHEN (OLD.search IS DISTINCT FROM NEW.search OR OLD.list_date IS DISTINCT FROM NEW.list_date
          OR OLD.pairs IS DISTINCT FROM NEW.pairs)
    EXECUTE FUNCTION paper_search_sync();

DROP INDEX paper_search_text;
UPDATE paper_search SET pairs = search_pairs(search);
CREATE INDEX paper_search_text ON paper_search USING gin ((
    ts_filter(search, '{a,b,d}') || pairs
    || ('''#13_' || (pk >> 13) || ''' ''#15_' || (pk >> 15) || '''')::tsvector));
