-- Model versions: registration with their HNSW index, weights, coverage, the switch
-- (indexer/store/_versions.py).

-- name: version
SELECT dim, state FROM model_versions WHERE model_version = %s

-- name: version_state
SELECT state FROM model_versions WHERE model_version = %s

-- name: version_dim
SELECT dim FROM model_versions WHERE model_version = %s

-- name: rebuild_retired
UPDATE model_versions SET state = 'building' WHERE model_version = %s

-- name: any_active
SELECT 1 FROM model_versions WHERE state = 'active'

-- name: insert_version
INSERT INTO model_versions (model_version, dim, state, activated_at)
VALUES (%s, %s, %s, CASE WHEN %s = 'active' THEN now() END)

-- name: create_index
-- Template: {index} name, {dim}, {m}, {ef_construction}, {model_version} literal.
CREATE INDEX IF NOT EXISTS {index} ON embeddings USING hnsw
    ((embedding::halfvec({dim})) halfvec_cosine_ops)
    WITH (m = {m}, ef_construction = {ef_construction})
    WHERE model_version = {model_version} AND slice_index = -1

-- name: save_weights
-- The first weights kept stay.
UPDATE model_versions SET weights = %s WHERE model_version = %s AND weights IS NULL

-- name: load_weights
SELECT weights FROM model_versions WHERE model_version = %s

-- name: active_version
SELECT model_version FROM model_versions WHERE state = 'active'

-- name: coverage
SELECT (SELECT count(*) FROM embeddings WHERE model_version = %s
    AND slice_index = -1) AS have, (SELECT count(*) FROM cases) AS total

-- name: missing_case_ids
SELECT c.case_id FROM cases c WHERE NOT EXISTS (SELECT 1 FROM embeddings e
    WHERE e.case_id = c.case_id AND e.model_version = %s AND e.slice_index = -1)
ORDER BY c.case_id

-- name: count_missing
SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM embeddings e
    WHERE e.case_id = c.case_id AND e.model_version = %s AND e.slice_index = -1)

-- name: lock_versions
LOCK TABLE model_versions IN EXCLUSIVE MODE

-- name: lock_cases
-- No case may be added between the coverage check and the switch.
LOCK TABLE cases IN SHARE MODE

-- name: retire_active
UPDATE model_versions SET state = 'retired' WHERE state = 'active'
RETURNING model_version

-- name: activate_version
UPDATE model_versions SET state = 'active', activated_at = now()
WHERE model_version = %s

-- name: drop_index
-- Template: {index} name.
DROP INDEX IF EXISTS {index}

-- name: delete_version_vectors
DELETE FROM embeddings WHERE model_version = %s

-- name: delete_version
DELETE FROM model_versions WHERE model_version = %s
