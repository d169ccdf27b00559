-- Nearest archive cases by cosine distance, and the plan of that search
-- (indexer/store/_search.py). Templates take {} parts for psycopg.sql.SQL.

-- name: one_snapshot
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ

-- name: search_settings
-- Template: {ef_search} number, {indexscan} on or off.
SET LOCAL hnsw.ef_search = {ef_search}; SET LOCAL hnsw.iterative_scan = relaxed_order;
SET LOCAL enable_indexscan = {indexscan}

-- name: explain_settings
-- Template: {ef_search} number.
SET LOCAL hnsw.ef_search = {ef_search}; SET LOCAL hnsw.iterative_scan = relaxed_order

-- name: filtered_vectors
-- Template: {dim}, {model_version} literal, {where} the filters' clauses. The k
-- nearest rows come from the version's partial HNSW index (ordered by the indexed
-- expression); the join fetches only those rows' case columns by primary key.
SELECT c.case_id, c.diagnosis, c.source, c.study_instance_uid, c.age, c.sex, c.tumour,
    c.metadata, e.embedding::halfvec({dim}) <=> %(q)s AS distance
FROM embeddings e JOIN cases c ON c.case_id = e.case_id
WHERE e.model_version = {model_version} AND e.slice_index = -1 AND {where}

-- name: top_k
-- Template: {base} the filtered_vectors statement, {k}.
WITH nearest AS MATERIALIZED ({base} ORDER BY distance LIMIT {k})
SELECT * FROM nearest ORDER BY distance

-- name: top_per_diagnosis
-- Template: {base} the filtered_vectors statement, {n} per diagnosis.
SELECT n.* FROM (SELECT DISTINCT diagnosis FROM cases) d
CROSS JOIN LATERAL ({base} AND c.diagnosis = d.diagnosis
    ORDER BY distance LIMIT {n}) n ORDER BY n.diagnosis, n.distance

-- name: explain
-- Template: {statement}.
EXPLAIN (ANALYZE, BUFFERS) {statement}

-- name: no_filter
true

-- name: exclude_patient
c.patient_id IS DISTINCT FROM %(patient)s

-- name: diagnoses
c.diagnosis = ANY(%(diagnoses)s)

-- name: age_min
c.age >= %(age_min)s

-- name: age_max
c.age <= %(age_max)s

-- name: sex
c.sex = %(sex)s

-- name: source
c.source = %(source)s

-- name: metadata
c.metadata @> %(metadata)s
