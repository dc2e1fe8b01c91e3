// Completion tokens shared by every coroutine (Boost 1.81 needs them spelled out).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ditio_sync::util {

// For operations whose errors are expected (EOF, cancellation, timeouts): returns (error_code, ...).
inline constexpr auto use_nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

} // namespace ditio_sync::util
