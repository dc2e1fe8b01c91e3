// What every command does first: the configuration loaded and checked, logging set up from it, the
// streams resolved, the secret read, the database opened and migrated; and the settings of the long-lived
// objects, derived from the configuration.
#pragma once

#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ditio/api_call.hpp>
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/http/client.hpp>
#include <ditio_sync/ops/metrics.hpp>
#include <ditio_sync/sync/engine.hpp>
#include <ditio_sync/sync/pusher.hpp>
#include <ditio_sync/sync/stream_settings.hpp>

#include <SQLiteCpp/Database.h>

#include <string>
#include <string_view>
#include <vector>

namespace ditio_sync::app {

// Whether loading the configuration also sets logging up from it (a reload does that only once
// everything checked out).
enum class logging { set_up, leave };

// Loads and validates the configuration (the command line's --log-level and --log-format win). Throws
// config_error.
config::config load_config(const options& opt, config::need_credentials creds, logging how = logging::set_up);

// Logging as the configuration says: JSON unless stderr is a terminal, syslog priorities for journald.
void setup_logging(const config::config& cfg);

// Logging before the configuration is read, by the same rule from the command line alone, so that an
// error in the file reads as text on a terminal too.
void setup_early_logging(const options& opt);

// The named streams in catalogue order (registrations before dimensions), whatever order they were given
// in. Throws usage_error for an unknown name.
std::vector<const ditio::stream_def*> resolve_streams(const std::vector<std::string>& names);

std::vector<sync::stream_settings>
settings_for(const config::config& cfg, const std::vector<const ditio::stream_def*>& streams);

// Whether app.switched_user is worth an info line (a read-only `status` says it at debug).
enum class announce { yes, no };

// Run as root against a database the service user owns (ditio-sync, or $DITIO_SYNC_SERVICE_USER), the
// process becomes that user (app.switched_user), so nothing root creates there (the file, -wal, -shm)
// locks the service out; a database anyone else owns is left alone. Call once the secret is read.
// Throws config_error when the switch fails.
void become_database_owner(const config::config& cfg, announce say);

// Opens the database read-write, brings its schema up to date (store.migrated) and tries a write (rolled
// back). Throws db_error, which says which file this user cannot write when the database is read-only.
SQLite::Database open_and_migrate(const config::config& cfg);

// Whether the packaged credential file may supply the secret: the default configuration file exists and
// is the one in use, and the environment names no other Ditio.
bool packaged_secret_applies(const options& opt);

// The client secret (--secret-file first; the packaged credential file last, with the default
// configuration only); a secret file that others may read is taken, with a warning. From now on the
// process's redactor knows it.
std::string read_secret(const config::config& cfg, const options& opt);

// Everything that can be wrong with the settings, checked before the database is touched: the secret,
// HTTPS_PROXY and the trust anchors. Returns the client secret; throws config_error or http::setup_error.
std::string preflight(const config::config& cfg, const options& opt);

http::client_options http_options(const config::config& cfg);
ditio::retry_settings retry_settings_for(const config::config& c);
sync::push_settings push_settings_for(const config::config& c);
sync::engine_settings engine_settings_for(const config::config& c);

// Each enabled stream's staleness bound for /healthz: ops.stale_after, or three intervals if longer.
std::vector<ops::stream_health_spec>
health_specs(const config::config& c, const std::vector<sync::stream_settings>& streams);

// Text from a server or the database, fit for the terminal: redacted, bounded, control characters
// written out.
std::string shown(std::string_view text);

} // namespace ditio_sync::app
