-- 0001: studies, instances and findings.
-- Timestamps are ISO-8601 UTC strings ("O" format) so they sort lexically and stay readable with the sqlite3 CLI.

CREATE TABLE studies (
    study_uid          TEXT PRIMARY KEY,
    patient_id         TEXT,
    patient_name       TEXT,
    study_date         TEXT,
    accession_number   TEXT,
    modality           TEXT,
    status             TEXT NOT NULL,              -- receiving | complete | processed | failed
    instance_count     INTEGER NOT NULL DEFAULT 0,
    first_received_utc TEXT NOT NULL,
    last_received_utc  TEXT NOT NULL
);

CREATE TABLE instances (
    sop_instance_uid    TEXT PRIMARY KEY,
    study_uid           TEXT NOT NULL REFERENCES studies(study_uid),
    series_uid          TEXT,
    sop_class_uid       TEXT NOT NULL,
    modality            TEXT,
    transfer_syntax_uid TEXT NOT NULL,
    calling_ae          TEXT NOT NULL,
    spool_path          TEXT NOT NULL,
    size_bytes          INTEGER NOT NULL,
    received_utc        TEXT NOT NULL,
    state               TEXT NOT NULL,             -- received | processed | skipped | failed
    error               TEXT,
    processed_utc       TEXT
);

CREATE INDEX ix_instances_state ON instances(state);
CREATE INDEX ix_instances_study_uid ON instances(study_uid);

CREATE TABLE findings (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    study_uid          TEXT NOT NULL,
    sop_instance_uid   TEXT NOT NULL,
    model_id           TEXT NOT NULL,
    model_version      TEXT NOT NULL,
    model_sha256       TEXT NOT NULL,
    label              TEXT NOT NULL,
    probability        REAL NOT NULL,
    threshold          REAL NOT NULL,
    positive           INTEGER NOT NULL,
    execution_provider TEXT NOT NULL,
    inference_ms       REAL,
    created_utc        TEXT NOT NULL,
    UNIQUE (sop_instance_uid, model_id, model_version, label)
);

CREATE INDEX ix_findings_study_uid ON findings(study_uid);
