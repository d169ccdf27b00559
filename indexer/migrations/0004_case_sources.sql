-- Where each case's images live, so a new model version can re-embed it
-- (a BraTS case folder, a DICOM study folder, or dicomweb:<study uid>).
ALTER TABLE cases ADD COLUMN source_uri text;
-- Whether the stored mask came with the case (a SEG or BraTS seg file) or from simcase's
-- segmenter; re-indexing uses a given mask again.
ALTER TABLE cases ADD COLUMN given_mask boolean NOT NULL DEFAULT false;
-- The embedder's weights (ONNX) of every version that has vectors, so any worker can
-- embed a query with the version searches use, also while a newer one is building.
ALTER TABLE model_versions ADD COLUMN weights bytea;
-- A small PNG of the tumour's largest axial slice (post-contrast T1 when present), shown
-- in search results and in the result montage written back to the PACS.
ALTER TABLE cases ADD COLUMN thumbnail bytea;
