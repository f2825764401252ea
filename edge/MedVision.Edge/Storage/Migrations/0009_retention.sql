-- 0009: spool retention. A purged study keeps its rows (instances, findings, alerts, outputs, deliveries: the audit
-- trail of what the appliance saw and said) while its spool and output files are deleted; purged_utc says when.
ALTER TABLE studies ADD COLUMN purged_utc TEXT;
CREATE INDEX ix_studies_purgeable ON studies (completed_utc) WHERE purged_utc IS NULL AND completed_utc IS NOT NULL;
