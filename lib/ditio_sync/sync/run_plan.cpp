#include <ditio_sync/sync/run_plan.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace ditio_sync::sync {

namespace json = boost::json;

namespace {

constexpr std::chrono::seconds one_day{86400};

void add_stream_params(run_plan& p, const stream_settings& s)
{
    for (const auto& param : s.params)
        p.query.push_back(param);
    p.query.emplace_back("ChunkLimit", std::to_string(s.chunk_limit));
}

} // namespace

std::string run_plan::to_json() const
{
    json::array q;
    for (const auto& [k, v] : query)
        q.push_back(json::array{json::string(k), json::string(v)});
    return json::serialize(json::object{
        {"mode", to_string(mode)},
        {"query", std::move(q)},
        {"window_from", window_from},
        {"window_to", window_to},
        {"max_span_s", max_span_s},
        {"started_empty", started_empty},
        {"span_learned", span_learned},
        {"replaces_incremental", replaces_incremental}});
}

std::optional<run_plan> run_plan::from_json(const std::string& text)
{
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object())
        return std::nullopt;
    const auto& o = v.get_object();
    run_plan p;
    auto str = [&](std::string_view k) -> std::string {
        auto* x = o.if_contains(k);
        return x && x->is_string() ? std::string(x->get_string()) : std::string{};
    };
    auto mode = parse_run_mode(str("mode"));
    if (!mode)
        return std::nullopt;
    p.mode = *mode;
    p.window_from = str("window_from");
    p.window_to = str("window_to");
    if (auto* span = o.if_contains("max_span_s"); span && span->is_int64())
        p.max_span_s = span->get_int64();
    // Saved by an older version without these: false.
    for (auto [key, flag] :
         {std::pair{"started_empty", &p.started_empty},
          std::pair{"span_learned", &p.span_learned},
          std::pair{"replaces_incremental", &p.replaces_incremental}})
        if (auto* b = o.if_contains(key); b && b->is_bool())
            *flag = b->get_bool();
    auto* q = o.if_contains("query");
    if (!q || !q->is_array())
        return std::nullopt;
    for (const auto& item : q->get_array()) {
        const auto* pair = item.if_array();
        if (!pair || pair->size() != 2 || !(*pair)[0].is_string() || !(*pair)[1].is_string())
            return std::nullopt;
        p.query.emplace_back(std::string((*pair)[0].get_string()), std::string((*pair)[1].get_string()));
    }
    return p;
}

std::string run_plan::param(std::string_view name) const
{
    for (const auto& [k, v] : query)
        if (k == name)
            return v;
    return {};
}

void run_plan::set_param(std::string_view name, std::string value)
{
    for (auto& [k, v] : query)
        if (k == name) {
            v = std::move(value);
            return;
        }
    query.emplace_back(std::string(name), std::move(value));
}

bool run_plan::windowed() const
{
    return mode == run_mode::full && !param("FromDateTime").empty();
}

void run_plan::set_piece(std::string from)
{
    auto start = util::parse_iso8601(from);
    auto end = util::parse_iso8601(window_to);
    std::string to = window_to;
    if (start && end && max_span_s > 0 && *start + std::chrono::seconds{max_span_s} < *end)
        to = util::format_iso8601_s(*start + std::chrono::seconds{max_span_s});
    set_param("FromDateTime", std::move(from));
    set_param("ToDateTime", std::move(to));
}

bool run_plan::can_split() const
{
    auto start = util::parse_iso8601(param("FromDateTime"));
    auto end = util::parse_iso8601(param("ToDateTime"));
    return start && end && *end - *start > one_day;
}

bool run_plan::split()
{
    if (!can_split())
        return false;
    auto start = util::parse_iso8601(param("FromDateTime"));
    auto end = util::parse_iso8601(param("ToDateTime"));
    auto days = std::chrono::duration_cast<std::chrono::seconds>(*end - *start).count() / one_day.count();
    max_span_s = std::max<std::int64_t>(days / 2, 1) * one_day.count();
    span_learned = true;
    set_piece(param("FromDateTime"));
    return true;
}

bool run_plan::next_piece()
{
    if (!windowed())
        return false;
    auto to = param("ToDateTime");
    auto end = util::parse_iso8601(window_to);
    auto piece_end = util::parse_iso8601(to);
    if (!end || !piece_end || *piece_end >= *end)
        return false;
    set_piece(to);
    return true;
}

run_plan plan_full(
    const stream_settings& s,
    util::sys_micros local_start,
    bool started_empty,
    std::optional<std::int64_t> learned_span_s
)
{
    run_plan p;
    p.mode = run_mode::full;
    p.started_empty = started_empty;
    if (s.def->windowed) {
        p.window_from = s.full_from;
        p.window_to = util::format_iso8601_s(
            local_start + std::chrono::duration_cast<std::chrono::microseconds>(s.full_ahead)
        );
        if (s.max_window)
            p.max_span_s = std::max<std::int64_t>(
                               std::chrono::duration_cast<std::chrono::days>(*s.max_window).count(), 1
                           ) *
                           one_day.count();
        // Whole days, as split() makes them; anything else is not one this version saved.
        if (learned_span_s && *learned_span_s >= one_day.count() && *learned_span_s % one_day.count() == 0 &&
            (p.max_span_s == 0 || *learned_span_s < p.max_span_s)) {
            p.max_span_s = *learned_span_s;
            p.span_learned = true;
        }
        p.set_piece(p.window_from);
    }
    add_stream_params(p, s);
    return p;
}

run_plan
plan_incremental(const stream_settings& s, util::sys_micros watermark, std::chrono::milliseconds overlap)
{
    run_plan p;
    p.mode = run_mode::incremental;
    p.query.emplace_back(
        "ModifiedSince",
        util::format_iso8601_ms(watermark - std::chrono::duration_cast<std::chrono::microseconds>(overlap))
    );
    add_stream_params(p, s);
    return p;
}

bool beyond_incremental_age(
    const stream_settings& s,
    util::sys_micros watermark,
    std::chrono::milliseconds overlap,
    util::sys_micros local_start
)
{
    if (!s.max_incremental_age)
        return false;
    auto since = watermark - std::chrono::duration_cast<std::chrono::microseconds>(overlap);
    return local_start - since >
           std::chrono::duration_cast<std::chrono::microseconds>(*s.max_incremental_age);
}

} // namespace ditio_sync::sync
