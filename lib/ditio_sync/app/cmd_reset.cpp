// `reset <stream>`: forget a stream's watermark and checkpoint, so its next run is a full sync.
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/log/log.hpp>
#include <ditio_sync/store/instance_lock.hpp>
#include <ditio_sync/store/sync_state.hpp>
#include <ditio_sync/util/clock.hpp>
#include <ditio_sync/util/time.hpp>

#include <fmt/format.h>

#include <ostream>

namespace ditio_sync::app {

int cmd_reset(const options& opt, std::ostream& out)
{
    auto cfg = load_config(opt, config::need_credentials::no);
    become_database_owner(cfg, announce::yes);
    resolve_streams({opt.reset_stream}); // an unknown name is a usage error before anything is opened
    store::instance_lock lock(cfg.storage.path);
    auto db = open_and_migrate(cfg);
    store::sync_store st(db);
    util::real_clock clock;
    st.reset(
        opt.reset_stream,
        util::format_iso8601_ms(std::chrono::time_point_cast<std::chrono::microseconds>(clock.system_now()))
    );
    log::info(log::get("app"), "sync.stream_reset", {{"stream", opt.reset_stream}});
    out << fmt::format(
        "{}: watermark and checkpoint cleared; the next run is a full sync\n", opt.reset_stream
    );
    return exit_code::ok;
}

} // namespace ditio_sync::app
