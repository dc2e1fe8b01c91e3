#include <ditio_sync/sync/run_failure.hpp>

namespace ditio_sync::sync {

failure_decision after_failure(const ditio::fetch_failure& f, const run_position& at)
{
    using action = failure_decision::action;
    if (f.code == ditio::fetch_errc::token_rejected && at.restarts < max_restarts)
        return {action::restart};
    bool refused = f.code == ditio::fetch_errc::bad_request;
    // A 400 to the first page of a query: Ditio refused the query as a whole, whatever it said (or did not
    // say) about why.
    bool query_refused = refused && f.status == 400 && !at.sent_token;
    // Ditio may cap the date window (machine registrations at 7 days, says an old note): a smaller piece
    // may be accepted. Halving ends at one day, so a refusal about something else ends too.
    if (query_refused && at.can_split)
        return {action::split};
    // Ditio may cap how far back ModifiedSince reaches (3 days, says the same note): a full re-sync asks
    // for no ModifiedSince at all. Only before anything was read, and only from an incremental run, so it
    // happens at most once in a run.
    if (query_refused && at.incremental && !at.read_anything)
        return {action::resync};
    // A 404 before anything was read: the endpoint is missing here. Later in a run it is a failure like
    // any other, and the checkpoint is kept.
    if (refused && f.status == 404 && !at.sent_token && !at.read_anything)
        return {action::unavailable};
    auto status = f.code == ditio::fetch_errc::cancelled      ? run_status::cancelled
                  : f.code == ditio::fetch_errc::auth_refused ? run_status::auth_refused
                                                              : run_status::failed;
    // Ditio refused the query itself: the same query cannot succeed on resuming.
    auto checkpoint = refused && f.status != 404 ? store::run_checkpoint::drop : store::run_checkpoint::keep;
    return {action::fail, status, checkpoint, query_refused && at.windowed};
}

} // namespace ditio_sync::sync
