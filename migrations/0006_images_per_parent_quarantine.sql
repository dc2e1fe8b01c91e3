-- 0006: images keyed by image and parent; the quarantine of records that break the record contract.
--
-- v1/images returns one row per (image x parent record) with the image's own id (ditio-api.md 3.1), so the
-- images table is keyed by (id, parent_ref). parent_ref is ditio-sync's own reference to the parent: the
-- record's `source` and the first present of parentId, parentRecordId, sourceId, sourceRecordId as
-- "<source>:<field>=<value>"; with none of them, the present context fields as
-- "<source>:projectId=<v>;taskId=<v>;activityId=<v>"; "" when nothing is present. The daemon computes it
-- the same way (ditio/page.cpp, compose_parent); existing rows get theirs here from their data, so none is
-- lost. A new primary key needs a table rebuild in SQLite: view dropped, table copied, index and view made
-- again (v_images gains parent_ref after its existing columns).
DROP VIEW v_images;

CREATE TABLE images_new (
    id            TEXT NOT NULL,
    parent_ref    TEXT NOT NULL DEFAULT '',   -- which parent record this row belongs to (see above)
    modified_at   TEXT,                       -- modifiedDateTime exactly as sent
    is_deleted    INTEGER NOT NULL DEFAULT 0, -- 1 once a tombstone or a full re-sync says it is gone
    deleted_at    TEXT,                       -- deletedDateTime, or when a full re-sync inferred the deletion
    data          TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,              -- UTC, when ditio-sync first stored the row
    synced_at     TEXT NOT NULL,              -- UTC, when ditio-sync last wrote the row
    change_key    TEXT NOT NULL DEFAULT '',   -- normalised max(modifiedDateTime, deletedDateTime): older versions never win
    seen_run      INTEGER,                    -- the last sync_runs.id whose traversal returned this row
    PRIMARY KEY (id, parent_ref)
);
INSERT INTO images_new (id, parent_ref, modified_at, is_deleted, deleted_at, data, first_seen_at, synced_at, change_key, seen_run)
SELECT id,
    CASE
        WHEN json_type(data, '$.parentId') = 'text' AND json_extract(data, '$.parentId') <> ''
            THEN CASE WHEN json_type(data, '$.source') = 'text' THEN json_extract(data, '$.source') ELSE '' END || ':parentId=' || json_extract(data, '$.parentId')
        WHEN json_type(data, '$.parentRecordId') = 'text' AND json_extract(data, '$.parentRecordId') <> ''
            THEN CASE WHEN json_type(data, '$.source') = 'text' THEN json_extract(data, '$.source') ELSE '' END || ':parentRecordId=' || json_extract(data, '$.parentRecordId')
        WHEN json_type(data, '$.sourceId') = 'text' AND json_extract(data, '$.sourceId') <> ''
            THEN CASE WHEN json_type(data, '$.source') = 'text' THEN json_extract(data, '$.source') ELSE '' END || ':sourceId=' || json_extract(data, '$.sourceId')
        WHEN json_type(data, '$.sourceRecordId') = 'text' AND json_extract(data, '$.sourceRecordId') <> ''
            THEN CASE WHEN json_type(data, '$.source') = 'text' THEN json_extract(data, '$.source') ELSE '' END || ':sourceRecordId=' || json_extract(data, '$.sourceRecordId')
        ELSE coalesce(nullif(CASE WHEN json_type(data, '$.source') = 'text' THEN json_extract(data, '$.source') ELSE '' END || ':' || substr(
                CASE WHEN json_type(data, '$.projectId') = 'text' AND json_extract(data, '$.projectId') <> '' THEN ';projectId=' || json_extract(data, '$.projectId') ELSE '' END ||
                CASE WHEN json_type(data, '$.taskId') = 'text' AND json_extract(data, '$.taskId') <> '' THEN ';taskId=' || json_extract(data, '$.taskId') ELSE '' END ||
                CASE WHEN json_type(data, '$.activityId') = 'text' AND json_extract(data, '$.activityId') <> '' THEN ';activityId=' || json_extract(data, '$.activityId') ELSE '' END, 2), ':'), '')
    END,
    modified_at, is_deleted, deleted_at, data, first_seen_at, synced_at, change_key, seen_run
FROM images;
DROP TABLE images;
ALTER TABLE images_new RENAME TO images;
CREATE INDEX images_created_date ON images (substr(CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END, 1, 10));

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
    synced_at,
    CAST(strftime('%Y', substr(CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) AS iso_year,
    (CAST(strftime('%j', substr(CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1 AS iso_week,
    parent_ref
FROM images
WHERE is_deleted = 0;

-- Records of a well-formed page that break the record contract (no string id, a modifiedDateTime that is
-- not a date-time): kept here instead of the mirror, so the page commits and the stream moves on. One row
-- per stream and record: record_key is 'id:<id>' when the record has a string id, else 'raw:<hash of the
-- JSON>'; the same record seen again only updates last_seen_at, last_run and times_seen. A row leaves when
-- a good version of its id is stored, when a complete full re-sync no longer returns it, or on `reset`.
CREATE TABLE quarantine (
    stream        TEXT NOT NULL,
    record_key    TEXT NOT NULL,
    record_id     TEXT,                       -- the record's id, when it has a string one
    reason        TEXT NOT NULL,              -- why it was kept out, e.g. 'modifiedDateTime is not a date-time'
    data          TEXT NOT NULL,              -- the record JSON as received
    first_seen_at TEXT NOT NULL,              -- UTC
    last_seen_at  TEXT NOT NULL,              -- UTC
    first_run     INTEGER NOT NULL,           -- sync_runs.id
    last_run      INTEGER NOT NULL,
    times_seen    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (stream, record_key)
);
CREATE INDEX quarantine_record_id ON quarantine (stream, record_id) WHERE record_id IS NOT NULL;

-- v_sync_freshness: a stream with quarantined records is not complete through anything (NULL), and says
-- how many it has (appended after the existing columns).
DROP VIEW v_sync_freshness;
CREATE VIEW v_sync_freshness AS
SELECT
    stream,
    watermark,
    CASE WHEN (SELECT count(*) FROM quarantine q WHERE q.stream = sync_state.stream) > 0 THEN NULL ELSE strftime(
        '%Y-%m-%dT%H:%M:%SZ', watermark, printf('%.3f seconds', -coalesce(overlap_ms, 600000) / 1000.0)
    ) END                                                     AS complete_through,
    last_success_at,
    CAST(strftime('%s', 'now') AS INTEGER) - CAST(strftime('%s', last_success_at) AS INTEGER) AS last_success_age_s,
    run_id IS NOT NULL                                        AS running,
    unavailable_at IS NOT NULL                                AS unavailable,
    next_run_at,
    last_error,
    last_error_at,
    (SELECT count(*) FROM quarantine q WHERE q.stream = sync_state.stream) AS quarantined
FROM sync_state;
