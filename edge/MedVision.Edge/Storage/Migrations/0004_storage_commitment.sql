-- Storage Commitment Push Model requests (PS3.4 J) awaiting or done with their N-EVENT-REPORT.
CREATE TABLE storage_commitments (
    transaction_uid TEXT PRIMARY KEY,
    calling_ae TEXT NOT NULL,
    references_json TEXT NOT NULL,
    state TEXT NOT NULL,            -- pending | reported | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_utc TEXT NOT NULL,
    last_error TEXT,
    received_utc TEXT NOT NULL,
    reported_utc TEXT,
    event_type INTEGER
);
CREATE INDEX ix_storage_commitments_pending ON storage_commitments (next_attempt_utc) WHERE state = 'pending';
