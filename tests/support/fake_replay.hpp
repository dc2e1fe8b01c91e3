// `ditio-fake --replay FILE`: serves a `ditio-sync capture` file back, so that what a customer's Ditio
// answered becomes a regression test here (docs/live-ditio.md, section 9).
//
// Requests are matched by method, path (relative to the base the capture recorded it under; the server
// under replay may put its bases under any path) and continuation token, in the order they were captured;
// date parameters are not compared, since they move with the clock. A key asked more often than captured
// gets, for a page request, an empty last page (the capture ends there); for anything else, its last answer
// again. A page whose continuation token was never followed in the capture (it was cut by --pages) is served
// as the last page. A request the capture never saw gets a JSON 404 "NotInCapture". Access tokens, redacted
// in the capture, are served as "replay-token", and no request's Authorization is checked.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <cstddef>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ditio_sync::testing {

struct replay_answer {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers; // as recorded, Content-Type included
};

class capture_replay {
public:
    // Throws std::runtime_error naming the file and what is wrong with it.
    explicit capture_replay(const std::filesystem::path& file);

    // `path` as the server received it; `params` with lower-cased names (continuationtoken).
    replay_answer
    answer(std::string_view method, std::string_view path, const std::map<std::string, std::string>& params);

    std::size_t exchanges() const { return exchanges_; }

private:
    std::mutex mutex_;
    std::map<std::string, std::deque<replay_answer>> queues_;
    std::map<std::string, replay_answer> last_;
    std::set<std::string> page_paths_;  // method and relative path of every captured page request
    std::set<std::string> known_paths_; // method and relative path of every captured request
    std::size_t exchanges_ = 0;
};

} // namespace ditio_sync::testing
