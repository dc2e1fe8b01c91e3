#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>

namespace ditio_sync::store {

int latest_schema_version()
{
    const auto& all = embedded_migrations();
    return all.empty() ? 0 : all.back().version;
}

int schema_version(SQLite::Database& db)
{
    return guarded("reading the schema version", [&] {
        return db.execAndGet("PRAGMA user_version").getInt();
    });
}

void require_current_schema(SQLite::Database& db)
{
    auto version = schema_version(db);
    if (version > latest_schema_version())
        throw db_error(
            db_failure::schema_too_new,
            fmt::format(
                "the database has schema version {}, newer than this ditio-sync knows ({})",
                version,
                latest_schema_version()
            )
        );
    if (version == 0)
        throw db_error(db_failure::cannot_open, "the database has no schema yet; run `ditio-sync migrate`");
    if (version < latest_schema_version())
        throw db_error(
            db_failure::cannot_open,
            fmt::format(
                "the database has schema version {}, older than this ditio-sync's ({}); run `ditio-sync "
                "migrate` or start the daemon",
                version,
                latest_schema_version()
            )
        );
}

int migrate(SQLite::Database& db)
{
    return guarded("migrating the database", [&] {
        int applied = 0;
        for (const auto& m : embedded_migrations()) {
            // Re-read inside the write lock so two processes migrating at once cannot both apply m.
            SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
            int current = db.execAndGet("PRAGMA user_version").getInt();
            if (current > latest_schema_version())
                throw db_error(
                    db_failure::schema_too_new,
                    fmt::format(
                        "the database has schema version {}, newer than this ditio-sync knows ({}); "
                        "upgrade ditio-sync",
                        current,
                        latest_schema_version()
                    )
                );
            if (m.version <= current)
                continue;
            db.exec(std::string(m.sql));
            // PRAGMA takes no bound parameters; the value is our own integer.
            db.exec(fmt::format("PRAGMA user_version = {}", m.version));
            tx.commit();
            ++applied;
        }
        return applied;
    });
}

} // namespace ditio_sync::store
