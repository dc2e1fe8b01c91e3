#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/instance_lock.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

namespace ditio_sync::store {

namespace {

// The pid a lock holder wrote to "<database>.lock", if it reads as one.
std::optional<long> holder_pid(const std::filesystem::path& database)
{
    int pf = ::open((database.string() + ".lock").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (pf < 0)
        return std::nullopt;
    std::array<char, 32> buf{};
    auto n = ::read(pf, buf.data(), buf.size() - 1);
    ::close(pf);
    std::string text = n > 0 ? std::string(buf.data(), static_cast<std::size_t>(n)) : std::string{};
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return std::stol(text);
}

} // namespace

instance_lock::instance_lock(const std::filesystem::path& database)
{
    fd_ = create_database_file(database);
    // A `status` probing the lock holds it shared for microseconds: a few tries, 20 ms apart, keep a
    // writer starting at that moment from being refused; a real holder keeps it far longer.
    int locked = -1;
    int lock_error = 0;
    for (int attempt = 0; attempt < 5; ++attempt) {
        if (attempt > 0)
            std::this_thread::sleep_for(std::chrono::milliseconds{20});
        locked = ::flock(fd_, LOCK_EX | LOCK_NB);
        lock_error = errno;
        if (locked == 0 || lock_error != EWOULDBLOCK)
            break;
    }
    if (locked == 0) {
        // Who holds the lock, for the message a second process prints; the lock is not this file.
        auto pid_file = database.string() + ".lock";
        int pf = ::open(pid_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (pf >= 0) {
            auto pid = std::to_string(::getpid()) + "\n";
            (void)::write(pf, pid.data(), pid.size());
            ::close(pf);
        }
        return;
    }
    auto err = lock_error;
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK)
        throw db_error(
            db_failure::cannot_open, fmt::format("cannot lock {}: {}", database.string(), std::strerror(err))
        );
    auto pid = holder_pid(database);
    std::string holder = pid ? std::to_string(*pid) : "?";
    throw db_error(
        db_failure::busy,
        fmt::format(
            "another ditio-sync (pid {}) is using {}; stop it first, or let the running daemon do the work",
            holder,
            database.string()
        )
    );
}

instance_lock::~instance_lock()
{
    if (fd_ >= 0)
        ::close(fd_); // releases the flock
}

lock_probe probe_instance_lock(const std::filesystem::path& database)
{
    // O_NONBLOCK: a FIFO at the path must not hang status.
    int fd = ::open(database.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return {};
    lock_probe out;
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
        ::flock(fd, LOCK_UN);
        out.state = lock_state::free;
    } else if (errno == EWOULDBLOCK) {
        out.state = lock_state::held;
        out.pid = holder_pid(database);
    }
    ::close(fd);
    return out;
}

} // namespace ditio_sync::store
