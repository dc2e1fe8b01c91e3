// Unit tests for migrations/0002_streams.sql and 0005_iso_weeks.sql: the mirror table of every catalogue
// stream, the typed v_ views (columns, types, Ditio's 0001-01-01 sentinel as NULL, deleted rows left out,
// ISO weeks), the joined views (identity joins, one profile per person, sums) and v_sync_freshness, on
// databases migrated by store::migrate.
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/util/time.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <support/temp_dir.hpp>
#include <utility>
#include <vector>

namespace {

namespace store = ditio_sync::store;
using namespace std::chrono_literals;

const std::string synced = "2026-03-20T09:00:00.000Z";

SQLite::Database migrated_db()
{
    SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db);
    return db;
}

// Stores a record the way the mirror does: id and modified_at from the JSON, change_key normalised, and
// for a deleted row the flag and a deletion time.
void put(SQLite::Database& db, const std::string& table, const std::string& json, bool deleted = false)
{
    auto v = boost::json::parse(json);
    const auto& o = v.as_object();
    std::string id(o.at("id").as_string());
    std::string modified(o.at("modifiedDateTime").as_string());
    SQLite::Statement q(
        db,
        "INSERT INTO " + table +
            " (id, modified_at, is_deleted, deleted_at, data, first_seen_at, synced_at, change_key, "
            "seen_run) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)"
    );
    q.bind(1, id);
    q.bind(2, modified);
    q.bind(3, deleted ? 1 : 0);
    if (deleted)
        q.bind(4, "2026-03-19T12:00:00Z");
    q.bind(5, json);
    q.bind(6, synced);
    q.bind(7, synced);
    q.bind(8, ditio_sync::util::change_key(modified));
    q.exec();
}

// Every row of a query as "column=value" lines, rows ended by "--". Text is quoted; integers and reals
// are printed by SQLite, so 8 (integer) and 8.0 (real) differ.
std::string dump(SQLite::Database& db, const std::string& sql)
{
    SQLite::Statement q(db, sql);
    std::string out;
    while (q.executeStep()) {
        for (int i = 0; i < q.getColumnCount(); ++i) {
            auto c = q.getColumn(i);
            out += q.getColumnName(i);
            out += '=';
            if (c.isNull())
                out += "NULL";
            else if (c.isText())
                out += "'" + c.getString() + "'";
            else
                out += c.getString();
            out += '\n';
        }
        out += "--\n";
    }
    return out;
}

std::string text(SQLite::Database& db, const std::string& sql)
{
    auto c = db.execAndGet(sql);
    return c.isNull() ? "NULL" : c.getString();
}

// The ids a view shows, in id order.
std::string ids(SQLite::Database& db, const std::string& view)
{
    return text(db, "SELECT group_concat(id, ',') FROM (SELECT id FROM " + view + " ORDER BY id)");
}

// "name type notnull default pk" for each column of a table or view.
std::string shape(SQLite::Database& db, const std::string& table)
{
    return text(
        db,
        "SELECT group_concat(name || ' ' || type || ' ' || \"notnull\" || ' ' || "
        "coalesce(dflt_value, '-') || ' ' || pk, ', ') FROM pragma_table_info('" +
            table + "')"
    );
}

// The EXPLAIN QUERY PLAN details of a query, each ended by ";".
std::string plan(SQLite::Database& db, const std::string& sql)
{
    SQLite::Statement q(db, "EXPLAIN QUERY PLAN " + sql);
    std::string details;
    while (q.executeStep())
        details += q.getColumn(3).getString() + ";";
    return details;
}

// How SQLite reports a search of a table through an index on an expression, bounded on both sides.
std::string date_range_search(const std::string& table, const std::string& index)
{
    return "SEARCH " + table + " USING INDEX " + index + " (<expr>>? AND <expr><?);";
}

// People, projects, work orders, resources, time registrations and absences for the joined views. Kari
// has a live active profile, a more recent inactive one and a deleted one; Ola has three active profiles,
// one disabled; Dag has only a deleted profile, so his names come from his registrations. Time lines:
// tr-1 is Kari's on her Human resource; tr-8 (Kari, excavator) and tr-9 (Ola, van) are machine and vehicle
// lines; tr-10's resource is a deleted Machine row and tr-11's is not in the mirror, so both are person
// lines; the other lines have no resourceId.
void seed_people_and_hours(SQLite::Database& db)
{
    put(db,
        "users",
        R"({"id":"u-k1","identityUserId":"auth0|kari","employeeNumber":"1001","name":"Kari Nordmann",
        "firstName":"Kari","lastName":"Nordmann","email":"kari@bygg.no","workTitle":"Anleggsleder",
        "department":"Anlegg","companyId":"c-bygg","companyName":"Bygg AS","employmentCompanyId":"c-bygg",
        "employmentCompanyName":"Bygg AS","isActiveEmployment":true,"isDisabled":false,
        "startDate":"2019-08-01T00:00:00Z","endDate":"0001-01-01T00:00:00Z",
        "modifiedDateTime":"2026-01-10T08:00:00Z","isDeleted":false})");
    put(db,
        "users",
        R"({"id":"u-k2","identityUserId":"auth0|kari","employeeNumber":"9001","name":"Kari Nordmann",
        "firstName":"Kari","lastName":"Nordmann","email":"kari@bygg-ost.no","workTitle":"Innleid",
        "department":null,"companyId":"c-ost","companyName":"Bygg Øst AS","employmentCompanyId":"c-bygg",
        "employmentCompanyName":"Bygg AS","isActiveEmployment":false,"isDisabled":false,
        "startDate":"2024-01-01T00:00:00Z","endDate":"2025-12-31T00:00:00Z",
        "modifiedDateTime":"2026-02-01T08:00:00Z","isDeleted":false})");
    put(db,
        "users",
        R"({"id":"u-k3","identityUserId":"auth0|kari","employeeNumber":"7001","name":"Kari Gammel",
        "email":"kari@old.no","workTitle":"Slettet","companyName":"Gammel AS","isActiveEmployment":true,
        "isDisabled":false,"modifiedDateTime":"2026-03-01T08:00:00Z","isDeleted":true,
        "deletedDateTime":"2026-03-02T08:00:00Z"})",
        true);
    // o1 changed half a second after o2, although its text sorts first ('.' < 'Z').
    put(db, "users", R"({"id":"u-o1","identityUserId":"auth0|ola","employeeNumber":"1002","name":"Ola Hansen",
        "firstName":"Ola","lastName":"Hansen","email":"ola@bygg.no","workTitle":"Maskinfører",
        "department":"Maskin","companyId":"c-bygg","companyName":"Bygg AS","isActiveEmployment":true,
        "isDisabled":false,"modifiedDateTime":"2026-03-01T10:00:00.500Z","isDeleted":false})");
    put(db, "users", R"({"id":"u-o2","identityUserId":"auth0|ola","employeeNumber":"1002","name":"Ola Hansen",
        "email":"ola@bygg.no","workTitle":"Fagarbeider","companyId":"c-bygg","companyName":"Bygg AS",
        "isActiveEmployment":true,"isDisabled":false,"modifiedDateTime":"2026-03-01T10:00:00Z",
        "isDeleted":false})");
    put(db, "users", R"({"id":"u-o3","identityUserId":"auth0|ola","employeeNumber":"1002","name":"Ola Hansen",
        "email":"ola@old.no","workTitle":"Sperret","companyId":"c-bygg","companyName":"Bygg AS",
        "isActiveEmployment":true,"isDisabled":true,"modifiedDateTime":"2026-04-01T10:00:00Z",
        "isDeleted":false})");
    put(db,
        "users",
        R"({"id":"u-d1","identityUserId":"auth0|dag","employeeNumber":"1003","name":"Dag, slettet profil",
        "isActiveEmployment":true,"isDisabled":false,"modifiedDateTime":"2026-01-01T08:00:00Z",
        "isDeleted":true,"deletedDateTime":"2026-02-01T08:00:00Z"})",
        true);

    put(db, "projects", R"({"id":"p-1","number":"P-100","name":"Bru over elva","externalNumber":"EXT-100",
        "externalDim01":"D1","externalDim02":null,"companyId":"c-bygg","companyName":"Bygg AS","active":true,
        "isExternal":false,"createdDateTime":"2025-11-01T08:00:00Z","modifiedDateTime":"2026-01-02T08:00:00Z",
        "isDeleted":false})");
    put(db,
        "projects",
        R"({"id":"p-2","number":"P-200","name":"Tunnel, slettet","companyId":"c-bygg","active":false,
        "modifiedDateTime":"2026-01-02T09:00:00Z","isDeleted":true,
        "deletedDateTime":"2026-03-01T09:00:00Z"})",
        true);
    put(db,
        "projects",
        R"({"id":"p-3","number":"P-300","name":"Vei","companyId":"c-bygg","companyName":"Bygg AS",
        "createdDateTime":"0001-01-01T00:00:00Z","modifiedDateTime":"2026-01-03T08:00:00Z",
        "isDeleted":false})");

    put(db,
        "work_orders",
        R"({"id":"w-1","projectId":"p-1","number":"01.01.001","name":"Graving og sprenging",
        "nameWithNumber":"01.01.001 Graving og sprenging","chapterId":"K-01","externalNumber":"PK-7",
        "externalDim01":null,"externalDim02":"X2","externalPieceWorkId":"AK-100","parentName":"Grunnarbeid",
        "fullPathName":"Grunnarbeid / Graving og sprenging","companyId":"c-bygg","companyName":"Bygg AS",
        "isExternal":false,"modifiedDateTime":"2026-01-05T08:00:00Z","isDeleted":false})");
    put(db,
        "work_orders",
        R"({"id":"w-2","projectId":"p-1","number":"01.02.001","name":"Støping, slettet",
        "modifiedDateTime":"2026-01-05T09:00:00Z","isDeleted":true,
        "deletedDateTime":"2026-03-01T10:00:00Z"})",
        true);

    put(db, "time_registrations", R"({"id":"tr-1","workDate":"2026-03-02T00:00:00Z",
        "startDateTime":"0001-01-01T00:00:00Z","stopDateTime":"2026-03-02T15:00:00Z","qty":7.5,"breakQty":0.5,
        "unitName":"Timer","amount":5212.5,"costAmount":3900,"approved":true,"approvedByName":"Ola Hansen",
        "approvedDateTime":"2026-03-03T07:00:00.123Z","payrollApproved":false,
        "payrollApprovedDateTime":"0001-01-01T00:00:00Z","locked":false,"lockedDateTime":null,
        "invoiced":false,
        "userId":"auth0|kari","userName":"Kari N.","userEmployeeNumber":"1001","projectId":"p-1",
        "projectNumber":"P-100","projectName":"Bru, gammelt navn","projectExternalNumber":"EXT-100",
        "projectCompanyId":"c-bygg","taskId":"w-1","taskName":"Graving","taskWbsNumber":"01.01.001",
        "resourceId":"r-kari","resourceNumber":"A-1001","resourceName":"Kari Nordmann",
        "resourceTypeName":"Person",
        "description":"Graving av byggegrop","createdDateTime":"2026-03-02T15:05:00Z",
        "modifiedDateTime":"2026-03-03T07:00:00.123Z","isDeleted":false})");
    put(db,
        "time_registrations",
        R"({"id":"tr-2","workDate":"2026-03-02T00:00:00Z","qty":1.0,"approved":false,
        "userId":"auth0|kari","userName":"Kari N.","userEmployeeNumber":"1001","projectId":"p-1",
        "projectNumber":"P-100","projectName":"Bru, gammelt navn","taskId":"w-1","taskName":"Graving",
        "taskWbsNumber":"01.01.001","description":"Rigg","modifiedDateTime":"2026-03-02T16:00:00Z",
        "isDeleted":false})");
    put(db, "time_registrations", R"({"id":"tr-3","workDate":"2026-03-02T00:00:00Z","qty":8,"approved":true,
        "userId":"auth0|ola","userName":"Ola H.","userEmployeeNumber":"1002","projectId":"p-2",
        "projectNumber":"P-200","projectName":"Tunnel","taskId":null,"description":"Sikring",
        "modifiedDateTime":"2026-03-02T16:00:00Z","isDeleted":false})");
    put(db, "time_registrations", R"({"id":"tr-4","workDate":"2026-03-03T00:00:00Z","qty":4,"approved":false,
        "userId":"auth0|dag","userName":"Dag Dahl","userEmployeeNumber":"1003","projectId":"p-1",
        "projectNumber":"P-100","projectName":"Bru over elva","description":"Befaring",
        "modifiedDateTime":"2026-03-03T16:00:00Z","isDeleted":false})");
    put(db,
        "time_registrations",
        R"({"id":"tr-5","workDate":"2026-03-02T00:00:00Z","qty":100,"approved":true,"userId":"auth0|kari",
        "userName":"Kari N.","projectId":"p-1","projectNumber":"P-100","projectName":"Bru over elva",
        "taskId":"w-1","modifiedDateTime":"2026-03-02T16:00:00Z","isDeleted":false})",
        true);
    // Registered through her other company profile: that profile's employee number.
    put(db,
        "time_registrations",
        R"({"id":"tr-6","workDate":"2026-03-03T00:00:00Z","qty":2.25,"approved":false,
        "userId":"auth0|kari","userName":"Kari N.","userEmployeeNumber":"9001","projectId":"p-1",
        "projectNumber":"P-100","projectName":"Bru over elva","taskId":"w-2","taskName":"Støping",
        "taskWbsNumber":"01.02.001","description":null,"modifiedDateTime":"2026-03-03T16:00:00Z",
        "isDeleted":false})");
    put(db, "resources", R"({"id":"r-kari","number":"A-1001","name":"Kari Nordmann","typeName":"Person",
        "typeBaseName":"Human","modifiedDateTime":"2026-01-04T08:00:00Z","isDeleted":false})");
    put(db, "resources", R"({"id":"r-ex1","number":"M-17","name":"Gravemaskin CAT 320",
        "typeName":"Gravemaskin","typeBaseName":"Machine","modifiedDateTime":"2026-01-04T08:00:00Z",
        "isDeleted":false})");
    put(db, "resources", R"({"id":"r-van","number":"V-3","name":"Varebil","typeName":"Varebil",
        "typeBaseName":"Vehicle","modifiedDateTime":"2026-01-04T08:00:00Z","isDeleted":false})");
    put(db,
        "resources",
        R"({"id":"r-sold","number":"M-1","name":"Solgt","typeName":"Gravemaskin","typeBaseName":"Machine",
        "modifiedDateTime":"2026-02-04T08:00:00Z","isDeleted":true,"deletedDateTime":"2026-02-04T08:00:00Z"})",
        true);
    // Kari operated the excavator for 3 of her hours that day: a machine line with her userId.
    put(db, "time_registrations", R"({"id":"tr-8","workDate":"2026-03-02T00:00:00Z","qty":3,"approved":true,
        "userId":"auth0|kari","userName":"Kari N.","userEmployeeNumber":"1001","projectId":"p-1",
        "projectNumber":"P-100","projectName":"Bru over elva","taskId":"w-1","taskName":"Graving",
        "taskWbsNumber":"01.01.001","resourceId":"r-ex1","resourceName":"Gravemaskin CAT 320",
        "resourceTypeName":"Gravemaskin","description":"Graving","modifiedDateTime":"2026-03-02T16:00:00Z",
        "isDeleted":false})");
    // Ola's only line that day on p-1 is the van's.
    put(db,
        "time_registrations",
        R"({"id":"tr-9","workDate":"2026-03-03T00:00:00Z","qty":1.5,"approved":false,
        "userId":"auth0|ola","userName":"Ola H.","userEmployeeNumber":"1002","projectId":"p-1",
        "projectNumber":"P-100","projectName":"Bru over elva","resourceId":"r-van","resourceName":"Varebil",
        "description":"Transport","modifiedDateTime":"2026-03-03T16:00:00Z","isDeleted":false})");
    put(db,
        "time_registrations",
        R"({"id":"tr-10","workDate":"2026-03-03T00:00:00Z","qty":0.5,"approved":false,
        "userId":"auth0|dag","userName":"Dag Dahl","userEmployeeNumber":"1003","projectId":"p-1",
        "projectNumber":"P-100","projectName":"Bru over elva","resourceId":"r-sold","resourceName":"Solgt",
        "description":"Rydding","modifiedDateTime":"2026-03-03T16:00:00Z","isDeleted":false})");
    put(db,
        "time_registrations",
        R"({"id":"tr-11","workDate":"2026-03-03T00:00:00Z","qty":0.75,"approved":true,
        "userId":"auth0|kari","userName":"Kari N.","userEmployeeNumber":"1001","projectId":"p-1",
        "projectNumber":"P-100","projectName":"Bru over elva","taskId":"w-2","taskName":"Støping",
        "taskWbsNumber":"01.02.001","resourceId":"r-nowhere","description":"Forskaling",
        "modifiedDateTime":"2026-03-03T16:00:00Z","isDeleted":false})");
    // A tombstone for an id never seen live: stored as sent, every field empty.
    put(db,
        "time_registrations",
        R"({"id":"tr-7","modifiedDateTime":"2026-03-04T08:00:00Z","isDeleted":true,
        "deletedDateTime":"2026-03-04T08:00:00Z","qty":null,"workDate":null,"userId":null})",
        true);

    put(db, "absence_registrations", R"({"id":"ab-1","registrationId":"reg-1","date":"2026-03-05T00:00:00Z",
        "startTime":"2026-03-05T07:00:00Z","qty":7.5,"absenceTypeId":"at-fer","absenceTypeCode":"FER",
        "absenceTypeName":"Ferie","userId":"auth0|kari","userName":"Kari N.","employeeNumber":"1001",
        "projectId":null,"approved":true,"approvedByName":"Ola Hansen",
        "approvedDateTime":"2026-03-01T12:00:00Z",
        "payrollApproved":false,"payrollApprovedDateTime":"0001-01-01T00:00:00Z","locked":false,
        "lockedDateTime":null,"pdfUrl":null,"modifiedDateTime":"2026-03-01T12:00:00Z","isDeleted":false})");
    put(db, "absence_registrations", R"({"id":"ab-2","registrationId":"reg-1","date":"2026-03-06T00:00:00Z",
        "qty":7.5,"absenceTypeId":"at-fer","absenceTypeCode":"FER","absenceTypeName":"Ferie",
        "userId":"auth0|kari","userName":"Kari N.","employeeNumber":"1001","approved":false,
        "modifiedDateTime":"2026-03-01T12:00:00Z","isDeleted":false})");
    put(db, "absence_registrations", R"({"id":"ab-3","registrationId":"reg-2","date":"2026-03-09T00:00:00Z",
        "qty":7.5,"absenceTypeId":"at-egm","absenceTypeCode":"EGM","absenceTypeName":"Egenmelding",
        "userId":"auth0|kari","userName":"Kari N.","employeeNumber":"1001","approved":true,
        "modifiedDateTime":"2026-03-09T12:00:00Z","isDeleted":false})");
    put(db,
        "absence_registrations",
        R"({"id":"ab-4","registrationId":"reg-1","date":"2026-03-07T00:00:00Z","qty":7.5,
        "absenceTypeId":"at-fer","absenceTypeCode":"FER","absenceTypeName":"Ferie","userId":"auth0|kari",
        "approved":true,"modifiedDateTime":"2026-03-01T12:00:00Z","isDeleted":false})",
        true);
    // A second registration on a day already counted (a half day): one more row, not one more day.
    put(db, "absence_registrations", R"({"id":"ab-7","registrationId":"reg-5","date":"2026-03-06T00:00:00Z",
        "qty":3.75,"absenceTypeId":"at-fer","absenceTypeCode":"FER","absenceTypeName":"Ferie",
        "userId":"auth0|kari","userName":"Kari N.","employeeNumber":"1001","approved":false,
        "modifiedDateTime":"2026-03-06T12:00:00Z","isDeleted":false})");
    put(db, "absence_registrations", R"({"id":"ab-5","registrationId":"reg-3","date":"2026-03-05T00:00:00Z",
        "qty":3.75,"absenceTypeId":"at-fer","absenceTypeCode":"FER","absenceTypeName":"Ferie",
        "userId":"auth0|ola","userName":"Ola H.","employeeNumber":"1002","approved":true,
        "modifiedDateTime":"2026-03-02T12:00:00Z","isDeleted":false})");
    put(db, "absence_registrations", R"({"id":"ab-6","registrationId":"reg-4","date":"2026-03-05T00:00:00Z",
        "qty":7.5,"absenceTypeId":"at-fer","absenceTypeCode":"FER","absenceTypeName":"Ferie",
        "userId":"auth0|dag","userName":"Dag Dahl","employeeNumber":"1003","approved":false,
        "modifiedDateTime":"2026-03-02T12:00:00Z","isDeleted":false})");
}

// The ISO 8601 week of a day, found another way than the views' "Thursday of the week" rule: week 1 starts
// on the Monday of the week that holds January 4th, and a day before its year's week 1 (or on or after the
// next year's) belongs to the neighbouring week-year.
struct iso_week_date {
    int year = 0;
    int week = 0;
    bool operator==(const iso_week_date&) const = default;
};

std::chrono::sys_days week_one_monday(std::chrono::year y)
{
    const std::chrono::sys_days jan4{y / std::chrono::January / 4};
    return jan4 - (std::chrono::weekday{jan4} - std::chrono::Monday);
}

iso_week_date iso_reference(std::chrono::sys_days day)
{
    auto y = std::chrono::year_month_day{day}.year();
    if (day >= week_one_monday(y + std::chrono::years{1}))
        y += std::chrono::years{1};
    else if (day < week_one_monday(y))
        y -= std::chrono::years{1};
    return {static_cast<int>(y), static_cast<int>((day - week_one_monday(y)).count() / 7) + 1};
}

std::string iso_date(std::chrono::sys_days day)
{
    std::chrono::year_month_day ymd{day};
    return fmt::format(
        "{:04}-{:02}-{:02}",
        static_cast<int>(ymd.year()),
        static_cast<unsigned>(ymd.month()),
        static_cast<unsigned>(ymd.day())
    );
}

// Dates whose ISO week is easy to get wrong, with the week they are in; "0001-01-01" is Ditio's empty date
// (NULL in the views, and so are its year and week).
const std::vector<std::pair<std::string, std::string>> week_edge_cases{
    {"0001-01-01", "NULL-WNULL"},
    {"2016-01-03", "2015-W53"}, // a Sunday: the last day of 2015's week 53
    {"2018-12-31", "2019-W01"},
    {"2021-01-03", "2020-W53"},
    {"2021-01-04", "2021-W01"},
    {"2024-12-30", "2025-W01"},
    {"2026-12-01", "2026-W49"}, // strftime('%W') says 48
    {"2027-01-01", "2026-W53"},
    {"2035-12-31", "2036-W01"},
};

// Each view that shows the date a row belongs to: its table, the JSON field the date comes from, and the
// date column.
struct dated_view {
    std::string view;
    std::string table;
    std::string field;
    std::string column;
};

const std::vector<dated_view> dated_views{
    {"v_time_registrations", "time_registrations", "workDate", "work_date"},
    {"v_hours_per_employee_day", "time_registrations", "workDate", "work_date"},
    {"v_unapproved_hours", "time_registrations", "workDate", "work_date"},
    {"v_machine_registrations", "machine_registrations", "stopDateTime", "stop_date"},
    {"v_absence_registrations", "absence_registrations", "date", "absence_date"},
    {"v_payroll_lines", "payroll_lines", "transDateTime", "trans_date"},
    {"v_payroll_lines_extended", "payroll_lines_extended", "transDateTime", "trans_date"},
    {"v_images", "images", "createdDateTime", "created_date"},
    {"v_crew_list_registrations", "crew_list_registrations", "checkInDateTime", "check_in_date"},
    {"v_flow_trip_registrations", "flow_trip_registrations", "loadDateTime", "load_date"},
};

// One live row per edge case in every table behind dated_views; crew-list check-ins carry an offset, and
// their date is the local one as sent.
void seed_week_edge_cases(SQLite::Database& db)
{
    std::map<std::string, std::string> field_of;
    for (const auto& v : dated_views)
        field_of[v.table] = v.field;
    for (const auto& [table, field] : field_of)
        for (const auto& [date, week] : week_edge_cases) {
            auto when = date + (table == "crew_list_registrations" ? "T00:30:00+01:00" : "T00:00:00Z");
            put(db,
                table,
                fmt::format(
                    R"({{"id":"{}-{}","{}":"{}","approved":false,"modifiedDateTime":"2026-03-01T08:00:00Z"}})",
                    table,
                    date,
                    field,
                    when
                ));
        }
}

// The column names of every view, by view.
std::map<std::string, std::vector<std::string>> view_columns(SQLite::Database& db)
{
    std::map<std::string, std::vector<std::string>> out;
    SQLite::Statement q(
        db,
        "SELECT m.name, c.name FROM sqlite_master AS m, pragma_table_info(m.name) AS c WHERE m.type = 'view' "
        "ORDER BY m.name, c.cid"
    );
    while (q.executeStep())
        out[q.getColumn(0).getString()].push_back(q.getColumn(1).getString());
    return out;
}

} // namespace

TEST_SUITE_BEGIN("store");

TEST_CASE("migration 0002: every catalogue stream has a mirror table shaped like time_registrations")
{
    auto db = migrated_db();
    REQUIRE(store::latest_schema_version() >= 2);
    const auto expected = shape(db, "time_registrations");
    REQUIRE(
        expected == "id TEXT 0 - 1, modified_at TEXT 0 - 0, is_deleted INTEGER 1 0 0, deleted_at TEXT 0 - 0, "
                    "data TEXT 1 - 0, first_seen_at TEXT 1 - 0, synced_at TEXT 1 - 0, "
                    "change_key TEXT 1 '' 0, seen_run INTEGER 0 - 0"
    );
    // Each windowed stream's view: its date column for the window field, and the index on that column.
    const std::map<std::string, std::pair<std::string, std::string>> window_dates{
        {"time_registrations", {"work_date", "time_registrations_work_date"}},
        {"machine_registrations", {"stop_date", "machine_registrations_stop_date"}},
        {"absence_registrations", {"absence_date", "absence_registrations_date"}},
        {"payroll_lines", {"trans_date", "payroll_lines_trans_date"}},
        {"payroll_lines_extended", {"trans_date", "payroll_lines_extended_trans_date"}},
        {"images", {"created_date", "images_created_date"}},
        {"crew_list_registrations", {"check_in_date", "crew_list_registrations_check_in_date"}},
        {"flow_trip_registrations", {"load_date", "flow_trip_registrations_load_date"}},
    };
    int tables = 0;
    std::size_t windowed = 0;
    for (const auto& s : ditio_sync::ditio::catalogue()) {
        std::string table(s.table);
        CAPTURE(table);
        ++tables;
        // 0006: images are one row per image and parent, keyed by (id, parent_ref).
        if (table == "images")
            CHECK(
                shape(db, table) ==
                "id TEXT 1 - 1, parent_ref TEXT 1 '' 2, " + expected.substr(expected.find("modified_at"))
            );
        else
            CHECK(shape(db, table) == expected);
        CHECK(
            text(
                db,
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '" + table +
                    "_modified_at'"
            ) == "0" // dropped by 0004: no query needs it, and every upsert paid for it
        );
        CHECK(
            text(db, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name = 'v_" + table + "'") ==
            "1"
        );
        // The view compiles against its table.
        CHECK(text(db, "SELECT count(*) FROM v_" + table) == "0");
        if (s.windowed) {
            // A date filter on the view's window-date column searches that column's index.
            ++windowed;
            auto date = window_dates.find(table);
            REQUIRE(date != window_dates.end());
            const auto& [column, index] = date->second;
            auto details = plan(
                db, "SELECT * FROM v_" + table + " WHERE " + column + " BETWEEN '2026-01-01' AND '2026-01-31'"
            );
            CAPTURE(details);
            CHECK(details.find(date_range_search(table, index)) != std::string::npos);
            // That one index, nothing left over.
            CHECK(
                text(
                    db,
                    "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND "
                    "tbl_name = '" +
                        table + "'"
                ) == "1"
            );
        }
    }
    CHECK(tables >= 18); // time_registrations and the 17 of 0002
    CHECK(windowed == window_dates.size());
}

TEST_CASE("migrations 0002 and 0007: sync_state gains unavailable_at, next_run_at, overlap_ms, window_span_s")
{
    auto db = migrated_db();
    CHECK(
        shape(db, "sync_state") ==
        "stream TEXT 0 - 1, watermark TEXT 0 - 0, last_full_sync_at TEXT 0 - 0, run_id INTEGER 0 - 0, "
        "run_mode TEXT 0 - 0, run_params TEXT 0 - 0, run_server_start TEXT 0 - 0, "
        "run_local_start TEXT 0 - 0, continuation_token TEXT 0 - 0, pages_done INTEGER 1 0 0, "
        "last_success_at TEXT 0 - 0, last_error TEXT 0 - 0, last_error_at TEXT 0 - 0, updated_at TEXT 0 - 0, "
        "unavailable_at TEXT 0 - 0, next_run_at TEXT 0 - 0, overlap_ms INTEGER 0 - 0, "
        "window_span_s INTEGER 0 - 0"
    );
}

TEST_CASE("migration 0002: a version 1 database upgrades keeping its rows")
{
    ditio_sync::testing::temp_dir dir;
    auto path = dir.path() / "ditio.db";
    {
        // Exactly what a ditio-sync with only 0001 left behind.
        auto db = store::open_database(path, 1000ms, store::open_mode::read_write);
        const auto& first = store::embedded_migrations().front();
        REQUIRE(first.version == 1);
        db.exec(std::string(first.sql));
        db.exec("PRAGMA user_version = 1");
        put(db, "time_registrations", R"({"id":"old-1","workDate":"2025-12-01T00:00:00Z","qty":7.5,
            "approved":true,"approvedDateTime":"2025-12-02T08:00:00Z","startDateTime":"0001-01-01T00:00:00Z",
            "userName":"Kari Nordmann","modifiedDateTime":"2025-12-02T08:00:00Z","isDeleted":false})");
        put(db,
            "time_registrations",
            R"({"id":"old-2","workDate":"2025-12-01T00:00:00Z","qty":3,
            "modifiedDateTime":"2025-12-02T09:00:00Z","isDeleted":false})",
            true);
        db.exec("INSERT INTO sync_state (stream, watermark, last_success_at) "
                "VALUES ('time-registrations', '2025-12-03T00:00:00.000Z', '2025-12-03T00:00:05.000Z')");
        REQUIRE(store::schema_version(db) == 1);
    }
    auto db = store::open_database(path, 1000ms, store::open_mode::read_write);
    CHECK(store::migrate(db) == store::latest_schema_version() - 1);
    CHECK(store::schema_version(db) == store::latest_schema_version());
    CHECK(
        text(db, "SELECT group_concat(id || ':' || is_deleted, ',') FROM time_registrations") ==
        "old-1:0,old-2:1"
    );
    CHECK(
        dump(
            db,
            "SELECT id, work_date, start_at, qty, approved, approved_at, user_name FROM v_time_registrations"
        ) == "id='old-1'\nwork_date='2025-12-01'\nstart_at=NULL\nqty=7.5\napproved=1\n"
             "approved_at='2025-12-02T08:00:00Z'\nuser_name='Kari Nordmann'\n--\n"
    );
    // The old watermark has no overlap_ms: complete_through assumes the default 10 minutes.
    CHECK(
        dump(db, "SELECT stream, watermark, complete_through, unavailable, running FROM v_sync_freshness") ==
        "stream='time-registrations'\nwatermark='2025-12-03T00:00:00.000Z'\n"
        "complete_through='2025-12-02T23:50:00Z'\nunavailable=0\nrunning=0\n--\n"
    );
    CHECK(text(db, "SELECT count(*) FROM machine_registrations") == "0");
    // 0001's work-date index is replaced by one on the view's expression: the view's filter searches it.
    const std::string in_december =
        "SELECT id FROM v_time_registrations WHERE work_date BETWEEN '2025-12-01' AND '2025-12-31'";
    CHECK(
        plan(db, in_december).find(date_range_search("time_registrations", "time_registrations_work_date")) !=
        std::string::npos
    );
    CHECK(text(db, "SELECT group_concat(id, ',') FROM (" + in_december + ")") == "old-1");
}

TEST_CASE("views: v_time_registrations keeps its columns, adds new ones and reads every sentinel as NULL")
{
    auto db = migrated_db();
    seed_people_and_hours(db);
    CHECK(ids(db, "v_time_registrations") == "tr-1,tr-10,tr-11,tr-2,tr-3,tr-4,tr-6,tr-8,tr-9");
    // A date filter, answered from the window-date index, finds exactly that day's live lines.
    CHECK(
        text(
            db,
            "SELECT group_concat(id, ',') FROM (SELECT id FROM v_time_registrations "
            "WHERE work_date BETWEEN '2026-03-03' AND '2026-03-03' ORDER BY id)"
        ) == "tr-10,tr-11,tr-4,tr-6,tr-9"
    );
    CHECK(dump(db, "SELECT * FROM v_time_registrations WHERE id = 'tr-1'") == R"(id='tr-1'
work_date='2026-03-02'
start_at=NULL
stop_at='2026-03-02T15:00:00Z'
qty=7.5
break_qty=0.5
unit_name='Timer'
amount=5212.5
cost_amount=3900.0
approved=1
approved_by_name='Ola Hansen'
approved_at='2026-03-03T07:00:00.123Z'
payroll_approved=0
payroll_approved_at=NULL
locked=0
locked_at=NULL
invoiced=0
user_id='auth0|kari'
user_name='Kari N.'
employee_number='1001'
project_id='p-1'
project_number='P-100'
project_name='Bru, gammelt navn'
project_external_number='EXT-100'
project_company_id='c-bygg'
task_id='w-1'
task_name='Graving'
task_wbs_number='01.01.001'
resource_id='r-kari'
resource_number='A-1001'
resource_name='Kari Nordmann'
resource_type_name='Person'
description='Graving av byggegrop'
created_at='2026-03-02T15:05:00Z'
modified_at='2026-03-03T07:00:00.123Z'
synced_at='2026-03-20T09:00:00.000Z'
iso_year=2026
iso_week=10
--
)");
    // Absent flags read 0, absent numbers NULL, integers in the JSON become reals.
    CHECK(
        dump(
            db,
            "SELECT approved, payroll_approved, locked, invoiced, break_qty, qty FROM v_time_registrations "
            "WHERE id = 'tr-4'"
        ) == "approved=0\npayroll_approved=0\nlocked=0\ninvoiced=0\nbreak_qty=NULL\nqty=4.0\n--\n"
    );
}

TEST_CASE("views: v_machine_registrations")
{
    auto db = migrated_db();
    put(db, "machine_registrations", R"({"id":"mr-1","startDateTime":"2026-03-02T07:00:00Z",
        "stopDateTime":"2026-03-02T15:30:00Z","qty":8.5,"description":"Masseflytting","approved":true,
        "machineId":"r-ex1","machineName":"Gravemaskin CAT 320","resourceNumber":"M-17",
        "machineTypeName":"Gravemaskin","driverId":"auth0|ola","driverName":"Ola Hansen",
        "driverCompanyName":"Bygg AS","projectId":"p-1","projectNumber":"P-100","projectName":"Bru over elva",
        "projectExternalNumber":null,"projectCompanyName":"Bygg AS","createdDateTime":"0001-01-01T00:00:00Z",
        "modifiedDateTime":"2026-03-02T16:00:00Z","isDeleted":false})");
    put(db,
        "machine_registrations",
        R"({"id":"mr-2","stopDateTime":"2026-03-02T15:30:00Z","qty":2,
        "modifiedDateTime":"2026-03-02T16:00:00Z"})",
        true);
    CHECK(dump(db, "SELECT * FROM v_machine_registrations") == R"(id='mr-1'
start_at='2026-03-02T07:00:00Z'
stop_at='2026-03-02T15:30:00Z'
stop_date='2026-03-02'
qty=8.5
approved=1
machine_id='r-ex1'
machine_name='Gravemaskin CAT 320'
resource_number='M-17'
machine_type_name='Gravemaskin'
driver_id='auth0|ola'
driver_name='Ola Hansen'
driver_company_name='Bygg AS'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
project_external_number=NULL
project_company_name='Bygg AS'
description='Masseflytting'
created_at=NULL
modified_at='2026-03-02T16:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
iso_year=2026
iso_week=10
--
)");
}

TEST_CASE("views: v_absence_registrations")
{
    auto db = migrated_db();
    seed_people_and_hours(db);
    CHECK(ids(db, "v_absence_registrations") == "ab-1,ab-2,ab-3,ab-5,ab-6,ab-7");
    CHECK(dump(db, "SELECT * FROM v_absence_registrations WHERE id = 'ab-1'") == R"(id='ab-1'
registration_id='reg-1'
absence_date='2026-03-05'
start_at='2026-03-05T07:00:00Z'
qty=7.5
absence_type_id='at-fer'
absence_type_code='FER'
absence_type_name='Ferie'
user_id='auth0|kari'
user_name='Kari N.'
employee_number='1001'
project_id=NULL
approved=1
approved_by_name='Ola Hansen'
approved_at='2026-03-01T12:00:00Z'
payroll_approved=0
payroll_approved_at=NULL
locked=0
locked_at=NULL
pdf_url=NULL
modified_at='2026-03-01T12:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
iso_year=2026
iso_week=10
--
)");
}

TEST_CASE("views: v_payroll_lines")
{
    auto db = migrated_db();
    put(db, "payroll_lines", R"({"id":"pl-1","transDateTime":"2026-03-02T00:00:00Z","userId":"auth0|kari",
        "userName":"Kari Nordmann","employeeNumber":"1001","companyId":"c-bygg","payrollTypeId":"pt-1",
        "payrollTypeCode":"100","payrollTypeName":"Timelønn","qty":7.5,"rate":285.5,"amount":2141.25,
        "projectId":"p-1","projectNumber":"P-100","taskId":"w-1","approved":true,"locked":false,
        "modifiedDateTime":"2026-03-04T06:00:00Z","isDeleted":false})");
    put(db, "payroll_lines", R"({"id":"pl-2","transDateTime":"0001-01-01T00:00:00Z","qty":1,
        "modifiedDateTime":"2026-03-04T06:00:00Z","isDeleted":false})");
    put(db,
        "payroll_lines",
        R"({"id":"pl-3","transDateTime":"2026-03-02T00:00:00Z","qty":7.5,
        "modifiedDateTime":"2026-03-04T06:00:00Z"})",
        true);
    CHECK(dump(db, "SELECT * FROM v_payroll_lines ORDER BY id") == R"(id='pl-1'
trans_date='2026-03-02'
user_id='auth0|kari'
user_name='Kari Nordmann'
employee_number='1001'
company_id='c-bygg'
payroll_type_id='pt-1'
payroll_type_code='100'
payroll_type_name='Timelønn'
qty=7.5
rate=285.5
amount=2141.25
project_id='p-1'
project_number='P-100'
task_id='w-1'
approved=1
locked=0
modified_at='2026-03-04T06:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
iso_year=2026
iso_week=10
--
id='pl-2'
trans_date=NULL
user_id=NULL
user_name=NULL
employee_number=NULL
company_id=NULL
payroll_type_id=NULL
payroll_type_code=NULL
payroll_type_name=NULL
qty=1.0
rate=NULL
amount=NULL
project_id=NULL
project_number=NULL
task_id=NULL
approved=0
locked=0
modified_at='2026-03-04T06:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
iso_year=NULL
iso_week=NULL
--
)");
}

TEST_CASE("views: v_payroll_lines_extended counts and totals overtimeLines")
{
    auto db = migrated_db();
    put(db, "payroll_lines_extended", R"({"id":"ple-1","transDateTime":"2026-03-02T00:00:00Z",
        "userId":"auth0|kari","userName":"Kari Nordmann","employeeNumber":"1001","companyId":"c-bygg",
        "qty":9.75,"standardQty":7.5,"overtime50Qty":1.5,"overtime100Qty":0.75,"timebankQty":0,"breakQty":0.5,
        "absenceQty":0,"absenceApprovedQty":0,"absenceLockedQty":0,"totalVerifiedQty":9.75,"approvedQty":9.75,
        "lockedQty":0,"verified":true,"verifiedByName":"Ola Hansen","verifiedDateTime":"2026-03-03T08:00:00Z",
        "approved":true,"approvedByName":"Ola Hansen","approvedDateTime":"0001-01-01T00:00:00Z",
        "overtimeLines":[
          {"payrollTypeId":"pt-50","name":"Overtid 50%","lineType":20,"overtimeType":0,"sorting":1,"qty":1.5},
          {"payrollTypeId":"pt-100","name":"Overtid 100%","lineType":30,"overtimeType":0,"sorting":2,
        "qty":0.75}],
        "modifiedDateTime":"2026-03-04T06:00:00Z","isDeleted":false})");
    put(db, "payroll_lines_extended", R"({"id":"ple-2","transDateTime":"2026-03-03T00:00:00Z",
        "userId":"auth0|ola","qty":7.5,"overtimeLines":[],"modifiedDateTime":"2026-03-04T06:00:00Z",
        "isDeleted":false})");
    put(db,
        "payroll_lines_extended",
        R"({"id":"ple-3","transDateTime":"2026-03-03T00:00:00Z","qty":7.5,
        "modifiedDateTime":"2026-03-04T06:00:00Z"})",
        true);
    CHECK(dump(db, "SELECT * FROM v_payroll_lines_extended WHERE id = 'ple-1'") == R"(id='ple-1'
trans_date='2026-03-02'
user_id='auth0|kari'
user_name='Kari Nordmann'
employee_number='1001'
company_id='c-bygg'
qty=9.75
standard_qty=7.5
overtime50_qty=1.5
overtime100_qty=0.75
timebank_qty=0.0
break_qty=0.5
absence_qty=0.0
absence_approved_qty=0.0
absence_locked_qty=0.0
total_verified_qty=9.75
approved_qty=9.75
locked_qty=0.0
overtime_line_count=2
overtime_lines_qty=2.25
verified=1
verified_by_name='Ola Hansen'
verified_at='2026-03-03T08:00:00Z'
approved=1
approved_by_name='Ola Hansen'
approved_at=NULL
modified_at='2026-03-04T06:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
iso_year=2026
iso_week=10
--
)");
    CHECK(ids(db, "v_payroll_lines_extended") == "ple-1,ple-2");
    CHECK(
        dump(
            db,
            "SELECT overtime_line_count, overtime_lines_qty, verified, approved "
            "FROM v_payroll_lines_extended WHERE id = 'ple-2'"
        ) == "overtime_line_count=0\novertime_lines_qty=0.0\nverified=0\napproved=0\n--\n"
    );
}

TEST_CASE("views: v_checklist_registrations and v_machine_checklist_registrations")
{
    auto db = migrated_db();
    const std::string fields = R"("documentNumber":"SJA-0042","serialNumber":42,"templateVersion":3,
        "baseTypeName":"HSE","statusText":"Approved","hasDeviation":true,"hasComment":false,"hasImages":true,
        "projectId":"p-1","projectNumber":"P-100","projectName":"Bru over elva","activityId":"w-1",
        "activityNumber":"01.01.001","activityName":"Graving","createdByUserName":"Kari Nordmann",
        "createdDateTime":"2026-03-02T06:30:00Z","submittedByUserName":"Kari Nordmann",
        "submittedDateTime":"0001-01-01T00:00:00Z","approvedByUserName":"Ola Hansen","latitude":59.9139,
        "longitude":10.7522,"pdfUrl":"https://core.example/api/file/f-42",
        "sections":[{"attachments":[],"images":[{"url":"https://core.example/img/1.jpg"}]}],
        "modifiedDateTime":"2026-03-02T07:00:00Z","isDeleted":false)";
    put(db,
        "checklist_registrations",
        R"({"id":"ck-1","templateName":"Sikker jobbanalyse","machineId":null,"resourceNumber":null,)" +
            fields + "}");
    put(db,
        "checklist_registrations",
        R"({"id":"ck-2","templateName":"Slettet","modifiedDateTime":"2026-03-02T08:00:00Z",
        "isDeleted":true})",
        true);
    put(db,
        "machine_checklist_registrations",
        R"({"id":"mck-1","templateName":"Daglig kontroll","machineId":"r-ex1","machineName":"CAT 320",)"
        R"("resourceNumber":"M-17",)" +
            fields + "}");
    put(db,
        "machine_checklist_registrations",
        R"({"id":"mck-2","templateName":"Slettet","modifiedDateTime":"2026-03-02T08:00:00Z",
        "isDeleted":true})",
        true);
    const std::string tail = R"(base_type_name='HSE'
status_text='Approved'
has_deviation=1
has_comment=0
has_images=1
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
activity_id='w-1'
activity_number='01.01.001'
activity_name='Graving'
)";
    const std::string end = R"(created_by_user_name='Kari Nordmann'
created_at='2026-03-02T06:30:00Z'
submitted_by_user_name='Kari Nordmann'
submitted_at=NULL
approved_by_user_name='Ola Hansen'
latitude=59.9139
longitude=10.7522
pdf_url='https://core.example/api/file/f-42'
modified_at='2026-03-02T07:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
--
)";
    CHECK(
        dump(db, "SELECT * FROM v_checklist_registrations") ==
        "id='ck-1'\ndocument_number='SJA-0042'\nserial_number=42\ntemplate_name='Sikker jobbanalyse'\n"
        "template_version=3\n" +
            tail + "machine_id=NULL\nresource_number=NULL\n" + end
    );
    CHECK(
        dump(db, "SELECT * FROM v_machine_checklist_registrations") ==
        "id='mck-1'\ndocument_number='SJA-0042'\nserial_number=42\ntemplate_name='Daglig kontroll'\n"
        "template_version=3\n" +
            tail + "machine_id='r-ex1'\nmachine_name='CAT 320'\nresource_number='M-17'\n" + end
    );
}

TEST_CASE("views: v_incident_registrations and v_machine_incident_registrations")
{
    auto db = migrated_db();
    const std::string fields = R"("serialNumber":7,"serialNumberWithPrefix":"RUH-7","title":"Glatt underlag",
        "description":"Is på stillas","typeName":"RUH","baseType":0,"status":1,"statusText":"InProgress",
        "risk":"Medium","measures":"Strødd med sand","requiresFurtherAction":true,"resolvedOnLocation":false,
        "companyName":"Bygg AS","projectId":"p-1","projectNumber":"P-100","projectName":"Bru over elva",
        "projectCompanyName":"Bygg AS","taskId":"w-1","taskName":"Graving","latitude":59.9139,
        "longitude":10.7522,"createdAt":"2026-03-02T09:00:00Z","statusUpdatedAt":"0001-01-01T00:00:00Z",
        "pdfUrl":null,"modifiedDateTime":"2026-03-02T09:30:00Z","isDeleted":false)";
    put(db,
        "incident_registrations",
        R"({"id":"in-1","baseTypeText":"HSE","machineId":null,"machineName":null,)" + fields + "}");
    put(db,
        "incident_registrations",
        R"({"id":"in-2","isDeleted":true,"deletedDateTime":"2026-03-03T08:00:00Z",)"
        R"("modifiedDateTime":"2026-03-03T08:00:00Z","title":null})",
        true);
    put(db,
        "machine_incident_registrations",
        R"({"id":"min-1","baseTypeText":"Machine","machineId":"r-ex1","machineName":"CAT 320",)" + fields +
            "}");
    put(db,
        "machine_incident_registrations",
        R"({"id":"min-2","isDeleted":true,"deletedDateTime":"2026-03-03T08:00:00Z",)"
        R"("modifiedDateTime":"2026-03-03T08:00:00Z","title":null})",
        true);
    auto expected = [](const std::string& id,
                       const std::string& base_type_text,
                       const std::string& machine_id,
                       const std::string& machine_name) {
        return "id=" + id + R"(
serial_number=7
serial_number_with_prefix='RUH-7'
title='Glatt underlag'
description='Is på stillas'
type_name='RUH'
base_type=0
base_type_text=)" +
               base_type_text +
               R"(
status=1
status_text='InProgress'
risk='Medium'
measures='Strødd med sand'
requires_further_action=1
resolved_on_location=0
company_name='Bygg AS'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
project_company_name='Bygg AS'
task_id='w-1'
task_name='Graving'
machine_id=)" + machine_id +
               "\nmachine_name=" + machine_name + R"(
latitude=59.9139
longitude=10.7522
created_at='2026-03-02T09:00:00Z'
status_updated_at=NULL
pdf_url=NULL
modified_at='2026-03-02T09:30:00Z'
synced_at='2026-03-20T09:00:00.000Z'
--
)";
    };
    CHECK(dump(db, "SELECT * FROM v_incident_registrations") == expected("'in-1'", "'HSE'", "NULL", "NULL"));
    CHECK(
        dump(db, "SELECT * FROM v_machine_incident_registrations") ==
        expected("'min-1'", "'Machine'", "'r-ex1'", "'CAT 320'")
    );
}

TEST_CASE("views: v_images")
{
    auto db = migrated_db();
    put(db, "images", R"({"id":"img-1","fileName":"grop.jpg","contentType":"image/jpeg","fileSize":245760,
        "originalUrl":"https://img.example/o/1.jpg","thumbnailUrl":"https://img.example/t/1.jpg",
        "mediumUrl":"https://img.example/m/1.jpg","largeUrl":"https://img.example/l/1.jpg","source":"feed",
        "parentId":"feed-9","projectId":"p-1","projectNumber":"P-100","projectName":"Bru over elva",
        "taskId":"w-1","taskName":"Graving","activityId":null,"activityNumber":null,"companyId":"c-bygg",
        "projectCompanyId":"c-bygg","createdByUserId":"auth0|kari","createdByUserName":"Kari Nordmann",
        "createdDateTime":"2026-03-02T10:15:00Z","latitude":59.9139,"longitude":10.7522,"accuracy":12.5,
        "roadReference":"EV6 S1D1 m1200","modifiedDateTime":"2026-03-02T10:20:00Z","isDeleted":false})");
    put(db,
        "images",
        R"({"id":"img-2","createdDateTime":"2026-03-02T10:15:00Z",
        "modifiedDateTime":"2026-03-02T11:00:00Z"})",
        true);
    CHECK(dump(db, "SELECT * FROM v_images") == R"(id='img-1'
file_name='grop.jpg'
content_type='image/jpeg'
file_size=245760
original_url='https://img.example/o/1.jpg'
thumbnail_url='https://img.example/t/1.jpg'
medium_url='https://img.example/m/1.jpg'
large_url='https://img.example/l/1.jpg'
source='feed'
parent_id='feed-9'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
task_id='w-1'
task_name='Graving'
activity_id=NULL
activity_number=NULL
company_id='c-bygg'
project_company_id='c-bygg'
created_by_user_id='auth0|kari'
created_by_user_name='Kari Nordmann'
created_at='2026-03-02T10:15:00Z'
created_date='2026-03-02'
latitude=59.9139
longitude=10.7522
accuracy=12.5
road_reference='EV6 S1D1 m1200'
modified_at='2026-03-02T10:20:00Z'
synced_at='2026-03-20T09:00:00.000Z'
iso_year=2026
iso_week=10
parent_ref=''
--
)");
}

TEST_CASE("views: v_crew_list_registrations normalises check-in and check-out to UTC")
{
    auto db = migrated_db();
    const std::string who = R"("projectId":"p-1","projectNumber":"P-100","hseCardId":"HMS-123456",
        "userId":"auth0|kari","userName":"Kari Nordmann","companyId":"c-bygg","isDeleted":false,)";
    put(db,
        "crew_list_registrations",
        R"({"id":"cl-1",)" + who +
            R"("checkInDateTime":"2026-03-02T07:00:00+01:00","checkOutDateTime":"2026-03-02T15:30:00+01:00",)"
            R"("modifiedDateTime":"2026-03-02T14:30:05Z"})");
    put(db,
        "crew_list_registrations",
        R"({"id":"cl-2",)" + who +
            R"("checkInDateTime":"2026-03-03T00:30:00+01:00","checkOutDateTime":null,)"
            R"("modifiedDateTime":"2026-03-03T06:45:01Z"})");
    put(db,
        "crew_list_registrations",
        R"({"id":"cl-3",)" + who +
            R"("checkInDateTime":"2026-03-04T06:00:00+00:00","checkOutDateTime":"0001-01-01T00:00:00+00:00",)"
            R"("modifiedDateTime":"2026-03-04T06:00:01Z"})");
    put(db,
        "crew_list_registrations",
        R"({"id":"cl-4",)" + who +
            R"("checkInDateTime":"2026-03-04T06:00:00+00:00","modifiedDateTime":"2026-03-04T07:00:00Z"})",
        true);
    CHECK(dump(db, "SELECT * FROM v_crew_list_registrations WHERE id = 'cl-1'") == R"(id='cl-1'
project_id='p-1'
project_number='P-100'
hse_card_id='HMS-123456'
user_id='auth0|kari'
user_name='Kari Nordmann'
company_id='c-bygg'
check_in_at='2026-03-02T07:00:00+01:00'
check_in_date='2026-03-02'
check_out_at='2026-03-02T15:30:00+01:00'
check_in_utc='2026-03-02T06:00:00Z'
check_out_utc='2026-03-02T14:30:00Z'
is_open=0
hours=8.5
modified_at='2026-03-02T14:30:05Z'
synced_at='2026-03-20T09:00:00.000Z'
iso_year=2026
iso_week=10
--
)");
    // Open passages (no check-out, or the sentinel) have no duration. check_in_date is the date as sent,
    // not the UTC date.
    CHECK(
        dump(
            db,
            "SELECT id, check_in_date, check_in_utc, check_out_at, check_out_utc, is_open, hours "
            "FROM v_crew_list_registrations WHERE id <> 'cl-1' ORDER BY id"
        ) == R"(id='cl-2'
check_in_date='2026-03-03'
check_in_utc='2026-03-02T23:30:00Z'
check_out_at=NULL
check_out_utc=NULL
is_open=1
hours=NULL
--
id='cl-3'
check_in_date='2026-03-04'
check_in_utc='2026-03-04T06:00:00Z'
check_out_at=NULL
check_out_utc=NULL
is_open=1
hours=NULL
--
)"
    );
}

TEST_CASE("views: v_flow_trip_registrations")
{
    auto db = migrated_db();
    put(db, "flow_trip_registrations", R"({"id":"ft-1","loadDateTime":"2026-03-02T08:50:00Z",
        "dumpDateTime":"2026-03-02T09:20:00Z","costStartDateTime":"2026-03-02T08:50:00Z",
        "costEndDateTime":"0001-01-01T00:00:00Z","quantity":24.5,"quantityM3":14.0,"registeredQuantity":25.0,
        "verifiedQuantity":24.5,"unitOfMeasureText":"Ton","massTypeId":"mt-1","massType":"Sprengstein",
        "m3PerHour":27.6,"totalCycleTimeSeconds":1830,"totalCycleTimeHours":0.508333,"utilizationRate":0.82,
        "distance":12.4,"averageSpeedKmh":31.5,"netAltitudeChange":-12.0,"totalAscent":35.5,"maxGradient":8.2,
        "averageGradient":2.1,"loadLocationName":"Massetak Nord","dumpLocationName":"Deponi Sør",
        "loadCoordinates":[10.75,59.91],"dumpCoordinates":[10.8,59.95],"loaderId":"r-ex1",
        "loaderName":"CAT 320","loaderNumber":"M-17","loaderDriverName":"Ola Hansen","dumperId":"r-dt1",
        "dumperName":"Volvo A30","dumperNumber":"M-30","dumperRegistrationNumber":"EL 54321",
        "dumperDriverName":"Kari Nordmann","dumperDriverCompanyName":"Bygg AS","trailer":false,
        "verified":true,
        "approved":false,"invoiced":false,"receiptNumber":"K-991","customerName":"Statens vegvesen",
        "comment":"Våt masse","projectId":"p-1","projectNumber":"P-100","projectName":"Bru over elva",
        "projectExternalNumber":"EXT-100","projectCompanyName":"Bygg AS","taskId":"w-1","taskName":"Graving",
        "isFlowData":true,"modifiedDateTime":"2026-03-02T09:25:00Z","isDeleted":false})");
    put(db,
        "flow_trip_registrations",
        R"({"id":"ft-2","loadDateTime":"2026-03-02T08:50:00Z","modifiedDateTime":"2026-03-02T10:00:00Z"})",
        true);
    CHECK(dump(db, "SELECT * FROM v_flow_trip_registrations") == R"(id='ft-1'
load_at='2026-03-02T08:50:00Z'
load_date='2026-03-02'
dump_at='2026-03-02T09:20:00Z'
cost_start_at='2026-03-02T08:50:00Z'
cost_end_at=NULL
quantity=24.5
quantity_m3=14.0
registered_quantity=25.0
verified_quantity=24.5
unit_of_measure_text='Ton'
mass_type_id='mt-1'
mass_type='Sprengstein'
m3_per_hour=27.6
total_cycle_time_seconds=1830
total_cycle_time_hours=0.508333
utilization_rate=0.82
distance=12.4
average_speed_kmh=31.5
net_altitude_change=-12.0
total_ascent=35.5
max_gradient=8.2
average_gradient=2.1
load_location_name='Massetak Nord'
load_latitude=59.91
load_longitude=10.75
dump_location_name='Deponi Sør'
dump_latitude=59.95
dump_longitude=10.8
loader_id='r-ex1'
loader_name='CAT 320'
loader_number='M-17'
loader_driver_name='Ola Hansen'
dumper_id='r-dt1'
dumper_name='Volvo A30'
dumper_number='M-30'
dumper_registration_number='EL 54321'
dumper_driver_name='Kari Nordmann'
dumper_driver_company_name='Bygg AS'
trailer=0
verified=1
approved=0
invoiced=0
receipt_number='K-991'
customer_name='Statens vegvesen'
comment='Våt masse'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
project_external_number='EXT-100'
project_company_name='Bygg AS'
task_id='w-1'
task_name='Graving'
is_flow_data=1
modified_at='2026-03-02T09:25:00Z'
synced_at='2026-03-20T09:00:00.000Z'
iso_year=2026
iso_week=10
--
)");
}

TEST_CASE("views: v_projects, v_work_orders and v_users")
{
    auto db = migrated_db();
    seed_people_and_hours(db);
    CHECK(dump(db, "SELECT * FROM v_projects ORDER BY id") == R"(id='p-1'
number='P-100'
name='Bru over elva'
external_number='EXT-100'
external_dim01='D1'
external_dim02=NULL
company_id='c-bygg'
company_name='Bygg AS'
active=1
is_external=0
created_at='2025-11-01T08:00:00Z'
modified_at='2026-01-02T08:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
--
id='p-3'
number='P-300'
name='Vei'
external_number=NULL
external_dim01=NULL
external_dim02=NULL
company_id='c-bygg'
company_name='Bygg AS'
active=0
is_external=0
created_at=NULL
modified_at='2026-01-03T08:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
--
)");
    CHECK(dump(db, "SELECT * FROM v_work_orders") == R"(id='w-1'
project_id='p-1'
number='01.01.001'
name='Graving og sprenging'
name_with_number='01.01.001 Graving og sprenging'
chapter_id='K-01'
external_number='PK-7'
external_dim01=NULL
external_dim02='X2'
external_piece_work_id='AK-100'
parent_name='Grunnarbeid'
full_path_name='Grunnarbeid / Graving og sprenging'
company_id='c-bygg'
company_name='Bygg AS'
is_external=0
modified_at='2026-01-05T08:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
--
)");
    CHECK(ids(db, "v_users") == "u-k1,u-k2,u-o1,u-o2,u-o3");
    CHECK(dump(db, "SELECT * FROM v_users WHERE id IN ('u-k1', 'u-k2') ORDER BY id") == R"(id='u-k1'
identity_user_id='auth0|kari'
employee_number='1001'
name='Kari Nordmann'
first_name='Kari'
last_name='Nordmann'
email='kari@bygg.no'
work_title='Anleggsleder'
department='Anlegg'
company_id='c-bygg'
company_name='Bygg AS'
employment_company_id='c-bygg'
employment_company_name='Bygg AS'
is_active_employment=1
is_disabled=0
start_date='2019-08-01'
end_date=NULL
modified_at='2026-01-10T08:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
--
id='u-k2'
identity_user_id='auth0|kari'
employee_number='9001'
name='Kari Nordmann'
first_name='Kari'
last_name='Nordmann'
email='kari@bygg-ost.no'
work_title='Innleid'
department=NULL
company_id='c-ost'
company_name='Bygg Øst AS'
employment_company_id='c-bygg'
employment_company_name='Bygg AS'
is_active_employment=0
is_disabled=0
start_date='2024-01-01'
end_date='2025-12-31'
modified_at='2026-02-01T08:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
--
)");
}

TEST_CASE("views: v_resources, v_flow_locations and v_flow_mass_types")
{
    auto db = migrated_db();
    put(db,
        "resources",
        R"({"id":"r-ex1","number":"M-17","name":"Gravemaskin CAT 320","typeName":"Gravemaskin",
        "typeBaseName":"Machine","registrationNumber":"EL 12345","serialNumber":"CAT0320XYZ",
        "department":"Maskin","emissionClass":"Steg V","buildYear":2021,"weight":22000.5,"capacity":1.2,
        "costPrice":650,"price":950,"companyId":"c-bygg","companyName":"Bygg AS","active":true,
        "isExternal":false,"modifiedDateTime":"2026-01-04T08:00:00Z","isDeleted":false})");
    put(db,
        "resources",
        R"({"id":"r-old","number":"M-1","name":"Solgt","modifiedDateTime":"2026-01-04T08:00:00Z"})",
        true);
    put(db,
        "flow_locations",
        R"({"id":"fl-1","name":"Massetak Nord","projectId":"p-1","projectNumber":"P-100",
        "locationType":"Load","coordinates":[10.75,59.91],"radius":150,"active":true,"companyId":"c-bygg",
        "modifiedDateTime":"2026-01-06T08:00:00Z","isDeleted":false})");
    put(db,
        "flow_locations",
        R"({"id":"fl-2","name":"Gammelt tak","modifiedDateTime":"2026-01-06T08:00:00Z"})",
        true);
    put(db, "flow_mass_types", R"({"id":"mt-1","name":"Sprengstein","code":"SPR","unitOfMeasureText":"Ton",
        "density":1.9,"active":true,"companyId":"c-bygg","modifiedDateTime":"2026-01-07T08:00:00Z",
        "isDeleted":false})");
    put(db,
        "flow_mass_types",
        R"({"id":"mt-2","name":"Leire","modifiedDateTime":"2026-01-07T08:00:00Z"})",
        true);
    CHECK(dump(db, "SELECT * FROM v_resources") == R"(id='r-ex1'
number='M-17'
name='Gravemaskin CAT 320'
type_name='Gravemaskin'
type_base_name='Machine'
registration_number='EL 12345'
serial_number='CAT0320XYZ'
department='Maskin'
emission_class='Steg V'
build_year=2021
weight=22000.5
capacity=1.2
cost_price=650.0
price=950.0
company_id='c-bygg'
company_name='Bygg AS'
active=1
is_external=0
modified_at='2026-01-04T08:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
--
)");
    CHECK(dump(db, "SELECT * FROM v_flow_locations") == R"(id='fl-1'
name='Massetak Nord'
project_id='p-1'
project_number='P-100'
location_type='Load'
latitude=59.91
longitude=10.75
radius=150.0
active=1
company_id='c-bygg'
modified_at='2026-01-06T08:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
--
)");
    CHECK(dump(db, "SELECT * FROM v_flow_mass_types") == R"(id='mt-1'
name='Sprengstein'
code='SPR'
unit_of_measure_text='Ton'
density=1.9
active=1
company_id='c-bygg'
modified_at='2026-01-07T08:00:00Z'
synced_at='2026-03-20T09:00:00.000Z'
--
)");
}

TEST_CASE("views: v_people keeps one live profile per person, preferring active, enabled, most recent")
{
    auto db = migrated_db();
    seed_people_and_hours(db);
    // Kari: u-k1 (active) beats the more recent but inactive u-k2 and the deleted u-k3. Ola: u-o3 is the
    // most recent but disabled; u-o1 changed after u-o2. Dag's only profile is deleted.
    CHECK(dump(db, "SELECT * FROM v_people ORDER BY identity_user_id") == R"(identity_user_id='auth0|kari'
profile_id='u-k1'
name='Kari Nordmann'
first_name='Kari'
last_name='Nordmann'
employee_number='1001'
email='kari@bygg.no'
work_title='Anleggsleder'
department='Anlegg'
company_id='c-bygg'
company_name='Bygg AS'
is_active_employment=1
is_disabled=0
profiles=2
--
identity_user_id='auth0|ola'
profile_id='u-o1'
name='Ola Hansen'
first_name='Ola'
last_name='Hansen'
employee_number='1002'
email='ola@bygg.no'
work_title='Maskinfører'
department='Maskin'
company_id='c-bygg'
company_name='Bygg AS'
is_active_employment=1
is_disabled=0
profiles=3
--
)");

    SUBCASE("a person whose profiles are all inactive or disabled still appears once")
    {
        db.exec(
            "UPDATE users SET data = json_set(data, '$.isActiveEmployment', json('false')) WHERE id = 'u-k1'"
        );
        db.exec("UPDATE users SET is_deleted = 1 WHERE id IN ('u-o1', 'u-o2')");
        CHECK(
            text(
                db,
                "SELECT group_concat(identity_user_id || '=' || profile_id, ',') FROM "
                "(SELECT * FROM v_people ORDER BY identity_user_id)"
            ) == "auth0|kari=u-k2,auth0|ola=u-o3"
        );
    }
}

TEST_CASE("views: v_hours_per_employee_day sums a person's own hours per date and project")
{
    auto db = migrated_db();
    seed_people_and_hours(db);
    // Names from v_people and projects; Dag (no live profile) and the deleted project P-200 fall back to
    // the registration. tr-5 (deleted, 100 hours) counts nowhere. Kari's excavator line tr-8 and Ola's van
    // line tr-9 are machine_hours, not hours; Dag's tr-10 (deleted resource) and Kari's tr-11 (resource
    // not in the mirror) are person lines.
    CHECK(
        dump(db, "SELECT * FROM v_hours_per_employee_day ORDER BY work_date, user_id, project_id") ==
        R"(work_date='2026-03-02'
user_id='auth0|kari'
employee_number='1001'
user_name='Kari Nordmann'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
hours=8.5
approved_hours=7.5
registrations=2
machine_hours=3.0
iso_year=2026
iso_week=10
--
work_date='2026-03-02'
user_id='auth0|ola'
employee_number='1002'
user_name='Ola Hansen'
project_id='p-2'
project_number='P-200'
project_name='Tunnel'
hours=8.0
approved_hours=8.0
registrations=1
machine_hours=0.0
iso_year=2026
iso_week=10
--
work_date='2026-03-03'
user_id='auth0|dag'
employee_number='1003'
user_name='Dag Dahl'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
hours=4.5
approved_hours=0.0
registrations=2
machine_hours=0.0
iso_year=2026
iso_week=10
--
work_date='2026-03-03'
user_id='auth0|kari'
employee_number='1001'
user_name='Kari Nordmann'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
hours=3.0
approved_hours=0.75
registrations=2
machine_hours=0.0
iso_year=2026
iso_week=10
--
work_date='2026-03-03'
user_id='auth0|ola'
employee_number='1002'
user_name='Ola Hansen'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
hours=0.0
approved_hours=0.0
registrations=0
machine_hours=1.5
iso_year=2026
iso_week=10
--
)"
    );

    const std::string kari_and_dag =
        "SELECT group_concat(user_id || ' ' || work_date || ' ' || hours || '/' || machine_hours, ', ') "
        "FROM (SELECT * FROM v_hours_per_employee_day WHERE user_id IN ('auth0|kari', 'auth0|dag') "
        "ORDER BY work_date, user_id)";

    SUBCASE("once the deleted resource is live again, it classifies its line")
    {
        db.exec("UPDATE resources SET is_deleted = 0 WHERE id = 'r-sold'");
        CHECK(
            text(db, kari_and_dag) ==
            "auth0|kari 2026-03-02 8.5/3.0, auth0|dag 2026-03-03 4.0/0.5, auth0|kari 2026-03-03 3.0/0.0"
        );
    }

    SUBCASE("without the resources stream every line is a person line")
    {
        db.exec("DELETE FROM resources");
        CHECK(
            text(db, kari_and_dag) ==
            "auth0|kari 2026-03-02 11.5/0.0, auth0|dag 2026-03-03 4.5/0.0, auth0|kari 2026-03-03 3.0/0.0"
        );
    }

    SUBCASE("a live resource without typeBaseName is a person line")
    {
        db.exec("UPDATE resources SET data = json_remove(data, '$.typeBaseName') WHERE id = 'r-ex1'");
        CHECK(
            text(db, kari_and_dag) ==
            "auth0|kari 2026-03-02 11.5/0.0, auth0|dag 2026-03-03 4.5/0.0, auth0|kari 2026-03-03 3.0/0.0"
        );
    }
}

TEST_CASE("views: v_hours_per_project and v_work_order_hours")
{
    auto db = migrated_db();
    seed_people_and_hours(db);
    // p-1's machine lines (tr-8, tr-9) count in machine_hours only, and Ola, who has no person line on
    // p-1, is not one of its employees.
    CHECK(dump(db, "SELECT * FROM v_hours_per_project ORDER BY project_id") == R"(project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
hours=16.0
approved_hours=8.25
unapproved_hours=7.75
machine_hours=4.5
first_work_date='2026-03-02'
last_work_date='2026-03-03'
employees=2
registrations=6
--
project_id='p-2'
project_number='P-200'
project_name='Tunnel'
hours=8.0
approved_hours=8.0
unapproved_hours=0.0
machine_hours=0.0
first_work_date='2026-03-02'
last_work_date='2026-03-02'
employees=1
registrations=1
--
)");
    // w-2 is deleted: its number and name come from the registration.
    CHECK(dump(db, "SELECT * FROM v_work_order_hours ORDER BY project_id, task_id") == R"(project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
task_id=NULL
wbs_number=NULL
task_name=NULL
hours=4.5
approved_hours=0.0
machine_hours=1.5
first_work_date='2026-03-03'
last_work_date='2026-03-03'
employees=1
registrations=2
--
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
task_id='w-1'
wbs_number='01.01.001'
task_name='Graving og sprenging'
hours=8.5
approved_hours=7.5
machine_hours=3.0
first_work_date='2026-03-02'
last_work_date='2026-03-02'
employees=1
registrations=2
--
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
task_id='w-2'
wbs_number='01.02.001'
task_name='Støping'
hours=3.0
approved_hours=0.75
machine_hours=0.0
first_work_date='2026-03-03'
last_work_date='2026-03-03'
employees=1
registrations=2
--
project_id='p-2'
project_number='P-200'
project_name='Tunnel'
task_id=NULL
wbs_number=NULL
task_name=NULL
hours=8.0
approved_hours=8.0
machine_hours=0.0
first_work_date='2026-03-02'
last_work_date='2026-03-02'
employees=1
registrations=1
--
)");
}

TEST_CASE("views: v_unapproved_hours lists live unapproved registrations with names and resource type")
{
    auto db = migrated_db();
    seed_people_and_hours(db);
    CHECK(dump(db, "SELECT * FROM v_unapproved_hours ORDER BY id") == R"(id='tr-10'
work_date='2026-03-03'
user_id='auth0|dag'
employee_number='1003'
user_name='Dag Dahl'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
task_id=NULL
task_name=NULL
resource_type_base_name=NULL
is_person=1
qty=0.5
description='Rydding'
modified_at='2026-03-03T16:00:00Z'
iso_year=2026
iso_week=10
--
id='tr-2'
work_date='2026-03-02'
user_id='auth0|kari'
employee_number='1001'
user_name='Kari Nordmann'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
task_id='w-1'
task_name='Graving og sprenging'
resource_type_base_name=NULL
is_person=1
qty=1.0
description='Rigg'
modified_at='2026-03-02T16:00:00Z'
iso_year=2026
iso_week=10
--
id='tr-4'
work_date='2026-03-03'
user_id='auth0|dag'
employee_number='1003'
user_name='Dag Dahl'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
task_id=NULL
task_name=NULL
resource_type_base_name=NULL
is_person=1
qty=4.0
description='Befaring'
modified_at='2026-03-03T16:00:00Z'
iso_year=2026
iso_week=10
--
id='tr-6'
work_date='2026-03-03'
user_id='auth0|kari'
employee_number='1001'
user_name='Kari Nordmann'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
task_id='w-2'
task_name='Støping'
resource_type_base_name=NULL
is_person=1
qty=2.25
description=NULL
modified_at='2026-03-03T16:00:00Z'
iso_year=2026
iso_week=10
--
id='tr-9'
work_date='2026-03-03'
user_id='auth0|ola'
employee_number='1002'
user_name='Ola Hansen'
project_id='p-1'
project_number='P-100'
project_name='Bru over elva'
task_id=NULL
task_name=NULL
resource_type_base_name='Vehicle'
is_person=0
qty=1.5
description='Transport'
modified_at='2026-03-03T16:00:00Z'
iso_year=2026
iso_week=10
--
)");
    // A Human resource is named too.
    db.exec(
        "UPDATE time_registrations SET data = json_set(data, '$.approved', json('false')) WHERE id = 'tr-1'"
    );
    CHECK(
        dump(db, "SELECT resource_type_base_name, is_person FROM v_unapproved_hours WHERE id = 'tr-1'") ==
        "resource_type_base_name='Human'\nis_person=1\n--\n"
    );
}

TEST_CASE("views: joined views filter work_date through its index and look resources up by id")
{
    auto db = migrated_db();
    const auto search = date_range_search("time_registrations", "time_registrations_work_date");
    // resources through its primary key, once per line.
    const std::string by_id = "USING INDEX sqlite_autoindex_resources_1 (id=?) LEFT-JOIN;";
    for (const std::string view : {"v_hours_per_employee_day", "v_unapproved_hours"}) {
        CAPTURE(view);
        auto details =
            plan(db, "SELECT * FROM " + view + " WHERE work_date BETWEEN '2026-01-01' AND '2026-01-31'");
        CAPTURE(details);
        CHECK(details.find(search) != std::string::npos);
        CHECK(details.find(by_id) != std::string::npos);
    }
    for (const std::string view : {"v_hours_per_project", "v_work_order_hours"}) {
        CAPTURE(view);
        auto details = plan(db, "SELECT * FROM " + view);
        CAPTURE(details);
        CHECK(details.find(by_id) != std::string::npos);
    }
}

TEST_CASE("views: v_absences_per_employee counts days and hours per person and absence type")
{
    auto db = migrated_db();
    seed_people_and_hours(db);
    CHECK(
        dump(db, "SELECT * FROM v_absences_per_employee ORDER BY user_id, absence_type_id") ==
        R"(user_id='auth0|dag'
employee_number='1003'
user_name='Dag Dahl'
absence_type_id='at-fer'
absence_type_code='FER'
absence_type_name='Ferie'
days=1
hours=7.5
first_date='2026-03-05'
last_date='2026-03-05'
approved_days=0
--
user_id='auth0|kari'
employee_number='1001'
user_name='Kari Nordmann'
absence_type_id='at-egm'
absence_type_code='EGM'
absence_type_name='Egenmelding'
days=1
hours=7.5
first_date='2026-03-09'
last_date='2026-03-09'
approved_days=1
--
user_id='auth0|kari'
employee_number='1001'
user_name='Kari Nordmann'
absence_type_id='at-fer'
absence_type_code='FER'
absence_type_name='Ferie'
days=2
hours=18.75
first_date='2026-03-05'
last_date='2026-03-06'
approved_days=1
--
user_id='auth0|ola'
employee_number='1002'
user_name='Ola Hansen'
absence_type_id='at-fer'
absence_type_code='FER'
absence_type_name='Ferie'
days=1
hours=3.75
first_date='2026-03-05'
last_date='2026-03-05'
approved_days=1
--
)"
    );
}

// complete_through is to the second, truncated, as `status` shows data_complete_through (0005).
TEST_CASE("views: v_sync_freshness subtracts the overlap from the watermark")
{
    auto db = migrated_db();
    db.exec(R"(
        INSERT INTO sync_state (stream, watermark, overlap_ms, run_id, last_success_at, unavailable_at,
                                next_run_at, last_error, last_error_at) VALUES
        ('time-registrations', '2026-10-01T06:02:11.123Z', 600000, NULL,
         strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-3600 seconds'), NULL, '2026-10-01T06:17:11.000Z',
         NULL, NULL),
        ('payroll-lines', '2026-03-01T00:00:00.5Z', 1500, NULL, NULL, NULL, NULL, NULL, NULL),
        ('user', '2026-01-01T00:00:30Z', NULL, 7, NULL, NULL, NULL, NULL, NULL),
        ('images', NULL, 600000, NULL, NULL, '2026-03-20T08:00:00.000Z', '2026-03-21T08:00:00.000Z',
         'v1/images: 404 not available on this environment', '2026-03-20T08:00:00.000Z');
    )");
    CHECK(
        text(db, "SELECT group_concat(name, ',') FROM pragma_table_info('v_sync_freshness')") ==
        "stream,watermark,complete_through,last_success_at,last_success_age_s,running,unavailable,next_run_"
        "at,"
        "last_error,last_error_at,quarantined"
    );
    CHECK(
        dump(
            db,
            "SELECT stream, watermark, complete_through, running, unavailable, next_run_at, last_error, "
            "last_error_at FROM v_sync_freshness ORDER BY stream"
        ) == R"(stream='images'
watermark=NULL
complete_through=NULL
running=0
unavailable=1
next_run_at='2026-03-21T08:00:00.000Z'
last_error='v1/images: 404 not available on this environment'
last_error_at='2026-03-20T08:00:00.000Z'
--
stream='payroll-lines'
watermark='2026-03-01T00:00:00.5Z'
complete_through='2026-02-28T23:59:59Z'
running=0
unavailable=0
next_run_at=NULL
last_error=NULL
last_error_at=NULL
--
stream='time-registrations'
watermark='2026-10-01T06:02:11.123Z'
complete_through='2026-10-01T05:52:11Z'
running=0
unavailable=0
next_run_at='2026-10-01T06:17:11.000Z'
last_error=NULL
last_error_at=NULL
--
stream='user'
watermark='2026-01-01T00:00:30Z'
complete_through='2025-12-31T23:50:30Z'
running=1
unavailable=0
next_run_at=NULL
last_error=NULL
last_error_at=NULL
--
)"
    );
    SQLite::Statement age(
        db, "SELECT last_success_age_s, typeof(last_success_age_s) FROM v_sync_freshness ORDER BY stream"
    );
    std::string nulls;
    while (age.executeStep()) {
        if (age.getColumn(0).isNull()) {
            nulls += "n";
            continue;
        }
        CHECK(age.getColumn(1).getString() == "integer");
        // Set an hour ago; the test may straddle a second or two.
        CHECK(age.getColumn(0).getInt64() >= 3600);
        CHECK(age.getColumn(0).getInt64() <= 3660);
        nulls += "v";
    }
    // images, payroll-lines, time-registrations, user: only time-registrations has succeeded.
    CHECK(nulls == "nnvn");
}

TEST_CASE("views: the reference ISO week computation agrees with the calendar's known weeks")
{
    using namespace std::chrono;
    CHECK(iso_reference(sys_days{2026y / December / 1}) == iso_week_date{2026, 49});
    CHECK(iso_reference(sys_days{2024y / December / 30}) == iso_week_date{2025, 1});
    CHECK(iso_reference(sys_days{2027y / January / 1}) == iso_week_date{2026, 53});
    CHECK(iso_reference(sys_days{2021y / January / 3}) == iso_week_date{2020, 53});
    CHECK(iso_reference(sys_days{2015y / January / 1}) == iso_week_date{2015, 1});
    CHECK(iso_reference(sys_days{2026y / June / 15}) == iso_week_date{2026, 25});
}

TEST_CASE("views: iso_year and iso_week are the ISO 8601 week for every day of 2015..2035")
{
    using namespace std::chrono;
    auto db = migrated_db();
    const sys_days first{2015y / January / 1};
    const sys_days last{2035y / December / 31};
    {
        SQLite::Transaction tx(db);
        SQLite::Statement ins(
            db,
            "INSERT INTO time_registrations (id, modified_at, data, first_seen_at, synced_at) "
            "VALUES (:id, :m, json_object('id', :id, 'workDate', :d || 'T00:00:00Z', 'qty', 1), :m, :m)"
        );
        for (auto day = first; day <= last; day += days{1}) {
            ins.bind(":id", "tr-" + iso_date(day));
            ins.bind(":d", iso_date(day));
            ins.bind(":m", synced);
            ins.exec();
            ins.reset();
        }
        tx.commit();
    }
    const auto expected_days = (last - first).count() + 1;
    // The per-registration view and a joined view (one row per date here: no user, no project).
    for (const std::string view : {"v_time_registrations", "v_hours_per_employee_day"}) {
        CAPTURE(view);
        SQLite::Statement q(
            db,
            "SELECT work_date, iso_year, iso_week, typeof(iso_year), typeof(iso_week) FROM " + view +
                " ORDER BY work_date"
        );
        auto day = first;
        std::int64_t seen = 0;
        std::string wrong;
        while (q.executeStep()) {
            auto want = iso_reference(day);
            std::string date = q.getColumn(0).getString();
            if (date != iso_date(day) || q.getColumn(1).getInt() != want.year ||
                q.getColumn(2).getInt() != want.week || q.getColumn(3).getString() != "integer" ||
                q.getColumn(4).getString() != "integer")
                wrong += fmt::format(
                    "{}: {}-W{} ({}, {}), want {}-W{:02}; ",
                    date,
                    q.getColumn(1).getString(),
                    q.getColumn(2).getString(),
                    q.getColumn(3).getString(),
                    q.getColumn(4).getString(),
                    want.year,
                    want.week
                );
            ++seen;
            day += days{1};
        }
        CHECK(seen == expected_days);
        CHECK(wrong.substr(0, 2000) == "");
    }
}

TEST_CASE("views: every view with a registration's date has its ISO week, the edge cases included")
{
    auto db = migrated_db();
    seed_week_edge_cases(db);
    std::string expected;
    for (const auto& [date, week] : week_edge_cases)
        expected += (date == "0001-01-01" ? std::string("NULL") : date) + " " + week + "\n";
    for (const auto& v : dated_views) {
        CAPTURE(v.view);
        CHECK(
            text(
                db,
                fmt::format(
                    "SELECT group_concat(shown, char(10)) || char(10) FROM (SELECT coalesce({0}, 'NULL') || "
                    "' ' "
                    "|| coalesce(iso_year, 'NULL') || '-W' || coalesce(substr('0' || iso_week, -2), 'NULL') "
                    "AS "
                    "shown FROM {1} ORDER BY {0})",
                    v.column,
                    v.view
                )
            ) == expected
        );
    }
    // Those views and no other: the rest have no single date a row belongs to.
    std::string with_weeks;
    for (const auto& [view, columns] : view_columns(db))
        if (std::find(columns.begin(), columns.end(), "iso_week") != columns.end())
            with_weeks += view + " ";
    std::vector<std::string> names;
    for (const auto& v : dated_views)
        names.push_back(v.view);
    std::sort(names.begin(), names.end());
    std::string expected_views;
    for (const auto& n : names)
        expected_views += n + " ";
    CHECK(with_weeks == expected_views);
}

TEST_CASE("migration 0005: a version 4 database upgrades keeping its rows and every view's columns")
{
    ditio_sync::testing::temp_dir dir;
    auto path = dir.path() / "ditio.db";
    std::map<std::string, std::vector<std::string>> before;
    std::map<std::string, std::string> rows_before;
    // The views' rows as a list of their (old) columns, in a fixed order.
    auto rows_of = [](SQLite::Database& db, const std::string& view, const std::vector<std::string>& columns
                   ) {
        std::string order;
        for (std::size_t i = 1; i <= columns.size(); ++i)
            order += (i > 1 ? ", " : "") + std::to_string(i);
        return dump(db, fmt::format("SELECT {} FROM {} ORDER BY {}", fmt::join(columns, ", "), view, order));
    };
    {
        // Exactly what a ditio-sync with 0001..0004 left behind.
        auto db = store::open_database(path, 1000ms, store::open_mode::read_write);
        for (const auto& m : store::embedded_migrations())
            if (m.version <= 4)
                db.exec(std::string(m.sql));
        db.exec("PRAGMA user_version = 4");
        seed_people_and_hours(db);
        seed_week_edge_cases(db);
        db.exec(
            "INSERT INTO sync_state (stream, watermark, last_success_at, overlap_ms) "
            "VALUES ('time-registrations', '2026-03-03T00:00:00.000Z', '2026-03-03T00:00:05.000Z', 600000)"
        );
        REQUIRE(text(db, "SELECT complete_through FROM v_sync_freshness") == "2026-03-02T23:50:00.000Z");
        before = view_columns(db);
        REQUIRE(before.count("v_time_registrations") == 1);
        REQUIRE(before.at("v_time_registrations").front() == "id");
        for (const auto& [view, columns] : before)
            // v_sync_freshness's last_success_age_s moves with the clock.
            if (view != "v_sync_freshness")
                rows_before[view] = rows_of(db, view, columns);
    }
    auto db = store::open_database(path, 1000ms, store::open_mode::read_write);
    CHECK(store::migrate(db) == store::latest_schema_version() - 4);
    CHECK(store::schema_version(db) == store::latest_schema_version());

    auto after = view_columns(db);
    CHECK(after.size() == before.size());
    std::string grown;
    for (const auto& [view, columns] : before) {
        CAPTURE(view);
        REQUIRE(after.count(view) == 1);
        const auto& now = after.at(view);
        REQUIRE(now.size() >= columns.size());
        // The old columns first, in their order; the new ones after them.
        CHECK(
            std::vector<std::string>(
                now.begin(), now.begin() + static_cast<std::ptrdiff_t>(columns.size())
            ) == columns
        );
        std::vector<std::string> added(now.begin() + static_cast<std::ptrdiff_t>(columns.size()), now.end());
        if (!added.empty()) {
            // 0005 added the weeks, 0006 the images' parent_ref and the freshness's quarantined count.
            if (view == "v_images")
                CHECK(added == std::vector<std::string>{"iso_year", "iso_week", "parent_ref"});
            else if (view == "v_sync_freshness")
                CHECK(added == std::vector<std::string>{"quarantined"});
            else
                CHECK(added == std::vector<std::string>{"iso_year", "iso_week"});
            grown += view + " ";
        }
        if (view != "v_sync_freshness")
            CHECK(rows_of(db, view, columns) == rows_before.at(view));
    }
    CHECK(
        grown == "v_absence_registrations v_crew_list_registrations v_flow_trip_registrations "
                 "v_hours_per_employee_day "
                 "v_images v_machine_registrations v_payroll_lines v_payroll_lines_extended v_sync_freshness "
                 "v_time_registrations v_unapproved_hours "
    );
    // complete_through is now to the second, as status shows it; it was to the millisecond.
    CHECK(text(db, "SELECT complete_through FROM v_sync_freshness") == "2026-03-02T23:50:00Z");
    // The rows written before the upgrade have their weeks.
    CHECK(
        text(
            db,
            "SELECT printf('%d-W%02d', iso_year, iso_week) FROM v_time_registrations "
            "WHERE id = 'time_registrations-2027-01-01'"
        ) == "2026-W53"
    );
    CHECK(text(db, "SELECT count(*) FROM time_registrations") != "0");
}

TEST_SUITE_END();
