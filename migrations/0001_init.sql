-- 0001: the time-registrations mirror, its view, and the sync bookkeeping.
-- Mirror tables: one row per Ditio id. `data` is the record JSON as received (for a tombstoned row, the
-- last live version). change_key and seen_run are ditio-sync's own bookkeeping, not Ditio data.
CREATE TABLE time_registrations (
    id            TEXT PRIMARY KEY,
    modified_at   TEXT,                       -- modifiedDateTime exactly as sent
    is_deleted    INTEGER NOT NULL DEFAULT 0, -- 1 once a tombstone or a full re-sync says it is gone
    deleted_at    TEXT,                       -- deletedDateTime, or when a full re-sync inferred the deletion
    data          TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,              -- UTC, when ditio-sync first stored the row
    synced_at     TEXT NOT NULL,              -- UTC, when ditio-sync last wrote the row
    change_key    TEXT NOT NULL DEFAULT '',   -- normalised max(modifiedDateTime, deletedDateTime): older versions never win
    seen_run      INTEGER                     -- the last sync_runs.id whose traversal returned this row
);
CREATE INDEX time_registrations_modified_at ON time_registrations (modified_at);
CREATE INDEX time_registrations_work_date ON time_registrations (substr(json_extract(data, '$.workDate'), 1, 10));

-- Typed columns for everyday queries; deleted rows left out; Ditio's 0001-01-01 sentinel reads as NULL.
CREATE VIEW v_time_registrations AS
SELECT
    id,
    substr(json_extract(data, '$.workDate'), 1, 10)                        AS work_date,
    nullif(json_extract(data, '$.startDateTime'), '0001-01-01T00:00:00Z')  AS start_at,
    nullif(json_extract(data, '$.stopDateTime'), '0001-01-01T00:00:00Z')   AS stop_at,
    CAST(json_extract(data, '$.qty') AS REAL)                              AS qty,
    CAST(json_extract(data, '$.breakQty') AS REAL)                         AS break_qty,
    json_extract(data, '$.unitName')                                       AS unit_name,
    CAST(json_extract(data, '$.amount') AS REAL)                           AS amount,
    CAST(json_extract(data, '$.costAmount') AS REAL)                       AS cost_amount,
    coalesce(json_extract(data, '$.approved'), 0)                          AS approved,
    json_extract(data, '$.approvedByName')                                 AS approved_by_name,
    coalesce(json_extract(data, '$.payrollApproved'), 0)                   AS payroll_approved,
    coalesce(json_extract(data, '$.locked'), 0)                            AS locked,
    coalesce(json_extract(data, '$.invoiced'), 0)                          AS invoiced,
    json_extract(data, '$.userId')                                         AS user_id,
    json_extract(data, '$.userName')                                       AS user_name,
    json_extract(data, '$.userEmployeeNumber')                             AS employee_number,
    json_extract(data, '$.projectId')                                      AS project_id,
    json_extract(data, '$.projectNumber')                                  AS project_number,
    json_extract(data, '$.projectName')                                    AS project_name,
    json_extract(data, '$.projectCompanyId')                               AS project_company_id,
    json_extract(data, '$.taskId')                                         AS task_id,
    json_extract(data, '$.taskName')                                       AS task_name,
    json_extract(data, '$.resourceId')                                     AS resource_id,
    json_extract(data, '$.resourceName')                                   AS resource_name,
    json_extract(data, '$.resourceTypeName')                               AS resource_type_name,
    json_extract(data, '$.description')                                    AS description,
    modified_at,
    synced_at
FROM time_registrations
WHERE is_deleted = 0;

-- One row per stream: its watermark and, while a run is in progress, that run's fixed parameters and
-- checkpoint (continuation token), so a crash resumes where the last committed page ended.
CREATE TABLE sync_state (
    stream             TEXT PRIMARY KEY,
    watermark          TEXT,    -- Ditio's clock when the last complete run started
    last_full_sync_at  TEXT,
    run_id             INTEGER, -- the run in progress, NULL when idle
    run_mode           TEXT,    -- full | incremental
    run_params         TEXT,    -- JSON: the query sent unchanged on every page
    run_server_start   TEXT,    -- Date header of the run's first page
    run_local_start    TEXT,
    continuation_token TEXT,
    pages_done         INTEGER NOT NULL DEFAULT 0,
    last_success_at    TEXT,
    last_error         TEXT,
    last_error_at      TEXT,
    updated_at         TEXT
);

-- AUTOINCREMENT: run ids are never reused, even if old rows are pruned, because seen_run refers to them.
CREATE TABLE sync_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    stream        TEXT NOT NULL,
    mode          TEXT NOT NULL,    -- full | incremental
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL,    -- running | ok | failed | interrupted
    pages         INTEGER NOT NULL DEFAULT 0,
    rows_upserted INTEGER NOT NULL DEFAULT 0,
    rows_deleted  INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    params        TEXT
);
CREATE INDEX sync_runs_stream_started ON sync_runs (stream, started_at);
