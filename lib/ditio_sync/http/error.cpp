#include <ditio_sync/http/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

namespace ditio_sync::http {
namespace {

// error_category's destructor is protected and non-virtual by design; instances are never deleted.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "ditio_sync.http"; }
    std::string message(int ev) const override
    {
        switch (static_cast<errc>(ev)) {
        case errc::bad_url:
            return "bad URL";
        case errc::body_too_large:
            return "response body larger than http.max_body_mb";
        case errc::timeout:
            return "request timed out (http.timeout)";
        case errc::proxy_refused:
            return "the proxy refused the CONNECT request (check http.proxy / HTTPS_PROXY)";
        case errc::proxy_failed:
            return "the proxy could not be reached or could not open a tunnel (check http.proxy / "
                   "HTTPS_PROXY)";
        case errc::cancelled:
            return "cancelled by shutdown";
        }
        return "unknown http error";
    }
};
#pragma GCC diagnostic pop

} // namespace

const boost::system::error_category& http_category() noexcept
{
    static const category c;
    return c;
}

error_kind classify(const boost::system::error_code& ec)
{
    namespace asio = boost::asio;
    if (ec == errc::cancelled || ec == asio::error::operation_aborted)
        return error_kind::cancelled;
    if (ec == errc::timeout || ec == boost::beast::error::timeout || ec == asio::error::timed_out)
        return error_kind::timeout;
    if (ec == errc::bad_url || ec == errc::proxy_refused)
        return error_kind::config;
    if (ec == errc::body_too_large ||
        ec.category() == make_error_code(boost::beast::http::error::end_of_stream).category())
        return error_kind::protocol;
    if (ec == asio::ssl::error::stream_truncated)
        return error_kind::network;
    if (ec.category() == asio::error::get_ssl_category())
        return error_kind::tls;
    return error_kind::network;
}

std::string describe(const boost::system::error_code& ec)
{
    switch (classify(ec)) {
    case error_kind::tls:
        return "TLS failure: " + ec.message() +
               " (check the server certificate, http.ca_file, SSL_CERT_FILE)";
    default:
        return ec.message();
    }
}

} // namespace ditio_sync::http
