// The stream catalogue: every Data Extraction endpoint ditio-sync mirrors, in one place.
// Adding a stream is one entry here plus a migration that creates its table and view.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace ditio_sync::ditio {

struct stream_def {
    std::string_view name;         // as in config sync.streams and the command line
    std::string_view path;         // relative to ditio.reporting_base
    std::string_view table;        // mirror table (SQL identifier, compiled in, never user input)
    bool windowed;                 // takes FromDateTime/ToDateTime in full mode
    std::string_view window_field; // the record field the full-mode window filters on
};

std::span<const stream_def> catalogue();

// nullptr when unknown.
const stream_def* find_stream(std::string_view name);

std::vector<std::string_view> stream_names();

} // namespace ditio_sync::ditio
