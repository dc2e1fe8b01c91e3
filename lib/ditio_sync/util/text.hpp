// Text a server sent, made fit to show: bounded in size and harmless on a terminal.
// Pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ditio_sync::util {

// The most of an error excerpt that is logged or stored (sync_state.last_error, sync_runs.error,
// outbox last_error, log fields).
inline constexpr std::size_t max_excerpt_bytes = 2048;

// `text` when it fits in `max_bytes`; otherwise its first bytes, cut at a UTF-8 character boundary, and
// " [... N bytes cut]" (the marker fits within max_bytes too). `original_size` is the size of the text
// `text` was itself cut from, when it was (so the marker counts what the caller dropped as well).
std::string clip(std::string_view text, std::size_t max_bytes, std::size_t original_size = 0);

// The text with every control character written out, so that a string from a server cannot move the
// cursor, clear the screen or start an escape sequence on a terminal: \n, \r and \t as such, other C0
// controls, DEL and bytes that are not UTF-8 as \xNN, the C1 controls (U+0080..U+009F) as \u00NN, and
// a backslash as \\. Printable UTF-8 is kept as it is.
std::string terminal_safe(std::string_view text);

// The candidate a mistyped `word` most likely meant: the nearest by edit distance (ignoring case; a
// swap of two neighbours is one edit), when it is at most 2 edits away and fewer than half the word's
// length. Ties go to the earlier candidate.
std::optional<std::string_view> closest(std::string_view word, std::span<const std::string_view> candidates);

// What to say after "unknown <thing> 'word'": "did you mean 'x'? valid: a, b, c", or "valid: a, b, c"
// when nothing is near.
std::string suggest(std::string_view word, std::span<const std::string_view> candidates);

} // namespace ditio_sync::util
