// The stream catalogue: every Data Extraction endpoint ditio-sync mirrors, in one place, in sync order
// (registrations before the dimensions they refer to). Adding a stream is one entry here plus a migration
// that creates its table and view.
#pragma once

#include <ditio_sync/model/stream.hpp>

#include <span>
#include <string_view>
#include <vector>

namespace ditio_sync::ditio {

// The stream types live in model/, where store and sync see them without this layer.
using model::param_def;
using model::param_type;
using model::stream_def;
using model::tombstone_shape;

// The parameters every stream takes, before its own.
std::span<const param_def> common_params();

// Every stream, registrations first.
std::span<const stream_def> catalogue();

// nullptr when unknown.
const stream_def* find_stream(std::string_view name);

std::vector<std::string_view> stream_names();

} // namespace ditio_sync::ditio
