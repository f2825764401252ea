-- 0002: critical-finding alerts (edge/Alerts), the pages sent for them and every delivery attempt.
-- Timestamps are ISO-8601 UTC strings ("O" format), as in 0001.

CREATE TABLE alerts (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    study_uid               TEXT NOT NULL,
    rule                    TEXT NOT NULL,
    severity                TEXT NOT NULL,             -- critical | high | normal
    state                   TEXT NOT NULL,             -- active | deferred | acknowledged | resolved
    finding_id              INTEGER,                   -- findings.id when raised (a re-sent instance replaces the row)
    sop_instance_uid        TEXT NOT NULL,
    model_id                TEXT NOT NULL,
    label                   TEXT NOT NULL,
    probability             REAL NOT NULL,
    threshold               REAL NOT NULL,
    modality                TEXT,
    priority                TEXT,                      -- Requested Procedure Priority when the instance carries it
    patient_id              TEXT,
    accession_number        TEXT,
    finding_count           INTEGER NOT NULL DEFAULT 1, -- findings that matched the rule in this study
    study_last_received_utc TEXT,
    finding_created_utc     TEXT NOT NULL,
    raised_utc              TEXT NOT NULL,
    beacon_on_utc           TEXT,
    first_page_utc          TEXT,
    escalation_step         INTEGER NOT NULL DEFAULT -1, -- -1: nobody paged yet
    escalation_round        INTEGER NOT NULL DEFAULT 0,
    next_escalation_utc     TEXT,                      -- when the next step is paged; NULL when paging is over
    acknowledged_by         TEXT,
    acknowledged_utc        TEXT,
    acknowledged_via        TEXT,                      -- api | link
    resolved_by             TEXT,
    resolved_utc            TEXT,
    UNIQUE (study_uid, rule)
);

CREATE INDEX ix_alerts_state ON alerts(state);

CREATE TABLE alert_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id         INTEGER NOT NULL REFERENCES alerts(id),
    recipient        TEXT NOT NULL,
    channel          TEXT NOT NULL,                    -- email | webhook | log
    address          TEXT NOT NULL,
    step             INTEGER NOT NULL,
    round            INTEGER NOT NULL,
    state            TEXT NOT NULL,                    -- pending | retrying | sent | failed | cancelled
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_utc      TEXT NOT NULL,
    last_attempt_utc TEXT,
    next_attempt_utc TEXT,
    sent_utc         TEXT
);

CREATE INDEX ix_alert_deliveries_alert_id ON alert_deliveries(alert_id);
CREATE INDEX ix_alert_deliveries_state ON alert_deliveries(state);

CREATE TABLE alert_delivery_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES alert_deliveries(id),
    attempt     INTEGER NOT NULL,
    started_utc TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    succeeded   INTEGER NOT NULL,
    error       TEXT
);

CREATE INDEX ix_alert_delivery_attempts_delivery_id ON alert_delivery_attempts(delivery_id);
