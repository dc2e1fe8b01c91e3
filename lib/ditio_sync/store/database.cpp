#include <ditio_sync/store/database.hpp>

#include <SQLiteCpp/Exception.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>

#include <fcntl.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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

int create_database_file(const std::filesystem::path& path)
{
    std::error_code ec;
    if (path.has_parent_path() && !std::filesystem::exists(path.parent_path(), ec)) {
        std::filesystem::create_directories(path.parent_path(), ec);
        if (ec)
            throw db_error(
                db_failure::cannot_open,
                fmt::format("cannot create directory {}: {}", path.parent_path().string(), ec.message())
            );
        std::filesystem::permissions(path.parent_path(), std::filesystem::perms::owner_all, ec);
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, database_file_mode);
    if (fd >= 0) {
        // The umask may have taken bits away; it must not decide who reads people's hours either way.
        (void)::fchmod(fd, database_file_mode);
        return fd;
    }
    auto create_error = errno;
    // It exists (or cannot be created here): open it as it is. O_NONBLOCK: a FIFO must not hang us.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT && create_error == EEXIST) {
        // A symlink to a database not created yet: create its target.
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NONBLOCK, database_file_mode);
        if (fd >= 0) {
            (void)::fchmod(fd, database_file_mode);
            return fd;
        }
    }
    if (fd < 0) {
        auto err = errno == ENOENT ? create_error : errno;
        auto problem = err == EACCES || err == EROFS ? write_access_problem(path) : std::string{};
        throw db_error(
            db_failure::cannot_open,
            fmt::format(
                "cannot open {}: {}{}",
                path.string(),
                std::strerror(err),
                problem.empty() ? "" : "; " + problem
            )
        );
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw db_error(db_failure::cannot_open, fmt::format("{} is not a regular file", path.string()));
    }
    return fd;
}

namespace {

constexpr int sqlite_flags = SQLITE_OPEN_NOMUTEX;

// A URI for sqlite3_open_v2 naming `path` with `query`; '%', '?' and '#' are the characters a URI path
// cannot hold as they are.
std::string file_uri(const std::filesystem::path& path, std::string_view query)
{
    std::string out = "file:";
    for (char c : std::filesystem::absolute(path).string()) {
        if (c == '%' || c == '?' || c == '#')
            out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
        else
            out += c;
    }
    out += '?';
    out += query;
    return out;
}

bool can_not_open(const SQLite::Exception& e)
{
    auto code = e.getErrorCode() & 0xff;
    return code == SQLITE_CANTOPEN || code == SQLITE_READONLY;
}

// A reader on a read-only file system cannot create or write the -shm file WAL mode reads through: it
// reads the file as immutable instead (no locks, no write-ahead log).
SQLite::Database open_reader(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout)
{
    if (!std::filesystem::exists(path))
        throw db_error(db_failure::cannot_open, fmt::format("database {} does not exist yet", path.string()));
    try {
        SQLite::Database db(
            path.string(), SQLite::OPEN_READONLY | sqlite_flags, static_cast<int>(busy_timeout.count())
        );
        db.execAndGet("PRAGMA schema_version"); // opens the -shm and -wal files, where it fails
        return db;
    } catch (const SQLite::Exception& e) {
        struct statvfs fs {};
        bool read_only_fs = ::statvfs(path.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY) != 0;
        if (!can_not_open(e) || !read_only_fs)
            throw;
    }
    SQLite::Database db(
        file_uri(path, "immutable=1"), SQLite::OPEN_READONLY | SQLite::OPEN_URI | sqlite_flags, 0
    );
    db.execAndGet("PRAGMA schema_version");
    return db;
}

} // namespace

SQLite::Database
open_database(const std::filesystem::path& path, std::chrono::milliseconds busy_timeout, open_mode mode)
{
    return guarded(fmt::format("opening {}", path.string()), [&] {
        if (mode == open_mode::read_only)
            return open_reader(path, busy_timeout);
        std::error_code ec;
        // Created here only when it does not exist: closing a descriptor of a file this process has open
        // in SQLite would drop SQLite's locks on it.
        if (!std::filesystem::exists(path, ec))
            ::close(create_database_file(path));
        SQLite::Database db(
            path.string(),
            SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | sqlite_flags,
            static_cast<int>(busy_timeout.count())
        );
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
        db.exec(fmt::format("PRAGMA wal_autocheckpoint={}", std::max(100, (8 << 20) / std::max(page, 512))));
        db.exec("PRAGMA foreign_keys=ON");
        return db;
    });
}

std::string read_only_note(SQLite::Database& db)
{
    auto* name = sqlite3_db_filename(db.getHandle(), "main");
    if (!name || !sqlite3_uri_boolean(name, "immutable", 0))
        return {};
    std::error_code ec;
    auto wal = std::filesystem::file_size(std::string(name) + "-wal", ec);
    if (!ec && wal > 0)
        return "the file system is read-only: the database was read as it is on disk, without the commits "
               "still in its write-ahead log (-wal)";
    return {};
}

void check_in_place(SQLite::Database& db)
{
    int moved = 0;
    if (sqlite3_file_control(db.getHandle(), "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved)
        throw db_error(
            db_failure::gone,
            fmt::format(
                "the database file {} was deleted, moved or replaced while ditio-sync had it open (its "
                "directory removed?): nothing written now could be read again; restart ditio-sync to create "
                "or open it anew",
                db.getFilename()
            )
        );
}

std::optional<file_id> file_id_of(const std::filesystem::path& path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return std::nullopt;
    return file_id{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

std::optional<std::string> database_file_problem(const std::filesystem::path& path, const file_id& opened)
{
    auto now = file_id_of(path);
    if (!now)
        return fmt::format(
            "the database file {} is gone (deleted, or its directory removed) while ditio-sync has it open: "
            "nothing it writes can be read; restart ditio-sync",
            path.string()
        );
    if (*now != opened)
        return fmt::format(
            "{} is no longer the database file ditio-sync opened (it was replaced or moved): restart "
            "ditio-sync",
            path.string()
        );
    return std::nullopt;
}

std::vector<std::string> check_integrity(SQLite::Database& db, integrity_check how)
{
    return guarded("checking the database", [&] {
        std::vector<std::string> findings;
        try {
            SQLite::Statement q(
                db, how == integrity_check::thorough ? "PRAGMA integrity_check(20)" : "PRAGMA quick_check(20)"
            );
            while (q.executeStep()) {
                auto line = q.getColumn(0).getString();
                if (line != "ok")
                    findings.push_back(std::move(line));
            }
        } catch (const SQLite::Exception& e) {
            // Damage the check itself trips over is a finding too.
            auto code = e.getErrorCode() & 0xff;
            if (code != SQLITE_CORRUPT && code != SQLITE_NOTADB)
                throw;
            findings.emplace_back(e.what());
        }
        return findings;
    });
}

namespace {

std::string owner_name(uid_t uid)
{
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found)
        return found->pw_name;
    return std::to_string(uid);
}

} // namespace

std::string write_access_problem(const std::filesystem::path& path)
{
    std::vector<std::string> problems;
    bool denied = false; // by permissions, not (only) by a read-only file system
    auto look = [&](const std::filesystem::path& p, int mode, std::string_view what) {
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0)
            return;
        if (::faccessat(AT_FDCWD, p.c_str(), mode, AT_EACCESS) == 0)
            return;
        auto why = errno;
        denied = denied || why != EROFS;
        problems.push_back(fmt::format(
            "{} {} ({}, owner {}, mode {:04o})",
            what,
            p.string(),
            why == EROFS ? "read-only file system" : "not writable by this user",
            owner_name(st.st_uid),
            st.st_mode & 07777
        ));
    };
    auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    // The directory: SQLite creates the -wal and -shm files and the lock file next to the database.
    look(dir, W_OK | X_OK, "directory");
    look(path, W_OK, "file");
    look(path.string() + "-wal", W_OK, "file");
    look(path.string() + "-shm", W_OK, "file");
    if (problems.empty())
        return {};
    return fmt::format(
        "this process runs as {} (uid {}); {}: {}",
        owner_name(::geteuid()),
        ::geteuid(),
        fmt::join(problems, "; "),
        denied ? "run ditio-sync as the owner of the database, or give this user write access"
               : "mount the file system read-write, or point storage.path at one that is"
    );
}

void check_writable(SQLite::Database& db, const std::filesystem::path& path)
{
    try {
        // A real write into the file (a table in the schema), never committed: a read-only file, a -shm
        // someone else owns and a read-only file system all fail here, where reading succeeds.
        SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
        db.exec("CREATE TABLE ditio_sync_write_check (x)");
        // Not committed: the destructor rolls back.
    } catch (const std::exception& e) {
        try {
            rethrow_as_db_error(e, "trying a write");
        } catch (const db_error& d) {
            auto problem = write_access_problem(path);
            if (problem.empty())
                throw;
            throw db_error(d.kind(), fmt::format("{}; {}", d.what(), problem));
        }
    }
}

} // namespace ditio_sync::store
