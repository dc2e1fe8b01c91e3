#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/instance_lock.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ditio_sync::store {

instance_lock::instance_lock(const std::filesystem::path& database)
{
    auto path = database.string() + ".lock";
    std::error_code ec;
    if (database.has_parent_path() && !std::filesystem::exists(database.parent_path(), ec)) {
        std::filesystem::create_directories(database.parent_path(), ec);
        if (!ec)
            std::filesystem::permissions(database.parent_path(), std::filesystem::perms::owner_all, ec);
    }
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0)
        throw db_error(
            db_failure::cannot_open, fmt::format("cannot open lock file {}: {}", path, std::strerror(errno))
        );
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {};
        auto n = ::pread(fd_, buf, sizeof buf - 1, 0);
        std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("?");
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' '))
            holder.pop_back();
        ::close(fd_);
        fd_ = -1;
        throw db_error(
            db_failure::busy,
            fmt::format(
                "another ditio-sync (pid {}) is using {}; stop it first, or let the running daemon do the "
                "work",
                holder,
                database.string()
            )
        );
    }
    auto pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) == 0)
        (void)::pwrite(fd_, pid.data(), pid.size(), 0);
}

instance_lock::~instance_lock()
{
    if (fd_ >= 0)
        ::close(fd_); // releases the flock
}

} // namespace ditio_sync::store
