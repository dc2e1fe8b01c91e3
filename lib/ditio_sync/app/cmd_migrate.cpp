// `migrate`: create or upgrade the database schema, then exit.
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/store/instance_lock.hpp>
#include <ditio_sync/store/migrations.hpp>

#include <fmt/format.h>

#include <ostream>

namespace ditio_sync::app {

int cmd_migrate(const options& opt, std::ostream& out)
{
    auto cfg = load_config(opt, config::need_credentials::no);
    become_database_owner(cfg, announce::yes);
    store::instance_lock lock(cfg.storage.path);
    auto db = open_and_migrate(cfg);
    out << fmt::format("{}: schema version {}\n", cfg.storage.path.string(), store::schema_version(db));
    return exit_code::ok;
}

} // namespace ditio_sync::app
