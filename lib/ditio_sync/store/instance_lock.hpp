// One writer per database: an exclusive flock on "<database>.lock", held for the life of the process,
// so a second ditio-sync (a manual `sync` while the daemon runs) is refused instead of fighting over
// the checkpoint. The kernel drops the lock when the process dies, even by SIGKILL.
#pragma once

#include <filesystem>

namespace ditio_sync::store {

class instance_lock {
public:
    // Takes the lock or throws db_error(busy) naming the process that holds it.
    explicit instance_lock(const std::filesystem::path& database);
    ~instance_lock();
    instance_lock(const instance_lock&) = delete;
    instance_lock& operator=(const instance_lock&) = delete;

private:
    int fd_ = -1;
};

} // namespace ditio_sync::store
