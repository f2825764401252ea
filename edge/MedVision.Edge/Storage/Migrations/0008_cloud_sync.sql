-- Cloud sync outbox: messages waiting for the hub's PUBACK. A row leaves only when the broker acknowledged it
-- (deleted) or refused it for good (state 'rejected', kept for inspection). The body is de-identified already.
CREATE TABLE cloud_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    priority INTEGER NOT NULL,      -- 0 alert (positive finding), 1 finding, 2 telemetry
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT
);
CREATE INDEX ix_cloud_outbox_pending ON cloud_outbox (priority, seq) WHERE state = 'pending';

-- Highest findings.id already queued ('findings_queued_through'): after a crash between storing findings and queueing
-- them, the agent queues the findings above it at start.
CREATE TABLE cloud_sync_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
