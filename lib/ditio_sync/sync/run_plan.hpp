// The fixed parameters of one run (design.md, step 1), saved in sync_state.run_params before its first
// request: its mode and query and, for a full run of a windowed stream, the window it walks. Once Ditio
// has refused a larger window the run walks it in pieces of at most max_span_s; the query's
// FromDateTime/ToDateTime are the piece in progress. Pieces share their boundary instant, so a record
// there is read twice rather than never. Pure: nothing here reads a clock.
#pragma once

#include <ditio_sync/ditio/extraction_client.hpp>
#include <ditio_sync/sync/run_report.hpp>
#include <ditio_sync/sync/stream_settings.hpp>
#include <ditio_sync/util/time.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ditio_sync::sync {

struct run_plan {
    run_mode mode = run_mode::full;
    ditio::query query;
    std::string window_from, window_to;
    std::int64_t max_span_s = 0; // 0: the whole window in one traversal
    // max_span_s is one Ditio accepted after refusing a larger one (this run or an earlier one): each page
    // committed remembers it for the stream (sync_state.window_span_s), so the next full run starts there.
    bool span_learned = false;
    // A full run instead of the incremental one Ditio refused, or max_incremental_age ruled out: at its end
    // the watermark moves to the run's start as an incremental run's would, where a full re-sync keeps the
    // old one. Asked again from the old watermark, Ditio would refuse again.
    bool replaces_incremental = false;
    // A full run into an empty table: every row at its end was written by the run, so there is nothing
    // to sweep (and at a million rows the sweep's scan of the table costs seconds).
    bool started_empty = false;

    // The form saved in sync_state.run_params, and back; nullopt for anything from_json cannot read.
    std::string to_json() const;
    static std::optional<run_plan> from_json(const std::string& text);

    // A query parameter's value ("" when absent), and setting one (added when absent).
    std::string param(std::string_view name) const;
    void set_param(std::string_view name, std::string value);

    // A full run over a date window.
    bool windowed() const;
    // Sets the piece starting at `from`: as long as max_span allows, clipped to the window's end. Spans
    // are whole days and the window starts at midnight, so piece boundaries fall at midnight UTC: if
    // Ditio compares dates rather than instants, a boundary day is read twice, never skipped.
    void set_piece(std::string from);
    // Whether the piece in progress is longer than a day, so split() can halve it.
    bool can_split() const;
    // Halves the piece in progress (not below a day); false when it cannot get smaller.
    bool split();
    // Moves to the piece after the one just finished; false when that was the last.
    bool next_piece();
};

// A new full run: the stream's window, when it has one, from its full_from to local_start + full_ahead,
// in pieces of its max_window or of `learned_span_s` (a piece size Ditio accepted before, in seconds),
// whichever is smaller; then its parameters and ChunkLimit.
run_plan plan_full(
    const stream_settings& s,
    util::sys_micros local_start,
    bool started_empty,
    std::optional<std::int64_t> learned_span_s = std::nullopt
);

// A new incremental run: ModifiedSince = watermark - overlap; then the stream's parameters and ChunkLimit.
run_plan
plan_incremental(const stream_settings& s, util::sys_micros watermark, std::chrono::milliseconds overlap);

// Whether an incremental run from `watermark` would ask for a ModifiedSince (watermark - overlap) further
// back from `local_start` than the stream's max_incremental_age allows; false when it has none.
bool beyond_incremental_age(
    const stream_settings& s,
    util::sys_micros watermark,
    std::chrono::milliseconds overlap,
    util::sys_micros local_start
);

} // namespace ditio_sync::sync
