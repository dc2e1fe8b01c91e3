#include <ditio_sync/util/asio.hpp>
#include <ditio_sync/util/file_watch.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace ditio_sync::util {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

int watch_fd(const std::filesystem::path& file)
{
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "inotify_init1");
    auto dir = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
    if (::inotify_add_watch(fd, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        int e = errno;
        ::close(fd);
        throw std::system_error(e, std::generic_category(), "inotify_add_watch " + dir.string());
    }
    return fd;
}

} // namespace

file_watch::file_watch(asio::any_io_executor ex, const std::filesystem::path& file)
    : fd_(ex, watch_fd(file)), timer_(ex), name_(file.filename().string())
{
}

bool file_watch::drain()
{
    bool hit = false;
    alignas(inotify_event) char buffer[4096];
    for (;;) {
        auto n = ::read(fd_.native_handle(), buffer, sizeof buffer);
        if (n <= 0)
            return hit;
        for (ssize_t at = 0; at < n;) {
            const auto* e = reinterpret_cast<const inotify_event*>(buffer + at);
            if (e->len > 0 && name_ == e->name)
                hit = true;
            at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        }
    }
}

asio::awaitable<bool> file_watch::wait(std::chrono::steady_clock::duration timeout)
{
    if (cancelled_)
        co_return false;
    if (drain())
        co_return true;
    timer_.expires_after(timeout);
    while (!cancelled_) {
        // The loser of the race is cancelled; the timer keeps its expiry for the next round.
        auto result = co_await (
            fd_.async_wait(asio::posix::stream_descriptor::wait_read, use_nothrow) ||
            timer_.async_wait(use_nothrow)
        );
        if (result.index() != 0 || cancelled_)
            co_return false; // the deadline, or cancel()
        if (drain())
            co_return true;
        // Only other files of the directory were written: wait on.
    }
    co_return false;
}

void file_watch::cancel()
{
    cancelled_ = true;
    timer_.cancel();
    fd_.cancel();
}

} // namespace ditio_sync::util
