-- A study is complete once no instance has arrived for the quiet time (MedVision:Pipeline:StudyQuietSeconds).
-- NULL while instances may still come; a late instance reopens the study.
ALTER TABLE studies ADD COLUMN completed_utc TEXT;
CREATE INDEX ix_studies_open ON studies (last_received_utc) WHERE completed_utc IS NULL;
