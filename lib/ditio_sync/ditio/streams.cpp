#include <ditio_sync/ditio/streams.hpp>

#include <array>

namespace ditio_sync::ditio {
namespace {

using enum tombstone_shape;
using enum param_type;
using model::parent_rule;

constexpr std::array<param_def, 3> common{{
    {"company_id", "CompanyId", text, "", {}},
    {"own_company_data_only", "OwnCompanyDataOnly", boolean, "", {}},
    {"exclude_data_from_subsidiaries", "ExcludeDataFromSubsidiaries", boolean, "", {}},
}};

// Unset filters mean "all rows"; sensitive fields stay out unless asked for (personal data).
constexpr std::array<param_def, 4> absence_params{{
    {"approved", "Approved", boolean, "", {}},
    {"approved_payroll", "ApprovedPayroll", boolean, "", {}},
    {"locked", "Locked", boolean, "", {}},
    {"include_sensitive_data", "IncludeSensitiveData", boolean, "", {}},
}};

// Ditio's defaults leave out fixed-pay employees; Ditio's own Power BI template sends these.
constexpr std::array<param_def, 2> payroll_extended_params{{
    {"export_filter", "ExportFilter", text, "All", {}},
    {"user_payroll_type_filter", "UserPayrollTypeFilter", text, "AllUsers", {}},
}};

constexpr std::array<std::string_view, 3> image_sources{"feed", "alert", "checklist"};
constexpr std::array<param_def, 1> image_params{{
    {"sources", "Sources", text_list, "", image_sources},
}};

// Ditio's docs name no parent field of an image row (ditio-api.md 3.7 "Images"): the first present of a few
// plausible names, else the row's context, so two parents never collapse into one row.
constexpr std::array<std::string_view, 4> image_parent_ids{
    "parentId", "parentRecordId", "sourceId", "sourceRecordId"};
constexpr std::array<std::string_view, 3> image_parent_context{"projectId", "taskId", "activityId"};
constexpr parent_rule image_parent{"source", image_parent_ids, image_parent_context};

// Open passages (checked in, not yet out) belong in a complete mirror; their check-out arrives as an edit.
constexpr std::array<param_def, 2> crew_params{{
    {"project_ids", "ProjectIds", id_list, "", {}},
    {"include_open", "IncludeOpen", boolean, "true", {}},
}};

// Each row names only what differs from stream_def's defaults (not windowed, empty tombstones, no
// parameters, swept).
constexpr std::array<stream_def, 18> streams{{
    {.name = "time-registrations",
     .path = "v1/time-registrations",
     .table = "time_registrations",
     .windowed = true,
     .window_field = "workDate"},
    {.name = "machine-registrations",
     .path = "v1/machine-registrations",
     .table = "machine_registrations",
     .windowed = true,
     .window_field = "stopDateTime"},
    {.name = "absence-registrations",
     .path = "v1/absence-registrations",
     .table = "absence_registrations",
     .windowed = true,
     .window_field = "date",
     .params = absence_params},
    {.name = "payroll-lines",
     .path = "v1/payroll-lines",
     .table = "payroll_lines",
     .windowed = true,
     .window_field = "transDateTime"},
    {.name = "payroll-lines-extended",
     .path = "v1/payroll-lines-extended",
     .table = "payroll_lines_extended",
     .windowed = true,
     .window_field = "transDateTime",
     .params = payroll_extended_params},
    {.name = "checklist-registrations",
     .path = "v1/checklist-registrations",
     .table = "checklist_registrations",
     .ignores_window = true,
     .tombstones = last_version},
    {.name = "incident-registrations",
     .path = "v1/incident-registrations",
     .table = "incident_registrations",
     .ignores_window = true},
    {.name = "machine-checklist-registrations",
     .path = "v1/machine-checklist-registrations",
     .table = "machine_checklist_registrations",
     .ignores_window = true,
     .tombstones = last_version},
    {.name = "machine-incident-registrations",
     .path = "v1/machine-incident-registrations",
     .table = "machine_incident_registrations",
     .ignores_window = true},
    {.name = "images",
     .path = "v1/images",
     .table = "images",
     .windowed = true,
     .window_field = "createdDateTime",
     .params = image_params,
     .sweep = false,
     .parent = &image_parent},
    {.name = "crew-list-registrations",
     .path = "v1/crew-list-registrations",
     .table = "crew_list_registrations",
     .windowed = true,
     .window_field = "checkInDateTime",
     .params = crew_params},
    {.name = "flow-trip-registrations",
     .path = "v1/flow-trip-registrations",
     .table = "flow_trip_registrations",
     .windowed = true,
     .window_field = "loadDateTime"},
    {.name = "project",
     .path = "v1/project",
     .table = "projects",
     .tombstones = last_version,
     .dimension = true},
    {.name = "project/work-breakdown-structure",
     .path = "v1/project/work-breakdown-structure",
     .table = "work_orders",
     .tombstones = last_version,
     .dimension = true},
    {.name = "user", .path = "v1/user", .table = "users", .tombstones = last_version, .dimension = true},
    {.name = "resource",
     .path = "v1/resource",
     .table = "resources",
     .tombstones = last_version,
     .dimension = true},
    {.name = "flow-locations",
     .path = "v1/flow-locations",
     .table = "flow_locations",
     .tombstones = last_version,
     .dimension = true},
    {.name = "flow-mass-types",
     .path = "v1/flow-mass-types",
     .table = "flow_mass_types",
     .tombstones = last_version,
     .dimension = true},
}};

} // namespace

std::span<const param_def> common_params()
{
    return common;
}

std::span<const stream_def> catalogue()
{
    return streams;
}

const stream_def* find_stream(std::string_view name)
{
    for (const auto& s : streams)
        if (s.name == name)
            return &s;
    return nullptr;
}

std::vector<std::string_view> stream_names()
{
    std::vector<std::string_view> out;
    for (const auto& s : streams)
        out.push_back(s.name);
    return out;
}

} // namespace ditio_sync::ditio
