#include <ditio_sync/store/database.hpp>

#include <SQLiteCpp/Exception.h>
#include <fmt/format.h>

#include <sqlite3.h>

#include <algorithm>

namespace ditio_sync::store {

[[noreturn]] void rethrow_as_db_error(const std::exception& e, const std::string& context)
{
    const auto* se = dynamic_cast<const SQLite::Exception*>(&e);
    if (!se)
        throw db_error(db_failure::other, fmt::format("{}: {}", context, e.what()));
    switch (se->getErrorCode()) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        throw db_error(
            db_failure::busy,
            fmt::format(
                "{}: database is locked by another process beyond storage.busy_timeout ({})",
                context,
                se->what()
            )
        );
    case SQLITE_READONLY:
        throw db_error(
            db_failure::read_only, fmt::format("{}: database is read-only ({})", context, se->what())
        );
    case SQLITE_FULL:
        throw db_error(db_failure::full, fmt::format("{}: disk full ({})", context, se->what()));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        throw db_error(
            db_failure::corrupt, fmt::format("{}: database file is damaged ({})", context, se->what())
        );
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        throw db_error(
            db_failure::cannot_open, fmt::format("{}: cannot open database ({})", context, se->what())
        );
    case SQLITE_IOERR:
        throw db_error(
            db_failure::full, fmt::format("{}: I/O error writing the database ({})", context, se->what())
        );
    default:
        throw db_error(db_failure::other, fmt::format("{}: {}", context, se->what()));
    }
}

SQLite::Database
open_database(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout, open_mode mode)
{
    return guarded(fmt::format("opening {}", path.string()), [&] {
        if (mode == open_mode::read_write && path.has_parent_path()) {
            std::error_code ec;
            if (!std::filesystem::exists(path.parent_path(), ec)) {
                std::filesystem::create_directories(path.parent_path(), ec);
                if (ec)
                    throw db_error(
                        db_failure::cannot_open,
                        fmt::format(
                            "cannot create directory {}: {}", path.parent_path().string(), ec.message()
                        )
                    );
                std::filesystem::permissions(path.parent_path(), std::filesystem::perms::owner_all, ec);
            }
        }
        int flags = mode == open_mode::read_write ? SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE
                                                  : SQLite::OPEN_READONLY;
        if (mode == open_mode::read_only && !std::filesystem::exists(path))
            throw db_error(
                db_failure::cannot_open, fmt::format("database {} does not exist yet", path.string())
            );
        SQLite::Database db(
            path.string(), flags | SQLITE_OPEN_NOMUTEX, static_cast<int>(busy_timeout.count())
        );
        if (mode == open_mode::read_write) {
            // Rows are 2-3 KB of JSON: with SQLite's default 4 KB pages most of each page is left empty and
            // every page is a system call of its own. 32 KB pages pack rows densely (a third less disk) and
            // cut the writes and reads of a backfill several times. It applies to a new database only
            // (before WAL is on); an existing one keeps its page size until a VACUUM.
            db.exec("PRAGMA page_size=32768");
            // WAL: readers never block the daemon, the daemon never blocks readers for long.
            db.exec("PRAGMA journal_mode=WAL");
            // NORMAL: a commit does not wait for the disk; the WAL is synced at each checkpoint. A crash of
            // the process loses nothing committed; a power cut may undo the last commits, never corrupt the
            // file. Each page's rows and its continuation token commit together, so an undone page is
            // simply fetched again.
            db.exec("PRAGMA synchronous=NORMAL");
            // Checkpoint every 8 MB of log (SQLite's default is 1000 pages: 32 MB at 32 KB pages). A small
            // log is rewritten in place, which the file system does faster than growing a large one: a
            // backfill ran about 10 % faster.
            auto page = db.execAndGet("PRAGMA page_size").getInt();
            db.exec(
                fmt::format("PRAGMA wal_autocheckpoint={}", std::max(100, (8 << 20) / std::max(page, 512)))
            );
        }
        db.exec("PRAGMA foreign_keys=ON");
        return db;
    });
}

} // namespace ditio_sync::store
