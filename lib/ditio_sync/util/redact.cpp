#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace ditio_sync::util {
namespace {

constexpr std::size_t min_known_length = 4;

bool unreserved(unsigned char c)
{
    return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// The ways a value can be URL-encoded on its way into a log line or an echo.
enum class url_style {
    upper,      // %XX, as form_encode and with_query write it
    form_upper, // and '+' for a space, as HTML forms write it
    lower,      // %xx
};

// Unreserved characters kept, everything else percent-encoded in `style`.
std::string url_encoded(std::string_view s, url_style style)
{
    std::string out;
    for (unsigned char c : s) {
        if (unreserved(c))
            out += static_cast<char>(c);
        else if (c == ' ' && style == url_style::form_upper)
            out += '+';
        else
            out += style == url_style::lower ? fmt::format("%{:02x}", c) : fmt::format("%{:02X}", c);
    }
    return out;
}

enum class json_style {
    minimal, // " and \ escaped, and control characters
    slash,   // and / as \/ (PHP, some Java)
    unicode, // every character but [A-Za-z0-9-._~] as \u00XX (.NET's System.Text.Json escapes + < > & ')
    unicode_lower,
};

std::string json_escaped(std::string_view s, json_style style)
{
    std::string out;
    for (unsigned char c : s) {
        bool as_unicode = style == json_style::unicode || style == json_style::unicode_lower;
        if (as_unicode && !unreserved(c) && c < 0x80)
            out += style == json_style::unicode ? fmt::format("\\u{:04X}", c) : fmt::format("\\u{:04x}", c);
        else if (c == '"' || c == '\\' || (c == '/' && style == json_style::slash)) {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            out += fmt::format("\\u{:04x}", c);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return out;
}

bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Where a credential value ends: whitespace, quotes and the separators of forms, JSON, headers and HTML.
bool ends_value(char c)
{
    return is_space(c) || c == '"' || c == '\'' || c == '&' || c == ',' || c == ';' || c == '<' || c == '>' ||
           c == '}' || c == ']' || c == ')';
}

bool token_char(char c)
{
    auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
           c == '=' || c == '%';
}

using range = std::pair<std::size_t, std::size_t>; // [begin, end)

// The end of the value starting at `p` (p itself when there is none, or it is already redacted).
std::size_t value_end(std::string_view text, std::size_t p)
{
    if (text.substr(p).starts_with(redacted_mark))
        return p;
    auto e = p;
    while (e < text.size() && !ends_value(text[e])) {
        // An escaped quote ends a value (JSON in a JSON string); any other escape is part of it (\/, \u002B).
        if (text[e] == '\\') {
            if (e + 1 < text.size() && (text[e + 1] == '"' || text[e + 1] == '\''))
                break;
            ++e;
        }
        ++e;
    }
    return std::min(e, text.size());
}

// key=value, key: value, "key":"value" and key="value" for credential-like keys.
void find_key_values(std::string_view text, const std::string& low, std::vector<range>& out)
{
    static constexpr std::array<std::string_view, 9> keys{
        "client_secret",
        "access_token",
        "refresh_token",
        "id_token",
        "password",
        "passwd",
        "authorization",
        "api_key",
        "apikey"};
    for (auto key : keys) {
        for (auto pos = low.find(key); pos != std::string::npos; pos = low.find(key, pos + 1)) {
            auto p = pos + key.size();
            auto skip = [&](auto pred) {
                while (p < text.size() && pred(text[p]))
                    ++p;
            };
            auto quote = [](char c) { return c == '"' || c == '\'' || c == '\\'; };
            skip(quote);
            skip(is_space);
            if (p >= text.size() || (text[p] != '=' && text[p] != ':'))
                continue;
            ++p;
            skip(is_space);
            skip(quote);
            if (key == "authorization") {
                // "Bearer xyz", "Basic xyz": the scheme stays, the credential goes.
                auto q = p;
                while (q < text.size() && std::isalpha(static_cast<unsigned char>(text[q])))
                    ++q;
                if (q > p && q < text.size() && text[q] == ' ')
                    p = q + 1;
            }
            if (auto e = value_end(text, p); e > p)
                out.emplace_back(p, e);
        }
    }
}

// "Bearer <token>" in any case, the space also as '+' or %20 (a URL-encoded echo).
void find_bearer(std::string_view text, const std::string& low, std::vector<range>& out)
{
    for (auto pos = low.find("bearer"); pos != std::string::npos; pos = low.find("bearer", pos + 1)) {
        auto p = pos + 6;
        auto gap = p;
        for (;;) {
            if (p < text.size() && (text[p] == ' ' || text[p] == '+' || text[p] == '\t'))
                ++p;
            else if (low.compare(p, 3, "%20") == 0)
                p += 3;
            else
                break;
        }
        if (p == gap || text.substr(p).starts_with(redacted_mark))
            continue;
        auto e = p;
        while (e < text.size() && token_char(text[e]))
            ++e;
        if (e > p)
            out.emplace_back(p, e);
    }
}

// scheme://user:password@host: the user info goes.
void find_user_info(std::string_view text, std::vector<range>& out)
{
    for (auto pos = text.find("://"); pos != std::string_view::npos; pos = text.find("://", pos + 3)) {
        auto start = pos + 3;
        auto p = start;
        while (p < text.size() && text[p] != '/' && text[p] != '?' && text[p] != '#' && text[p] != '@' &&
               text[p] != '\\' && !ends_value(text[p]))
            ++p;
        if (p < text.size() && text[p] == '@' && p > start)
            out.emplace_back(start, p);
    }
}

std::string replace_ranges(std::string_view text, std::vector<range> ranges)
{
    if (ranges.empty())
        return std::string(text);
    std::sort(ranges.begin(), ranges.end());
    std::string out;
    std::size_t at = 0;
    for (auto [b, e] : ranges) {
        if (e <= at)
            continue;
        b = std::max(b, at);
        out.append(text.substr(at, b - at));
        out += redacted_mark;
        at = e;
    }
    out.append(text.substr(at));
    return out;
}

} // namespace

void redactor::add_forms(std::vector<std::string>& into, std::string_view value)
{
    for (auto form :
         {std::string(value),
          url_encoded(value, url_style::upper),
          url_encoded(value, url_style::form_upper),
          url_encoded(value, url_style::lower),
          json_escaped(value, json_style::minimal),
          json_escaped(value, json_style::slash),
          json_escaped(value, json_style::unicode),
          json_escaped(value, json_style::unicode_lower)})
        if (std::find(into.begin(), into.end(), form) == into.end())
            into.push_back(std::move(form));
    // Longest first, so an encoded form is replaced whole before the plain value inside it could match.
    std::sort(into.begin(), into.end(), [](const std::string& a, const std::string& b) {
        return a.size() > b.size();
    });
}

void redactor::add_secret(std::string_view value)
{
    if (value.size() < min_known_length)
        return;
    std::lock_guard lock(mutex_);
    add_forms(secrets_, value);
}

void redactor::add_token(std::string_view value)
{
    if (value.size() < min_known_length)
        return;
    std::lock_guard lock(mutex_);
    for (const auto& forms : tokens_)
        if (!forms.empty() && std::find(forms.begin(), forms.end(), std::string(value)) != forms.end())
            return;
    std::vector<std::string> forms;
    add_forms(forms, value);
    tokens_.push_back(std::move(forms));
    if (tokens_.size() > max_tokens)
        tokens_.pop_front();
}

std::string redactor::redact(std::string_view text, bool cut) const
{
    std::vector<range> known;
    {
        std::lock_guard lock(mutex_);
        auto scan = [&](const std::vector<std::string>& needles) {
            for (const auto& n : needles) {
                for (auto pos = text.find(n); pos != std::string_view::npos;
                     pos = text.find(n, pos + n.size()))
                    known.emplace_back(pos, pos + n.size());
                if (!cut)
                    continue;
                // The text ends inside this value: its start goes too.
                for (auto k = std::min(n.size() - 1, text.size()); k >= min_known_length; --k)
                    if (text.ends_with(std::string_view(n).substr(0, k))) {
                        known.emplace_back(text.size() - k, text.size());
                        break;
                    }
            }
        };
        scan(secrets_);
        for (const auto& forms : tokens_)
            scan(forms);
    }
    auto first = replace_ranges(text, std::move(known));
    auto low = lower(first);
    std::vector<range> patterns;
    find_key_values(first, low, patterns);
    find_bearer(first, low, patterns);
    find_user_info(first, patterns);
    return replace_ranges(first, std::move(patterns));
}

redactor& secrets()
{
    static redactor instance;
    return instance;
}

std::string safe_excerpt(std::string_view text, std::size_t max_bytes)
{
    // Scan a little more than is kept: what redaction shortens still fills the excerpt, and a value cut at
    // the scan's end lies beyond what is kept.
    auto head = text.substr(0, max_bytes + 4096);
    bool cut = head.size() < text.size();
    auto redacted = secrets().redact(head, cut);
    return clip(redacted, max_bytes, cut ? redacted.size() + (text.size() - head.size()) : 0);
}

} // namespace ditio_sync::util
