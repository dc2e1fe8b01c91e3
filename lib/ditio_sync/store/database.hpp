// Opening the SQLite mirror (WAL, busy timeout) and the one exception type the store throws.
// SQLiteCpp exceptions are translated here so no SQLiteCpp error type leaks past store/.
#pragma once

#include <SQLiteCpp/Database.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace ditio_sync::store {

// Why the database is unusable; every kind maps to exit code 4 at the command line.
enum class db_failure {
    busy,           // locked by another connection beyond busy_timeout
    read_only,      // read-only file or file system
    full,           // disk or quota full
    corrupt,        // not a database, or damaged
    schema_too_new, // written by a newer ditio-sync
    cannot_open,    // missing directory, permissions
    gone,           // the file was deleted, moved or replaced while open: writes would be lost
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

// The mode of a database file ditio-sync creates, whatever the umask: the mirror holds people's hours and
// absences. SQLite gives its -wal and -shm files the database file's mode.
inline constexpr int database_file_mode = 0640;

// Opens `path`, creating it empty with database_file_mode (and its directory with mode 0700) when it does
// not exist; read-only when it cannot be written. Returns the descriptor (the caller closes it: never while
// this process has the database open, see instance_lock). Throws db_error(cannot_open).
int create_database_file(const std::filesystem::path& path);

// Opens (when read_write: creating it as create_database_file does) the database at `path`, in WAL mode
// with the given busy timeout. read_only on a read-only file system falls back to SQLite's immutable mode
// (see read_only_note). Throws db_error.
SQLite::Database
open_database(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout, open_mode mode);

// What a reader should know about how the database was opened: empty, or (immutable mode on a read-only
// file system) that commits still in the write-ahead log are not shown.
std::string read_only_note(SQLite::Database& db);

// Throws db_error(gone) when the database file was deleted, renamed or replaced since it was opened (its
// directory removed, say): SQLite would go on writing into a file nobody can open again.
void check_in_place(SQLite::Database& db);

// The device and inode of a file, to tell later whether a path still names it.
struct file_id {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    bool operator==(const file_id&) const = default;
};

// The file `path` names now (following symlinks), or nullopt when it names none.
std::optional<file_id> file_id_of(const std::filesystem::path& path);

// Empty while `path` still names the file `opened`; otherwise what happened (deleted with its directory,
// replaced), for /healthz. The same question as check_in_place, asked from outside the database thread.
std::optional<std::string> database_file_problem(const std::filesystem::path& path, const file_id& opened);

enum class integrity_check {
    quick,    // PRAGMA quick_check: every page's structure, not index contents
    thorough, // PRAGMA integrity_check: also every index against its table; slower
};

// Runs SQLite's check; returns its findings, empty when the database is sound. Throws db_error.
std::vector<std::string> check_integrity(SQLite::Database& db, integrity_check how);

// Which of the database's files (itself, -wal, -shm) and its directory this process cannot write, with
// their owners and modes, and as whom the process runs; empty when it can write them all.
std::string write_access_problem(const std::filesystem::path& path);

// Tries a write (in a transaction it rolls back); throws db_error, naming what this user cannot write,
// when the database only reads.
void check_writable(SQLite::Database& db, const std::filesystem::path& path);

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
