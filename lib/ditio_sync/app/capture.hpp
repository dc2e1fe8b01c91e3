// What `ditio-sync capture` writes: every HTTP exchange of a short sync, in one JSON document a customer
// can send to support, with every secret removed; `ditio-fake --replay` serves such a file back
// (docs/live-ditio.md, section 9).
//
// The document: {"format": "ditio-sync-capture", "version": 1, "captured_at", "ditio_sync", "bases",
// "streams", "pages", "chunk_limit", "exchanges": [...]}. Each exchange: "method", "url", "request_headers"
// ([[name, value], ...]), "request_body", "elapsed_ms", and either "status", "response_headers" and "body"
// (or "body_base64" when the body is not UTF-8), or "error" when no answer came.
//
// Removed: the Authorization, Proxy-Authorization, Cookie and Set-Cookie values, the client_secret (and any
// password or assertion) of a form body, access_token/refresh_token/id_token of a JSON body, and whatever
// the process redactor (util/redact.hpp) knows or recognises, anywhere. Continuation tokens stay: they are
// Ditio's page bookmarks, not credentials, and a replay needs them.
//
// Thread safety: one thread.
#pragma once

#include <ditio_sync/http/client.hpp>

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ditio_sync::app {

inline constexpr std::string_view capture_format = "ditio-sync-capture";
inline constexpr int capture_version = 1;

struct capture_header {
    std::string captured_at;
    std::string identity_base, reporting_base, api_base;
    std::vector<std::string> streams;
    std::int64_t pages = 0;
    int chunk_limit = 0;
    std::string mode; // "full", or "as the next sync" (incremental where the mirror has a watermark)
};

class capture_recorder {
public:
    explicit capture_recorder(capture_header header) : header_(std::move(header)) {}

    // One exchange as http::client::on_exchange reports it, redacted on the way in.
    void record(
        const http::request& req,
        const boost::system::result<http::response>& res,
        std::chrono::milliseconds elapsed
    );

    std::size_t exchanges() const { return exchanges_.size(); }
    boost::json::object document() const;

private:
    capture_header header_;
    std::vector<boost::json::object> exchanges_;
};

// The text with credentials removed as described above; `form` for an application/x-www-form-urlencoded
// body, whose secret fields are replaced by name.
std::string redact_form(std::string_view body);
// A JSON body with access_token, refresh_token and id_token replaced; any other text only through the
// process redactor.
std::string redact_body(std::string_view body);

} // namespace ditio_sync::app
