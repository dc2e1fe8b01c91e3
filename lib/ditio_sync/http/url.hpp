// The pieces of an absolute http(s) URL that a connection and a request line need.
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ditio_sync::http {

struct endpoint_url {
    bool tls = true;
    std::string host;   // without brackets for IPv6
    std::string port;   // always set ("443" when the URL has none)
    std::string target; // path and query, at least "/"

    // "https://host:port", the key under which connections are pooled.
    std::string origin() const;
};

// Parses an absolute http:// or https:// URL.
boost::system::result<endpoint_url> parse_url(std::string_view url);

// base "https://h/reporting" + "v1/time-registrations" -> "https://h/reporting/v1/time-registrations".
std::string join_url(std::string_view base, std::string_view relative);

// Appends query parameters, percent-encoded: url + "?A=1&B=x%20y".
std::string with_query(std::string url, const std::vector<std::pair<std::string, std::string>>& params);

// One path segment, percent-encoded so a "/" or "?" in a project number cannot change the path.
std::string path_segment(std::string_view s);

// application/x-www-form-urlencoded body.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);

} // namespace ditio_sync::http
