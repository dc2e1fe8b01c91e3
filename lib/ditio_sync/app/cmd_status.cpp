// `status [--json]`: per stream its mode, watermark, rows, last run and last error; read-only, safe while
// the daemon runs.
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/ops/status.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>

#include <boost/json/serialize.hpp>

#include <ostream>

namespace ditio_sync::app {

int cmd_status(const options& opt, std::ostream& out)
{
    auto cfg = load_config(opt, config::need_credentials::no);
    become_database_owner(cfg);
    auto db = store::open_database(cfg.storage.path, cfg.storage.busy_timeout, store::open_mode::read_only);
    // status opens the database read-only, so it cannot upgrade it; the daemon does that when it starts.
    store::require_current_schema(db);
    auto streams = resolve_streams(cfg.sync.streams);
    auto status = ops::collect_status(db, streams, cfg.sync.overlap);
    auto note = store::read_only_note(db);
    if (opt.status_json) {
        if (!note.empty())
            status.as_object()["note"] = note;
        out << boost::json::serialize(status) << "\n";
    } else {
        if (!note.empty())
            out << "note: " << note << "\n";
        out << ops::format_status_text(status);
    }
    return exit_code::ok;
}

} // namespace ditio_sync::app
