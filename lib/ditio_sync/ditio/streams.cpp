#include <ditio_sync/ditio/streams.hpp>

#include <array>

namespace ditio_sync::ditio {
namespace {

constexpr std::array<stream_def, 1> streams{{
    {"time-registrations", "v1/time-registrations", "time_registrations", true, "workDate"},
}};

} // namespace

std::span<const stream_def> catalogue()
{
    return streams;
}

const stream_def* find_stream(std::string_view name)
{
    for (const auto& s : streams)
        if (s.name == name)
            return &s;
    return nullptr;
}

std::vector<std::string_view> stream_names()
{
    std::vector<std::string_view> out;
    for (const auto& s : streams)
        out.push_back(s.name);
    return out;
}

} // namespace ditio_sync::ditio
