#include <ditio_sync/util/text.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <vector>

namespace ditio_sync::util {
namespace {

// The length of the UTF-8 sequence starting at text[i], or 0 when it is not a valid one (overlong forms,
// surrogates and code points past U+10FFFF included).
std::size_t utf8_length(std::string_view text, std::size_t i)
{
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    auto b0 = byte(i);
    if (b0 < 0x80)
        return 1;
    std::size_t n = b0 >= 0xf0 ? 4 : b0 >= 0xe0 ? 3 : b0 >= 0xc0 ? 2 : 0;
    if (n == 0 || b0 >= 0xf5 || b0 == 0xc0 || b0 == 0xc1 || i + n > text.size())
        return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((byte(i + k) & 0xc0) != 0x80)
            return 0;
    auto b1 = byte(i + 1);
    if ((b0 == 0xe0 && b1 < 0xa0) || (b0 == 0xed && b1 >= 0xa0) || (b0 == 0xf0 && b1 < 0x90) ||
        (b0 == 0xf4 && b1 >= 0x90))
        return 0;
    return n;
}

std::uint32_t code_point(std::string_view s)
{
    auto b = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[k])); };
    switch (s.size()) {
    case 2:
        return ((b(0) & 0x1f) << 6) | (b(1) & 0x3f);
    case 3:
        return ((b(0) & 0x0f) << 12) | ((b(1) & 0x3f) << 6) | (b(2) & 0x3f);
    default:
        return ((b(0) & 0x07) << 18) | ((b(1) & 0x3f) << 12) | ((b(2) & 0x3f) << 6) | (b(3) & 0x3f);
    }
}

// C1 controls, and the bidirectional overrides and isolates that can make a terminal show text in
// another order than it is.
bool is_invisible_control(std::uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

} // namespace

std::string clip(std::string_view text, std::size_t max_bytes, std::size_t original_size)
{
    auto total = std::max(original_size, text.size());
    if (total <= max_bytes)
        return std::string(text);
    // The marker is at most this long ("[... 18446744073709551615 bytes cut]" and a space).
    constexpr std::size_t marker_room = 40;
    std::size_t keep = max_bytes > marker_room ? max_bytes - marker_room : 0;
    keep = std::min(keep, text.size());
    // Back up to the start of a UTF-8 character.
    while (keep > 0 && keep < text.size() && (static_cast<unsigned char>(text[keep]) & 0xc0) == 0x80)
        --keep;
    return fmt::format("{} [... {} bytes cut]", text.substr(0, keep), total - keep);
}

std::string terminal_safe(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\\') {
            out += "\\\\";
        } else if (c < 0x20 || c == 0x7f) {
            out += fmt::format("\\x{:02x}", c);
        } else if (c >= 0x80) {
            auto n = utf8_length(text, i);
            if (n == 0) {
                out += fmt::format("\\x{:02x}", c);
                ++i;
                continue;
            }
            auto seq = text.substr(i, n);
            if (auto cp = code_point(seq); is_invisible_control(cp))
                out += fmt::format("\\u{:04x}", cp);
            else
                out += seq;
            i += n;
            continue;
        } else {
            out += static_cast<char>(c);
        }
        ++i;
    }
    return out;
}

namespace {

char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours.
std::size_t edit_distance(std::string_view a, std::string_view b)
{
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i)
        d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j)
        d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]))
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

} // namespace

std::optional<std::string_view> closest(std::string_view word, std::span<const std::string_view> candidates)
{
    // Names here are short; a long word is no typo of them and would only cost time.
    if (word.size() > 256)
        return std::nullopt;
    std::optional<std::string_view> best;
    std::size_t best_distance = 0;
    for (auto c : candidates) {
        auto dist = edit_distance(word, c);
        if (dist <= 2 && 2 * dist < word.size() && (!best || dist < best_distance)) {
            best = c;
            best_distance = dist;
        }
    }
    return best;
}

std::string suggest(std::string_view word, std::span<const std::string_view> candidates)
{
    auto valid = fmt::format("valid: {}", fmt::join(candidates, ", "));
    if (auto near = closest(word, candidates))
        return fmt::format("did you mean '{}'? {}", *near, valid);
    return valid;
}

} // namespace ditio_sync::util
