#include <ditio_sync/store/database.hpp>
#include <ditio_sync/sync/pusher.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <map>
#include <utility>

namespace ditio_sync::sync {

namespace asio = boost::asio;
namespace json = boost::json;
using store::outbox_kind;
using store::outbox_row;

namespace {

bool same_value(const json::value& a, const json::value& b)
{
    if (a.is_number() && b.is_number())
        return a.to_number<double>() == b.to_number<double>();
    return a == b;
}

std::string text_of(const json::object& o, std::string_view key)
{
    if (auto* v = o.if_contains(key)) {
        if (v->is_string())
            return std::string(v->get_string());
        if (v->is_number())
            return json::serialize(*v);
    }
    return {};
}

const char* kind_name(outbox_kind k)
{
    return k == outbox_kind::project ? "project" : "work_order";
}

} // namespace

json::object changed_fields(const json::object& desired, const json::object& actual)
{
    json::object out;
    for (const auto& [key, want] : desired) {
        auto* have = actual.if_contains(key);
        if (!have || !same_value(*have, want))
            out[key] = want;
    }
    return out;
}

// What one pass learns once and reuses: project ids by (company, number), work orders by project.
struct pusher::pass {
    push_report report;
    ditio::retry_budget budget;
    std::map<std::pair<std::string, std::string>, std::string> project_ids;
    std::map<std::string, std::map<std::string, json::object>> tasks; // project id -> externalId -> task
};

pusher::pusher(
    ditio::integration_client& api,
    db_worker& db,
    const util::clock& clock,
    util::stop_source& stop,
    log::logger_ptr logger,
    push_settings settings
)
    : api_(api), db_(db), clock_(clock), stop_(stop), log_(std::move(logger)), settings_(settings)
{
}

std::string pusher::now_text() const
{
    return util::format_iso8601_ms(std::chrono::time_point_cast<std::chrono::microseconds>(clock_.system_now()
    ));
}

asio::awaitable<push_report> pusher::push_pending(std::optional<push_target> only)
{
    pass p;
    p.budget.remaining = settings_.retry_budget;

    std::vector<outbox_row> projects;
    std::optional<outbox_row> lone_work_order;
    if (!only) {
        projects =
            co_await db_.outbox([](store::outbox_store& s) { return s.pending(outbox_kind::project); });
    } else if (only->kind == outbox_kind::project) {
        projects = co_await db_.outbox([id = only->id](store::outbox_store& s) {
            return s.pending(outbox_kind::project, id);
        });
    } else {
        auto wo = co_await db_.outbox([id = only->id](store::outbox_store& s) {
            return s.pending(outbox_kind::work_order, id);
        });
        if (!wo.empty()) {
            lone_work_order = std::move(wo.front());
            // Its project, when that waits in the outbox too, goes first.
            auto all =
                co_await db_.outbox([](store::outbox_store& s) { return s.pending(outbox_kind::project); });
            for (auto& r : all)
                if (r.company_id == lone_work_order->company_id &&
                    r.project_number == lone_work_order->project_number)
                    projects.push_back(std::move(r));
        }
    }

    // A pass that ends early (Ditio unreachable, credentials refused) leaves the rest pending.
    bool go_on = true;
    std::size_t done = 0;
    while (go_on && done < projects.size())
        go_on = co_await push_project(p, projects[done++]);
    if (!go_on) {
        p.report.pending += static_cast<int>(projects.size() - done);
        if (lone_work_order)
            ++p.report.pending;
        else if (!only)
            p.report.pending += static_cast<int>(co_await db_.outbox([](store::outbox_store& s) {
                return s.counts(outbox_kind::work_order).pending;
            }));
    }
    // Read after the projects went out: work orders waiting for one of them are pending again by now.
    std::vector<outbox_row> work_orders;
    if (go_on && !only)
        work_orders =
            co_await db_.outbox([](store::outbox_store& s) { return s.pending(outbox_kind::work_order); });
    else if (go_on && lone_work_order)
        work_orders = co_await db_.outbox([id = lone_work_order->id](store::outbox_store& s) {
            return s.pending(outbox_kind::work_order, id);
        });
    done = 0;
    while (go_on && done < work_orders.size())
        go_on = co_await push_work_order(p, work_orders[done++]);
    if (!go_on)
        p.report.pending += static_cast<int>(work_orders.size() - done);
    if (!projects.empty() || !work_orders.empty())
        log::event(
            log_,
            p.report.failed > 0 || !p.report.error.empty() ? spdlog::level::warn : spdlog::level::info,
            "push.summary",
            {{"sent", p.report.sent},
             {"failed", p.report.failed},
             {"pending", p.report.pending},
             {"retries_left", p.budget.remaining}}
        );
    co_return p.report;
}

asio::awaitable<bool> pusher::push_project(pass& p, const outbox_row& row)
{
    json::object body = row.fields;
    body["companyId"] = row.company_id;
    body["projectNumber"] = row.project_number;
    // POST is idempotent on the project number: after a crash it finds what the lost attempt created.
    bool created = false;
    auto made = co_await api_.create_project(body, p.budget, created);
    if (!made)
        co_return co_await record_failure(p, row, made.error());
    auto id = text_of(*made, "id");
    if (id.empty()) {
        ditio::fetch_failure f{
            ditio::fetch_errc::unavailable, "Ditio's answer to the project create has no id", 0};
        co_return co_await record_failure(p, row, f);
    }
    auto changes = changed_fields(row.fields, *made);
    std::string_view action = created ? "created" : "unchanged";
    if (!changes.empty()) {
        // POST returns an existing project as it is: what the row asks for beyond it goes in a PATCH.
        auto patched = co_await api_.patch_project(id, changes, p.budget);
        if (!patched) {
            // Remembered even though the row failed: people can look the project up.
            co_await db_.outbox([&](store::outbox_store& s) {
                s.remember_ditio_id(row, id);
                return 0;
            });
            co_return co_await record_failure(p, row, patched.error());
        }
        action = created ? "created" : "updated";
    }
    p.project_ids[{row.company_id, row.project_number}] = id;
    co_await record_sent(p, row, id, action);
    auto reopened = co_await db_.outbox([&](store::outbox_store& s) {
        return s.reopen_waiting_work_orders(row.company_id, row.project_number);
    });
    if (reopened > 0)
        log::info(
            log_,
            "push.work_orders_reopened",
            {{"project_number", row.project_number}, {"work_orders", reopened}}
        );
    co_return true;
}

asio::awaitable<pusher::project_lookup> pusher::resolve_project(pass& p, const outbox_row& row)
{
    // From this pass, the outbox, the row's own memory, or Ditio by number.
    std::pair key{row.company_id, row.project_number};
    if (auto it = p.project_ids.find(key); it != p.project_ids.end())
        co_return project_lookup{it->second};
    auto state = co_await db_.outbox([&](store::outbox_store& s) {
        return s.project_state(row.company_id, row.project_number);
    });
    std::string project_id;
    if (state && state->status == store::outbox_status::sent && state->ditio_id) {
        project_id = *state->ditio_id;
    } else if (state && state->status != store::outbox_status::sent) {
        // Not a failure of this row: it goes out once its project does.
        auto why = fmt::format(
            "waiting for project {}, which is {} in the outbox{}{}",
            row.project_number,
            store::to_string(state->status),
            state->last_error ? ": " : "",
            state->last_error.value_or("")
        );
        bool news = co_await db_.outbox([&](store::outbox_store& s) { return s.mark_waiting(row, why); });
        log::event(
            log_,
            news ? spdlog::level::warn : spdlog::level::debug,
            "push.waiting",
            {{"outbox", "work_order"},
             {"project_number", row.project_number},
             {"external_id", row.external_id},
             {"reason", why}}
        );
        ++p.report.pending;
        co_return project_lookup{{}, true};
    } else if (row.ditio_project_id) {
        project_id = *row.ditio_project_id;
    } else {
        auto found = co_await api_.project_by_number(row.project_number, p.budget);
        if (!found) {
            bool go_on = co_await record_failure(p, row, found.error());
            co_return project_lookup{{}, go_on};
        }
        if (!*found) {
            // Failed until the project is pushed through the outbox, which reopens this row.
            ditio::fetch_failure f{
                ditio::fetch_errc::bad_request,
                fmt::format(
                    "project {} does not exist in Ditio; add it to outbox_projects and this work order "
                    "follows it",
                    row.project_number
                ),
                404};
            bool go_on = co_await record_failure(p, row, f);
            co_return project_lookup{{}, go_on};
        }
        project_id = text_of(**found, "id");
    }
    if (project_id.empty()) {
        ditio::fetch_failure f{ditio::fetch_errc::unavailable, "Ditio's project has no id", 0};
        bool go_on = co_await record_failure(p, row, f);
        co_return project_lookup{{}, go_on};
    }
    p.project_ids[key] = project_id;
    co_return project_lookup{project_id};
}

asio::awaitable<std::optional<ditio::fetch_failure>>
pusher::index_tasks(pass& p, const std::string& project_id)
{
    auto listed = co_await api_.project_tasks(project_id, p.budget);
    if (!listed)
        co_return listed.error();
    auto& by_external = p.tasks[project_id];
    by_external.clear();
    for (auto& t : *listed)
        if (auto* o = t.if_object())
            if (auto ext = text_of(*o, "externalId"); !ext.empty())
                by_external[ext] = std::move(*o);
    co_return std::nullopt;
}

asio::awaitable<bool> pusher::update_task(
    pass& p, const outbox_row& row, const std::string& project_id, const json::object& existing
)
{
    auto id = text_of(existing, "id");
    auto changes = changed_fields(row.fields, existing);
    if (!changes.empty()) {
        auto patched = co_await api_.patch_task(id, changes, p.budget);
        if (!patched)
            co_return co_await record_failure(p, row, patched.error());
        auto& cached = p.tasks[project_id][row.external_id];
        for (auto& [k, v] : changes)
            cached[k] = v;
    }
    co_await record_sent(p, row, id, changes.empty() ? "unchanged" : "updated");
    co_return true;
}

asio::awaitable<bool>
pusher::create_task_verified(pass& p, const outbox_row& row, const std::string& project_id)
{
    json::object body = row.fields;
    body["companyId"] = row.company_id;
    body["projectId"] = project_id;
    body["externalId"] = row.external_id;
    // Never posted twice blind: after an answer that may hide a create (5xx, reset, timeout) or a duplicate
    // answer (400, 409), the project's work orders are read again first.
    for (unsigned attempt = 0;; ++attempt) {
        auto made = co_await api_.create_task(body, p.budget);
        if (made) {
            auto id = text_of(*made, "id");
            if (id.empty()) {
                ditio::fetch_failure f{
                    ditio::fetch_errc::unavailable, "Ditio's answer to the work order create has no id", 0};
                co_return co_await record_failure(p, row, f);
            }
            p.tasks[project_id][row.external_id] = *made;
            co_await record_sent(p, row, id, "created");
            co_return true;
        }
        auto failure = made.error();
        bool duplicate = failure.code == ditio::fetch_errc::bad_request &&
                         (failure.status == 400 || failure.status == 409);
        if (!duplicate && failure.code != ditio::fetch_errc::uncertain)
            co_return co_await record_failure(p, row, failure);
        if (auto failed = co_await index_tasks(p, project_id))
            co_return co_await record_failure(p, row, *failed);
        if (auto existing = find_task(p, project_id, row.external_id))
            co_return co_await update_task(p, row, project_id, *existing);
        if (duplicate) // a 400 about something else: Ditio's message says what
            co_return co_await record_failure(p, row, failure);
        // Not created after all: ask again, as often as a retried request would be.
        if (attempt >= static_cast<unsigned>(settings_.retry.max_retries) || p.budget.remaining <= 0) {
            failure.code = ditio::fetch_errc::unavailable;
            failure.message = fmt::format("gave up after {} attempts: {}", attempt + 1, failure.message);
            co_return co_await record_failure(p, row, failure);
        }
        --p.budget.remaining;
        auto delay = api_.retry_delay(attempt);
        log::warn(
            log_,
            "push.create_retry",
            {{"project_number", row.project_number},
             {"external_id", row.external_id},
             {"attempt", attempt + 1},
             {"status", failure.status},
             {"reason", failure.message},
             {"delay_ms", delay.count()}}
        );
        if (!co_await stop_.sleep_for(delay)) {
            ditio::fetch_failure stopped{ditio::fetch_errc::cancelled, "stopped", 0};
            co_return co_await record_failure(p, row, stopped);
        }
    }
}

std::optional<json::object>
pusher::find_task(const pass& p, const std::string& project_id, const std::string& external_id)
{
    auto project = p.tasks.find(project_id);
    if (project == p.tasks.end())
        return std::nullopt;
    auto it = project->second.find(external_id);
    if (it == project->second.end())
        return std::nullopt;
    return it->second;
}

asio::awaitable<bool> pusher::push_work_order(pass& p, const outbox_row& row)
{
    // 1. The project's Ditio id.
    auto project = co_await resolve_project(p, row);
    if (!project.id)
        co_return project.go_on;
    const auto& project_id = *project.id;
    if (row.ditio_project_id != project_id)
        co_await db_.outbox([&](store::outbox_store& s) {
            s.set_ditio_project_id(row, project_id);
            return 0;
        });
    // 2. The project's work orders by externalId, read once per pass and project.
    if (!p.tasks.contains(project_id))
        if (auto failed = co_await index_tasks(p, project_id))
            co_return co_await record_failure(p, row, *failed);
    // 3. PATCH what differs on an existing one; POST a new one, verified.
    if (auto existing = find_task(p, project_id, row.external_id))
        co_return co_await update_task(p, row, project_id, *existing);
    co_return co_await create_task_verified(p, row, project_id);
}

asio::awaitable<void>
pusher::record_sent(pass& p, const outbox_row& row, const std::string& ditio_id, std::string_view action)
{
    auto current =
        co_await db_.outbox([&](store::outbox_store& s) { return s.mark_sent(row, ditio_id, now_text()); });
    ++p.report.sent;
    json::object fields{{"outbox", kind_name(row.kind)}, {"project_number", row.project_number}};
    if (row.kind == outbox_kind::work_order)
        fields["external_id"] = row.external_id;
    fields["ditio_id"] = ditio_id;
    fields["action"] = action;
    if (!current)
        fields["row_changed"] = true; // it stays pending and goes out again with the change
    log::info(log_, "push.sent", std::move(fields));
}

asio::awaitable<bool> pusher::record_failure(pass& p, const outbox_row& row, const ditio::fetch_failure& f)
{
    json::object fields{{"outbox", kind_name(row.kind)}, {"project_number", row.project_number}};
    if (row.kind == outbox_kind::work_order)
        fields["external_id"] = row.external_id;
    fields["error"] = f.message;
    if (f.status)
        fields["status"] = f.status;
    switch (f.code) {
    case ditio::fetch_errc::bad_request:
        // Ditio refused the row itself (400, 403, 404): not retried until someone changes it.
        co_await db_.outbox([&](store::outbox_store& s) { return s.mark_failed(row, f.message, now_text()); }
        );
        ++p.report.failed;
        log::warn(log_, "push.failed", std::move(fields));
        co_return true;
    case ditio::fetch_errc::cancelled:
        p.report.cancelled = true;
        ++p.report.pending;
        co_return false;
    case ditio::fetch_errc::not_ditio:
    case ditio::fetch_errc::scope_missing:
    case ditio::fetch_errc::auth_refused:
    case ditio::fetch_errc::misconfigured:
    case ditio::fetch_errc::unavailable:
    case ditio::fetch_errc::uncertain:
    case ditio::fetch_errc::token_rejected:
        // Not this row's fault, and the next row would meet the same: the pass ends, the rows stay pending.
        co_await db_.outbox([&](store::outbox_store& s) { return s.mark_attempt(row, f.message, now_text()); }
        );
        ++p.report.pending;
        p.report.auth_refused =
            f.code == ditio::fetch_errc::auth_refused || f.code == ditio::fetch_errc::scope_missing;
        p.report.misconfigured = f.code == ditio::fetch_errc::not_ditio;
        p.report.feature_off = f.code == ditio::fetch_errc::scope_missing;
        p.report.error = f.message;
        if (f.code == ditio::fetch_errc::not_ditio)
            // A configuration error, said once per pass (the pass ends here) with what answered.
            log::error(
                log_,
                "push.misconfigured",
                {{"key", "ditio.api_base"}, {"url", api_.base()}, {"status", f.status}, {"answer", f.message}}
            );
        else if (f.code == ditio::fetch_errc::scope_missing) {
            // auth.feature_off said why already; every pass of the daemon meets it again, quietly.
            log::event(
                log_,
                feature_off_said_ ? spdlog::level::debug : spdlog::level::warn,
                "push.feature_off",
                {{"error", f.message}}
            );
            feature_off_said_ = true;
        } else
            log::error(log_, "push.stopped", std::move(fields));
        co_return false;
    }
    co_return false;
}

void pusher::watch(util::file_watch* w)
{
    watch_ = w;
    if (w)
        stop_.on_stop([w] { w->cancel(); });
}

asio::awaitable<bool> pusher::wait_for_change(std::chrono::steady_clock::time_point due, bool nothing_pending)
{
    if (!watch_)
        co_return co_await stop_.sleep_for(settings_.check_every);
    // Until a write, or until a pass is due; with nothing pending only a write can start one.
    auto timeout = nothing_pending
                       ? std::chrono::steady_clock::duration(std::chrono::hours{24})
                       : std::max(due - clock_.steady_now(), std::chrono::steady_clock::duration{});
    bool written = co_await watch_->wait(timeout);
    // A sync writes the log continuously: look at most once per check_every.
    if (written && !co_await stop_.sleep_for(settings_.check_every))
        co_return false;
    co_return !stop_.stop_requested();
}

asio::awaitable<void> pusher::run()
{
    // A pass runs when the pending rows changed (another program committed to the outbox: PRAGMA
    // data_version, then a fingerprint of the pending rows), and every interval while rows are pending. After
    // a pass that ended early (Ditio unreachable, credentials refused, the database busy) only the interval
    // brings the next one, however busy the writers are.
    auto version = co_await db_.outbox([](store::outbox_store& s) { return s.data_version(); });
    std::optional<store::outbox_fingerprint> last_seen;
    auto next_pass = clock_.steady_now(); // rows left pending by the last run go out at start
    auto quiet_until = clock_.steady_now();
    bool first = true;
    bool nothing_pending = false;
    while (!stop_.stop_requested()) {
        if (!first && !co_await wait_for_change(std::max(next_pass, quiet_until), nothing_pending))
            break;
        first = false;
        auto now = clock_.steady_now();
        try {
            auto seen = co_await db_.outbox([](store::outbox_store& s) { return s.data_version(); });
            bool committed = seen != version;
            version = seen;
            if (now < quiet_until || (!committed && now < next_pass))
                continue;
            auto fingerprint = co_await db_.outbox([](store::outbox_store& s) { return s.fingerprint(); });
            nothing_pending = fingerprint.pending == 0;
            if (nothing_pending) { // nothing to do until someone commits
                next_pass = now + settings_.interval;
                last_seen = fingerprint;
                continue;
            }
            // A commit that left the pending rows as they were (another table, an unchanged re-export).
            if (now < next_pass && fingerprint == last_seen)
                continue;
            next_pass = now + settings_.interval;
            auto report = co_await push_pending();
            if (report.cancelled)
                break;
            if (on_pass_)
                on_pass_(report);
            if (!report.error.empty())
                quiet_until = clock_.steady_now() + settings_.interval;
            last_seen = co_await db_.outbox([](store::outbox_store& s) { return s.fingerprint(); });
            nothing_pending = last_seen->pending == 0;
        } catch (const store::db_error& e) {
            // Someone holds a write lock for longer than busy_timeout, or the disk is full: the rows stay
            // pending (a create whose outcome was not recorded is found by its lookup next time).
            log::error(log_, "push.database_error", {{"error", e.what()}});
            quiet_until = clock_.steady_now() + settings_.interval;
            nothing_pending = false;
        }
    }
}

} // namespace ditio_sync::sync
