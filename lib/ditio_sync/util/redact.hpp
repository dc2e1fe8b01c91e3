// The one redactor for every string that leaves the process (log fields, standard output, database error
// columns): it knows the live client secret and the access tokens handed out, as they are registered, and
// also redacts by pattern whatever looks like a credential, known or not:
//   - client_secret, access_token, refresh_token, id_token, password and authorization values written as
//     key=value, key: value or "key":"value" (any case);
//   - the credential after "Bearer" (any case) or after the scheme of an Authorization value;
//   - the user:password@ of a URL.
// Each becomes "[redacted]".
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ditio_sync::util {

inline constexpr std::string_view redacted_mark = "[redacted]";

class redactor {
public:
    // Redacted from now on, as written and in its URL-encoded and JSON-escaped forms. Values shorter than
    // 4 bytes are left to the patterns: replacing every "ab" would destroy every message.
    void add_secret(std::string_view value);
    // An access token: the newest `max_tokens` are remembered (older ones have expired).
    void add_token(std::string_view value);

    // The text with every known value and every pattern above redacted. With `cut`, the text was cut
    // from a longer one: a trailing start of a known value is redacted too.
    std::string redact(std::string_view text, bool cut = false) const;

    static constexpr std::size_t max_tokens = 64;

private:
    void add_forms(std::vector<std::string>& into, std::string_view value);

    mutable std::mutex mutex_;
    std::vector<std::string> secrets_;
    std::deque<std::vector<std::string>> tokens_; // each token's forms, newest last
};

// The process's redactor: the daemon registers its secret and tokens here, and logging, output and the
// store redact through it.
redactor& secrets();

// secrets().redact(text) for a text of any size, bounded to `max_bytes` (see clip()), so that a 50 MB error
// message costs neither a 50 MB scan nor a 50 MB line.
std::string safe_excerpt(std::string_view text, std::size_t max_bytes);

} // namespace ditio_sync::util
