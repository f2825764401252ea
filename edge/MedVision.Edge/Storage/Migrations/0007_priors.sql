-- 0007: comparison of each completed study with the same patient's most recent prior study held by the PACS (edge/Priors).

CREATE TABLE prior_comparisons (
    study_uid         TEXT PRIMARY KEY,
    state             TEXT NOT NULL,              -- pending | compared | no-prior | failed
    attempts          INTEGER NOT NULL DEFAULT 0,
    prior_study_uid   TEXT,
    prior_study_date  TEXT,
    prior_accession   TEXT,
    prior_instances   INTEGER,
    changes_json      TEXT,                       -- [FindingChange] when compared
    detail            TEXT,                       -- why no prior / the last error
    requested_utc     TEXT NOT NULL,
    next_attempt_utc  TEXT NOT NULL,
    finished_utc      TEXT
);

CREATE INDEX ix_prior_comparisons_state ON prior_comparisons(state, next_attempt_utc);
