#include <ditio_sync/http/error.hpp>
#include <ditio_sync/http/url.hpp>
#include <ditio_sync/util/net.hpp>

#include <cctype>

namespace ditio_sync::http {
namespace {

// A query written as a URL carries a space as %20; a form body as '+'.
enum class encoding { url, form };

void encode_into(std::string& out, std::string_view s, encoding how)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else if (how == encoding::form && c == ' ') {
            out += '+';
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0x0f];
        }
    }
}

} // namespace

std::string endpoint_url::origin() const
{
    bool v6 = host.find(':') != std::string::npos;
    return std::string(tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" + port;
}

boost::system::result<endpoint_url> parse_url(std::string_view text)
{
    auto parts = util::split_url(text);
    if (!parts)
        return make_error_code(errc::bad_url);
    endpoint_url out;
    out.tls = parts->scheme == "https";
    out.host = std::move(parts->host);
    out.port = parts->port.empty() ? (out.tls ? "443" : "80") : std::move(parts->port);
    out.target = std::move(parts->target);
    return out;
}

std::string join_url(std::string_view base, std::string_view relative)
{
    std::string out(base);
    while (!out.empty() && out.back() == '/')
        out.pop_back();
    while (!relative.empty() && relative.front() == '/')
        relative.remove_prefix(1);
    out += '/';
    out += relative;
    return out;
}

std::string with_query(std::string url, const std::vector<std::pair<std::string, std::string>>& params)
{
    char sep = url.find('?') == std::string::npos ? '?' : '&';
    for (const auto& [k, v] : params) {
        url += sep;
        encode_into(url, k, encoding::url);
        url += '=';
        encode_into(url, v, encoding::url);
        sep = '&';
    }
    return url;
}

std::string path_segment(std::string_view s)
{
    std::string out;
    encode_into(out, s, encoding::url);
    return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields)
{
    std::string out;
    for (const auto& [k, v] : fields) {
        if (!out.empty())
            out += '&';
        encode_into(out, k, encoding::form);
        out += '=';
        encode_into(out, v, encoding::form);
    }
    return out;
}

} // namespace ditio_sync::http
