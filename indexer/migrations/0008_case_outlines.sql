-- The tumour outline drawn over each case's thumbnail on the search page's hit cards
-- (a transparent PNG of the same crop: whole tumour yellow, core red), kept beside the
-- thumbnail at index time. Cases indexed before it get theirs on first display.
ALTER TABLE cases ADD COLUMN thumbnail_outline bytea;
