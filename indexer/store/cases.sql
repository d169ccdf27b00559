-- Archive cases, their vectors and thumbnails (indexer/store/_cases.py).

-- name: upsert_case
-- A case's row; a new thumbnail or outline replaces the kept one only when given.
INSERT INTO cases (case_id, source, source_uri, patient_id, study_instance_uid,
    diagnosis, age, sex, given_mask, metadata, tumour, thumbnail, thumbnail_outline)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (case_id) DO UPDATE SET source = excluded.source,
    source_uri = excluded.source_uri, patient_id = excluded.patient_id,
    study_instance_uid = excluded.study_instance_uid,
    diagnosis = excluded.diagnosis, age = excluded.age, sex = excluded.sex,
    given_mask = excluded.given_mask, metadata = excluded.metadata,
    tumour = excluded.tumour,
    thumbnail = coalesce(excluded.thumbnail, cases.thumbnail),
    thumbnail_outline = coalesce(excluded.thumbnail_outline, cases.thumbnail_outline),
    indexed_at = now()

-- name: delete_case_vectors
DELETE FROM embeddings WHERE case_id = %s AND model_version = %s

-- name: insert_vector
-- slice_index -1 is the case vector, 0.. the slice vectors.
INSERT INTO embeddings (case_id, model_version, slice_index, embedding)
VALUES (%s, %s, %s, %s)

-- name: put_case_vector
INSERT INTO embeddings (case_id, model_version, slice_index, embedding)
VALUES (%s, %s, -1, %s) ON CONFLICT (model_version, case_id, slice_index)
DO UPDATE SET embedding = excluded.embedding

-- name: indexed_case_ids
SELECT case_id FROM embeddings WHERE model_version = %s AND slice_index = -1

-- name: case_source
SELECT source_uri, given_mask FROM cases WHERE case_id = %s

-- name: thumbnails
SELECT case_id, thumbnail FROM cases WHERE case_id = ANY(%s)
    AND thumbnail IS NOT NULL

-- name: outlines
SELECT case_id, thumbnail_outline AS thumbnail FROM cases
WHERE case_id = ANY(%s) AND thumbnail_outline IS NOT NULL

-- name: cases_without_outline
SELECT case_id FROM cases WHERE thumbnail_outline IS NULL

-- name: save_outline
UPDATE cases SET thumbnail_outline = %s WHERE case_id = %s
