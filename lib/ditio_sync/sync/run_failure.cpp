#include <ditio_sync/sync/run_failure.hpp>

#include <cctype>
#include <string>

namespace ditio_sync::sync {

failure_decision after_failure(const ditio::fetch_failure& f, const run_position& at)
{
    using action = failure_decision::action;
    if (f.code == ditio::fetch_errc::token_rejected && at.restarts < max_restarts)
        return {action::restart};
    bool refused = f.code == ditio::fetch_errc::bad_request;
    // Ditio may cap the date window (machine registrations at 7 days): a smaller piece may be accepted.
    if (refused && f.status == 400 && !at.sent_token && at.can_split && about_the_window(f.message))
        return {action::split};
    // A 404 before anything was read: the endpoint is missing here. Later in a run it is a failure like
    // any other, and the checkpoint is kept.
    if (refused && f.status == 404 && !at.sent_token && !at.read_anything)
        return {action::unavailable};
    auto status = f.code == ditio::fetch_errc::cancelled      ? run_status::cancelled
                  : f.code == ditio::fetch_errc::auth_refused ? run_status::auth_refused
                                                              : run_status::failed;
    // Ditio refused the query itself: the same query cannot succeed on resuming.
    auto checkpoint = refused && f.status != 404 ? store::run_checkpoint::drop : store::run_checkpoint::keep;
    return {action::fail, status, checkpoint};
}

bool about_the_window(std::string_view message)
{
    std::string lower(message);
    for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (std::string_view word :
         {"fromdatetime", "todatetime", "date range", "daterange", "window", "period"})
        if (lower.find(word) != std::string::npos)
            return true;
    return false;
}

} // namespace ditio_sync::sync
