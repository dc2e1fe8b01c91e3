#include <ditio_sync/ops/metrics.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <utility>

namespace ditio_sync::ops {
namespace {

using std::chrono::system_clock;

// Observer callbacks must not throw; the only failure here is running out of memory, which loses one update.
template <class F> void guarded(F&& f) noexcept
{
    try {
        std::forward<F>(f)();
    } catch (...) { // NOLINT(bugprone-empty-catch): see above
    }
}

// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
std::string escape_label(std::string_view v)
{
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

double seconds_of(std::chrono::duration<double> d)
{
    return d.count();
}

double epoch_seconds(system_clock::time_point t)
{
    return seconds_of(t.time_since_epoch());
}

// One metric family: its HELP and TYPE lines and samples, written only when it has a sample.
class family {
public:
    family(std::string_view name, std::string_view type, std::string_view help)
        : name_(name), type_(type), help_(help)
    {
    }

    // labels: name/value pairs, values unescaped.
    void
    add(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, std::string_view value)
    {
        samples_ += name_;
        if (labels.size() > 0) {
            samples_ += '{';
            bool first = true;
            for (const auto& [k, v] : labels) {
                if (!first)
                    samples_ += ',';
                first = false;
                samples_ += k;
                samples_ += "=\"";
                samples_ += escape_label(v);
                samples_ += '"';
            }
            samples_ += '}';
        }
        samples_ += ' ';
        samples_ += value;
        samples_ += '\n';
    }

    void add(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, std::int64_t value)
    {
        add(labels, fmt::format("{}", value));
    }

    void add(std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double value)
    {
        add(labels, fmt::format("{:.3f}", value));
    }

    void write_to(std::string& out) const
    {
        if (samples_.empty())
            return;
        // HELP texts are our own literals, free of backslashes and line feeds: no escaping needed.
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, help_, name_, type_);
        out += samples_;
    }

private:
    std::string_view name_;
    std::string_view type_;
    std::string_view help_;
    std::string samples_;
};

std::optional<std::int64_t> parse_vm_rss(std::istream& in)
{
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with("VmRSS:"))
            continue;
        auto begin = line.find_first_of("0123456789");
        if (begin == std::string::npos)
            return std::nullopt;
        std::int64_t kib = 0;
        auto [end, ec] = std::from_chars(line.data() + begin, line.data() + line.size(), kib);
        if (ec != std::errc{} ||
            std::string_view(end, line.data() + line.size()).find("kB") == std::string_view::npos)
            return std::nullopt;
        return kib * 1024;
    }
    return std::nullopt;
}

} // namespace

std::optional<std::int64_t> resident_memory_bytes()
{
    std::ifstream in("/proc/self/status");
    if (!in)
        return std::nullopt;
    return parse_vm_rss(in);
}

metrics::metrics(system_clock::time_point process_start) : process_start_(process_start) {}

metrics::stream_state& metrics::stream_locked(std::string_view name)
{
    auto it = streams_.find(name);
    if (it == streams_.end())
        it = streams_.emplace(std::string(name), stream_state{}).first;
    return it->second;
}

void metrics::run_started(std::string_view stream, sync::run_mode /*mode*/)
{
    guarded([&] {
        std::lock_guard lock(mutex_);
        auto& s = stream_locked(stream);
        s.running = true;
    });
}

void metrics::page_committed(const sync::page_progress& p)
{
    guarded([&] {
        std::lock_guard lock(mutex_);
        auto& s = stream_locked(p.stream);
        s.pages += 1;
        s.upserted += p.upserted;
        s.deleted += p.deleted + p.swept;
        s.quarantined = p.quarantined;
    });
}

void metrics::run_finished(const sync::run_outcome& r)
{
    guarded([&] {
        std::lock_guard lock(mutex_);
        auto& s = stream_locked(r.stream);
        s.running = false;
        s.runs[r.status] += 1;
        s.last_duration = r.duration;
        if (r.status == sync::run_status::ok) {
            s.unavailable = false;
            if (r.succeeded_at)
                s.last_success = r.succeeded_at;
            if (r.watermark)
                s.watermark = r.watermark;
        } else if (r.status == sync::run_status::unavailable) {
            s.unavailable = true;
        }
    });
}

void metrics::http_response(int status)
{
    guarded([&] {
        std::lock_guard lock(mutex_);
        auto key = status == 0 ? std::string("error") : std::to_string(status);
        http_responses_[key] += 1;
    });
}

void metrics::token_refreshed()
{
    std::lock_guard lock(mutex_);
    ++token_refreshes_;
}

void metrics::retry(std::string_view stream)
{
    guarded([&] {
        std::lock_guard lock(mutex_);
        stream_locked(stream).retries += 1;
    });
}

void metrics::set_streams(std::vector<stream_health_spec> streams, system_clock::time_point now)
{
    std::lock_guard lock(mutex_);
    std::vector<std::string> enabled;
    enabled.reserve(streams.size());
    for (auto& spec : streams) {
        auto& s = stream_locked(spec.stream);
        if (!s.enabled_since)
            s.enabled_since = now;
        s.max_age = spec.max_age;
        enabled.push_back(std::move(spec.stream));
    }
    for (const auto& old : enabled_) {
        if (std::find(enabled.begin(), enabled.end(), old) != enabled.end())
            continue;
        auto& s = stream_locked(old);
        s.enabled_since.reset();
        s.max_age.reset();
    }
    enabled_ = std::move(enabled);
}

void metrics::seed(
    std::string stream,
    std::optional<system_clock::time_point> last_success,
    std::optional<system_clock::time_point> watermark,
    bool unavailable
)
{
    std::lock_guard lock(mutex_);
    auto& s = stream_locked(stream);
    if (last_success && (!s.last_success || *s.last_success < *last_success))
        s.last_success = last_success;
    if (watermark && (!s.watermark || *s.watermark < *watermark))
        s.watermark = watermark;
    s.unavailable = unavailable;
}

void metrics::set_quarantined(std::string_view stream, std::int64_t records)
{
    std::lock_guard lock(mutex_);
    stream_locked(stream).quarantined = records;
}

void metrics::set_unavailable(std::string_view stream, bool unavailable)
{
    std::lock_guard lock(mutex_);
    stream_locked(stream).unavailable = unavailable;
}

metrics::health_state metrics::state_of(const stream_state& s, system_clock::time_point now)
{
    auto max_age = s.max_age.value_or(std::chrono::milliseconds{0});
    if (s.unavailable)
        return health_state::unavailable;
    if (s.last_success)
        return now - *s.last_success < max_age ? health_state::fresh : health_state::stale;
    if (s.enabled_since && now - *s.enabled_since < max_age)
        return health_state::pending;
    return health_state::never;
}

namespace {

// The push's configuration problem and the features the token serves (set_push_problem, set_features).
void write_feature_families(
    std::string& out, bool push_problem, const std::vector<std::pair<std::string, bool>>& feature_list
)
{
    family push_misconfigured(
        "ditio_sync_push_misconfigured",
        "gauge",
        "1 while ditio.api_base answers with something that is not Ditio's API (the outbox waits)."
    );
    push_misconfigured.add({}, std::int64_t{push_problem ? 1 : 0});
    family features(
        "ditio_sync_feature_enabled", "gauge", "1 when the API client's token carries the feature's scope."
    );
    for (const auto& [name, on] : feature_list)
        features.add({{"feature", name}}, std::int64_t{on ? 1 : 0});
    push_misconfigured.write_to(out);
    features.write_to(out);
}

} // namespace

std::string metrics::render_prometheus(system_clock::time_point now) const
{
    auto rss = resident_memory_bytes();

    family up("ditio_sync_up", "gauge", "1 while ditio-sync runs and serves metrics.");
    family build("ditio_sync_build_info", "gauge", "Always 1; the version label names the ditio-sync build.");
    family start(
        "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds."
    );
    family memory("process_resident_memory_bytes", "gauge", "Resident memory size of the process, in bytes.");
    family runs("ditio_sync_runs_total", "counter", "Sync runs finished, per stream and result.");
    family pages("ditio_sync_pages_total", "counter", "Pages committed to the mirror, per stream.");
    family upserted(
        "ditio_sync_rows_upserted_total", "counter", "Rows inserted or updated in the mirror, per stream."
    );
    family deleted(
        "ditio_sync_rows_deleted_total",
        "counter",
        "Rows marked deleted in the mirror (tombstones and full re-sync sweeps), per stream."
    );
    family retries("ditio_sync_retries_total", "counter", "Requests to Ditio retried, per stream.");
    family running("ditio_sync_run_in_progress", "gauge", "1 while a run of the stream is in progress.");
    family duration(
        "ditio_sync_last_run_duration_seconds",
        "gauge",
        "Duration of the stream's last finished run, in seconds."
    );
    family last_success(
        "ditio_sync_last_success_timestamp_seconds",
        "gauge",
        "When the stream's last successful run finished, since the Unix epoch, in seconds."
    );
    family watermark_age(
        "ditio_sync_watermark_age_seconds",
        "gauge",
        "Age of the stream's watermark (Ditio's clock at the start of its last successful run), in seconds."
    );
    family stale(
        "ditio_sync_stream_stale",
        "gauge",
        "1 when an enabled stream fails the health check (stale, or never synced after its grace period)."
    );
    family unavailable(
        "ditio_sync_stream_unavailable",
        "gauge",
        "1 when Ditio does not offer the enabled stream's endpoint (404)."
    );
    family quarantined("ditio_sync_quarantined_records", "gauge", "Quarantined records of the stream.");
    family http(
        "ditio_sync_http_responses_total",
        "counter",
        "HTTP exchanges with Ditio, per status (error: no answer)."
    );
    family tokens(
        "ditio_sync_token_refreshes_total", "counter", "Access tokens fetched from the identity server."
    );

    up.add({}, std::int64_t{1});
    build.add({{"version", DITIO_SYNC_VERSION}}, std::int64_t{1});
    start.add({}, epoch_seconds(process_start_));
    if (rss)
        memory.add({}, *rss);

    std::lock_guard lock(mutex_);
    for (const auto& [name, s] : streams_) {
        std::string_view stream = name;
        // Every result has a series (at 0) before it first happens, so rate() sees its first increment.
        for (auto result : sync::all_run_statuses) {
            auto it = s.runs.find(result);
            runs.add(
                {{"stream", stream}, {"result", to_string(result)}}, it == s.runs.end() ? 0 : it->second
            );
        }
        pages.add({{"stream", stream}}, s.pages);
        upserted.add({{"stream", stream}}, s.upserted);
        deleted.add({{"stream", stream}}, s.deleted);
        retries.add({{"stream", stream}}, s.retries);
        quarantined.add({{"stream", stream}}, s.quarantined);
        running.add({{"stream", stream}}, std::int64_t{s.running ? 1 : 0});
        if (s.last_duration)
            duration.add({{"stream", stream}}, seconds_of(*s.last_duration));
        if (s.last_success)
            last_success.add({{"stream", stream}}, epoch_seconds(*s.last_success));
        if (s.watermark)
            watermark_age.add({{"stream", stream}}, seconds_of(now - *s.watermark));
        if (s.max_age) {
            auto state = state_of(s, now);
            bool failing = state == health_state::stale || state == health_state::never;
            stale.add({{"stream", stream}}, std::int64_t{failing ? 1 : 0});
            unavailable.add({{"stream", stream}}, std::int64_t{s.unavailable ? 1 : 0});
        }
    }
    for (const auto& [status, n] : http_responses_)
        http.add({{"status", status}}, n);
    tokens.add({}, token_refreshes_);

    std::string out;
    for (const family* f :
         {&up,
          &build,
          &start,
          &memory,
          &runs,
          &pages,
          &upserted,
          &deleted,
          &retries,
          &running,
          &duration,
          &last_success,
          &watermark_age,
          &stale,
          &unavailable,
          &quarantined,
          &http,
          &tokens})
        f->write_to(out);
    write_feature_families(out, push_problem_.has_value(), features_);
    return out;
}

void metrics::set_push_problem(std::optional<std::string> problem)
{
    std::lock_guard lock(mutex_);
    push_problem_ = std::move(problem);
}

void metrics::set_features(std::vector<std::pair<std::string, bool>> features)
{
    std::lock_guard lock(mutex_);
    features_ = std::move(features);
}

void metrics::set_database_check(std::function<std::optional<std::string>()> check)
{
    std::lock_guard lock(mutex_);
    database_check_ = std::move(check);
}

health_report metrics::check_health(system_clock::time_point now) const
{
    namespace json = boost::json;
    std::function<std::optional<std::string>()> check;
    {
        std::lock_guard lock(mutex_);
        check = database_check_;
    }
    auto database_problem = check ? check() : std::nullopt;
    std::lock_guard lock(mutex_);
    bool ok = true;
    json::array list;
    for (const auto& name : enabled_) {
        const auto& s = streams_.at(name);
        auto state = state_of(s, now);
        std::string_view state_name;
        switch (state) {
        case health_state::fresh:
            state_name = "fresh";
            break;
        case health_state::stale:
            state_name = "stale";
            ok = false;
            break;
        case health_state::pending:
            state_name = "pending";
            break;
        case health_state::never:
            state_name = "never";
            ok = false;
            break;
        case health_state::unavailable:
            state_name = "unavailable";
            break;
        }
        json::object entry{{"stream", name}, {"state", state_name}};
        if (s.last_success) {
            auto micros = std::chrono::time_point_cast<std::chrono::microseconds>(*s.last_success);
            entry["last_success_at"] = util::format_iso8601_s(micros);
            auto age = std::chrono::duration_cast<std::chrono::seconds>(now - *s.last_success);
            entry["age_s"] = std::max<std::int64_t>(0, age.count());
        } else {
            entry["last_success_at"] = nullptr;
            entry["age_s"] = nullptr;
        }
        // Informational: records set aside do not make /healthz fail (docs/live-ditio.md section 7).
        entry["quarantined"] = s.quarantined;
        entry["max_age_s"] =
            std::chrono::duration_cast<std::chrono::seconds>(s.max_age.value_or(std::chrono::milliseconds{0}))
                .count();
        list.push_back(std::move(entry));
    }
    json::object body{{"status", ok ? "ok" : "stale"}, {"streams", std::move(list)}};
    if (push_problem_) {
        ok = false;
        body["status"] = "push";
        body["push"] = *push_problem_;
    }
    if (database_problem) {
        ok = false;
        body["status"] = "database";
        body["database"] = *database_problem;
    }
    return {ok, json::serialize(body)};
}

} // namespace ditio_sync::ops
