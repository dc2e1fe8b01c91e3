// What the sync engine reports as it goes, for metrics, systemd STATUS= lines and progress output.
// Called on the io_context thread; implementations must be quick and must not throw.
#pragma once

#include <ditio_sync/sync/run_report.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ditio_sync::sync {

struct page_progress {
    std::string_view stream;
    std::int64_t run_id = 0;
    std::int64_t page = 0;     // pages committed in this run so far
    std::int64_t records = 0;  // records on this page (live and tombstones)
    std::int64_t upserted = 0; // this page
    std::int64_t deleted = 0;  // this page
    std::int64_t swept = 0;    // rows a full re-sync's last page marked deleted beyond its tombstones
    std::int64_t run_rows = 0; // records committed in this run so far
    std::chrono::milliseconds run_elapsed{0};
    std::int64_t quarantined = 0; // the stream's quarantined records after this commit
};

struct run_outcome {
    std::string_view stream;
    run_mode mode = run_mode::full;
    run_status status = run_status::failed;
    std::int64_t pages = 0;
    std::int64_t upserted = 0;
    std::int64_t deleted = 0; // tombstones applied and rows swept
    std::chrono::milliseconds duration{0};
    // Set when status is ok: when the run finished, and the stream's watermark (Ditio's clock).
    std::optional<std::chrono::system_clock::time_point> succeeded_at;
    std::optional<std::chrono::system_clock::time_point> watermark;
};

class observer {
public:
    virtual ~observer() = default;
    virtual void run_started(std::string_view stream, run_mode mode) = 0;
    virtual void page_committed(const page_progress& p) = 0;
    virtual void run_finished(const run_outcome& r) = 0;
};

} // namespace ditio_sync::sync
