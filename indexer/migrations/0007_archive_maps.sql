-- The archive map of each model version, computed at index time (end of a bulk import,
-- end of a reindex): the fitted projection (the first two principal components of the
-- version's case vectors) and every case's place on the plane. A query is placed with
-- the same projection: xy = (vector - mean) @ components^T. Dropping a version or
-- erasing a case removes its map or its point.
CREATE TABLE archive_maps (
    model_version text PRIMARY KEY REFERENCES model_versions (model_version) ON DELETE CASCADE,
    mean          double precision[] NOT NULL,
    components    double precision[] NOT NULL,  -- 2 x dim
    fitted_cases  integer NOT NULL,
    computed_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE archive_map_points (
    model_version text NOT NULL REFERENCES archive_maps (model_version) ON DELETE CASCADE,
    case_id       text NOT NULL REFERENCES cases (case_id) ON DELETE CASCADE,
    x             double precision NOT NULL,
    y             double precision NOT NULL,
    PRIMARY KEY (model_version, case_id)
);
CREATE INDEX archive_map_points_case_idx ON archive_map_points (case_id);
