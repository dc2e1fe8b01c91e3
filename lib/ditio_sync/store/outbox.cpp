#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/outbox.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/text.hpp>

#include <SQLiteCpp/Statement.h>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <array>
#include <span>

namespace ditio_sync::store {

namespace json = boost::json;

namespace {

enum class column_type { text, boolean, real };

struct column {
    const char* name;
    const char* field; // the Integration API's name
    column_type type;
};

constexpr std::array project_columns{
    column{"name", "name", column_type::text},
    column{"active", "active", column_type::boolean},
    column{"external_project_number", "externalProjectNumber", column_type::text},
    column{"external_dimension1", "externalDimension1", column_type::text},
    column{"external_dimension2", "externalDimension2", column_type::text},
    column{"description", "description", column_type::text},
    column{"require_task_number", "requireTaskNumber", column_type::boolean},
    column{"blocked_for_registration", "blockedForRegistration", column_type::boolean},
    column{"start_date", "startDate", column_type::text},
    column{"finished_date_planned", "finishedDatePlanned", column_type::text},
    column{"finished_date", "finishedDate", column_type::text},
    column{"project_customer_name", "projectCustomerName", column_type::text},
    column{"project_address", "projectAddress", column_type::text},
    column{"main_contact_email", "mainContactEmail", column_type::text},
};

constexpr std::array work_order_columns{
    column{"name", "name", column_type::text},
    column{"active", "active", column_type::boolean},
    column{"external_project_number", "externalProjectNumber", column_type::text},
    column{"external_project_name", "externalProjectName", column_type::text},
    column{"external_dim01", "externalDim01", column_type::text},
    column{"work_description_short", "workDescriptionShort", column_type::text},
    column{"work_description", "workDescription", column_type::text},
    column{"start_date", "startDate", column_type::text},
    column{"finished_date_planned", "finishedDatePlanned", column_type::text},
    column{"finished_date", "finishedDate", column_type::text},
    column{"estimated_hour_qty", "estimatedHourQty", column_type::real},
    column{"fixed_resource_price", "fixedResourcePrice", column_type::real},
    column{"unit_id", "unitId", column_type::text},
    column{"cost_price", "costPrice", column_type::real},
    column{"price", "price", column_type::real},
    column{"measure_unit_qty", "measureUnitQty", column_type::boolean},
    column{"safe_job_analysis_approval_required", "safeJobAnalysisApprovalRequired", column_type::boolean},
};

// Keys come from their own columns (and the resolved project id), never from `extra`.
constexpr std::array key_fields{"id", "companyId", "projectNumber", "projectId", "externalId"};

const char* table(outbox_kind k)
{
    return k == outbox_kind::project ? "outbox_projects" : "outbox_work_orders";
}

std::span<const column> columns(outbox_kind k)
{
    if (k == outbox_kind::project)
        return project_columns;
    return work_order_columns;
}

std::optional<std::string> opt_text(const SQLite::Column& c)
{
    if (c.isNull())
        return std::nullopt;
    return c.getString();
}

} // namespace

std::string describe(const outbox_row& row)
{
    if (row.kind == outbox_kind::project)
        return fmt::format("project {}", row.project_number);
    return fmt::format("work order {}/{}", row.project_number, row.external_id);
}

std::string_view to_string(outbox_status s)
{
    switch (s) {
    case outbox_status::pending:
        return "pending";
    case outbox_status::sent:
        return "sent";
    case outbox_status::failed:
        return "failed";
    }
    return "pending";
}

outbox_status parse_outbox_status(std::string_view text)
{
    for (auto s : {outbox_status::pending, outbox_status::sent, outbox_status::failed})
        if (to_string(s) == text)
            return s;
    throw db_error(db_failure::corrupt, fmt::format("the outbox holds an unknown status '{}'", text));
}

outbox_store::outbox_store(SQLite::Database& db) : db_(db) {}

std::vector<outbox_row> outbox_store::pending(outbox_kind kind, std::optional<std::int64_t> only)
{
    return guarded("reading the outbox", [&] {
        bool wo = kind == outbox_kind::work_order;
        std::string sql = fmt::format(
            "SELECT id, revision, company_id, project_number, {}, ditio_id, {}, attempts, extra",
            wo ? "external_id" : "NULL",
            wo ? "ditio_project_id" : "NULL"
        );
        for (const auto& c : columns(kind))
            sql += fmt::format(", {}", c.name);
        sql += fmt::format(" FROM {} WHERE ", table(kind));
        sql += only ? "id = ?" : "status = 'pending' ORDER BY id";
        SQLite::Statement q(db_, sql);
        if (only)
            q.bind(1, *only);
        std::vector<outbox_row> out;
        while (q.executeStep()) {
            outbox_row r;
            r.kind = kind;
            r.id = q.getColumn(0).getInt64();
            r.revision = q.getColumn(1).getInt64();
            r.company_id = q.getColumn(2).getString();
            r.project_number = q.getColumn(3).getString();
            r.external_id = q.getColumn(4).isNull() ? "" : q.getColumn(4).getString();
            r.ditio_id = opt_text(q.getColumn(5));
            r.ditio_project_id = opt_text(q.getColumn(6));
            r.attempts = q.getColumn(7).getInt64();
            // The CHECK constraint keeps `extra` a JSON object.
            if (auto extra = opt_text(q.getColumn(8))) {
                boost::system::error_code ec;
                auto v = json::parse(*extra, ec);
                if (!ec && v.is_object())
                    r.fields = std::move(v.get_object());
                for (const char* k : key_fields)
                    r.fields.erase(k);
            }
            int i = 9;
            for (const auto& c : columns(kind)) {
                auto col = q.getColumn(i++);
                if (col.isNull())
                    continue;
                switch (c.type) {
                case column_type::text:
                    r.fields[c.field] = col.getString();
                    break;
                case column_type::boolean:
                    r.fields[c.field] = col.getInt64() != 0;
                    break;
                case column_type::real:
                    r.fields[c.field] = col.getDouble();
                    break;
                }
            }
            out.push_back(std::move(r));
        }
        return out;
    });
}

std::optional<outbox_project_state>
outbox_store::project_state(const std::string& company_id, const std::string& number)
{
    return guarded("reading the outbox", [&]() -> std::optional<outbox_project_state> {
        SQLite::Statement q(
            db_,
            "SELECT status, ditio_id, last_error FROM outbox_projects WHERE company_id = ? AND "
            "project_number = ?"
        );
        q.bind(1, company_id);
        q.bind(2, number);
        if (!q.executeStep())
            return std::nullopt;
        return outbox_project_state{
            parse_outbox_status(q.getColumn(0).getString()),
            opt_text(q.getColumn(1)),
            opt_text(q.getColumn(2))};
    });
}

bool outbox_store::record_attempt(
    const outbox_row& row,
    std::string_view set,
    const std::optional<std::string>& error,
    const std::string& now
)
{
    return guarded("recording a push", [&] {
        // `set` is one of the constant fragments below; ?2 is `now` there too.
        SQLite::Statement q(
            db_,
            fmt::format(
                "UPDATE {} SET {}attempts = attempts + 1, last_error = ?1, last_attempt_at = ?2 "
                "WHERE id = ?3 AND revision = ?4",
                table(row.kind),
                set
            )
        );
        if (error)
            q.bind(1, util::safe_excerpt(*error, util::max_excerpt_bytes));
        else
            q.bind(1);
        q.bind(2, now);
        q.bind(3, row.id);
        q.bind(4, row.revision);
        return q.exec() == 1;
    });
}

bool outbox_store::mark_sent(const outbox_row& row, const std::string& ditio_id, const std::string& now)
{
    // The id is Ditio's fact whatever happened to the row meanwhile; the status only for this revision.
    remember_ditio_id(row, ditio_id);
    return record_attempt(row, "status = 'sent', sent_at = ?2, ", std::nullopt, now);
}

bool outbox_store::mark_failed(const outbox_row& row, const std::string& error, const std::string& now)
{
    return record_attempt(row, "status = 'failed', ", error, now);
}

bool outbox_store::mark_attempt(const outbox_row& row, const std::string& error, const std::string& now)
{
    return record_attempt(row, "", error, now);
}

bool outbox_store::mark_waiting(const outbox_row& row, const std::string& why)
{
    return guarded("recording a push", [&] {
        SQLite::Statement q(
            db_,
            "UPDATE outbox_work_orders SET last_error = ? WHERE id = ? AND revision = ? AND last_error IS "
            "NOT ?"
        );
        auto safe = util::safe_excerpt(why, util::max_excerpt_bytes);
        q.bind(1, safe);
        q.bind(2, row.id);
        q.bind(3, row.revision);
        q.bind(4, safe);
        return q.exec() == 1;
    });
}

void outbox_store::remember_ditio_id(const outbox_row& row, const std::string& ditio_id)
{
    guarded("recording a push", [&] {
        // A row whose key changed meanwhile names another project or work order: not this id.
        SQLite::Statement q(
            db_,
            fmt::format(
                "UPDATE {} SET ditio_id = ? WHERE id = ? AND company_id = ? AND project_number = ?{}",
                table(row.kind),
                row.kind == outbox_kind::work_order ? " AND external_id = ?" : ""
            )
        );
        q.bind(1, ditio_id);
        q.bind(2, row.id);
        q.bind(3, row.company_id);
        q.bind(4, row.project_number);
        if (row.kind == outbox_kind::work_order)
            q.bind(5, row.external_id);
        q.exec();
    });
}

void outbox_store::set_ditio_project_id(const outbox_row& row, const std::string& project_id)
{
    guarded("recording a push", [&] {
        SQLite::Statement q(
            db_, "UPDATE outbox_work_orders SET ditio_project_id = ? WHERE id = ? AND revision = ?"
        );
        q.bind(1, project_id);
        q.bind(2, row.id);
        q.bind(3, row.revision);
        q.exec();
    });
}

int outbox_store::reopen_waiting_work_orders(const std::string& company_id, const std::string& number)
{
    return guarded("recording a push", [&] {
        SQLite::Statement q(
            db_,
            "UPDATE outbox_work_orders SET status = 'pending' "
            "WHERE company_id = ? AND project_number = ? AND status = 'failed' AND ditio_project_id IS NULL"
        );
        q.bind(1, company_id);
        q.bind(2, number);
        return q.exec();
    });
}

std::int64_t outbox_store::put_project(
    const std::string& company_id, const std::string& number, const std::string& name, outbox_active active
)
{
    return guarded("writing to the outbox", [&] {
        // An explicit request to send: pending even when nothing changed (a failed row is tried again).
        SQLite::Statement q(
            db_,
            "INSERT INTO outbox_projects (company_id, project_number, name, active) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (company_id, project_number) DO UPDATE SET name = excluded.name, "
            "active = excluded.active, status = 'pending' RETURNING id"
        );
        q.bind(1, company_id);
        q.bind(2, number);
        q.bind(3, name);
        q.bind(4, active == outbox_active::yes ? 1 : 0);
        q.executeStep();
        auto id = q.getColumn(0).getInt64();
        return id;
    });
}

std::int64_t outbox_store::put_work_order(
    const std::string& company_id,
    const std::string& project_number,
    const std::string& external_id,
    const std::string& name,
    outbox_active active
)
{
    return guarded("writing to the outbox", [&] {
        SQLite::Statement q(
            db_,
            "INSERT INTO outbox_work_orders (company_id, project_number, external_id, name, active) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (company_id, project_number, external_id) DO UPDATE SET "
            "name = excluded.name, active = excluded.active, status = 'pending' RETURNING id"
        );
        q.bind(1, company_id);
        q.bind(2, project_number);
        q.bind(3, external_id);
        q.bind(4, name);
        q.bind(5, active == outbox_active::yes ? 1 : 0);
        q.executeStep();
        auto id = q.getColumn(0).getInt64();
        return id;
    });
}

std::optional<outbox_outcome> outbox_store::outcome(outbox_kind kind, std::int64_t id)
{
    return guarded("reading the outbox", [&]() -> std::optional<outbox_outcome> {
        SQLite::Statement q(
            db_,
            kind == outbox_kind::project
                ? "SELECT 'project ' || project_number, status, ditio_id, last_error FROM outbox_projects "
                  "WHERE id = ?"
                : "SELECT 'work order ' || project_number || '/' || external_id, status, ditio_id, "
                  "last_error "
                  "FROM outbox_work_orders WHERE id = ?"
        );
        q.bind(1, id);
        if (!q.executeStep())
            return std::nullopt;
        return outbox_outcome{
            q.getColumn(0).getString(),
            parse_outbox_status(q.getColumn(1).getString()),
            opt_text(q.getColumn(2)),
            opt_text(q.getColumn(3))};
    });
}

outbox_counts outbox_store::counts(outbox_kind kind)
{
    return guarded("reading the outbox", [&] {
        SQLite::Statement q(db_, fmt::format("SELECT status, count(*) FROM {} GROUP BY status", table(kind)));
        outbox_counts c;
        while (q.executeStep()) {
            auto s = q.getColumn(0).getString();
            auto n = q.getColumn(1).getInt64();
            (s == "pending" ? c.pending : s == "sent" ? c.sent : c.failed) = n;
        }
        return c;
    });
}

std::optional<std::string> outbox_store::last_pending_error()
{
    return guarded("reading the outbox", [&]() -> std::optional<std::string> {
        SQLite::Statement q(
            db_,
            "SELECT last_error FROM (SELECT last_error, last_attempt_at FROM outbox_projects WHERE status = "
            "'pending' AND last_error IS NOT NULL AND last_attempt_at IS NOT NULL UNION ALL SELECT "
            "last_error, "
            "last_attempt_at FROM outbox_work_orders WHERE status = 'pending' AND last_error IS NOT NULL AND "
            "last_attempt_at IS NOT NULL) ORDER BY last_attempt_at DESC LIMIT 1"
        );
        if (q.executeStep())
            return q.getColumn(0).getString();
        return std::nullopt;
    });
}

bool outbox_store::any_pending()
{
    return guarded("reading the outbox", [&] {
        return db_.execAndGet("SELECT EXISTS (SELECT 1 FROM outbox_projects WHERE status = 'pending') OR "
                              "EXISTS (SELECT 1 FROM outbox_work_orders WHERE status = 'pending')")
                   .getInt() != 0;
    });
}

outbox_fingerprint outbox_store::fingerprint()
{
    return guarded("reading the outbox", [&] {
        // A new row shows in a max id, an edit in `revisions` and `last_update`, a row set back to pending by
        // hand in `pending`. A coincidence that hides a change only delays the pass to push.interval.
        SQLite::Statement q(
            db_,
            "SELECT (SELECT count(*) FROM outbox_projects WHERE status = 'pending') + "
            "       (SELECT count(*) FROM outbox_work_orders WHERE status = 'pending'), "
            "  (SELECT coalesce(max(id), 0) FROM outbox_projects WHERE status = 'pending'), "
            "  (SELECT coalesce(max(id), 0) FROM outbox_work_orders WHERE status = 'pending'), "
            "  (SELECT total(revision) FROM outbox_projects WHERE status = 'pending') + "
            "       (SELECT total(revision) FROM outbox_work_orders WHERE status = 'pending'), "
            "  max((SELECT coalesce(max(updated_at), '') FROM outbox_projects WHERE status = 'pending'), "
            "      (SELECT coalesce(max(updated_at), '') FROM outbox_work_orders WHERE status = 'pending'))"
        );
        q.executeStep();
        return outbox_fingerprint{
            q.getColumn(0).getInt64(),
            q.getColumn(1).getInt64(),
            q.getColumn(2).getInt64(),
            q.getColumn(3).getInt64(),
            q.getColumn(4).getString()};
    });
}

std::int64_t outbox_store::data_version()
{
    return guarded("reading the outbox", [&] { return db_.execAndGet("PRAGMA data_version").getInt64(); });
}

} // namespace ditio_sync::store
