-- 0004: indexes only where a query needs them. The modified_at indexes served no view and no query of
-- ditio-sync, yet every upsert paid for one more random B-tree insert: about a sixth of a backfill's CPU.
DROP INDEX IF EXISTS time_registrations_modified_at;
DROP INDEX IF EXISTS machine_registrations_modified_at;
DROP INDEX IF EXISTS absence_registrations_modified_at;
DROP INDEX IF EXISTS payroll_lines_modified_at;
DROP INDEX IF EXISTS payroll_lines_extended_modified_at;
DROP INDEX IF EXISTS checklist_registrations_modified_at;
DROP INDEX IF EXISTS incident_registrations_modified_at;
DROP INDEX IF EXISTS machine_checklist_registrations_modified_at;
DROP INDEX IF EXISTS machine_incident_registrations_modified_at;
DROP INDEX IF EXISTS images_modified_at;
DROP INDEX IF EXISTS crew_list_registrations_modified_at;
DROP INDEX IF EXISTS flow_trip_registrations_modified_at;
DROP INDEX IF EXISTS projects_modified_at;
DROP INDEX IF EXISTS work_orders_modified_at;
DROP INDEX IF EXISTS users_modified_at;
DROP INDEX IF EXISTS resources_modified_at;
DROP INDEX IF EXISTS flow_locations_modified_at;
DROP INDEX IF EXISTS flow_mass_types_modified_at;
