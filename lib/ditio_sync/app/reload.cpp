#include <ditio_sync/app/reload.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/log/log.hpp>

#include <fmt/format.h>

namespace ditio_sync::app {

void reload(
    const options& opt,
    const config::config& startup,
    config::config& current,
    sync::scheduler& sched,
    runtime& rt,
    ops::metrics& metrics
)
{
    auto app = log::get("app");
    try {
        auto fresh = load_config(opt, config::need_credentials::yes, logging::leave);
        auto secret = read_secret(fresh, opt);
        auto streams = settings_for(fresh, resolve_streams(fresh.sync.streams));
        auto restart = config::keys_needing_restart(startup, fresh);
        rt.tokens.set_credentials(fresh.ditio.client_id, std::move(secret), fresh.ditio.scope);
        rt.engine.set_settings(engine_settings_for(fresh));
        auto push = push_settings_for(fresh);
        push.retry = retry_settings_for(startup); // http.max_retries and the backoff need a restart
        rt.pusher.set_settings(push);
        metrics.set_streams(health_specs(fresh, streams), rt.clock.system_now());
        sched.reconfigure(std::move(streams));
        setup_logging(fresh);
        current = std::move(fresh);
        boost::json::object fields{{"streams", fmt::format("{}", fmt::join(current.sync.streams, ","))}};
        if (!restart.empty())
            fields["needs_restart"] = fmt::format("{}", fmt::join(restart, ", "));
        log::event(app, restart.empty() ? spdlog::level::info : spdlog::level::warn, "app.reloaded", fields);
    } catch (const std::exception& e) {
        // Logging is set up from the new file only once it passed every check: this line uses the old.
        log::error(app, "app.reload_failed", {{"error", e.what()}});
    } catch (...) {
        log::error(app, "app.reload_failed", {{"error", "unknown error"}});
    }
}

} // namespace ditio_sync::app
