// Runs a coroutine to completion on an io_context in a unit test, for code that lives on the event loop.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>
#include <utility>

namespace ditio_sync::testing {

// Runs body on io and stops io when it finishes, even if other work (a server, a proxy) is still
// pending; rethrows what body threw.
template <class T> T run_io(boost::asio::io_context& io, boost::asio::awaitable<T> body)
{
    std::optional<T> result;
    std::exception_ptr error;
    boost::asio::co_spawn(io, std::move(body), [&](std::exception_ptr e, T r) {
        error = e;
        if (!e)
            result.emplace(std::move(r));
        io.stop();
    });
    io.restart();
    io.run();
    if (error)
        std::rethrow_exception(error);
    return std::move(*result);
}

} // namespace ditio_sync::testing
