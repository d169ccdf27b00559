-- The listener's view of each study it received: when the last instance came and
-- when the study was last declared complete. A study whose last instance is newer
-- than its completion (or that was never completed) is pending: after a restart the
-- listener declares it complete again, so no acknowledged study is lost.
CREATE TABLE intake_studies (
    study_instance_uid text PRIMARY KEY,
    first_received_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_received_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    instances          integer NOT NULL DEFAULT 0,
    completed_at       timestamptz
);
CREATE INDEX intake_studies_pending_idx ON intake_studies (last_received_at)
    WHERE completed_at IS NULL OR completed_at < last_received_at;

-- Where simcase is in a PACS's change feed (Orthanc /changes): resume after a restart.
CREATE TABLE feed_positions (
    feed       text PRIMARY KEY,
    last_seq   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
