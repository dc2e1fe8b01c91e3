// One stream's effective settings: the [sync] defaults, its [streams."<name>"] overrides, and its Ditio
// query parameters checked against the catalogue (types, allowed values, defaults that keep the mirror
// complete).
#pragma once

#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ditio/extraction_client.hpp>
#include <ditio_sync/ditio/streams.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ditio_sync::sync {

struct stream_settings {
    const ditio::stream_def* def = nullptr;
    // Defaults are config's (config.hpp), where every default is defined.
    std::chrono::milliseconds interval = config::sync_section{}.interval;
    int chunk_limit = config::sync_section{}.chunk_limit;
    std::string full_from = config::sync_section{}.full_from;
    std::chrono::milliseconds full_ahead = config::sync_section{}.full_ahead;
    std::optional<std::chrono::milliseconds> max_window;
    std::optional<std::chrono::milliseconds> max_incremental_age; // see config::stream_section
    ditio::query params; // Ditio names and values, sent on every request of every run
};

// Throws config::config_error naming the key, e.g. streams."user".approved: not a parameter of user.
stream_settings resolve_stream(const config::config& c, const ditio::stream_def& def);

// Resolves every [streams.*] table and every enabled stream, so a bad parameter fails at start-up even
// for a stream that is not enabled. Throws config::config_error.
void check_streams(const config::config& c);

} // namespace ditio_sync::sync
