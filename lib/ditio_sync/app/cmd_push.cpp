// `push`: every pending outbox row; `push project` / `push work-order`: one row, written to the outbox
// first. When the daemon holds the database, that row is left to it and the command waits for the outcome.
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/runtime.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/instance_lock.hpp>

#include <fmt/format.h>

#include <chrono>
#include <ostream>
#include <thread>

namespace ditio_sync::app {

namespace {

// What `push` says about one outbox row, read back from the database after the pass.
std::string describe_outcome(const std::optional<store::outbox_outcome>& o)
{
    if (!o)
        return "the row is gone from the outbox";
    if (o->status == store::outbox_status::sent)
        return shown(fmt::format("{}: sent (Ditio id {})", o->what, o->ditio_id.value_or("?")));
    return shown(fmt::format(
        "{}: {}{}{}",
        o->what,
        store::to_string(o->status),
        o->last_error ? ": " : "",
        o->last_error.value_or("")
    ));
}

int exit_code_for(const sync::push_report& r)
{
    if (r.misconfigured)
        return exit_code::usage;
    if (r.auth_refused)
        return exit_code::auth_refused;
    return r.failed > 0 || r.pending > 0 ? exit_code::sync_failed : exit_code::ok;
}

// Writes the one row `push project` / `push work-order` names into the outbox.
sync::push_target put_row(const options& opt, const config::config& cfg, store::outbox_kind kind)
{
    auto company = opt.push_company.empty() ? config::company_to_write(cfg) : opt.push_company;
    if (company.empty())
        throw usage_error("--company is required when push.company_id is not set");
    if (opt.push_number.empty() || opt.push_name.empty() ||
        (kind == store::outbox_kind::work_order && opt.push_external_id.empty()))
        throw usage_error(
            "the project number, the name and (for a work order) the external id must not be empty"
        );
    auto db = open_and_migrate(cfg);
    store::outbox_store outbox(db);
    auto active = opt.push_inactive ? store::outbox_active::no : store::outbox_active::yes;
    auto id =
        kind == store::outbox_kind::project
            ? outbox.put_project(company, opt.push_number, opt.push_name, active)
            : outbox.put_work_order(company, opt.push_number, opt.push_external_id, opt.push_name, active);
    return sync::push_target{kind, id};
}

// The daemon holds the database and sends the row within push.check_every: wait for what became of it.
int wait_for_daemon(const config::config& cfg, const sync::push_target& target, std::ostream& out)
{
    auto db = store::open_database(cfg.storage.path, cfg.storage.busy_timeout, store::open_mode::read_only);
    auto deadline =
        std::chrono::steady_clock::now() + cfg.push.check_every + cfg.http.timeout + std::chrono::seconds{30};
    for (;;) {
        auto outcome = store::outbox_store(db).outcome(target.kind, target.id);
        if (!outcome || outcome->status != store::outbox_status::pending ||
            std::chrono::steady_clock::now() > deadline) {
            out << describe_outcome(outcome) << "\n";
            return outcome && outcome->status == store::outbox_status::sent ? exit_code::ok
                                                                            : exit_code::sync_failed;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{200});
    }
}

} // namespace

int cmd_push(const options& opt, std::optional<store::outbox_kind> one, std::ostream& out)
{
    auto cfg = load_config(opt, config::need_credentials::yes);
    auto secret = preflight(cfg, opt);
    std::optional<sync::push_target> target;
    if (one)
        target = put_row(opt, cfg, *one);

    std::optional<store::instance_lock> lock;
    try {
        lock.emplace(cfg.storage.path);
    } catch (const store::db_error& e) {
        if (e.kind() != store::db_failure::busy)
            throw;
        if (!target)
            throw store::db_error(
                store::db_failure::busy,
                std::string(e.what()) + "; the running daemon pushes pending outbox rows itself"
            );
        return wait_for_daemon(cfg, *target, out);
    }

    runtime rt(
        cfg, std::move(secret), open_and_migrate(cfg), nullptr, features{.streams = false, .push = true}
    );
    auto report = rt.run_to_end(rt.pusher.push_pending(target));
    if (target) {
        auto outcome = rt.db_thread.outbox_unsafe().outcome(target->kind, target->id); // the pass is over
        out << describe_outcome(outcome) << "\n";
    } else {
        out << fmt::format(
            "{} sent, {} failed, {} still pending\n", report.sent, report.failed, report.pending
        );
    }
    // A wrong ditio.api_base or a client without ditioapiv3 is no row's fault: said once, with what to fix.
    if (report.misconfigured || report.auth_refused)
        out << shown(fmt::format("push: {}", report.error)) << "\n";
    return exit_code_for(report);
}

} // namespace ditio_sync::app
