// Opening the SQLite mirror (WAL, busy timeout) and the one exception type the store throws.
// SQLiteCpp exceptions are translated here so no SQLiteCpp error type leaks past store/.
#pragma once

#include <SQLiteCpp/Database.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace ditio_sync::store {

// Why the database is unusable; every kind maps to exit code 4 at the command line.
enum class db_failure {
    busy,           // locked by another connection beyond busy_timeout
    read_only,      // read-only file or file system
    full,           // disk or quota full
    corrupt,        // not a database, or damaged
    schema_too_new, // written by a newer ditio-sync
    cannot_open,    // missing directory, permissions
    other,
};

class db_error : public std::runtime_error {
public:
    db_error(db_failure kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
    db_failure kind() const { return kind_; }

private:
    db_failure kind_;
};

enum class open_mode { read_write, read_only };

// Opens (creating it and its directory, mode 0700, when read_write) the database at `path`, in WAL mode
// with the given busy timeout. Throws db_error.
SQLite::Database
open_database(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout, open_mode mode);

// Translates an exception thrown by SQLiteCpp into db_error with a message that says what to do.
[[noreturn]] void rethrow_as_db_error(const std::exception& e, const std::string& context);

// Runs f(), translating SQLite exceptions into db_error.
template <class F> auto guarded(const std::string& context, F&& f) -> decltype(f())
{
    try {
        return f();
    } catch (const db_error&) {
        throw;
    } catch (const std::exception& e) {
        rethrow_as_db_error(e, context);
    }
}

} // namespace ditio_sync::store
