-- /search reads words as alerts do: the full-text index holds the papers' words as
-- bot.text.analyze reads them (stems, no accents), written by the store, not by triggers.
-- The store fills the new index when it opens (see SQLiteStore._index_search): on this
-- migration, and again whenever the analysis changes.
DROP TRIGGER papers_fts_insert;
DROP TRIGGER papers_fts_delete;
DROP TRIGGER papers_fts_update;
DROP TABLE papers_fts;

-- No content of its own (rowid = papers.pk): a row is deleted by giving the analysed
-- values it was indexed with. title_words holds the title's words unstemmed, for prefixes.
CREATE VIRTUAL TABLE papers_fts USING fts5 (
    title, abstract, keywords, authors, title_words,
    content = '',
    tokenize = "ascii tokenchars '_'"
);

DELETE FROM meta WHERE key = 'search_analysis';
