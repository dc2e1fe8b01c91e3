#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/runtime.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/log/log.hpp>

#include <csignal>
#include <cstdlib>
#include <random>

namespace ditio_sync::app {

namespace {

http::client_options with_metrics(http::client_options o, ops::metrics* metrics)
{
    if (metrics)
        o.on_response = [metrics](int status) { metrics->http_response(status); };
    return o;
}

} // namespace

std::vector<auth::scope_need> scope_needs(features f)
{
    std::vector<auth::scope_need> out;
    if (f.streams)
        out.push_back({"reportingapiv1", "streams"});
    if (f.push)
        out.push_back({"ditioapiv3", "push"});
    return out;
}

runtime::runtime(
    const config::config& c, std::string secret, SQLite::Database db, ops::metrics* metrics, features f
)
    : cfg(c), http(io.get_executor(), with_metrics(http_options(c), metrics), log::get("http")),
      tokens(
          http,
          auth::token_settings{
              .identity_base = c.ditio.identity_base,
              .client_id = c.ditio.client_id,
              .client_secret = std::move(secret),
              .scope = c.ditio.scope,
              .needs = scope_needs(f)},
          clock,
          log::get("auth")
      ),
      api(http,
          tokens,
          c.ditio.reporting_base,
          retry_settings_for(c),
          stop,
          clock,
          log::get("http"),
          std::random_device{}()),
      integration(
          http,
          tokens,
          c.ditio.api_base,
          retry_settings_for(c),
          stop,
          clock,
          log::get("http"),
          std::random_device{}()
      ),
      db_thread(std::move(db)), engine(api, db_thread, clock, engine_settings_for(c), stop, log::get("sync")),
      pusher(integration, db_thread, clock, stop, log::get("push"), push_settings_for(c)),
      signals(io, SIGINT, SIGTERM)
{
    stop.on_stop([this] { http.shutdown(); });
    if (metrics) {
        tokens.on_refreshed([this, metrics] {
            metrics->token_refreshed();
            std::vector<std::pair<std::string, bool>> on;
            for (const auto& state : tokens.features())
                on.emplace_back(state.feature, state.on);
            metrics->set_features(std::move(on));
        });
        api.on_retry([metrics](std::string_view stream) { metrics->retry(stream); });
    }
    wait_for_signal();
}

// The first signal stops cleanly; a second one, while that is under way, exits at once (SQLite's journal
// keeps the database consistent even then).
void runtime::wait_for_signal()
{
    signals.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec)
            return;
        const char* name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
        if (stop.stop_requested()) {
            log::warn(log::get("app"), "app.forced_exit", {{"signal", name}});
            std::_Exit(exit_code::sync_failed);
        }
        log::info(log::get("app"), "app.stopping", {{"signal", name}});
        stop.request_stop();
        wait_for_signal();
    });
}

} // namespace ditio_sync::app
