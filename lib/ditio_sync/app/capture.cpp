#include <ditio_sync/app/capture.hpp>
#include <ditio_sync/util/redact.hpp>

#include <boost/beast/http/field.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <cctype>

namespace ditio_sync::app {

namespace json = boost::json;
namespace bhttp = boost::beast::http;

namespace {

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

bool is_secret_header(std::string_view name)
{
    auto n = lower(name);
    return n == "authorization" || n == "proxy-authorization" || n == "cookie" || n == "set-cookie";
}

bool is_secret_field(std::string_view name)
{
    auto n = lower(name);
    return n == "client_secret" || n == "password" || n == "client_assertion" || n == "access_token" ||
           n == "refresh_token" || n == "id_token";
}

// Whether `s` can stand as a JSON string the reader (ditio-fake --replay) will parse: well-formed UTF-8.
bool readable_as_json_string(std::string_view s)
{
    boost::system::error_code ec;
    json::parse(json::serialize(json::string(s)), ec);
    return !ec;
}

std::string base64(std::string_view in)
{
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        auto v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
        for (int shift : {18, 12, 6, 0})
            out += alphabet[(v >> shift) & 0x3f];
    }
    if (auto rest = in.size() - i; rest > 0) {
        auto v = static_cast<unsigned char>(in[i]) << 16;
        if (rest == 2)
            v |= static_cast<unsigned char>(in[i + 1]) << 8;
        out += alphabet[(v >> 18) & 0x3f];
        out += alphabet[(v >> 12) & 0x3f];
        out += rest == 2 ? alphabet[(v >> 6) & 0x3f] : '=';
        out += '=';
    }
    return out;
}

json::array headers_of(const std::vector<std::pair<std::string, std::string>>& headers)
{
    json::array out;
    for (const auto& [name, value] : headers)
        out.push_back(json::array{
            json::string(name),
            json::string(
                is_secret_header(name) ? std::string(util::redacted_mark) : util::secrets().redact(value)
            )});
    return out;
}

json::array headers_of(const http::response& res)
{
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& f : res.base())
        pairs.emplace_back(std::string(f.name_string()), std::string(f.value()));
    return headers_of(pairs);
}

bool is_form(const http::request& req)
{
    return std::any_of(req.headers.begin(), req.headers.end(), [](const auto& h) {
        return lower(h.first) == "content-type" &&
               lower(h.second).find("application/x-www-form-urlencoded") != std::string::npos;
    });
}

// Replaces the string values of secret fields anywhere in `v`; true when it replaced one.
bool redact_json(json::value& v)
{
    bool changed = false;
    if (auto* o = v.if_object()) {
        for (auto& [key, value] : *o) {
            if (is_secret_field(key) && value.is_string()) {
                value = json::string(util::redacted_mark);
                changed = true;
            } else {
                changed = redact_json(value) || changed;
            }
        }
    } else if (auto* a = v.if_array()) {
        for (auto& item : *a)
            changed = redact_json(item) || changed;
    }
    return changed;
}

} // namespace

std::string redact_form(std::string_view body)
{
    std::string out;
    std::size_t start = 0;
    while (start <= body.size()) {
        auto end = std::min(body.find('&', start), body.size());
        auto pair = body.substr(start, end - start);
        auto eq = pair.find('=');
        if (!out.empty() || start > 0)
            out += '&';
        if (eq != std::string_view::npos && is_secret_field(pair.substr(0, eq)))
            out += std::string(pair.substr(0, eq + 1)) + std::string(util::redacted_mark);
        else
            out += pair;
        start = end + 1;
    }
    return util::secrets().redact(out);
}

std::string redact_body(std::string_view body)
{
    // Only small JSON bodies are rewritten field by field (a token answer, an error): a page of records
    // is left as Ditio formatted it, and goes through the redactor alone.
    constexpr std::size_t rewrite_below = 64 * 1024;
    if (body.size() < rewrite_below) {
        boost::system::error_code ec;
        auto v = json::parse(body, ec);
        if (!ec && redact_json(v))
            return util::secrets().redact(json::serialize(v));
    }
    return util::secrets().redact(body);
}

void capture_recorder::record(
    const http::request& req,
    const boost::system::result<http::response>& res,
    std::chrono::milliseconds elapsed
)
{
    json::object e;
    e["method"] = std::string(bhttp::to_string(req.method));
    e["url"] = util::secrets().redact(req.url);
    e["request_headers"] = headers_of(req.headers);
    if (!req.body.empty())
        e["request_body"] = is_form(req) ? redact_form(req.body) : redact_body(req.body);
    e["elapsed_ms"] = elapsed.count();
    if (!res) {
        e["error"] = util::secrets().redact(res.error().message());
    } else {
        e["status"] = res->result_int();
        e["response_headers"] = headers_of(*res);
        auto body = redact_body(res->body());
        if (readable_as_json_string(body))
            e["body"] = body;
        else
            e["body_base64"] = base64(body);
    }
    exchanges_.push_back(std::move(e));
}

json::object capture_recorder::document() const
{
    json::object d;
    d["format"] = capture_format;
    d["version"] = capture_version;
    d["captured_at"] = header_.captured_at;
    d["ditio_sync"] = DITIO_SYNC_VERSION;
    d["bases"] = json::object{
        {"identity_base", header_.identity_base},
        {"reporting_base", header_.reporting_base},
        {"api_base", header_.api_base}};
    json::array streams;
    for (const auto& s : header_.streams)
        streams.emplace_back(s);
    d["streams"] = std::move(streams);
    d["mode"] = header_.mode;
    d["pages"] = header_.pages;
    d["chunk_limit"] = header_.chunk_limit;
    json::array ex;
    for (const auto& e : exchanges_)
        ex.push_back(e);
    d["exchanges"] = std::move(ex);
    return d;
}

} // namespace ditio_sync::app
