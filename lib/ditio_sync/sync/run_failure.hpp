// What a run does when a page could not be fetched: one pure decision from the failure and where the run
// stands (design.md, steps 2 and 6, and its failure rules).
#pragma once

#include <ditio_sync/ditio/api_call.hpp>
#include <ditio_sync/store/sync_state.hpp>
#include <ditio_sync/sync/run_report.hpp>

#include <string_view>

namespace ditio_sync::sync {

// Where the run stood when the request failed.
struct run_position {
    bool sent_token = false;    // the request carried a continuation token
    bool can_split = false;     // a full run over a window whose piece in progress is longer than a day
    bool read_anything = false; // this run has committed a page, or was resumed from a checkpoint
    int restarts = 0;           // how often this run already started again after a rejected token
};

struct failure_decision {
    enum class action {
        restart,     // Ditio rejected the continuation token: the traversal starts again at its first page
        split,       // Ditio refused the window as too large: halve the piece and ask again
        unavailable, // 404 before anything was read: the endpoint is missing here
        fail,        // the run ends with `status`
    };
    action what = action::fail;
    run_status status = run_status::failed;
    // fail: Ditio refused the query itself (a parameter, say), so resuming with the same query cannot
    // succeed: the run is dropped and the next one starts afresh from the configuration as it is then.
    store::run_checkpoint checkpoint = store::run_checkpoint::keep;
};

// A token rejection restarts the run at most twice.
inline constexpr int max_restarts = 2;

failure_decision after_failure(const ditio::fetch_failure& f, const run_position& at);

// Whether Ditio's 400 is about the size of the date window, as far as its message tells: only then is a
// smaller window worth trying.
bool about_the_window(std::string_view message);

} // namespace ditio_sync::sync
