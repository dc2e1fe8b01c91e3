// Wakes a coroutine when another program writes a file (inotify), so the daemon notices a commit to the
// database's write-ahead log without polling. The file is watched by name in its directory, so it may be
// created, deleted and created again.
//
// Errors: the constructor throws std::system_error when inotify is unavailable (limits, no such directory).
// Thread safety: one watch per single-threaded executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <filesystem>
#include <string>

namespace ditio_sync::util {

class file_watch {
public:
    file_watch(boost::asio::any_io_executor ex, const std::filesystem::path& file);

    // Waits until the file has been written since the last wait, or `timeout` passed, or cancel() was
    // called. True when it was written.
    boost::asio::awaitable<bool> wait(std::chrono::steady_clock::duration timeout);

    // Ends a wait in progress and every later one (they return false): for shutdown.
    void cancel();

private:
    // Reads the queued events; true when one names the file.
    bool drain();

    boost::asio::posix::stream_descriptor fd_;
    boost::asio::steady_timer timer_;
    std::string name_;
    bool cancelled_ = false;
};

} // namespace ditio_sync::util
