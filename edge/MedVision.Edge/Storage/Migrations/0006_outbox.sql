-- 0006: export outbox (edge/Export). Outputs made for a study are written to disk and recorded here, with one delivery
-- row per destination, before anything is sent. Timestamps are ISO-8601 UTC strings ("O" format), as in 0001.

-- One row per completion of a study: generation_key is the study's last_received_utc when it completed, so a restart
-- cannot make a second set for the same completion, and a study that received more instances later gets a new one.
CREATE TABLE output_generations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    study_uid        TEXT NOT NULL,
    generation_key   TEXT NOT NULL,
    state            TEXT NOT NULL,                 -- pending | done | superseded | failed
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    requested_utc    TEXT NOT NULL,
    next_attempt_utc TEXT NOT NULL,
    done_utc         TEXT,
    UNIQUE (study_uid, generation_key)
);

CREATE INDEX ix_output_generations_pending ON output_generations (next_attempt_utc) WHERE state = 'pending';

CREATE TABLE outputs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    generation_id    INTEGER NOT NULL REFERENCES output_generations(id),
    study_uid        TEXT NOT NULL,
    kind             TEXT NOT NULL,                 -- sr | parametric-map | secondary-capture | report-html | report-pdf | fhir-bundle
    file_name        TEXT NOT NULL,
    content_type     TEXT NOT NULL,
    sop_class_uid    TEXT,
    sop_instance_uid TEXT,
    size_bytes       INTEGER NOT NULL,
    sha256           TEXT NOT NULL,
    path             TEXT NOT NULL,                 -- under <storage root>/outputs/<study>/<generation>/
    created_utc      TEXT NOT NULL
);

CREATE INDEX ix_outputs_study_uid ON outputs (study_uid);

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    output_id        INTEGER NOT NULL REFERENCES outputs(id),
    destination      TEXT NOT NULL,                 -- MedVision:Export:Destinations:N:Name
    state            TEXT NOT NULL,                 -- pending | delivering | delivered | dead
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_utc      TEXT NOT NULL,
    next_attempt_utc TEXT NOT NULL,
    last_attempt_utc TEXT,
    delivered_utc    TEXT,
    UNIQUE (output_id, destination)
);

CREATE INDEX ix_deliveries_due ON deliveries (next_attempt_utc) WHERE state = 'pending';
CREATE INDEX ix_deliveries_state ON deliveries (state, destination);
