-- 0005: heat maps (class activation maps at the source geometry) kept with their findings, one per
-- (instance, model, version, label) like the findings. Paths are relative to the storage root; the files there are rendered from
-- `cam` when outputs are made (and again if lost).
-- parametric_map_uid is the SOP Instance UID reserved for the DICOM Parametric Map that carries the map.
CREATE TABLE heatmaps (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    study_uid          TEXT NOT NULL,
    sop_instance_uid   TEXT NOT NULL,
    model_id           TEXT NOT NULL,
    model_version      TEXT NOT NULL,
    label              TEXT NOT NULL,
    parametric_map_uid TEXT NOT NULL,
    columns            INTEGER NOT NULL,
    rows               INTEGER NOT NULL,
    float_map_path     TEXT NOT NULL,
    overlay_png_path   TEXT NOT NULL,
    cam_width          INTEGER NOT NULL,          -- the model-resolution map the rendering is made from
    cam_height         INTEGER NOT NULL,
    cam                BLOB NOT NULL,             -- cam_width x cam_height float32, little-endian, row-major
    created_utc        TEXT NOT NULL,
    UNIQUE (sop_instance_uid, model_id, model_version, label)
);
CREATE INDEX ix_heatmaps_study ON heatmaps (study_uid);
