-- A journal row is one instance of one series of one study. A SOPInstanceUID sent
-- again in another study (or series) no longer takes over the first study's row: both
-- are kept, each under its own study, as the spool already keeps both files. The same
-- instance sent again in the same series is still one row.
ALTER TABLE received_instances DROP CONSTRAINT received_instances_pkey;
ALTER TABLE received_instances
    ADD PRIMARY KEY (study_instance_uid, series_instance_uid, sop_instance_uid);
DROP INDEX received_instances_study_idx;
CREATE INDEX received_instances_sop_idx ON received_instances (sop_instance_uid);
