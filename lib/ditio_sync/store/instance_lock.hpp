// One writer per database: an exclusive flock on the database file itself, held for the life of the
// process, so a second ditio-sync (a manual `sync` while the daemon runs) is refused instead of fighting
// over the checkpoint, whichever path reaches the file: a symlink, a hard link or another mount of it
// lock the same inode. The kernel drops the lock when the process dies, even by SIGKILL. SQLite locks
// with fcntl, which a flock does not touch (on local file systems; SQLite's WAL mode needs one anyway).
// The holder's pid is written to "<database>.lock" for the refusal message and `status`; the lock is not
// that file.
#pragma once

#include <filesystem>
#include <optional>

namespace ditio_sync::store {

class instance_lock {
public:
    // Creates the database file when it does not exist yet (see create_database_file), then takes the lock
    // or throws db_error(busy) naming the process that holds it. Take it before this process opens the
    // database: closing a descriptor of a file drops every fcntl lock the process holds on it, SQLite's too.
    explicit instance_lock(const std::filesystem::path& database);
    ~instance_lock();
    instance_lock(const instance_lock&) = delete;
    instance_lock& operator=(const instance_lock&) = delete;

private:
    int fd_ = -1;
};

// Whether a ditio-sync holds a database's instance lock, as a process that does not take it (status) sees.
enum class lock_state {
    held,    // a ditio-sync (the daemon, or sync, check, ...) is using the database
    free,    // none is: a run left without an end was interrupted
    unknown, // the file could not be opened to look
};

struct lock_probe {
    lock_state state = lock_state::unknown;
    std::optional<long> pid = {}; // the holder, from "<database>.lock", when held
};

// Looks at the lock without keeping it: a shared flock taken and dropped at once (a writer starting in that
// instant tries again, see instance_lock). Opens the file read-only and creates nothing. Call it
// before this process opens the database with SQLite: closing a descriptor of the file drops every fcntl
// lock the process holds on it. Never throws.
lock_probe probe_instance_lock(const std::filesystem::path& database);

} // namespace ditio_sync::store
