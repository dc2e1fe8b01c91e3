#include <ditio_sync/sync/stream_settings.hpp>
#include <ditio_sync/util/text.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace ditio_sync::sync {
namespace {

const ditio::param_def* find_param(const ditio::stream_def& def, std::string_view key)
{
    for (auto params : {ditio::common_params(), def.params})
        for (const auto& p : params)
            if (p.key == key)
                return &p;
    return nullptr;
}

bool allowed(const ditio::param_def& p, std::string_view v)
{
    return p.choices.empty() || std::find(p.choices.begin(), p.choices.end(), v) != p.choices.end();
}

// The query value of a configured parameter; throws when its type or value does not fit.
std::optional<std::string>
param_text(const ditio::param_def& p, const config::param_value& v, const std::string& where)
{
    using ditio::param_type;
    switch (p.type) {
    case param_type::boolean:
        if (const auto* b = std::get_if<bool>(&v))
            return *b ? "true" : "false";
        throw config::config_error(fmt::format("{}: must be true or false", where));
    case param_type::text:
        if (const auto* s = std::get_if<std::string>(&v)) {
            if (!allowed(p, *s))
                throw config::config_error(
                    fmt::format("{}: '{}' is not one of {}", where, *s, fmt::join(p.choices, ", "))
                );
            if (s->empty())
                return std::nullopt;
            return *s;
        }
        throw config::config_error(fmt::format("{}: must be a string", where));
    case param_type::text_list:
    case param_type::id_list:
        if (const auto* list = std::get_if<std::vector<std::string>>(&v)) {
            for (const auto& item : *list) {
                if (item.empty() || item.find(',') != std::string::npos || !allowed(p, item))
                    throw config::config_error(fmt::format(
                        "{}: '{}' is not {}",
                        where,
                        item,
                        p.choices.empty() ? std::string("a valid id")
                                          : fmt::format("one of {}", fmt::join(p.choices, ", "))
                    ));
            }
            if (list->empty())
                return std::nullopt;
            return fmt::format("{}", fmt::join(*list, ","));
        }
        throw config::config_error(fmt::format("{}: must be an array of strings", where));
    }
    return std::nullopt;
}

} // namespace

stream_settings resolve_stream(const config::config& c, const ditio::stream_def& def)
{
    stream_settings s;
    s.def = &def;
    s.interval = c.sync.interval;
    s.chunk_limit = c.sync.chunk_limit;
    s.full_from = c.sync.full_from;
    s.full_ahead = c.sync.full_ahead;
    const config::stream_section* section = nullptr;
    if (auto it = c.streams.find(std::string(def.name)); it != c.streams.end())
        section = &it->second;
    if (section) {
        s.interval = section->interval.value_or(s.interval);
        s.chunk_limit = section->chunk_limit.value_or(s.chunk_limit);
        s.full_from = section->full_from.value_or(s.full_from);
        s.full_ahead = section->full_ahead.value_or(s.full_ahead);
        s.max_window = section->max_window;
        s.max_incremental_age = section->max_incremental_age;
        for (const auto& [key, value] : section->params) {
            auto where = fmt::format("streams.\"{}\".{}", def.name, key);
            const auto* p = find_param(def, key);
            if (!p) {
                // The stream's own settings and parameters, as the file names them.
                std::vector<std::string_view> names{"interval", "chunk_limit", "max_incremental_age"};
                if (def.windowed)
                    names.insert(names.end(), {"full_from", "full_ahead", "max_window"});
                for (auto params : {ditio::common_params(), def.params})
                    for (const auto& q : params)
                        names.push_back(q.key);
                throw config::config_error(
                    fmt::format("{}: not a setting of {} ({})", where, def.name, util::suggest(key, names))
                );
            }
            param_text(*p, value, where);
        }
        for (auto [key, set] :
             {std::pair{"max_window", s.max_window.has_value()},
              std::pair{"full_from", section->full_from.has_value()},
              std::pair{"full_ahead", section->full_ahead.has_value()}})
            if (set && !def.windowed)
                throw config::config_error(
                    fmt::format("streams.\"{}\".{}: {} takes no date window", def.name, key, def.name)
                );
    }
    // Catalogue order, common parameters first, so a run's stored query reads the same every time.
    for (auto params : {ditio::common_params(), def.params}) {
        for (const auto& p : params) {
            // A value set for the stream wins, even an empty one (which sends nothing).
            std::optional<std::string> value;
            const config::param_value* set = nullptr;
            if (section)
                if (auto it = section->params.find(std::string(p.key)); it != section->params.end())
                    set = &it->second;
            if (set)
                value = param_text(p, *set, std::string(p.key));
            else if (auto company = config::company_filter(c); p.key == "company_id" && !company.empty())
                value = std::move(company);
            else if (!p.fallback.empty())
                value = std::string(p.fallback);
            if (!value)
                continue;
            if (p.type == ditio::param_type::text_list) {
                // A string[] binds from the parameter repeated once per value.
                std::string_view rest = *value;
                while (!rest.empty()) {
                    auto comma = rest.find(',');
                    s.params.emplace_back(std::string(p.ditio_name), std::string(rest.substr(0, comma)));
                    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
                }
            } else {
                s.params.emplace_back(std::string(p.ditio_name), std::move(*value));
            }
        }
    }
    return s;
}

void check_streams(const config::config& c)
{
    for (const auto& [name, section] : c.streams)
        if (const auto* def = ditio::find_stream(name))
            resolve_stream(c, *def);
    for (const auto& name : c.sync.streams)
        if (const auto* def = ditio::find_stream(name))
            resolve_stream(c, *def);
}

} // namespace ditio_sync::sync
