// What a stream is: its endpoint, table, date window, tombstone shape and parameters. The catalogue of
// streams (ditio/streams.hpp) fills these in; sync and ops read them.
#pragma once

#include <span>
#include <string_view>

namespace ditio_sync::model {

// How Ditio sends a deleted record (ditio-api.md 3.5).
enum class tombstone_shape {
    empty,        // id, isDeleted, deletedDateTime, modifiedDateTime = deletion time, all else empty
    last_version, // the last stored version with isDeleted; modifiedDateTime may predate the deletion
};

enum class param_type { boolean, text, text_list, id_list };

// A stream's own query parameter, set in the config table [streams."<name>"].
struct param_def {
    std::string_view key;        // config key, snake_case
    std::string_view ditio_name; // query parameter name
    param_type type;
    std::string_view fallback;                 // sent when the config sets nothing ("" sends nothing)
    std::span<const std::string_view> choices; // allowed values of a text or text_list, empty: any
};

// Records that repeat one id per parent record (images: one row per image and parent, ditio-api.md 3.1):
// the parent reference is `kind_field` plus the first present of `id_fields` as "<kind>:<field>=<value>";
// with none present, the present `context_fields` stand in: "<kind>:<f1>=<v1>;<f2>=<v2>" (see
// docs/live-ditio.md section 6). Only string values count; "" when nothing at all is present.
struct parent_rule {
    std::string_view kind_field;
    std::span<const std::string_view> id_fields;
    std::span<const std::string_view> context_fields;
};

struct stream_def {
    std::string_view name;  // as in config sync.streams and on the command line: the path after v1/
    std::string_view path;  // relative to ditio.reporting_base
    std::string_view table; // mirror table (SQL identifier, compiled in, never user input)
    // Full mode sends FromDateTime/ToDateTime filtering on window_field, the record's own date. The
    // full re-sync sweep only marks rows whose window_field lies in the traversed window.
    bool windowed = false;
    std::string_view window_field = {};
    // Documented to ignore the date window: full mode sends none, the sweep covers the whole table.
    bool ignores_window = false;
    tombstone_shape tombstones = tombstone_shape::empty;
    bool dimension = false; // metadata (projects, users, ...): synced after the registrations in a pass
    std::span<const param_def> params = {};
    // A full re-sync may mark rows it did not return as deleted. Not for images: Ditio windows them on
    // their parent's date, which the record does not carry, so "inside the window" cannot be told.
    bool sweep = true;
    const parent_rule* parent = nullptr; // rows keyed by (id, parent reference) when set
};

} // namespace ditio_sync::model
