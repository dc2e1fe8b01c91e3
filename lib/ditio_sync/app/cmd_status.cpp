// `status [STREAM...] [--json]`: a verdict, then per stream its mode, rows, complete-through time and last
// run; the named streams in full. Read-only, safe while the daemon runs.
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/ops/status.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/instance_lock.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/util/clock.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <ostream>

namespace ditio_sync::app {

int cmd_status(const options& opt, std::ostream& out)
{
    auto cfg = load_config(opt, config::need_credentials::no);
    auto streams = resolve_streams(cfg.sync.streams);
    std::vector<std::string> named;
    // An unknown name is a usage error before the database is touched.
    for (const auto* s : resolve_streams(opt.status_streams))
        named.emplace_back(s->name);
    become_database_owner(cfg, announce::no);
    // Before SQLite opens the file: closing the probe's descriptor would drop SQLite's locks on it.
    auto lock = store::probe_instance_lock(cfg.storage.path);
    auto db = store::open_database(cfg.storage.path, cfg.storage.busy_timeout, store::open_mode::read_only);
    // status opens the database read-only, so it cannot upgrade it; the daemon does that when it starts.
    store::require_current_schema(db);
    auto status = ops::collect_status(db, streams, cfg.sync.overlap, lock);
    auto note = store::read_only_note(db);
    if (!named.empty())
        status = ops::only_streams(status, named);
    if (opt.status_json) {
        if (!note.empty())
            status.as_object()["note"] = note;
        out << boost::json::serialize(status) << "\n";
        return exit_code::ok;
    }
    if (!note.empty())
        out << "note: " << note << "\n";
    if (named.empty()) {
        util::real_clock clock;
        out << ops::format_status_summary(
            status, std::chrono::time_point_cast<std::chrono::microseconds>(clock.system_now())
        );
    } else {
        out << ops::format_status_text(status);
        const auto& shown = status.at("streams").as_array();
        for (const auto& name : named)
            if (std::none_of(shown.begin(), shown.end(), [&](const auto& s) {
                    return s.at("stream").as_string() == name;
                }))
                out << name << ": not enabled in sync.streams and never synced\n";
    }
    // 0 whatever the verdict: the exit codes say whether the command worked (design.md), and the verdict
    // is the first line (and `verdict` in --json).
    return exit_code::ok;
}

} // namespace ditio_sync::app
