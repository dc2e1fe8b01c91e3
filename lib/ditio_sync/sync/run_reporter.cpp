#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/sync/run_reporter.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace ditio_sync::sync {

namespace json = boost::json;

std::string_view to_string(run_status s)
{
    switch (s) {
    case run_status::ok:
        return "ok";
    case run_status::failed:
        return "failed";
    case run_status::auth_refused:
        return "auth_refused";
    case run_status::db_error:
        return "db_error";
    case run_status::cancelled:
        return "cancelled";
    case run_status::unavailable:
        return "unavailable";
    }
    return "unknown";
}

std::string_view to_string(run_mode m)
{
    return m == run_mode::full ? "full" : "incremental";
}

std::optional<run_mode> parse_run_mode(std::string_view text)
{
    if (text == "full")
        return run_mode::full;
    if (text == "incremental")
        return run_mode::incremental;
    return std::nullopt;
}

run_reporter::run_reporter(
    log::logger_ptr logger, observer* obs, const util::clock& clock, std::string stream, options o
)
    : log_(std::move(logger)), observer_(obs), clock_(clock), stream_(std::move(stream)), options_(o),
      started_(clock_.steady_now()), last_progress_(started_)
{
}

void run_reporter::records_set_aside(const run_report& report, const settled_commit& c)
{
    const auto& page = c.page->body;
    // One line per record up to a cap per run, then one line per page: a page of 10,000 odd records must
    // not write 10,000 lines.
    std::size_t logged = 0;
    for (const auto& q : page.quarantined) {
        if (quarantine_logged_ >= max_quarantine_lines)
            break;
        ++quarantine_logged_;
        ++logged;
        log::warn(
            log_,
            "sync.record_quarantined",
            {{"stream", stream_},
             {"run_id", report.run_id},
             {"reason", q.reason},
             {"record_id", util::safe_excerpt(q.id, 64)},
             {"excerpt", util::safe_excerpt(q.json, 200)}}
        );
    }
    if (logged < page.quarantined.size())
        log::warn(
            log_,
            "sync.record_quarantined",
            {{"stream", stream_},
             {"run_id", report.run_id},
             {"records", static_cast<std::int64_t>(page.quarantined.size())},
             {"not_logged", static_cast<std::int64_t>(page.quarantined.size() - logged)}}
        );
    if (parent_unknown_told_)
        return;
    const model::record* first = nullptr;
    std::int64_t unknown = 0;
    for (const auto& r : page.records)
        if (r.parent_from_context && !r.deleted) {
            first = first ? first : &r;
            ++unknown;
        }
    if (!first)
        return;
    parent_unknown_told_ = true;
    std::string looked_for;
    if (const auto* def = ditio::find_stream(stream_); def && def->parent)
        looked_for = fmt::format("{}", fmt::join(def->parent->id_fields, ", "));
    log::warn(
        log_,
        "sync.parent_unknown",
        {{"stream", stream_},
         {"run_id", report.run_id},
         {"records", unknown},
         {"looked_for", looked_for},
         {"parent_ref", util::safe_excerpt(first->parent, 200)}}
    );
}

std::chrono::milliseconds run_reporter::elapsed() const
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady_now() - started_);
}

void run_reporter::failed_to_start(const run_report& report, run_mode mode)
{
    log::error(
        log_,
        "sync.run_failed",
        {{"stream", stream_}, {"status", to_string(report.status)}, {"error", report.error}}
    );
    if (observer_)
        observer_->run_finished(run_outcome{
            stream_, mode, report.status, 0, 0, 0, {}, std::nullopt, std::nullopt});
}

void run_reporter::started(const run_report& report, const run_plan& plan, std::int64_t page)
{
    json::object fields{
        {"stream", stream_},
        {"run_id", report.run_id},
        {"mode", to_string(plan.mode)},
        {"resumed", report.resumed}};
    for (const auto& [k, v] : plan.query)
        if (k != "ChunkLimit")
            fields[k] = v;
    if (report.resumed)
        fields["page"] = page;
    log::info(log_, "sync.run_started", std::move(fields));
    if (observer_)
        observer_->run_started(stream_, plan.mode);
}

void run_reporter::committed(run_report& report, const settled_commit& c)
{
    auto records = static_cast<std::int64_t>(c.page->body.records.size());
    report.pages += 1;
    report.upserted += c.result.upserted;
    report.deleted += c.result.deleted;
    report.swept += c.result.swept;
    run_rows_ += records;
    auto now = clock_.steady_now();
    auto run_elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - started_);
    if (observer_)
        observer_->page_committed(page_progress{
            stream_,
            report.run_id,
            c.result.pages_done,
            records,
            c.result.upserted,
            c.result.deleted,
            c.result.swept,
            run_rows_,
            run_elapsed,
            c.result.quarantined});
    records_set_aside(report, c);
    // A long run says how far it is at a steady cadence, whatever the page size.
    if (now - last_progress_ >= options_.progress_every) {
        last_progress_ = now;
        auto seconds = std::max(std::chrono::duration<double>(run_elapsed).count(), 0.001);
        log::info(
            log_,
            "sync.progress",
            {{"stream", stream_},
             {"run_id", report.run_id},
             {"pages", c.result.pages_done},
             {"rows", run_rows_},
             {"rows_per_s", static_cast<std::int64_t>(static_cast<double>(run_rows_) / seconds)},
             {"elapsed_s", static_cast<std::int64_t>(seconds)}}
        );
    }
    log::event(
        log_,
        options_.page_events_at_debug ? spdlog::level::debug : spdlog::level::info,
        "sync.page_committed",
        {{"stream", stream_},
         {"run_id", report.run_id},
         {"page", c.result.pages_done},
         {"records", records},
         {"deleted", c.result.deleted},
         {"bytes", c.page->bytes},
         {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(c.took).count()}}
    );
}

void run_reporter::finished(const run_report& report, const std::optional<std::string>& watermark)
{
    auto ms = elapsed();
    json::object fields{
        {"stream", stream_},
        {"run_id", report.run_id},
        {"mode", to_string(report.mode)},
        {"status", to_string(report.status)},
        {"pages", report.pages},
        {"upserted", report.upserted},
        {"deleted", report.deleted},
        {"swept", report.swept},
        {"ms", ms.count()},
    };
    if (!report.error.empty())
        fields["error"] = report.error;
    if (observer_) {
        run_outcome outcome{
            stream_,
            report.mode,
            report.status,
            report.pages,
            report.upserted,
            report.deleted + report.swept,
            ms,
            std::nullopt,
            std::nullopt};
        if (report.status == run_status::ok) {
            outcome.succeeded_at = clock_.system_now();
            if (auto wm = watermark ? util::parse_iso8601(*watermark) : std::nullopt)
                outcome.watermark = std::chrono::time_point_cast<std::chrono::system_clock::duration>(*wm);
        }
        observer_->run_finished(outcome);
    }
    bool fine = report.status == run_status::ok || report.status == run_status::cancelled ||
                report.status == run_status::unavailable;
    log::event(log_, fine ? spdlog::level::info : spdlog::level::err, "sync.run_finished", std::move(fields));
}

} // namespace ditio_sync::sync
