-- 0003: the outbox. People (or their ERP export) write the projects and work orders Ditio should have;
-- the daemon pushes them through the Integration API and records each outcome here.
-- Desired-state columns are the Integration API's fields in snake_case; NULL means "not sent", so Ditio
-- keeps (or defaults) that field. `extra` is a JSON object of further API fields, sent as is; the
-- columns win over it. State columns (status onwards) belong to the daemon.
CREATE TABLE outbox_projects (
    -- AUTOINCREMENT: an id is never reused, so an outcome can never land on a row deleted and inserted anew
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id               TEXT NOT NULL,
    project_number           TEXT NOT NULL,                -- the key: unique within the company
    name                     TEXT,
    active                   INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)), -- Ditio defaults to 0
    external_project_number  TEXT,
    external_dimension1      TEXT,
    external_dimension2      TEXT,
    description              TEXT,
    require_task_number      INTEGER CHECK (require_task_number IN (0, 1)),
    blocked_for_registration INTEGER CHECK (blocked_for_registration IN (0, 1)),
    start_date               TEXT,                         -- e.g. 2026-03-01T00:00:00Z
    finished_date_planned    TEXT,
    finished_date            TEXT,
    project_customer_name    TEXT,
    project_address          TEXT,
    main_contact_email       TEXT,
    extra                    TEXT CHECK (extra IS NULL OR json_type(extra) = 'object'),
    status                   TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts                 INTEGER NOT NULL DEFAULT 0,   -- pushes of this version of the row
    last_error               TEXT,                         -- Ditio's message for the last failure
    ditio_id                 TEXT,                         -- the project's Ditio id once known
    revision                 INTEGER NOT NULL DEFAULT 0,   -- bumped by every change to the desired state
    created_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_attempt_at          TEXT,
    sent_at                  TEXT,
    UNIQUE (company_id, project_number)
);

-- A work order names its project by number, so a project and its work orders can be written together.
CREATE TABLE outbox_work_orders (
    id                                  INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id                          TEXT NOT NULL,
    project_number                      TEXT NOT NULL,
    external_id                         TEXT NOT NULL,     -- the key: unique within the project
    name                                TEXT,
    active                              INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    external_project_number             TEXT,
    external_project_name               TEXT,
    external_dim01                      TEXT,
    work_description_short              TEXT,
    work_description                    TEXT,
    start_date                          TEXT,
    finished_date_planned               TEXT,
    finished_date                       TEXT,
    estimated_hour_qty                  REAL,
    fixed_resource_price                REAL,
    unit_id                             TEXT,
    cost_price                          REAL,
    price                               REAL,
    measure_unit_qty                    INTEGER CHECK (measure_unit_qty IN (0, 1)),
    safe_job_analysis_approval_required INTEGER CHECK (safe_job_analysis_approval_required IN (0, 1)),
    extra                               TEXT CHECK (extra IS NULL OR json_type(extra) = 'object'),
    status                              TEXT NOT NULL DEFAULT 'pending'
                                        CHECK (status IN ('pending', 'sent', 'failed')),
    attempts                            INTEGER NOT NULL DEFAULT 0,
    last_error                          TEXT,
    ditio_id                            TEXT,              -- the work order's Ditio id once known
    ditio_project_id                    TEXT,              -- its project's Ditio id once resolved
    revision                            INTEGER NOT NULL DEFAULT 0,
    created_at                          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at                          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_attempt_at                     TEXT,
    sent_at                             TEXT,
    UNIQUE (company_id, project_number, external_id)
);

-- What the daemon looks for on every pass.
CREATE INDEX outbox_projects_status ON outbox_projects (status);
CREATE INDEX outbox_work_orders_status ON outbox_work_orders (status);

-- A change to what a row asks for makes it pending again (a failed row is retried only then). The
-- daemon's own writes touch state columns only, so they never fire these.
CREATE TRIGGER outbox_projects_changed
AFTER UPDATE OF company_id, project_number, name, active, external_project_number, external_dimension1,
    external_dimension2, description, require_task_number, blocked_for_registration, start_date,
    finished_date_planned, finished_date, project_customer_name, project_address, main_contact_email, extra
ON outbox_projects
WHEN NEW.company_id IS NOT OLD.company_id OR NEW.project_number IS NOT OLD.project_number
    OR NEW.name IS NOT OLD.name OR NEW.active IS NOT OLD.active
    OR NEW.external_project_number IS NOT OLD.external_project_number
    OR NEW.external_dimension1 IS NOT OLD.external_dimension1
    OR NEW.external_dimension2 IS NOT OLD.external_dimension2 OR NEW.description IS NOT OLD.description
    OR NEW.require_task_number IS NOT OLD.require_task_number
    OR NEW.blocked_for_registration IS NOT OLD.blocked_for_registration
    OR NEW.start_date IS NOT OLD.start_date OR NEW.finished_date_planned IS NOT OLD.finished_date_planned
    OR NEW.finished_date IS NOT OLD.finished_date OR NEW.project_customer_name IS NOT OLD.project_customer_name
    OR NEW.project_address IS NOT OLD.project_address OR NEW.main_contact_email IS NOT OLD.main_contact_email
    OR NEW.extra IS NOT OLD.extra
BEGIN
    UPDATE outbox_projects
    SET status = 'pending', attempts = 0, last_error = NULL, revision = OLD.revision + 1,
        -- a new key names another project
        ditio_id = CASE WHEN NEW.project_number IS OLD.project_number
                         AND NEW.company_id IS OLD.company_id THEN OLD.ditio_id END,
        updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.id;
END;

CREATE TRIGGER outbox_work_orders_changed
AFTER UPDATE OF company_id, project_number, external_id, name, active, external_project_number,
    external_project_name, external_dim01, work_description_short, work_description, start_date,
    finished_date_planned, finished_date, estimated_hour_qty, fixed_resource_price, unit_id, cost_price, price,
    measure_unit_qty, safe_job_analysis_approval_required, extra
ON outbox_work_orders
WHEN NEW.company_id IS NOT OLD.company_id OR NEW.project_number IS NOT OLD.project_number
    OR NEW.external_id IS NOT OLD.external_id OR NEW.name IS NOT OLD.name OR NEW.active IS NOT OLD.active
    OR NEW.external_project_number IS NOT OLD.external_project_number
    OR NEW.external_project_name IS NOT OLD.external_project_name
    OR NEW.external_dim01 IS NOT OLD.external_dim01
    OR NEW.work_description_short IS NOT OLD.work_description_short
    OR NEW.work_description IS NOT OLD.work_description OR NEW.start_date IS NOT OLD.start_date
    OR NEW.finished_date_planned IS NOT OLD.finished_date_planned
    OR NEW.finished_date IS NOT OLD.finished_date OR NEW.estimated_hour_qty IS NOT OLD.estimated_hour_qty
    OR NEW.fixed_resource_price IS NOT OLD.fixed_resource_price OR NEW.unit_id IS NOT OLD.unit_id
    OR NEW.cost_price IS NOT OLD.cost_price OR NEW.price IS NOT OLD.price
    OR NEW.measure_unit_qty IS NOT OLD.measure_unit_qty
    OR NEW.safe_job_analysis_approval_required IS NOT OLD.safe_job_analysis_approval_required
    OR NEW.extra IS NOT OLD.extra
BEGIN
    UPDATE outbox_work_orders
    SET status = 'pending', attempts = 0, last_error = NULL, revision = OLD.revision + 1,
        -- a new key names another work order (and a new project number, another project)
        ditio_project_id = CASE WHEN NEW.project_number IS OLD.project_number
                                 AND NEW.company_id IS OLD.company_id THEN OLD.ditio_project_id END,
        ditio_id = CASE WHEN NEW.project_number IS OLD.project_number AND NEW.company_id IS OLD.company_id
                         AND NEW.external_id IS OLD.external_id THEN OLD.ditio_id END,
        updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.id;
END;

-- One line per outbox table and status, for a quick look and for monitoring.
CREATE VIEW v_outbox_status AS
SELECT 'projects' AS outbox, status, count(*) AS rows, max(updated_at) AS last_change, max(sent_at) AS last_sent
FROM outbox_projects GROUP BY status
UNION ALL
SELECT 'work_orders', status, count(*), max(updated_at), max(sent_at)
FROM outbox_work_orders GROUP BY status;
