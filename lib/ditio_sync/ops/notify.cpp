#include <ditio_sync/ops/notify.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace ditio_sync::ops {

notifier::notifier(std::string socket_path) : path_(std::move(socket_path))
{
    if (!path_.empty())
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

notifier::~notifier()
{
    if (fd_ >= 0)
        ::close(fd_);
}

bool notifier::send(std::string_view message, std::string* error)
{
    if (path_.empty())
        return true;
    auto fail = [&](std::string why) {
        if (error)
            *error = std::move(why);
        return false;
    };
    if (fd_ < 0)
        return fail("cannot create a datagram socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof(addr.sun_path) || (path_[0] != '/' && path_[0] != '@'))
        return fail("NOTIFY_SOCKET is not an absolute path or an abstract socket name");
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    if (path_[0] == '@')
        addr.sun_path[0] = '\0';
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size());
    auto sent =
        ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
    if (sent < 0)
        return fail(std::strerror(errno));
    return static_cast<std::size_t>(sent) == message.size() || fail("short write");
}

std::optional<std::chrono::microseconds>
watchdog_interval(const std::optional<std::string>& usec, const std::optional<std::string>& pid, long own_pid)
{
    if (!usec)
        return std::nullopt;
    auto number = [](const std::string& s) -> std::optional<long long> {
        long long v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc{} || p != s.data() + s.size() || v <= 0)
            return std::nullopt;
        return v;
    };
    if (pid) {
        auto p = number(*pid);
        if (!p || *p != own_pid)
            return std::nullopt;
    }
    auto u = number(*usec);
    if (!u)
        return std::nullopt;
    return std::chrono::microseconds{*u};
}

} // namespace ditio_sync::ops
