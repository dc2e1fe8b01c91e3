#include <ditio_sync/ditio/streams.hpp>

#include <array>

namespace ditio_sync::ditio {
namespace {

using enum tombstone_shape;
using enum param_type;

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

// Open passages (checked in, not yet out) belong in a complete mirror; their check-out arrives as an edit.
constexpr std::array<param_def, 2> crew_params{{
    {"project_ids", "ProjectIds", id_list, "", {}},
    {"include_open", "IncludeOpen", boolean, "true", {}},
}};

constexpr std::span<const param_def> none{};

// clang-format off
constexpr std::array<stream_def, 18> streams{{
    // name                               path                                    table                              windowed field           ignores tombstones    dim    params (sweep)
    {"time-registrations",               "v1/time-registrations",               "time_registrations",               true,  "workDate",        false, empty,        false, none},
    {"machine-registrations",            "v1/machine-registrations",            "machine_registrations",            true,  "stopDateTime",    false, empty,        false, none},
    {"absence-registrations",            "v1/absence-registrations",            "absence_registrations",            true,  "date",            false, empty,        false, absence_params},
    {"payroll-lines",                    "v1/payroll-lines",                    "payroll_lines",                    true,  "transDateTime",   false, empty,        false, none},
    {"payroll-lines-extended",           "v1/payroll-lines-extended",           "payroll_lines_extended",           true,  "transDateTime",   false, empty,        false, payroll_extended_params},
    {"checklist-registrations",          "v1/checklist-registrations",          "checklist_registrations",          false, "",                true,  last_version, false, none},
    {"incident-registrations",           "v1/incident-registrations",           "incident_registrations",           false, "",                true,  empty,        false, none},
    {"machine-checklist-registrations",  "v1/machine-checklist-registrations",  "machine_checklist_registrations",  false, "",                true,  last_version, false, none},
    {"machine-incident-registrations",   "v1/machine-incident-registrations",   "machine_incident_registrations",   false, "",                true,  empty,        false, none},
    {"images",                           "v1/images",                           "images",                           true,  "createdDateTime", false, empty,        false, image_params, false},
    {"crew-list-registrations",          "v1/crew-list-registrations",          "crew_list_registrations",          true,  "checkInDateTime", false, empty,        false, crew_params},
    {"flow-trip-registrations",          "v1/flow-trip-registrations",          "flow_trip_registrations",          true,  "loadDateTime",    false, empty,        false, none},
    {"project",                          "v1/project",                          "projects",                         false, "",                false, last_version, true,  none},
    {"project/work-breakdown-structure", "v1/project/work-breakdown-structure", "work_orders",                      false, "",                false, last_version, true,  none},
    {"user",                             "v1/user",                             "users",                            false, "",                false, last_version, true,  none},
    {"resource",                         "v1/resource",                         "resources",                        false, "",                false, last_version, true,  none},
    {"flow-locations",                   "v1/flow-locations",                   "flow_locations",                   false, "",                false, last_version, true,  none},
    {"flow-mass-types",                  "v1/flow-mass-types",                  "flow_mass_types",                  false, "",                false, last_version, true,  none},
}};
// clang-format on

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
