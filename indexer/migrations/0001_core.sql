-- simcase core schema: archive cases, embeddings per model version, audit.
CREATE EXTENSION IF NOT EXISTS vector;

-- One row per confirmed archive case. patient_id is kept only so that a search
-- never returns the query's own patient; it is never logged.
CREATE TABLE cases (
    case_id            text PRIMARY KEY,
    source             text NOT NULL DEFAULT 'archive',
    patient_id         text,
    study_instance_uid text,
    diagnosis          text NOT NULL,
    age                integer CHECK (age IS NULL OR age BETWEEN 0 AND 130),
    sex                text CHECK (sex IS NULL OR sex IN ('F', 'M', 'O')),
    metadata           jsonb NOT NULL DEFAULT '{}'::jsonb,
    tumour             jsonb NOT NULL DEFAULT '{}'::jsonb,
    indexed_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_patient_id_idx ON cases (patient_id);
CREATE INDEX cases_diagnosis_idx ON cases (diagnosis);
CREATE INDEX cases_study_uid_idx ON cases (study_instance_uid);

-- Every model version that has (or had) vectors. Exactly one is 'active': the one
-- searches use. A new version is 'building' until it covers every case.
CREATE TABLE model_versions (
    model_version text PRIMARY KEY,
    dim           integer NOT NULL CHECK (dim > 0 AND dim <= 4000),
    state         text NOT NULL DEFAULT 'building'
                  CHECK (state IN ('building', 'active', 'retired')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    activated_at  timestamptz
);
CREATE UNIQUE INDEX model_versions_one_active ON model_versions ((true)) WHERE state = 'active';

-- Vectors as halfvec (stored inline, half the size of vector). slice_index -1 is the
-- case embedding; other rows are per-slice vectors. An HNSW index per model version
-- is created as a partial expression index when the version is registered.
CREATE TABLE embeddings (
    case_id       text NOT NULL REFERENCES cases (case_id) ON DELETE CASCADE,
    model_version text NOT NULL REFERENCES model_versions (model_version) ON DELETE CASCADE,
    slice_index   integer NOT NULL DEFAULT -1,
    embedding     halfvec NOT NULL,
    PRIMARY KEY (model_version, case_id, slice_index)
);
CREATE INDEX embeddings_case_idx ON embeddings (case_id);

-- Who did what, when: erasures, reindexing, which archive cases were shown for a study.
CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL,
    subject text,
    details jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_action_idx ON audit_log (action, at);

-- The listener's durable journal: every acknowledged instance, spooled on disk.
CREATE TABLE received_instances (
    sop_instance_uid    text PRIMARY KEY,
    study_instance_uid  text NOT NULL,
    series_instance_uid text NOT NULL,
    sop_class_uid       text NOT NULL,
    modality            text,
    calling_ae          text,
    path                text NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX received_instances_study_idx ON received_instances (study_instance_uid);

-- Results written back into query studies.
CREATE TABLE results (
    id                  bigserial PRIMARY KEY,
    study_instance_uid  text NOT NULL,
    model_version       text NOT NULL,
    content_hash        text NOT NULL,
    series_instance_uid text,
    sop_instance_uids   text[] NOT NULL DEFAULT '{}',
    destination         text,
    state               text NOT NULL DEFAULT 'built' CHECK (state IN ('built', 'sent', 'failed')),
    supersedes          bigint REFERENCES results (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    UNIQUE (study_instance_uid, model_version, content_hash)
);
