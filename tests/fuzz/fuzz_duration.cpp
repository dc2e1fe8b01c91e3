// libFuzzer target for util::parse_duration / util::format_duration.
//
// Invariants:
//   - parse_duration accepts exactly the documented grammar, digits followed by one of ms, s, m, h, d
//     (no sign, no space), and nothing whose value overflows; and it accepts every such text whose value
//     fits in std::chrono::milliseconds, with that value;
//   - whatever it accepts is non-negative, and parse(format(parse(text))) == parse(text);
//   - format_duration of any non-negative duration parses back to the same value (the first 8 bytes
//     of the input are also read as a millisecond count, so the formatter is exercised on its own).
#include <ditio_sync/util/duration.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {

void check(bool ok, const char* what, std::string_view subject)
{
    if (!ok) {
        std::fprintf(
            stderr,
            "fuzz_duration: invariant violated: %s ('%.*s')\n",
            what,
            static_cast<int>(subject.size()),
            subject.data()
        );
        __builtin_trap();
    }
}

// The grammar of util/duration.hpp, written out independently: [0-9]+ (ms|s|m|h|d).
bool well_formed(std::string_view text)
{
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
        ++digits;
    auto unit = text.substr(digits);
    return digits > 0 && (unit == "ms" || unit == "s" || unit == "m" || unit == "h" || unit == "d");
}

__extension__ using u128 = unsigned __int128; // __extension__: no -Wpedantic warning

// The value of well-formed text in milliseconds, or -1 when it does not fit in int64.
std::int64_t expected_ms(std::string_view text)
{
    u128 value = 0;
    std::size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        value = value * 10 + static_cast<unsigned>(text[i] - '0');
        if (value > INT64_MAX)
            return -1;
    }
    auto unit = text.substr(i);
    u128 scale = unit == "ms"  ? 1
                 : unit == "s" ? 1000
                 : unit == "m" ? 60'000
                 : unit == "h" ? 3'600'000
                               : 86'400'000;
    value *= scale;
    return value > INT64_MAX ? -1 : static_cast<std::int64_t>(value);
}

void round_trip(std::chrono::milliseconds d, std::string_view origin)
{
    std::string text = ditio_sync::util::format_duration(d);
    check(!text.empty(), "format_duration returned an empty string", origin);
    auto again = ditio_sync::util::parse_duration(text);
    check(again.has_value(), "format_duration wrote what parse_duration rejects", text);
    check(*again == d, "parse(format(d)) != d", text);
    check(ditio_sync::util::format_duration(*again) == text, "format is not stable", text);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto d = ditio_sync::util::parse_duration(text);
    if (well_formed(text)) {
        auto want = expected_ms(text);
        if (want < 0)
            check(!d.has_value(), "parse_duration accepted a value that overflows", text);
        else
            check(d.has_value() && d->count() == want, "parse_duration misread well-formed text", text);
    }
    if (d) {
        check(well_formed(text), "parse_duration accepted text outside its grammar", text);
        check(d->count() >= 0, "parse_duration returned a negative duration", text);
        round_trip(*d, text);
    }
    if (size >= sizeof(std::int64_t)) {
        std::int64_t raw = 0;
        std::memcpy(&raw, data, sizeof raw);
        raw &= INT64_MAX; // non-negative: the only durations the configuration can hold
        round_trip(std::chrono::milliseconds{raw}, "<binary>");
    }
    return 0;
}
