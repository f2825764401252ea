-- 0010: radiologists' reviews of findings (edge/Review). One row per review, never updated: a later review of the
-- same finding (by anyone) becomes the current one, and the earlier rows stay as the history of who said what when.
-- The current review is the one with the highest id for its finding.
CREATE TABLE finding_reviews (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_id   INTEGER NOT NULL REFERENCES findings(id),
    decision     TEXT NOT NULL CHECK (decision IN ('confirmed', 'rejected')),
    reviewer     TEXT NOT NULL CHECK (length(trim(reviewer)) > 0),
    comment      TEXT,
    reviewed_utc TEXT NOT NULL
);

CREATE INDEX ix_finding_reviews_finding_id ON finding_reviews (finding_id, id);
