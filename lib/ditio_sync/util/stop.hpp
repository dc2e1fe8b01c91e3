// A stop request that interrupts sleeps: set once (SIGTERM/SIGINT), observed at loop boundaries.
// Thread safety: use on the one io_context thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <set>
#include <vector>

namespace ditio_sync::util {

class stop_source {
public:
    bool stop_requested() const { return stopped_; }

    // Sets the flag, wakes every sleeper and runs the registered callbacks once.
    void request_stop();

    // Runs f on request_stop() (immediately when already stopped).
    void on_stop(std::function<void()> f);

    // Sleeps for d; returns false when a stop was requested before or during the sleep.
    boost::asio::awaitable<bool> sleep_for(std::chrono::steady_clock::duration d);

private:
    bool stopped_ = false;
    std::set<boost::asio::steady_timer*> sleepers_;
    std::vector<std::function<void()>> callbacks_;
};

} // namespace ditio_sync::util
