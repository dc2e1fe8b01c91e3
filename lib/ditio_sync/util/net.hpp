// Host-name predicates shared by configuration validation and the HTTP client.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ditio_sync::util {

// True for "localhost" (any case), an IPv4 address in 127.0.0.0/8, and ::1 (brackets allowed).
// A DNS name that merely starts with "127." is not loopback.
bool is_loopback_host(std::string_view host);

// True when host is an IPv4 or IPv6 literal (brackets allowed).
bool is_ip_literal(std::string_view host);

// An absolute http(s) URL split into the parts a connection needs. Written by hand because Boost.URL
// 1.81 mis-parses hosts that start like an IPv4 address ("127.0.0.1.example.com" -> host 127.0.0.1).
struct url_parts {
    std::string scheme; // lower-case "http" or "https"
    std::string host;   // without brackets for IPv6; lower-case
    std::string port;   // empty when the URL has none
    std::string target; // path and query ("/" when empty); never a fragment
};

// nullopt for anything but scheme://host[:port][/path][?query] with an http(s) scheme, a valid host
// (a DNS name, an IPv4 address or a bracketed IPv6 address) and a port 1..65535. User info and
// fragments are refused.
std::optional<url_parts> split_url(std::string_view url);

} // namespace ditio_sync::util
