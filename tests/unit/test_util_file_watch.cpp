// Unit tests for util/file_watch.hpp: a write to the watched file wakes the waiter, a write to another file
// of the directory does not, a timeout and cancel() end the wait.
#include <ditio_sync/util/file_watch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <support/run_io.hpp>
#include <support/temp_dir.hpp>
#include <thread>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using ditio_sync::testing::run_io;
using ditio_sync::util::file_watch;

void append(const std::filesystem::path& p, const char* text)
{
    std::ofstream(p, std::ios::app) << text;
}

} // namespace

TEST_CASE("file_watch: a write to the file wakes the waiter; other files and timeouts do not")
{
    ditio_sync::testing::temp_dir dir;
    auto wal = dir.path() / "ditio.db-wal";
    asio::io_context io;
    file_watch w(io.get_executor(), wal);

    SUBCASE("nothing written: the timeout ends the wait")
    {
        CHECK_FALSE(run_io(io, w.wait(50ms)));
    }
    SUBCASE("a write before the wait is not lost")
    {
        append(wal, "frame");
        CHECK(run_io(io, w.wait(10s)));
        CHECK_FALSE(run_io(io, w.wait(50ms))); // consumed
    }
    SUBCASE("a write during the wait, by another thread, ends it")
    {
        std::thread writer([&] {
            std::this_thread::sleep_for(50ms); // lets the wait begin first; the outcome does not depend on it
            append(dir.path() / "ditio.db", "other file");
            append(wal, "frame");
        });
        auto started = std::chrono::steady_clock::now();
        CHECK(run_io(io, w.wait(30s)));
        CHECK(std::chrono::steady_clock::now() - started < 10s);
        writer.join();
    }
    SUBCASE("only another file written: the wait goes on to its timeout")
    {
        append(dir.path() / "ditio.db-shm", "x");
        CHECK_FALSE(run_io(io, w.wait(100ms)));
    }
    SUBCASE("cancel() ends a wait, and the ones after it")
    {
        asio::steady_timer later(io, 50ms); // fires while the wait is in progress
        later.async_wait([&](const boost::system::error_code&) { w.cancel(); });
        auto started = std::chrono::steady_clock::now();
        CHECK_FALSE(run_io(io, w.wait(30s)));
        append(wal, "frame");
        CHECK_FALSE(run_io(io, w.wait(30s)));
        CHECK(std::chrono::steady_clock::now() - started < 10s);
    }
}
