-- 0005: ISO 8601 week columns, and v_sync_freshness's complete_through to the second.
--
-- Every view with the date a registration belongs to gains iso_year and iso_week, appended after its
-- existing columns (which are unchanged): the week of Monday..Sunday that holds the date's Thursday, and
-- that Thursday's year, which differs from the calendar year around New Year (2024-12-30 is 2025-W01,
-- 2027-01-01 is 2026-W53). strftime('%W') is not ISO and SQLite 3.40 has no '%V', so the Thursday is
-- found by modifiers: 3 days back, then forward to the next Thursday (or that day).
--   iso_year = strftime('%Y', d, '-3 days', 'weekday 4')
--   iso_week = (strftime('%j', d, '-3 days', 'weekday 4') - 1) / 7 + 1
-- A NULL date (Ditio's 0001-01-01 sentinel included) gives NULL for both.
-- Views cannot be altered: the dependent joined views are dropped first and everything is created again.
DROP VIEW v_hours_per_employee_day;
DROP VIEW v_unapproved_hours;
DROP VIEW v_time_registrations;
DROP VIEW v_machine_registrations;
DROP VIEW v_absence_registrations;
DROP VIEW v_payroll_lines;
DROP VIEW v_payroll_lines_extended;
DROP VIEW v_images;
DROP VIEW v_crew_list_registrations;
DROP VIEW v_flow_trip_registrations;

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
    synced_at,
    CAST(strftime('%Y', substr(CASE WHEN json_extract(data, '$.workDate') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.workDate') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) AS iso_year,
    (CAST(strftime('%j', substr(CASE WHEN json_extract(data, '$.workDate') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.workDate') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1 AS iso_week
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
    synced_at,
    CAST(strftime('%Y', substr(CASE WHEN json_extract(data, '$.stopDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.stopDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) AS iso_year,
    (CAST(strftime('%j', substr(CASE WHEN json_extract(data, '$.stopDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.stopDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1 AS iso_week
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
    synced_at,
    CAST(strftime('%Y', substr(CASE WHEN json_extract(data, '$.date') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.date') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) AS iso_year,
    (CAST(strftime('%j', substr(CASE WHEN json_extract(data, '$.date') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.date') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1 AS iso_week
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
    synced_at,
    CAST(strftime('%Y', substr(CASE WHEN json_extract(data, '$.transDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.transDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) AS iso_year,
    (CAST(strftime('%j', substr(CASE WHEN json_extract(data, '$.transDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.transDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1 AS iso_week
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
    synced_at,
    CAST(strftime('%Y', substr(CASE WHEN json_extract(data, '$.transDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.transDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) AS iso_year,
    (CAST(strftime('%j', substr(CASE WHEN json_extract(data, '$.transDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.transDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1 AS iso_week
FROM payroll_lines_extended
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
    synced_at,
    CAST(strftime('%Y', substr(CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) AS iso_year,
    (CAST(strftime('%j', substr(CASE WHEN json_extract(data, '$.createdDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.createdDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1 AS iso_week
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
    synced_at,
    CAST(strftime('%Y', check_in_date, '-3 days', 'weekday 4') AS INTEGER) AS iso_year,
    (CAST(strftime('%j', check_in_date, '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1 AS iso_week
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
    synced_at,
    CAST(strftime('%Y', substr(CASE WHEN json_extract(data, '$.loadDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.loadDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) AS iso_year,
    (CAST(strftime('%j', substr(CASE WHEN json_extract(data, '$.loadDateTime') LIKE '0001-01-01%' THEN NULL ELSE json_extract(data, '$.loadDateTime') END, 1, 10), '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1 AS iso_week
FROM flow_trip_registrations
WHERE is_deleted = 0;

-- The joined views as 0002 made them (see there for person lines), with the week of work_date.
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
    total(CASE WHEN NOT t.is_person THEN t.qty END)           AS machine_hours,
    CAST(strftime('%Y', t.work_date, '-3 days', 'weekday 4') AS INTEGER) AS iso_year,
    (CAST(strftime('%j', t.work_date, '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1 AS iso_week
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
    t.modified_at,
    CAST(strftime('%Y', t.work_date, '-3 days', 'weekday 4') AS INTEGER) AS iso_year,
    (CAST(strftime('%j', t.work_date, '-3 days', 'weekday 4') AS INTEGER) - 1) / 7 + 1 AS iso_week
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

-- complete_through to the second (truncated: never later than the truth), the very string `ditio-sync
-- status` shows (data_complete_through); times stay UTC ISO 8601, stored ones as stored. Otherwise as 0002.
DROP VIEW v_sync_freshness;
CREATE VIEW v_sync_freshness AS
SELECT
    stream,
    watermark,
    strftime(
        '%Y-%m-%dT%H:%M:%SZ', watermark, printf('%.3f seconds', -coalesce(overlap_ms, 600000) / 1000.0)
    )                                                         AS complete_through,
    last_success_at,
    CAST(strftime('%s', 'now') AS INTEGER) - CAST(strftime('%s', last_success_at) AS INTEGER) AS last_success_age_s,
    run_id IS NOT NULL                                        AS running,
    unavailable_at IS NOT NULL                                AS unavailable,
    next_run_at,
    last_error,
    last_error_at
FROM sync_state;
