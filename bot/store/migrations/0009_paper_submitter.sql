-- Who put a paper on Daily Papers (an HF username, shown on paper cards) and the media
-- uploaded with it (URLs, one a line).
ALTER TABLE papers ADD COLUMN submitter TEXT;
ALTER TABLE papers ADD COLUMN media_urls TEXT NOT NULL DEFAULT '';
