// The commands of the ditio-sync binary, one function each (one file each: cmd_<name>.cpp). daemon/ parses
// the command line into `options` and calls one; tests call them in-process. Each returns an exit code and
// throws config::config_error, usage_error, http::setup_error or store::db_error for run() to map.
#pragma once

#include <ditio_sync/store/outbox.hpp>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ditio_sync::app {

// Exit codes (design.md): 0 ok, 1 a sync failed, 2 usage/configuration, 3 authentication refused,
// 4 database unusable.
enum exit_code : int { ok = 0, sync_failed = 1, usage = 2, auth_refused = 3, database = 4 };

inline constexpr const char* default_config_path = "/etc/ditio-sync/ditio-sync.toml";
// The file the packaged unit loads as the credential client_secret; read when nothing else names a
// secret and the configuration is the default one.
inline constexpr const char* packaged_secret_path = "/etc/ditio-sync/client_secret";
// The packaged unit's User=: root running a command on its database becomes it.
inline constexpr const char* service_user_name = "ditio-sync";

// The command line, parsed.
struct options {
    std::string config_file; // empty: default_config_path, which may be missing
    std::string log_level;   // overrides log.level when set
    std::string log_format;  // "json", "text" or empty
    std::string secret_file; // --secret-file: a path, or "-" for standard input
    // --secret-file -: the line standard input held, read once before the command (a reload cannot
    // read it again).
    std::optional<std::string> secret_given;
    std::vector<std::string> sync_streams;
    bool sync_full = false;
    bool status_json = false;
    bool check_thorough = false; // check --integrity
    bool check_json = false;     // check --json
    // status STREAM...: those streams in full
    std::vector<std::string> status_streams;
    std::string reset_stream;
    // push project / push work-order
    std::string push_company;
    std::string push_number; // the project number (both)
    std::string push_external_id;
    std::string push_name;
    bool push_inactive = false;
    // capture (its streams are sync_streams, --full is sync_full)
    std::string capture_out;
    std::int64_t capture_pages = 2;
    int capture_chunk_limit = 100;
};

// A command line that names something that does not exist (a stream, a missing --company).
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

int cmd_run(const options& opt);
int cmd_sync(const options& opt);
int cmd_status(const options& opt, std::ostream& out);
int cmd_check(const options& opt, std::ostream& out);
int cmd_migrate(const options& opt, std::ostream& out);
int cmd_reset(const options& opt, std::ostream& out);
int cmd_capture(const options& opt, std::ostream& out);
// `one`: push project / push work-order (that row only); nullopt: every pending row.
int cmd_push(const options& opt, std::optional<store::outbox_kind> one, std::ostream& out);

} // namespace ditio_sync::app
