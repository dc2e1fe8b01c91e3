// What a run does when a page could not be fetched: one pure decision from the failure and where the run
// stands (design.md, steps 2 and 6, and its failure rules). No decision reads Ditio's words: its sources
// show three shapes of a 400 (a simple JSON error, a problem+json with only "One or more validation errors
// occurred.", an empty body) and none promises what a refusal says (docs/live-ditio.md, sections 1 and 2).
#pragma once

#include <ditio_sync/ditio/api_call.hpp>
#include <ditio_sync/store/sync_state.hpp>
#include <ditio_sync/sync/run_report.hpp>

namespace ditio_sync::sync {

// Where the run stood when the request failed.
struct run_position {
    bool sent_token = false;    // the request carried a continuation token
    bool windowed = false;      // a full run over a date window
    bool can_split = false;     // ... whose piece in progress is longer than a day
    bool incremental = false;   // the run asks for the changes since the watermark (ModifiedSince)
    bool read_anything = false; // this run has committed a page, or was resumed from a checkpoint
    int restarts = 0;           // how often this run already started again after a rejected token
};

struct failure_decision {
    enum class action {
        restart,     // Ditio rejected the continuation token: the traversal starts again at its first page
        split,       // Ditio refused the first page of a window piece: halve the piece and ask again
        resync,      // Ditio refused an incremental run as a whole: the run becomes a full re-sync (once)
        unavailable, // 404 before anything was read: the endpoint is missing here
        fail,        // the run ends with `status`
    };
    action what = action::fail;
    run_status status = run_status::failed;
    // fail: Ditio refused the query itself (a parameter, say), so resuming with the same query cannot
    // succeed: the run is dropped and the next one starts afresh from the configuration as it is then.
    store::run_checkpoint checkpoint = store::run_checkpoint::keep;
    // fail: Ditio refused a window piece of one day, the smallest there is: the refusal is not about the
    // window's size.
    bool refused_at_one_day = false;
};

// A token rejection restarts the run at most twice.
inline constexpr int max_restarts = 2;

failure_decision after_failure(const ditio::fetch_failure& f, const run_position& at);

} // namespace ditio_sync::sync
