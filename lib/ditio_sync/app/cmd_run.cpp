// `run`: the daemon. Schedules every enabled stream and the outbox until SIGTERM/SIGINT, serves /metrics
// and /healthz, talks to systemd (READY, STATUS, WATCHDOG, STOPPING) and reloads on SIGHUP.
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/reload.hpp>
#include <ditio_sync/app/runtime.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/ops/metrics.hpp>
#include <ditio_sync/ops/notify.hpp>
#include <ditio_sync/ops/observers.hpp>
#include <ditio_sync/ops/ops_server.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/instance_lock.hpp>
#include <ditio_sync/sync/scheduler.hpp>
#include <ditio_sync/util/file_watch.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <functional>
#include <random>

namespace ditio_sync::app {

namespace asio = boost::asio;

namespace {

// Health is right before the first run: the enabled streams, their last successes and watermarks from
// the database, and a check that fails at once when the database file goes away under the daemon (its
// directory removed).
void prime_health(
    ops::metrics& metrics,
    const config::config& cfg,
    std::vector<ops::stream_health_spec> specs,
    runtime& rt,
    std::chrono::system_clock::time_point now
)
{
    if (auto opened = store::file_id_of(cfg.storage.path))
        metrics.set_database_check([path = cfg.storage.path, id = *opened] {
            return store::database_file_problem(path, id);
        });
    metrics.set_streams(std::move(specs), now);
    auto at = [](const std::optional<std::string>& t
              ) -> std::optional<std::chrono::system_clock::time_point> {
        if (auto p = t ? util::parse_iso8601(*t) : std::nullopt)
            return std::chrono::time_point_cast<std::chrono::system_clock::duration>(*p);
        return std::nullopt;
    };
    for (const auto& s : rt.db_thread.store_unsafe().load_all()) { // no run is in flight yet
        metrics.seed(s.stream, at(s.last_success_at), at(s.watermark), s.unavailable_at.has_value());
        metrics.set_quarantined(s.stream, rt.db_thread.store_unsafe().quarantined(s.stream));
    }
}

// Runs the scheduler, and the outbox loop beside it, until a stop or a crash; true when either crashed.
// An unexpected exception must not leave the daemon half-alive: it stops, and systemd restarts it.
bool run_until_stopped(const config::config& cfg, runtime& rt, sync::scheduler& sched)
{
    // Another program's commit to the outbox shows as a write to the write-ahead log: watching it, the idle
    // daemon does not poll. Without inotify it looks every push.check_every instead.
    std::optional<util::file_watch> outbox_watch;
    if (cfg.push.enabled) {
        try {
            outbox_watch.emplace(rt.io.get_executor(), cfg.storage.path.string() + "-wal");
        } catch (const std::exception& e) {
            log::warn(log::get("push"), "push.watch_unavailable", {{"error", e.what()}});
        }
    }
    bool crashed = false;
    std::exception_ptr push_failure;
    try {
        rt.run_to_end([&]() -> asio::awaitable<int> {
            // The outbox has its own loop beside the scheduler; if it dies, the daemon stops with it.
            if (cfg.push.enabled && outbox_watch)
                rt.pusher.watch(&*outbox_watch);
            if (cfg.push.enabled)
                asio::co_spawn(rt.io, rt.pusher.run(), [&](std::exception_ptr e) {
                    if (e) {
                        push_failure = e;
                        rt.stop.request_stop();
                    }
                });
            // However the scheduler ends, the watchdog and SIGHUP waits must end with it.
            std::exception_ptr failure;
            try {
                co_await sched.run();
            } catch (...) {
                failure = std::current_exception();
            }
            rt.stop.request_stop();
            if (failure)
                std::rethrow_exception(failure);
            co_return 0;
        }());
    } catch (const std::exception& e) {
        crashed = true;
        log::error(log::get("app"), "sync.scheduler_crashed", {{"error", e.what()}});
    }
    if (push_failure) {
        crashed = true;
        try {
            std::rethrow_exception(push_failure);
        } catch (const std::exception& e) {
            log::error(log::get("app"), "push.crashed", {{"error", e.what()}});
        }
    }
    return crashed;
}

// systemd's notification socket; a message that cannot be sent is logged, not fatal.
struct systemd_link {
    explicit systemd_link(const config::env_lookup& env) : notify(env("NOTIFY_SOCKET").value_or("")) {}
    void send(std::string_view message)
    {
        std::string error;
        if (!notify.send(message, &error))
            log::warn(log::get("app"), "app.notify_failed", {{"error", error}});
    }
    ops::notifier notify;
};

// Watchdog pings from the event loop, so a stuck loop stops them and systemd restarts the service.
void start_watchdog(runtime& rt, systemd_link& systemd, const config::env_lookup& env)
{
    auto interval = ops::watchdog_interval(env("WATCHDOG_USEC"), env("WATCHDOG_PID"), ::getpid());
    if (!interval)
        return;
    auto every = std::max<std::chrono::microseconds>(*interval / 2, std::chrono::milliseconds{1});
    asio::co_spawn(
        rt.io,
        [&rt, &systemd, every]() -> asio::awaitable<void> {
            do
                systemd.send("WATCHDOG=1");
            while (co_await rt.stop.sleep_for(every));
        },
        asio::detached
    );
}

} // namespace

int cmd_run(const options& opt)
{
    auto cfg = load_config(opt, config::need_credentials::yes);
    auto streams = settings_for(cfg, resolve_streams(cfg.sync.streams));
    auto secret = preflight(cfg, opt);
    store::instance_lock lock(cfg.storage.path);
    util::real_clock wall;
    ops::metrics metrics(wall.system_now());
    runtime rt(
        cfg,
        std::move(secret),
        open_and_migrate(cfg),
        &metrics,
        features{.streams = true, .push = cfg.push.enabled}
    );
    // A wrong ditio.api_base keeps the outbox waiting: /healthz says so until a pass gets past it.
    rt.pusher.on_pass([&metrics](const sync::push_report& r) {
        metrics.set_push_problem(r.misconfigured ? std::optional<std::string>(r.error) : std::nullopt);
    });
    auto specs = health_specs(cfg, streams);
    sync::scheduler sched(
        rt.engine,
        std::move(streams),
        sync::schedule_settings{},
        rt.clock,
        rt.stop,
        log::get("sync"),
        std::random_device{}()
    );
    auto env = config::process_environment();
    systemd_link systemd(env);
    ops::systemd_status status_lines(systemd.notify);
    ops::fanout observers;
    observers.targets = {&status_lines, &metrics};
    prime_health(metrics, cfg, std::move(specs), rt, wall.system_now());
    std::optional<ops::ops_server> server;
    if (!cfg.ops.listen.empty()) {
        server.emplace(
            rt.io.get_executor(),
            cfg.ops.listen,
            cfg.ops.allow_remote,
            metrics,
            [&] { return wall.system_now(); },
            log::get("ops")
        );
        server->start();
        rt.stop.on_stop([&] { server->stop(); });
    }
    rt.engine.set_observer(&observers);
    rt.stop.on_stop([&] { systemd.send("STOPPING=1\nSTATUS=stopping"); });

    // SIGHUP: read the configuration (and the secret) again; a bad one is refused and the old one kept.
    // Runs in progress keep their fixed parameters; keys marked so in the key table need a restart.
    asio::signal_set hup(rt.io, SIGHUP);
    config::config current = cfg;
    std::function<void()> wait_for_hup = [&] {
        hup.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            reload(opt, cfg, current, sched, rt, metrics);
            wait_for_hup();
        });
    };
    wait_for_hup();
    rt.stop.on_stop([&] { hup.cancel(); });

    // The database is open and migrated: ready.
    systemd.send(fmt::format("READY=1\nSTATUS=ready: {} streams", cfg.sync.streams.size()));
    start_watchdog(rt, systemd, env);
    log::info(
        log::get("app"),
        "app.started",
        {{"version", DITIO_SYNC_VERSION},
         {"streams", fmt::format("{}", fmt::join(cfg.sync.streams, ","))},
         {"interval_s", std::chrono::duration_cast<std::chrono::seconds>(cfg.sync.interval).count()},
         {"push", cfg.push.enabled},
         {"database", cfg.storage.path.string()}}
    );
    bool crashed = run_until_stopped(cfg, rt, sched);
    log::info(log::get("app"), "app.stopped", {{"crashed", crashed}});
    return crashed ? exit_code::sync_failed : exit_code::ok;
}

} // namespace ditio_sync::app
