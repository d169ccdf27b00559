-- Progress and errors of procrastinate jobs, for the admin API (procrastinate keeps
-- states and events but not exception texts or progress counters).
CREATE TABLE job_progress (
    job_id     bigint PRIMARY KEY,
    done       integer NOT NULL DEFAULT 0,
    total      integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE job_errors (
    id      bigserial PRIMARY KEY,
    job_id  bigint NOT NULL,
    attempt integer NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    error   text NOT NULL
);
CREATE INDEX job_errors_job_idx ON job_errors (job_id);
