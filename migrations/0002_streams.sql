-- 0002: a mirror table and a typed view for every other stream, joined views for everyday questions,
-- and the scheduler's per-stream state.
-- Views share one rule for Ditio's "empty" date (0001-01-01..., .NET DateTime.MinValue): every date and
-- date-time column reads it as NULL through
--   CASE WHEN json_extract(data, '$.x') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.x') END
-- and date columns (YYYY-MM-DD) are substr(<that>, 1, 10).

-- Windowed streams index the date column their view exposes for the window field (work_date, stop_date,
-- ...) on exactly the view's expression, sentinel CASE included: SQLite uses an index on an expression
-- only for that same expression, so `WHERE work_date BETWEEN ...` on the view (and on the joined views
-- that pass work_date through) searches the index. 0001's time_registrations_work_date, on the bare
-- substr, is replaced.
DROP INDEX time_registrations_work_date;
CREATE INDEX time_registrations_work_date ON time_registrations (substr(CASE WHEN json_extract(data, '$.workDate') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.workDate') END, 1, 10));

-- Mirror tables: the same columns as time_registrations (0001), so one upsert/tombstone/sweep code path
-- serves every stream.
CREATE TABLE machine_registrations (
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
CREATE INDEX machine_registrations_modified_at ON machine_registrations (modified_at);
CREATE INDEX machine_registrations_stop_date ON machine_registrations (substr(CASE WHEN json_extract(data, '$.stopDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.stopDateTime') END, 1, 10));

CREATE TABLE absence_registrations (
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
CREATE INDEX absence_registrations_modified_at ON absence_registrations (modified_at);
CREATE INDEX absence_registrations_date ON absence_registrations (substr(CASE WHEN json_extract(data, '$.date') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.date') END, 1, 10));

CREATE TABLE payroll_lines (
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
CREATE INDEX payroll_lines_modified_at ON payroll_lines (modified_at);
CREATE INDEX payroll_lines_trans_date ON payroll_lines (substr(CASE WHEN json_extract(data, '$.transDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.transDateTime') END, 1, 10));

CREATE TABLE payroll_lines_extended (
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
CREATE INDEX payroll_lines_extended_modified_at ON payroll_lines_extended (modified_at);
CREATE INDEX payroll_lines_extended_trans_date ON payroll_lines_extended (substr(CASE WHEN json_extract(data, '$.transDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.transDateTime') END, 1, 10));

CREATE TABLE checklist_registrations (
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
CREATE INDEX checklist_registrations_modified_at ON checklist_registrations (modified_at);

CREATE TABLE incident_registrations (
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
CREATE INDEX incident_registrations_modified_at ON incident_registrations (modified_at);

CREATE TABLE machine_checklist_registrations (
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
CREATE INDEX machine_checklist_registrations_modified_at ON machine_checklist_registrations (modified_at);

CREATE TABLE machine_incident_registrations (
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
CREATE INDEX machine_incident_registrations_modified_at ON machine_incident_registrations (modified_at);

CREATE TABLE images (
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
CREATE INDEX images_modified_at ON images (modified_at);
CREATE INDEX images_created_date ON images (substr(CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END, 1, 10));

CREATE TABLE crew_list_registrations (
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
CREATE INDEX crew_list_registrations_modified_at ON crew_list_registrations (modified_at);
CREATE INDEX crew_list_registrations_check_in_date ON crew_list_registrations (substr(CASE WHEN json_extract(data, '$.checkInDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.checkInDateTime') END, 1, 10));

CREATE TABLE flow_trip_registrations (
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
CREATE INDEX flow_trip_registrations_modified_at ON flow_trip_registrations (modified_at);
CREATE INDEX flow_trip_registrations_load_date ON flow_trip_registrations (substr(CASE WHEN json_extract(data, '$.loadDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.loadDateTime') END, 1, 10));

CREATE TABLE projects (
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
CREATE INDEX projects_modified_at ON projects (modified_at);

CREATE TABLE work_orders (
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
CREATE INDEX work_orders_modified_at ON work_orders (modified_at);

CREATE TABLE users (
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
CREATE INDEX users_modified_at ON users (modified_at);
-- v1/user has one row per company profile; registrations refer to the person (identityUserId): v_people.
CREATE INDEX users_identity_user_id ON users (json_extract(data, '$.identityUserId'));

CREATE TABLE resources (
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
CREATE INDEX resources_modified_at ON resources (modified_at);

CREATE TABLE flow_locations (
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
CREATE INDEX flow_locations_modified_at ON flow_locations (modified_at);

CREATE TABLE flow_mass_types (
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
CREATE INDEX flow_mass_types_modified_at ON flow_mass_types (modified_at);

-- The scheduler's per-stream state.
-- unavailable_at: when the stream last answered 404 "not available on this environment"; NULL when available.
ALTER TABLE sync_state ADD COLUMN unavailable_at TEXT;
ALTER TABLE sync_state ADD COLUMN next_run_at TEXT;    -- UTC, the daemon's next scheduled run of the stream
ALTER TABLE sync_state ADD COLUMN overlap_ms INTEGER;  -- the sync.overlap in force when the watermark was written

-- Typed views: commonly used columns, deleted rows left out, modified_at and synced_at last.
-- Views cannot be altered: dropped and created again with 0001's columns and names, plus approval, lock
-- and creation times, WBS, external project and resource numbers, and the one sentinel rule throughout.
DROP VIEW v_time_registrations;
CREATE VIEW v_time_registrations AS
SELECT
    id,
    substr(CASE WHEN json_extract(data, '$.workDate') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.workDate') END, 1, 10) AS work_date,
    CASE WHEN json_extract(data, '$.startDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.startDateTime') END AS start_at,
    CASE WHEN json_extract(data, '$.stopDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.stopDateTime') END AS stop_at,
    CAST(json_extract(data, '$.qty') AS REAL)            AS qty,
    CAST(json_extract(data, '$.breakQty') AS REAL)       AS break_qty,
    json_extract(data, '$.unitName')                     AS unit_name,
    CAST(json_extract(data, '$.amount') AS REAL)         AS amount,
    CAST(json_extract(data, '$.costAmount') AS REAL)     AS cost_amount,
    coalesce(json_extract(data, '$.approved'), 0)        AS approved,
    json_extract(data, '$.approvedByName')               AS approved_by_name,
    CASE WHEN json_extract(data, '$.approvedDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.approvedDateTime') END AS approved_at,
    coalesce(json_extract(data, '$.payrollApproved'), 0) AS payroll_approved,
    CASE WHEN json_extract(data, '$.payrollApprovedDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.payrollApprovedDateTime') END AS payroll_approved_at,
    coalesce(json_extract(data, '$.locked'), 0)          AS locked,
    CASE WHEN json_extract(data, '$.lockedDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.lockedDateTime') END AS locked_at,
    coalesce(json_extract(data, '$.invoiced'), 0)        AS invoiced,
    json_extract(data, '$.userId')                       AS user_id,
    json_extract(data, '$.userName')                     AS user_name,
    json_extract(data, '$.userEmployeeNumber')           AS employee_number,
    json_extract(data, '$.projectId')                    AS project_id,
    json_extract(data, '$.projectNumber')                AS project_number,
    json_extract(data, '$.projectName')                  AS project_name,
    json_extract(data, '$.projectExternalNumber')        AS project_external_number,
    json_extract(data, '$.projectCompanyId')             AS project_company_id,
    json_extract(data, '$.taskId')                       AS task_id,
    json_extract(data, '$.taskName')                     AS task_name,
    json_extract(data, '$.taskWbsNumber')                AS task_wbs_number,
    json_extract(data, '$.resourceId')                   AS resource_id,
    json_extract(data, '$.resourceNumber')               AS resource_number,
    json_extract(data, '$.resourceName')                 AS resource_name,
    json_extract(data, '$.resourceTypeName')             AS resource_type_name,
    json_extract(data, '$.description')                  AS description,
    CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END AS created_at,
    modified_at,
    synced_at
FROM time_registrations
WHERE is_deleted = 0;

CREATE VIEW v_machine_registrations AS
SELECT
    id,
    CASE WHEN json_extract(data, '$.startDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.startDateTime') END AS start_at,
    CASE WHEN json_extract(data, '$.stopDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.stopDateTime') END AS stop_at,
    substr(CASE WHEN json_extract(data, '$.stopDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.stopDateTime') END, 1, 10) AS stop_date,
    CAST(json_extract(data, '$.qty') AS REAL)     AS qty,
    coalesce(json_extract(data, '$.approved'), 0) AS approved,
    json_extract(data, '$.machineId')             AS machine_id,
    json_extract(data, '$.machineName')           AS machine_name,
    json_extract(data, '$.resourceNumber')        AS resource_number,
    json_extract(data, '$.machineTypeName')       AS machine_type_name,
    json_extract(data, '$.driverId')              AS driver_id,
    json_extract(data, '$.driverName')            AS driver_name,
    json_extract(data, '$.driverCompanyName')     AS driver_company_name,
    json_extract(data, '$.projectId')             AS project_id,
    json_extract(data, '$.projectNumber')         AS project_number,
    json_extract(data, '$.projectName')           AS project_name,
    json_extract(data, '$.projectExternalNumber') AS project_external_number,
    json_extract(data, '$.projectCompanyName')    AS project_company_name,
    json_extract(data, '$.description')           AS description,
    CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END AS created_at,
    modified_at,
    synced_at
FROM machine_registrations
WHERE is_deleted = 0;

-- One row per absence day; user_id is the identity user id, like time registrations.
CREATE VIEW v_absence_registrations AS
SELECT
    id,
    json_extract(data, '$.registrationId')               AS registration_id,
    substr(CASE WHEN json_extract(data, '$.date') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.date') END, 1, 10) AS absence_date,
    CASE WHEN json_extract(data, '$.startTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.startTime') END AS start_at,
    CAST(json_extract(data, '$.qty') AS REAL)            AS qty,
    json_extract(data, '$.absenceTypeId')                AS absence_type_id,
    json_extract(data, '$.absenceTypeCode')              AS absence_type_code,
    json_extract(data, '$.absenceTypeName')              AS absence_type_name,
    json_extract(data, '$.userId')                       AS user_id,
    json_extract(data, '$.userName')                     AS user_name,
    json_extract(data, '$.employeeNumber')               AS employee_number,
    json_extract(data, '$.projectId')                    AS project_id,
    coalesce(json_extract(data, '$.approved'), 0)        AS approved,
    json_extract(data, '$.approvedByName')               AS approved_by_name,
    CASE WHEN json_extract(data, '$.approvedDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.approvedDateTime') END AS approved_at,
    coalesce(json_extract(data, '$.payrollApproved'), 0) AS payroll_approved,
    CASE WHEN json_extract(data, '$.payrollApprovedDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.payrollApprovedDateTime') END AS payroll_approved_at,
    coalesce(json_extract(data, '$.locked'), 0)          AS locked,
    CASE WHEN json_extract(data, '$.lockedDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.lockedDateTime') END AS locked_at,
    json_extract(data, '$.pdfUrl')                       AS pdf_url,
    modified_at,
    synced_at
FROM absence_registrations
WHERE is_deleted = 0;

CREATE VIEW v_payroll_lines AS
SELECT
    id,
    substr(CASE WHEN json_extract(data, '$.transDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.transDateTime') END, 1, 10) AS trans_date,
    json_extract(data, '$.userId')                AS user_id,
    json_extract(data, '$.userName')              AS user_name,
    json_extract(data, '$.employeeNumber')        AS employee_number,
    json_extract(data, '$.companyId')             AS company_id,
    json_extract(data, '$.payrollTypeId')         AS payroll_type_id,
    json_extract(data, '$.payrollTypeCode')       AS payroll_type_code,
    json_extract(data, '$.payrollTypeName')       AS payroll_type_name,
    CAST(json_extract(data, '$.qty') AS REAL)     AS qty,
    CAST(json_extract(data, '$.rate') AS REAL)    AS rate,
    CAST(json_extract(data, '$.amount') AS REAL)  AS amount,
    json_extract(data, '$.projectId')             AS project_id,
    json_extract(data, '$.projectNumber')         AS project_number,
    json_extract(data, '$.taskId')                AS task_id,
    coalesce(json_extract(data, '$.approved'), 0) AS approved,
    coalesce(json_extract(data, '$.locked'), 0)   AS locked,
    modified_at,
    synced_at
FROM payroll_lines
WHERE is_deleted = 0;

-- overtimeLines stays in the JSON (json_each(data, '$.overtimeLines')); the view counts and totals it.
CREATE VIEW v_payroll_lines_extended AS
SELECT
    id,
    substr(CASE WHEN json_extract(data, '$.transDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.transDateTime') END, 1, 10) AS trans_date,
    json_extract(data, '$.userId')                           AS user_id,
    json_extract(data, '$.userName')                         AS user_name,
    json_extract(data, '$.employeeNumber')                   AS employee_number,
    json_extract(data, '$.companyId')                        AS company_id,
    CAST(json_extract(data, '$.qty') AS REAL)                AS qty,
    CAST(json_extract(data, '$.standardQty') AS REAL)        AS standard_qty,
    CAST(json_extract(data, '$.overtime50Qty') AS REAL)      AS overtime50_qty,
    CAST(json_extract(data, '$.overtime100Qty') AS REAL)     AS overtime100_qty,
    CAST(json_extract(data, '$.timebankQty') AS REAL)        AS timebank_qty,
    CAST(json_extract(data, '$.breakQty') AS REAL)           AS break_qty,
    CAST(json_extract(data, '$.absenceQty') AS REAL)         AS absence_qty,
    CAST(json_extract(data, '$.absenceApprovedQty') AS REAL) AS absence_approved_qty,
    CAST(json_extract(data, '$.absenceLockedQty') AS REAL)   AS absence_locked_qty,
    CAST(json_extract(data, '$.totalVerifiedQty') AS REAL)   AS total_verified_qty,
    CAST(json_extract(data, '$.approvedQty') AS REAL)        AS approved_qty,
    CAST(json_extract(data, '$.lockedQty') AS REAL)          AS locked_qty,
    coalesce(json_array_length(data, '$.overtimeLines'), 0)  AS overtime_line_count,
    (SELECT total(CAST(json_extract(value, '$.qty') AS REAL)) FROM json_each(data, '$.overtimeLines')) AS overtime_lines_qty,
    coalesce(json_extract(data, '$.verified'), 0)            AS verified,
    json_extract(data, '$.verifiedByName')                   AS verified_by_name,
    CASE WHEN json_extract(data, '$.verifiedDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.verifiedDateTime') END AS verified_at,
    coalesce(json_extract(data, '$.approved'), 0)            AS approved,
    json_extract(data, '$.approvedByName')                   AS approved_by_name,
    CASE WHEN json_extract(data, '$.approvedDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.approvedDateTime') END AS approved_at,
    modified_at,
    synced_at
FROM payroll_lines_extended
WHERE is_deleted = 0;

CREATE VIEW v_checklist_registrations AS
SELECT
    id,
    json_extract(data, '$.documentNumber')                   AS document_number,
    json_extract(data, '$.serialNumber')                     AS serial_number,
    json_extract(data, '$.templateName')                     AS template_name,
    CAST(json_extract(data, '$.templateVersion') AS INTEGER) AS template_version,
    json_extract(data, '$.baseTypeName')                     AS base_type_name,
    json_extract(data, '$.statusText')                       AS status_text,
    coalesce(json_extract(data, '$.hasDeviation'), 0)        AS has_deviation,
    coalesce(json_extract(data, '$.hasComment'), 0)          AS has_comment,
    coalesce(json_extract(data, '$.hasImages'), 0)           AS has_images,
    json_extract(data, '$.projectId')                        AS project_id,
    json_extract(data, '$.projectNumber')                    AS project_number,
    json_extract(data, '$.projectName')                      AS project_name,
    json_extract(data, '$.activityId')                       AS activity_id,
    json_extract(data, '$.activityNumber')                   AS activity_number,
    json_extract(data, '$.activityName')                     AS activity_name,
    json_extract(data, '$.machineId')                        AS machine_id,
    json_extract(data, '$.resourceNumber')                   AS resource_number,
    json_extract(data, '$.createdByUserName')                AS created_by_user_name,
    CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END AS created_at,
    json_extract(data, '$.submittedByUserName')              AS submitted_by_user_name,
    CASE WHEN json_extract(data, '$.submittedDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.submittedDateTime') END AS submitted_at,
    json_extract(data, '$.approvedByUserName')               AS approved_by_user_name,
    CAST(json_extract(data, '$.latitude') AS REAL)           AS latitude,
    CAST(json_extract(data, '$.longitude') AS REAL)          AS longitude,
    json_extract(data, '$.pdfUrl')                           AS pdf_url,
    modified_at,
    synced_at
FROM checklist_registrations
WHERE is_deleted = 0;

CREATE VIEW v_machine_checklist_registrations AS
SELECT
    id,
    json_extract(data, '$.documentNumber')                   AS document_number,
    json_extract(data, '$.serialNumber')                     AS serial_number,
    json_extract(data, '$.templateName')                     AS template_name,
    CAST(json_extract(data, '$.templateVersion') AS INTEGER) AS template_version,
    json_extract(data, '$.baseTypeName')                     AS base_type_name,
    json_extract(data, '$.statusText')                       AS status_text,
    coalesce(json_extract(data, '$.hasDeviation'), 0)        AS has_deviation,
    coalesce(json_extract(data, '$.hasComment'), 0)          AS has_comment,
    coalesce(json_extract(data, '$.hasImages'), 0)           AS has_images,
    json_extract(data, '$.projectId')                        AS project_id,
    json_extract(data, '$.projectNumber')                    AS project_number,
    json_extract(data, '$.projectName')                      AS project_name,
    json_extract(data, '$.activityId')                       AS activity_id,
    json_extract(data, '$.activityNumber')                   AS activity_number,
    json_extract(data, '$.activityName')                     AS activity_name,
    json_extract(data, '$.machineId')                        AS machine_id,
    json_extract(data, '$.machineName')                      AS machine_name,
    json_extract(data, '$.resourceNumber')                   AS resource_number,
    json_extract(data, '$.createdByUserName')                AS created_by_user_name,
    CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END AS created_at,
    json_extract(data, '$.submittedByUserName')              AS submitted_by_user_name,
    CASE WHEN json_extract(data, '$.submittedDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.submittedDateTime') END AS submitted_at,
    json_extract(data, '$.approvedByUserName')               AS approved_by_user_name,
    CAST(json_extract(data, '$.latitude') AS REAL)           AS latitude,
    CAST(json_extract(data, '$.longitude') AS REAL)          AS longitude,
    json_extract(data, '$.pdfUrl')                           AS pdf_url,
    modified_at,
    synced_at
FROM machine_checklist_registrations
WHERE is_deleted = 0;

CREATE VIEW v_incident_registrations AS
SELECT
    id,
    json_extract(data, '$.serialNumber')                       AS serial_number,
    json_extract(data, '$.serialNumberWithPrefix')             AS serial_number_with_prefix,
    json_extract(data, '$.title')                              AS title,
    json_extract(data, '$.description')                        AS description,
    json_extract(data, '$.typeName')                           AS type_name,
    json_extract(data, '$.baseType')                           AS base_type,
    json_extract(data, '$.baseTypeText')                       AS base_type_text,
    json_extract(data, '$.status')                             AS status,
    json_extract(data, '$.statusText')                         AS status_text,
    json_extract(data, '$.risk')                               AS risk,
    json_extract(data, '$.measures')                           AS measures,
    coalesce(json_extract(data, '$.requiresFurtherAction'), 0) AS requires_further_action,
    coalesce(json_extract(data, '$.resolvedOnLocation'), 0)    AS resolved_on_location,
    json_extract(data, '$.companyName')                        AS company_name,
    json_extract(data, '$.projectId')                          AS project_id,
    json_extract(data, '$.projectNumber')                      AS project_number,
    json_extract(data, '$.projectName')                        AS project_name,
    json_extract(data, '$.projectCompanyName')                 AS project_company_name,
    json_extract(data, '$.taskId')                             AS task_id,
    json_extract(data, '$.taskName')                           AS task_name,
    json_extract(data, '$.machineId')                          AS machine_id,
    json_extract(data, '$.machineName')                        AS machine_name,
    CAST(json_extract(data, '$.latitude') AS REAL)             AS latitude,
    CAST(json_extract(data, '$.longitude') AS REAL)            AS longitude,
    CASE WHEN json_extract(data, '$.createdAt') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdAt') END AS created_at,
    CASE WHEN json_extract(data, '$.statusUpdatedAt') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.statusUpdatedAt') END AS status_updated_at,
    json_extract(data, '$.pdfUrl')                             AS pdf_url,
    modified_at,
    synced_at
FROM incident_registrations
WHERE is_deleted = 0;

CREATE VIEW v_machine_incident_registrations AS
SELECT
    id,
    json_extract(data, '$.serialNumber')                       AS serial_number,
    json_extract(data, '$.serialNumberWithPrefix')             AS serial_number_with_prefix,
    json_extract(data, '$.title')                              AS title,
    json_extract(data, '$.description')                        AS description,
    json_extract(data, '$.typeName')                           AS type_name,
    json_extract(data, '$.baseType')                           AS base_type,
    json_extract(data, '$.baseTypeText')                       AS base_type_text,
    json_extract(data, '$.status')                             AS status,
    json_extract(data, '$.statusText')                         AS status_text,
    json_extract(data, '$.risk')                               AS risk,
    json_extract(data, '$.measures')                           AS measures,
    coalesce(json_extract(data, '$.requiresFurtherAction'), 0) AS requires_further_action,
    coalesce(json_extract(data, '$.resolvedOnLocation'), 0)    AS resolved_on_location,
    json_extract(data, '$.companyName')                        AS company_name,
    json_extract(data, '$.projectId')                          AS project_id,
    json_extract(data, '$.projectNumber')                      AS project_number,
    json_extract(data, '$.projectName')                        AS project_name,
    json_extract(data, '$.projectCompanyName')                 AS project_company_name,
    json_extract(data, '$.taskId')                             AS task_id,
    json_extract(data, '$.taskName')                           AS task_name,
    json_extract(data, '$.machineId')                          AS machine_id,
    json_extract(data, '$.machineName')                        AS machine_name,
    CAST(json_extract(data, '$.latitude') AS REAL)             AS latitude,
    CAST(json_extract(data, '$.longitude') AS REAL)            AS longitude,
    CASE WHEN json_extract(data, '$.createdAt') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdAt') END AS created_at,
    CASE WHEN json_extract(data, '$.statusUpdatedAt') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.statusUpdatedAt') END AS status_updated_at,
    json_extract(data, '$.pdfUrl')                             AS pdf_url,
    modified_at,
    synced_at
FROM machine_incident_registrations
WHERE is_deleted = 0;

CREATE VIEW v_images AS
SELECT
    id,
    json_extract(data, '$.fileName')                  AS file_name,
    json_extract(data, '$.contentType')               AS content_type,
    CAST(json_extract(data, '$.fileSize') AS INTEGER) AS file_size,
    json_extract(data, '$.originalUrl')               AS original_url,
    json_extract(data, '$.thumbnailUrl')              AS thumbnail_url,
    json_extract(data, '$.mediumUrl')                 AS medium_url,
    json_extract(data, '$.largeUrl')                  AS large_url,
    json_extract(data, '$.source')                    AS source,
    json_extract(data, '$.parentId')                  AS parent_id,
    json_extract(data, '$.projectId')                 AS project_id,
    json_extract(data, '$.projectNumber')             AS project_number,
    json_extract(data, '$.projectName')               AS project_name,
    json_extract(data, '$.taskId')                    AS task_id,
    json_extract(data, '$.taskName')                  AS task_name,
    json_extract(data, '$.activityId')                AS activity_id,
    json_extract(data, '$.activityNumber')            AS activity_number,
    json_extract(data, '$.companyId')                 AS company_id,
    json_extract(data, '$.projectCompanyId')          AS project_company_id,
    json_extract(data, '$.createdByUserId')           AS created_by_user_id,
    json_extract(data, '$.createdByUserName')         AS created_by_user_name,
    CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END AS created_at,
    substr(CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END, 1, 10) AS created_date,
    CAST(json_extract(data, '$.latitude') AS REAL)    AS latitude,
    CAST(json_extract(data, '$.longitude') AS REAL)   AS longitude,
    CAST(json_extract(data, '$.accuracy') AS REAL)    AS accuracy,
    json_extract(data, '$.roadReference')             AS road_reference,
    modified_at,
    synced_at
FROM images
WHERE is_deleted = 0;

-- Check-in and check-out carry an offset: *_at as sent, *_utc normalised to UTC; hours is NULL while open.
-- check_in_date is the check-in's date as sent, local to its offset.
CREATE VIEW v_crew_list_registrations AS
SELECT
    id,
    project_id,
    project_number,
    hse_card_id,
    user_id,
    user_name,
    company_id,
    check_in_at,
    check_in_date,
    check_out_at,
    strftime('%Y-%m-%dT%H:%M:%SZ', check_in_at)                            AS check_in_utc,
    strftime('%Y-%m-%dT%H:%M:%SZ', check_out_at)                           AS check_out_utc,
    check_out_at IS NULL                                                   AS is_open,
    (strftime('%s', check_out_at) - strftime('%s', check_in_at)) / 3600.0 AS hours,
    modified_at,
    synced_at
FROM (
    SELECT
        id,
        json_extract(data, '$.projectId')     AS project_id,
        json_extract(data, '$.projectNumber') AS project_number,
        json_extract(data, '$.hseCardId')     AS hse_card_id,
        json_extract(data, '$.userId')        AS user_id,
        json_extract(data, '$.userName')      AS user_name,
        json_extract(data, '$.companyId')     AS company_id,
        CASE WHEN json_extract(data, '$.checkInDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.checkInDateTime') END AS check_in_at,
        substr(CASE WHEN json_extract(data, '$.checkInDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.checkInDateTime') END, 1, 10) AS check_in_date,
        CASE WHEN json_extract(data, '$.checkOutDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.checkOutDateTime') END AS check_out_at,
        modified_at,
        synced_at
    FROM crew_list_registrations
    WHERE is_deleted = 0
);

-- Coordinates are GeoJSON [longitude, latitude].
CREATE VIEW v_flow_trip_registrations AS
SELECT
    id,
    CASE WHEN json_extract(data, '$.loadDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.loadDateTime') END AS load_at,
    substr(CASE WHEN json_extract(data, '$.loadDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.loadDateTime') END, 1, 10) AS load_date,
    CASE WHEN json_extract(data, '$.dumpDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.dumpDateTime') END AS dump_at,
    CASE WHEN json_extract(data, '$.costStartDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.costStartDateTime') END AS cost_start_at,
    CASE WHEN json_extract(data, '$.costEndDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.costEndDateTime') END AS cost_end_at,
    CAST(json_extract(data, '$.quantity') AS REAL)                 AS quantity,
    CAST(json_extract(data, '$.quantityM3') AS REAL)               AS quantity_m3,
    CAST(json_extract(data, '$.registeredQuantity') AS REAL)       AS registered_quantity,
    CAST(json_extract(data, '$.verifiedQuantity') AS REAL)         AS verified_quantity,
    json_extract(data, '$.unitOfMeasureText')                      AS unit_of_measure_text,
    json_extract(data, '$.massTypeId')                             AS mass_type_id,
    json_extract(data, '$.massType')                               AS mass_type,
    CAST(json_extract(data, '$.m3PerHour') AS REAL)                AS m3_per_hour,
    CAST(json_extract(data, '$.totalCycleTimeSeconds') AS INTEGER) AS total_cycle_time_seconds,
    CAST(json_extract(data, '$.totalCycleTimeHours') AS REAL)      AS total_cycle_time_hours,
    CAST(json_extract(data, '$.utilizationRate') AS REAL)          AS utilization_rate,
    CAST(json_extract(data, '$.distance') AS REAL)                 AS distance,
    CAST(json_extract(data, '$.averageSpeedKmh') AS REAL)          AS average_speed_kmh,
    CAST(json_extract(data, '$.netAltitudeChange') AS REAL)        AS net_altitude_change,
    CAST(json_extract(data, '$.totalAscent') AS REAL)              AS total_ascent,
    CAST(json_extract(data, '$.maxGradient') AS REAL)              AS max_gradient,
    CAST(json_extract(data, '$.averageGradient') AS REAL)          AS average_gradient,
    json_extract(data, '$.loadLocationName')                       AS load_location_name,
    CAST(json_extract(data, '$.loadCoordinates[1]') AS REAL)       AS load_latitude,
    CAST(json_extract(data, '$.loadCoordinates[0]') AS REAL)       AS load_longitude,
    json_extract(data, '$.dumpLocationName')                       AS dump_location_name,
    CAST(json_extract(data, '$.dumpCoordinates[1]') AS REAL)       AS dump_latitude,
    CAST(json_extract(data, '$.dumpCoordinates[0]') AS REAL)       AS dump_longitude,
    json_extract(data, '$.loaderId')                               AS loader_id,
    json_extract(data, '$.loaderName')                             AS loader_name,
    json_extract(data, '$.loaderNumber')                           AS loader_number,
    json_extract(data, '$.loaderDriverName')                       AS loader_driver_name,
    json_extract(data, '$.dumperId')                               AS dumper_id,
    json_extract(data, '$.dumperName')                             AS dumper_name,
    json_extract(data, '$.dumperNumber')                           AS dumper_number,
    json_extract(data, '$.dumperRegistrationNumber')               AS dumper_registration_number,
    json_extract(data, '$.dumperDriverName')                       AS dumper_driver_name,
    json_extract(data, '$.dumperDriverCompanyName')                AS dumper_driver_company_name,
    coalesce(json_extract(data, '$.trailer'), 0)                   AS trailer,
    coalesce(json_extract(data, '$.verified'), 0)                  AS verified,
    coalesce(json_extract(data, '$.approved'), 0)                  AS approved,
    coalesce(json_extract(data, '$.invoiced'), 0)                  AS invoiced,
    json_extract(data, '$.receiptNumber')                          AS receipt_number,
    json_extract(data, '$.customerName')                           AS customer_name,
    json_extract(data, '$.comment')                                AS comment,
    json_extract(data, '$.projectId')                              AS project_id,
    json_extract(data, '$.projectNumber')                          AS project_number,
    json_extract(data, '$.projectName')                            AS project_name,
    json_extract(data, '$.projectExternalNumber')                  AS project_external_number,
    json_extract(data, '$.projectCompanyName')                     AS project_company_name,
    json_extract(data, '$.taskId')                                 AS task_id,
    json_extract(data, '$.taskName')                               AS task_name,
    coalesce(json_extract(data, '$.isFlowData'), 0)                AS is_flow_data,
    modified_at,
    synced_at
FROM flow_trip_registrations
WHERE is_deleted = 0;

CREATE VIEW v_projects AS
SELECT
    id,
    json_extract(data, '$.number')                  AS number,
    json_extract(data, '$.name')                    AS name,
    json_extract(data, '$.externalNumber')          AS external_number,
    json_extract(data, '$.externalDim01')           AS external_dim01,
    json_extract(data, '$.externalDim02')           AS external_dim02,
    json_extract(data, '$.companyId')               AS company_id,
    json_extract(data, '$.companyName')             AS company_name,
    coalesce(json_extract(data, '$.active'), 0)     AS active,
    coalesce(json_extract(data, '$.isExternal'), 0) AS is_external,
    CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END AS created_at,
    modified_at,
    synced_at
FROM projects
WHERE is_deleted = 0;

-- Work orders are time registrations' tasks: taskId = v_work_orders.id.
CREATE VIEW v_work_orders AS
SELECT
    id,
    json_extract(data, '$.projectId')               AS project_id,
    json_extract(data, '$.number')                  AS number,
    json_extract(data, '$.name')                    AS name,
    json_extract(data, '$.nameWithNumber')          AS name_with_number,
    json_extract(data, '$.chapterId')               AS chapter_id,
    json_extract(data, '$.externalNumber')          AS external_number,
    json_extract(data, '$.externalDim01')           AS external_dim01,
    json_extract(data, '$.externalDim02')           AS external_dim02,
    json_extract(data, '$.externalPieceWorkId')     AS external_piece_work_id,
    json_extract(data, '$.parentName')              AS parent_name,
    json_extract(data, '$.fullPathName')            AS full_path_name,
    json_extract(data, '$.companyId')               AS company_id,
    json_extract(data, '$.companyName')             AS company_name,
    coalesce(json_extract(data, '$.isExternal'), 0) AS is_external,
    modified_at,
    synced_at
FROM work_orders
WHERE is_deleted = 0;

-- One row per company profile (id); registrations join on identity_user_id, or use v_people.
CREATE VIEW v_users AS
SELECT
    id,
    json_extract(data, '$.identityUserId')                  AS identity_user_id,
    json_extract(data, '$.employeeNumber')                  AS employee_number,
    json_extract(data, '$.name')                            AS name,
    json_extract(data, '$.firstName')                       AS first_name,
    json_extract(data, '$.lastName')                        AS last_name,
    json_extract(data, '$.email')                           AS email,
    json_extract(data, '$.workTitle')                       AS work_title,
    json_extract(data, '$.department')                      AS department,
    json_extract(data, '$.companyId')                       AS company_id,
    json_extract(data, '$.companyName')                     AS company_name,
    json_extract(data, '$.employmentCompanyId')             AS employment_company_id,
    json_extract(data, '$.employmentCompanyName')           AS employment_company_name,
    coalesce(json_extract(data, '$.isActiveEmployment'), 0) AS is_active_employment,
    coalesce(json_extract(data, '$.isDisabled'), 0)         AS is_disabled,
    substr(CASE WHEN json_extract(data, '$.startDate') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.startDate') END, 1, 10) AS start_date,
    substr(CASE WHEN json_extract(data, '$.endDate') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.endDate') END, 1, 10) AS end_date,
    modified_at,
    synced_at
FROM users
WHERE is_deleted = 0;

CREATE VIEW v_resources AS
SELECT
    id,
    json_extract(data, '$.number')                     AS number,
    json_extract(data, '$.name')                       AS name,
    json_extract(data, '$.typeName')                   AS type_name,
    json_extract(data, '$.typeBaseName')               AS type_base_name,
    json_extract(data, '$.registrationNumber')         AS registration_number,
    json_extract(data, '$.serialNumber')               AS serial_number,
    json_extract(data, '$.department')                 AS department,
    json_extract(data, '$.emissionClass')              AS emission_class,
    CAST(json_extract(data, '$.buildYear') AS INTEGER) AS build_year,
    CAST(json_extract(data, '$.weight') AS REAL)       AS weight,
    CAST(json_extract(data, '$.capacity') AS REAL)     AS capacity,
    CAST(json_extract(data, '$.costPrice') AS REAL)    AS cost_price,
    CAST(json_extract(data, '$.price') AS REAL)        AS price,
    json_extract(data, '$.companyId')                  AS company_id,
    json_extract(data, '$.companyName')                AS company_name,
    coalesce(json_extract(data, '$.active'), 0)        AS active,
    coalesce(json_extract(data, '$.isExternal'), 0)    AS is_external,
    modified_at,
    synced_at
FROM resources
WHERE is_deleted = 0;

CREATE VIEW v_flow_locations AS
SELECT
    id,
    json_extract(data, '$.name')                         AS name,
    json_extract(data, '$.projectId')                    AS project_id,
    json_extract(data, '$.projectNumber')                AS project_number,
    json_extract(data, '$.locationType')                 AS location_type,
    CAST(json_extract(data, '$.coordinates[1]') AS REAL) AS latitude,
    CAST(json_extract(data, '$.coordinates[0]') AS REAL) AS longitude,
    CAST(json_extract(data, '$.radius') AS REAL)         AS radius,
    coalesce(json_extract(data, '$.active'), 0)          AS active,
    json_extract(data, '$.companyId')                    AS company_id,
    modified_at,
    synced_at
FROM flow_locations
WHERE is_deleted = 0;

CREATE VIEW v_flow_mass_types AS
SELECT
    id,
    json_extract(data, '$.name')                  AS name,
    json_extract(data, '$.code')                  AS code,
    json_extract(data, '$.unitOfMeasureText')     AS unit_of_measure_text,
    CAST(json_extract(data, '$.density') AS REAL) AS density,
    coalesce(json_extract(data, '$.active'), 0)   AS active,
    json_extract(data, '$.companyId')             AS company_id,
    modified_at,
    synced_at
FROM flow_mass_types
WHERE is_deleted = 0;

-- Joined views. Registrations' user_id is the identity user id (users.identityUserId, not users.id), and a
-- person has one users row per company profile: v_people picks one profile per person. Joins go through
-- the v_ views, so a deleted project, work order or profile is never used; names then fall back to the
-- copy on the registration.

-- One row per person: the active-employment, not-disabled, most recently changed live profile (change_key,
-- not modified_at: it compares equal times sent with different fraction lengths correctly).
CREATE VIEW v_people AS
SELECT
    identity_user_id,
    profile_id,
    name,
    first_name,
    last_name,
    employee_number,
    email,
    work_title,
    department,
    company_id,
    company_name,
    is_active_employment,
    is_disabled,
    profiles
FROM (
    SELECT
        json_extract(data, '$.identityUserId')                                  AS identity_user_id,
        id                                                                      AS profile_id,
        json_extract(data, '$.name')                                            AS name,
        json_extract(data, '$.firstName')                                       AS first_name,
        json_extract(data, '$.lastName')                                        AS last_name,
        json_extract(data, '$.employeeNumber')                                  AS employee_number,
        json_extract(data, '$.email')                                           AS email,
        json_extract(data, '$.workTitle')                                       AS work_title,
        json_extract(data, '$.department')                                      AS department,
        json_extract(data, '$.companyId')                                       AS company_id,
        json_extract(data, '$.companyName')                                     AS company_name,
        coalesce(json_extract(data, '$.isActiveEmployment'), 0)                 AS is_active_employment,
        coalesce(json_extract(data, '$.isDisabled'), 0)                         AS is_disabled,
        count(*) OVER (PARTITION BY json_extract(data, '$.identityUserId'))     AS profiles,
        row_number() OVER (
            PARTITION BY json_extract(data, '$.identityUserId')
            ORDER BY coalesce(json_extract(data, '$.isActiveEmployment'), 0) DESC,
                     coalesce(json_extract(data, '$.isDisabled'), 0),
                     change_key DESC,
                     id
        )                                                                       AS pick
    FROM users
    WHERE is_deleted = 0 AND json_extract(data, '$.identityUserId') IS NOT NULL
)
WHERE pick = 1;

-- Person lines. A time registration is a person's, a machine's or a vehicle's line, and a machine or vehicle
-- line carries its operator's userId, so per-person sums take person lines only; machine_hours sums the
-- rest. A line is a person line unless its resourceId names a live resources row whose typeBaseName is set
-- and is not 'Human' (Machine, Vehicle, ...). So a line without a resourceId, or whose resource is not in
-- the mirror (resource stream not synced, unknown id, deleted row) or has no typeBaseName, is a person line.
-- The join is on resources.id, the primary key; the subquery is flattened, so filters reach the index.

-- Hours per work date, person and project: hours, approved_hours and registrations count person lines;
-- machine_hours the machine and vehicle lines the person registered. user_id is NULL for lines without a
-- user.
CREATE VIEW v_hours_per_employee_day AS
SELECT
    t.work_date,
    t.user_id,
    coalesce(max(p.employee_number), max(t.employee_number))  AS employee_number,
    coalesce(max(p.name), max(t.user_name))                   AS user_name,
    t.project_id,
    coalesce(max(pr.number), max(t.project_number))           AS project_number,
    coalesce(max(pr.name), max(t.project_name))               AS project_name,
    total(CASE WHEN t.is_person THEN t.qty END)               AS hours,
    total(CASE WHEN t.is_person AND t.approved THEN t.qty END) AS approved_hours,
    count(CASE WHEN t.is_person THEN 1 END)                   AS registrations,
    total(CASE WHEN NOT t.is_person THEN t.qty END)           AS machine_hours
FROM (
    SELECT t.*,
           json_extract(r.data, '$.typeBaseName')                      AS resource_type_base_name,
           coalesce(json_extract(r.data, '$.typeBaseName'), 'Human') = 'Human' AS is_person
    FROM v_time_registrations AS t
    LEFT JOIN resources AS r ON r.id = t.resource_id AND r.is_deleted = 0
) AS t
LEFT JOIN v_people AS p ON p.identity_user_id = t.user_id
LEFT JOIN v_projects AS pr ON pr.id = t.project_id
GROUP BY t.work_date, t.user_id, t.project_id;

-- hours, approved_hours, unapproved_hours, employees and registrations count person lines; the work dates
-- span every line.
CREATE VIEW v_hours_per_project AS
SELECT
    t.project_id,
    coalesce(max(pr.number), max(t.project_number))           AS project_number,
    coalesce(max(pr.name), max(t.project_name))               AS project_name,
    total(CASE WHEN t.is_person THEN t.qty END)               AS hours,
    total(CASE WHEN t.is_person AND t.approved THEN t.qty END) AS approved_hours,
    total(CASE WHEN t.is_person AND NOT t.approved THEN t.qty END) AS unapproved_hours,
    total(CASE WHEN NOT t.is_person THEN t.qty END)           AS machine_hours,
    min(t.work_date)                                          AS first_work_date,
    max(t.work_date)                                          AS last_work_date,
    count(DISTINCT CASE WHEN t.is_person THEN t.user_id END)  AS employees,
    count(CASE WHEN t.is_person THEN 1 END)                   AS registrations
FROM (
    SELECT t.*,
           json_extract(r.data, '$.typeBaseName')                      AS resource_type_base_name,
           coalesce(json_extract(r.data, '$.typeBaseName'), 'Human') = 'Human' AS is_person
    FROM v_time_registrations AS t
    LEFT JOIN resources AS r ON r.id = t.resource_id AND r.is_deleted = 0
) AS t
LEFT JOIN v_projects AS pr ON pr.id = t.project_id
GROUP BY t.project_id;

-- Per project and work order; task_id NULL holds the project's hours without a work order. Person lines
-- as in v_hours_per_project.
CREATE VIEW v_work_order_hours AS
SELECT
    t.project_id,
    coalesce(max(pr.number), max(t.project_number))           AS project_number,
    coalesce(max(pr.name), max(t.project_name))               AS project_name,
    t.task_id,
    coalesce(max(w.number), max(t.task_wbs_number))           AS wbs_number,
    coalesce(max(w.name), max(t.task_name))                   AS task_name,
    total(CASE WHEN t.is_person THEN t.qty END)               AS hours,
    total(CASE WHEN t.is_person AND t.approved THEN t.qty END) AS approved_hours,
    total(CASE WHEN NOT t.is_person THEN t.qty END)           AS machine_hours,
    min(t.work_date)                                          AS first_work_date,
    max(t.work_date)                                          AS last_work_date,
    count(DISTINCT CASE WHEN t.is_person THEN t.user_id END)  AS employees,
    count(CASE WHEN t.is_person THEN 1 END)                   AS registrations
FROM (
    SELECT t.*,
           json_extract(r.data, '$.typeBaseName')                      AS resource_type_base_name,
           coalesce(json_extract(r.data, '$.typeBaseName'), 'Human') = 'Human' AS is_person
    FROM v_time_registrations AS t
    LEFT JOIN resources AS r ON r.id = t.resource_id AND r.is_deleted = 0
) AS t
LEFT JOIN v_projects AS pr ON pr.id = t.project_id
LEFT JOIN v_work_orders AS w ON w.id = t.task_id
GROUP BY t.project_id, t.task_id;

-- Every unapproved line, people's and machines' alike: is_person (the rule above) and the live resource's
-- resource_type_base_name (NULL when not in the mirror) tell them apart.
CREATE VIEW v_unapproved_hours AS
SELECT
    t.id,
    t.work_date,
    t.user_id,
    coalesce(p.employee_number, t.employee_number)            AS employee_number,
    coalesce(p.name, t.user_name)                             AS user_name,
    t.project_id,
    coalesce(pr.number, t.project_number)                     AS project_number,
    coalesce(pr.name, t.project_name)                         AS project_name,
    t.task_id,
    coalesce(w.name, t.task_name)                             AS task_name,
    t.resource_type_base_name,
    t.is_person,
    t.qty,
    t.description,
    t.modified_at
FROM (
    SELECT t.*,
           json_extract(r.data, '$.typeBaseName')                      AS resource_type_base_name,
           coalesce(json_extract(r.data, '$.typeBaseName'), 'Human') = 'Human' AS is_person
    FROM v_time_registrations AS t
    LEFT JOIN resources AS r ON r.id = t.resource_id AND r.is_deleted = 0
) AS t
LEFT JOIN v_people AS p ON p.identity_user_id = t.user_id
LEFT JOIN v_projects AS pr ON pr.id = t.project_id
LEFT JOIN v_work_orders AS w ON w.id = t.task_id
WHERE NOT t.approved;

-- Absence registrations are one row per day, so days counts distinct dates.
CREATE VIEW v_absences_per_employee AS
SELECT
    a.user_id,
    coalesce(max(p.employee_number), max(a.employee_number))  AS employee_number,
    coalesce(max(p.name), max(a.user_name))                   AS user_name,
    a.absence_type_id,
    max(a.absence_type_code)                                  AS absence_type_code,
    max(a.absence_type_name)                                  AS absence_type_name,
    count(DISTINCT a.absence_date)                            AS days,
    total(a.qty)                                              AS hours,
    min(a.absence_date)                                       AS first_date,
    max(a.absence_date)                                       AS last_date,
    count(DISTINCT CASE WHEN a.approved THEN a.absence_date END) AS approved_days
FROM v_absence_registrations AS a
LEFT JOIN v_people AS p ON p.identity_user_id = a.user_id
GROUP BY a.user_id, a.absence_type_id;

-- Is the mirror fresh? complete_through: every change before it is in the mirror (the watermark minus the
-- overlap it was written with; 10 minutes, the default, for watermarks written before overlap_ms existed).
CREATE VIEW v_sync_freshness AS
SELECT
    stream,
    watermark,
    strftime(
        '%Y-%m-%dT%H:%M:%fZ', watermark, printf('%.3f seconds', -coalesce(overlap_ms, 600000) / 1000.0)
    )                                                         AS complete_through,
    last_success_at,
    CAST(strftime('%s', 'now') AS INTEGER) - CAST(strftime('%s', last_success_at) AS INTEGER) AS last_success_age_s,
    run_id IS NOT NULL                                        AS running,
    unavailable_at IS NOT NULL                                AS unavailable,
    next_run_at,
    last_error,
    last_error_at
FROM sync_state;
