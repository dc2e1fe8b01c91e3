#include <ditio_sync/util/time.hpp>

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>

namespace ditio_sync::util {
namespace {

bool read_int(std::string_view s, std::size_t pos, std::size_t len, int& out)
{
    if (pos + len > s.size())
        return false;
    for (std::size_t i = pos; i < pos + len; ++i)
        if (!std::isdigit(static_cast<unsigned char>(s[i])))
            return false;
    auto [p, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, out);
    return ec == std::errc{} && p == s.data() + pos + len;
}

std::optional<std::chrono::sys_days> make_date(int y, int m, int d)
{
    std::chrono::year_month_day ymd{
        std::chrono::year{y},
        std::chrono::month{static_cast<unsigned>(m)},
        std::chrono::day{static_cast<unsigned>(d)}};
    if (!ymd.ok())
        return std::nullopt;
    return std::chrono::sys_days{ymd};
}

constexpr std::array<std::string_view, 7> weekdays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> months{
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct civil {
    int year, month, day, hour, minute, second;
    long micros;
};

civil split(sys_micros t)
{
    auto days = std::chrono::floor<std::chrono::days>(t);
    std::chrono::year_month_day ymd{days};
    std::chrono::hh_mm_ss<std::chrono::microseconds> hms{t - days};
    return {
        static_cast<int>(ymd.year()),
        static_cast<int>(static_cast<unsigned>(ymd.month())),
        static_cast<int>(static_cast<unsigned>(ymd.day())),
        static_cast<int>(hms.hours().count()),
        static_cast<int>(hms.minutes().count()),
        static_cast<int>(hms.seconds().count()),
        static_cast<long>(hms.subseconds().count()),
    };
}

} // namespace

std::optional<sys_micros> parse_iso8601(std::string_view s)
{
    int y = 0, mo = 0, d = 0;
    if (!read_int(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !read_int(s, 5, 2, mo) || s[7] != '-' ||
        !read_int(s, 8, 2, d))
        return std::nullopt;
    auto date = make_date(y, mo, d);
    if (!date)
        return std::nullopt;
    sys_micros t{*date};
    if (s.size() == 10)
        return t;
    if (s[10] != 'T' && s[10] != ' ')
        return std::nullopt;
    int h = 0, mi = 0, se = 0;
    if (!read_int(s, 11, 2, h) || s.size() < 19 || s[13] != ':' || !read_int(s, 14, 2, mi) || s[16] != ':' ||
        !read_int(s, 17, 2, se) || h > 23 || mi > 59 || se > 60)
        return std::nullopt;
    t += std::chrono::hours{h} + std::chrono::minutes{mi} + std::chrono::seconds{se};
    std::size_t pos = 19;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        long frac = 0;
        int digits = 0;
        while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
            if (digits < 6) {
                frac = frac * 10 + (s[pos] - '0');
                ++digits;
            }
            ++pos;
        }
        if (digits == 0)
            return std::nullopt;
        for (; digits < 6; ++digits)
            frac *= 10;
        t += std::chrono::microseconds{frac};
    }
    if (pos == s.size())
        return t;
    if (s[pos] == 'Z' && pos + 1 == s.size())
        return t;
    if ((s[pos] == '+' || s[pos] == '-') && s.size() == pos + 6 && s[pos + 3] == ':') {
        int oh = 0, om = 0;
        if (!read_int(s, pos + 1, 2, oh) || !read_int(s, pos + 4, 2, om) || oh > 23 || om > 59)
            return std::nullopt;
        auto offset = std::chrono::hours{oh} + std::chrono::minutes{om};
        return s[pos] == '+' ? t - offset : t + offset;
    }
    return std::nullopt;
}

std::string format_iso8601_ms(sys_micros t)
{
    auto c = split(t);
    return fmt::format(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.micros / 1000
    );
}

std::string format_iso8601_s(sys_micros t)
{
    auto c = split(t);
    return fmt::format(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second
    );
}

std::string change_key(std::string_view iso_text)
{
    auto t = parse_iso8601(iso_text);
    if (!t)
        return {};
    auto c = split(*t);
    return fmt::format(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.micros
    );
}

std::optional<sys_micros> parse_http_date(std::string_view s)
{
    // IMF-fixdate only: "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters).
    if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT")
        return std::nullopt;
    int d = 0, y = 0, h = 0, mi = 0, se = 0;
    int mo = 0;
    for (std::size_t i = 0; i < months.size(); ++i)
        if (s.substr(8, 3) == months[i])
            mo = static_cast<int>(i) + 1;
    if (mo == 0 || !read_int(s, 5, 2, d) || !read_int(s, 12, 4, y) || !read_int(s, 17, 2, h) ||
        !read_int(s, 20, 2, mi) || !read_int(s, 23, 2, se) || h > 23 || mi > 59 || se > 60)
        return std::nullopt;
    auto date = make_date(y, mo, d);
    if (!date)
        return std::nullopt;
    return sys_micros{*date} + std::chrono::hours{h} + std::chrono::minutes{mi} + std::chrono::seconds{se};
}

std::string format_http_date(sys_micros t)
{
    auto c = split(t);
    std::chrono::weekday wd{std::chrono::floor<std::chrono::days>(t)};
    return fmt::format(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        weekdays[wd.c_encoding()],
        c.day,
        months[static_cast<std::size_t>(c.month - 1)],
        c.year,
        c.hour,
        c.minute,
        c.second
    );
}

} // namespace ditio_sync::util
