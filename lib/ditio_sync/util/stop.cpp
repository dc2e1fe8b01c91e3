#include <ditio_sync/util/asio.hpp>
#include <ditio_sync/util/stop.hpp>

#include <boost/asio/this_coro.hpp>

namespace ditio_sync::util {

void stop_source::request_stop()
{
    if (stopped_)
        return;
    stopped_ = true;
    for (auto* t : sleepers_)
        t->cancel();
    auto callbacks = std::move(callbacks_);
    for (auto& f : callbacks)
        f();
}

void stop_source::on_stop(std::function<void()> f)
{
    if (stopped_)
        f();
    else
        callbacks_.push_back(std::move(f));
}

boost::asio::awaitable<bool> stop_source::sleep_for(std::chrono::steady_clock::duration d)
{
    if (stopped_)
        co_return false;
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, d);
    sleepers_.insert(&timer);
    co_await timer.async_wait(use_nothrow);
    sleepers_.erase(&timer);
    co_return !stopped_;
}

} // namespace ditio_sync::util
