#include <ditio_sync/util/net.hpp>

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cctype>
#include <string>

namespace ditio_sync::util {
namespace {

std::string_view unbracket(std::string_view host)
{
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        return host.substr(1, host.size() - 2);
    return host;
}

// A port, when present, is 1..65535 in decimal.
bool port_invalid(std::string_view port)
{
    if (port.empty())
        return false;
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }))
        return true;
    auto value = std::stoi(std::string(port));
    return value < 1 || value > 65535;
}

} // namespace

bool is_loopback_host(std::string_view host)
{
    std::string lower(host);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
        return std::tolower(c);
    });
    if (lower == "localhost")
        return true;
    boost::system::error_code ec;
    auto addr = boost::asio::ip::make_address(unbracket(host), ec);
    return !ec && addr.is_loopback();
}

bool is_ip_literal(std::string_view host)
{
    boost::system::error_code ec;
    boost::asio::ip::make_address(unbracket(host), ec);
    return !ec;
}

std::optional<url_parts> split_url(std::string_view url)
{
    auto sep = url.find("://");
    if (sep == std::string_view::npos)
        return std::nullopt;
    url_parts out;
    out.scheme = std::string(url.substr(0, sep));
    std::transform(out.scheme.begin(), out.scheme.end(), out.scheme.begin(), [](unsigned char c) {
        return std::tolower(c);
    });
    if (out.scheme != "http" && out.scheme != "https")
        return std::nullopt;
    auto rest = url.substr(sep + 3);
    auto end = rest.find_first_of("/?#");
    auto authority = rest.substr(0, end);
    auto tail = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    if (authority.empty() || authority.find('@') != std::string_view::npos ||
        tail.find('#') != std::string_view::npos)
        return std::nullopt;

    std::string_view host;
    std::string_view port;
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        host = authority.substr(1, close - 1);
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return std::nullopt;
            port = after.substr(1);
        }
        boost::system::error_code ec;
        boost::asio::ip::make_address_v6(host, ec);
        if (ec)
            return std::nullopt;
    } else {
        auto colon = authority.rfind(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos)
            port = authority.substr(colon + 1);
        if (host.empty() || host.front() == '.' || host.front() == '-' ||
            !std::all_of(host.begin(), host.end(), [](unsigned char c) {
                return std::isalnum(c) || c == '.' || c == '-' || c == '_';
            }))
            return std::nullopt;
    }
    if (port_invalid(port))
        return std::nullopt;
    out.host = std::string(host);
    std::transform(out.host.begin(), out.host.end(), out.host.begin(), [](unsigned char c) {
        return std::tolower(c);
    });
    out.port = std::string(port);
    out.target = tail.empty() || tail.front() != '/' ? "/" + std::string(tail) : std::string(tail);
    return out;
}

} // namespace ditio_sync::util
