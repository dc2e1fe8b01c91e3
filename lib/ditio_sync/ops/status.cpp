#include <ditio_sync/ops/status.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/store/outbox.hpp>
#include <ditio_sync/store/sync_state.hpp>
#include <ditio_sync/util/redact.hpp>
#include <ditio_sync/util/text.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>

namespace ditio_sync::ops {

namespace json = boost::json;

namespace {

json::value opt(const std::optional<std::string>& v)
{
    return v ? json::value(*v) : json::value(nullptr);
}

// A value as the terminal shows it: Ditio's messages may hold newlines and escape sequences.
std::string text_of(const json::value& v)
{
    if (v.is_null())
        return "-";
    if (v.is_string())
        return util::terminal_safe(v.get_string());
    return json::serialize(v);
}

// An error column, redacted again on the way out: a database written by an older version may hold text
// that this one's redactor would have kept out.
json::value error_text(const std::optional<std::string>& v)
{
    return v ? json::value(util::safe_excerpt(*v, util::max_excerpt_bytes)) : json::value(nullptr);
}

// Columns a terminal gives the text: one per UTF-8 character (terminal_safe leaves only printable ones).
std::size_t width(std::string_view s)
{
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }));
}

// The text cut to `columns`, at a character boundary, "…" marking the cut.
std::string fit(std::string text, std::size_t columns)
{
    if (width(text) <= columns)
        return text;
    std::size_t seen = 0;
    for (std::size_t i = 0; i < text.size(); ++i)
        if ((static_cast<unsigned char>(text[i]) & 0xC0U) != 0x80U && ++seen == columns) {
            text.resize(i);
            return text + "\u2026";
        }
    return text;
}

std::string_view lock_state_name(store::lock_state s)
{
    switch (s) {
    case store::lock_state::held:
        return "held";
    case store::lock_state::free:
        return "free";
    case store::lock_state::unknown:
        break;
    }
    return "unknown";
}

// complete_through: the watermark minus the overlap it was written with, to the second (truncated, so never
// later than the truth), as v_sync_freshness computes it.
json::value
complete_through(const std::optional<store::stream_state>& state, std::chrono::milliseconds overlap)
{
    if (!state || !state->watermark)
        return nullptr;
    auto wm = util::parse_iso8601(*state->watermark);
    if (!wm)
        return nullptr;
    auto used = state->overlap.value_or(overlap);
    return json::value(
        util::format_iso8601_s(*wm - std::chrono::duration_cast<std::chrono::microseconds>(used))
    );
}

// The stream's newest run; `result` is its status, except that a run without an end whose process is gone
// (no ditio-sync holds the lock) was interrupted.
json::value last_run_of(store::sync_store& st, const std::string& stream, store::lock_state lock)
{
    auto run = st.last_run(stream);
    if (!run)
        return nullptr;
    json::object r;
    r["run_id"] = run->id;
    r["mode"] = run->mode;
    r["status"] = run->status;
    r["started_at"] = run->started_at;
    r["finished_at"] = opt(run->finished_at);
    r["pages"] = run->pages;
    r["rows_upserted"] = run->upserted;
    r["rows_deleted"] = run->deleted;
    r["error"] = error_text(run->error);
    json::value seconds = nullptr;
    if (run->finished_at) {
        auto a = util::parse_iso8601(run->started_at);
        auto b = util::parse_iso8601(*run->finished_at);
        if (a && b)
            seconds = std::chrono::duration<double>(*b - *a).count();
    }
    r["duration_s"] = seconds;
    bool gone = !run->finished_at && lock == store::lock_state::free;
    r["result"] = gone ? std::string("interrupted") : run->status;
    return r;
}

// What the stream's line says at a glance (see collect_status).
std::string_view state_of(const json::object& o)
{
    if (!o.at("unavailable_since").is_null())
        return "unavailable";
    if (!o.at("last_error").is_null())
        return "failing";
    const auto& run = o.at("last_run");
    std::string_view result = run.is_object() ? std::string_view(run.at("result").as_string()) : "";
    if (result == "running")
        return "running";
    // Interrupted with a checkpoint to resume; a run that reset or a new full run ended has none.
    if (result == "interrupted" && o.at("in_progress").is_object())
        return "interrupted";
    if (o.at("watermark").is_null())
        return "not synced";
    // Records set aside in the quarantine table: the mirror is not complete (docs/live-ditio.md section 7).
    if (o.at("quarantined").as_int64() > 0)
        return "incomplete";
    return "ok";
}

bool needs_attention(std::string_view state)
{
    return state == "failing" || state == "interrupted" || state == "not synced" || state == "incomplete";
}

json::object stream_report(
    store::sync_store& st,
    const ditio::stream_def& s,
    const std::optional<store::stream_state>& state,
    bool is_enabled,
    std::chrono::milliseconds overlap,
    store::lock_state lock
)
{
    std::string name(s.name);
    json::object o;
    o["stream"] = name;
    o["enabled"] = is_enabled;
    o["table"] = s.table;
    o["view"] = fmt::format("v_{}", s.table);
    o["rows"] = st.live_rows(std::string(s.table));
    o["deleted_rows"] = st.deleted_rows(std::string(s.table));
    std::string mode = "never synced";
    if (state && state->watermark)
        mode = "incremental";
    else if (state && state->run_id)
        mode = "full (in progress)";
    else if (state)
        mode = "full (next run)";
    o["mode"] = mode;
    o["watermark"] = state ? opt(state->watermark) : json::value(nullptr);
    o["quarantined"] = st.quarantined(name);
    // Not complete through anything while records are set aside, as v_sync_freshness.complete_through.
    o["data_complete_through"] =
        o["quarantined"].as_int64() > 0 ? json::value(nullptr) : complete_through(state, overlap);
    o["last_success_at"] = state ? opt(state->last_success_at) : json::value(nullptr);
    o["last_error"] = state ? error_text(state->last_error) : json::value(nullptr);
    o["last_error_at"] = state ? opt(state->last_error_at) : json::value(nullptr);
    o["unavailable_since"] = state ? opt(state->unavailable_at) : json::value(nullptr);
    o["next_run_at"] = state && is_enabled ? opt(state->next_run_at) : json::value(nullptr);
    // The window piece size Ditio accepted after refusing larger ones: where the next full sync starts.
    o["window_piece_days"] =
        state && state->window_span_s ? json::value(*state->window_span_s / 86400) : json::value(nullptr);
    if (state && state->run_id) {
        o["in_progress"] = json::object{
            {"run_id", *state->run_id}, {"mode", state->run_mode}, {"pages_done", state->pages_done}};
    } else {
        o["in_progress"] = nullptr;
    }
    o["last_run"] = last_run_of(st, name, lock);
    o["state"] = state_of(o);
    return o;
}

// ------------------------------------------------------------------------------------------ the summary

std::string join_names(const std::vector<std::string>& names)
{
    return fmt::format("{}", fmt::join(names, ", "));
}

// "ditio-sync running", with its pid when `with_pid`, or that none is.
std::string lock_phrase(const json::object& status, bool with_pid)
{
    const auto& l = status.at("instance_lock").as_object();
    if (l.at("state") == "held")
        return with_pid && l.at("pid").is_int64()
                   ? fmt::format("ditio-sync running (pid {})", l.at("pid").as_int64())
                   : std::string("ditio-sync running");
    if (l.at("state") == "free")
        return "no ditio-sync running";
    return "whether ditio-sync runs is unknown";
}

std::int64_t outbox_failed(const json::object& status)
{
    std::int64_t n = 0;
    if (const auto* outbox = status.if_contains("outbox"))
        for (const auto* key : {"projects", "work_orders"})
            n += outbox->at(key).at("failed").as_int64();
    return n;
}

// The first line: ok, or what needs attention, and whether a ditio-sync runs. The streams' names go in
// the parentheses that fit, first ones first; whether a ditio-sync runs is never cut off.
std::string verdict_line(const json::object& status)
{
    std::map<std::string, std::vector<std::string>, std::less<>> by_state;
    std::size_t enabled = 0;
    std::string oldest; // the earliest complete_through of the enabled, available streams that have one
    std::size_t complete = 0;
    for (const auto& v : status.at("streams").as_array()) {
        const auto& o = v.as_object();
        if (!o.at("enabled").as_bool())
            continue;
        ++enabled;
        std::string state(o.at("state").as_string());
        by_state[state].emplace_back(o.at("stream").as_string());
        if (const auto& ct = o.at("data_complete_through"); ct.is_string() && state != "unavailable") {
            ++complete;
            if (oldest.empty() || std::string_view(ct.as_string()) < oldest)
                oldest = ct.as_string();
        }
    }
    auto count = [&](std::string_view state) { return by_state[std::string(state)].size(); };
    auto failed_rows = outbox_failed(status);
    auto plural = [](std::size_t n) { return n == 1 ? "" : "s"; };
    // `named`: how many of the name lists to write out.
    auto build = [&](std::size_t named) {
        std::size_t lists = 0;
        auto names = [&](std::string_view state) {
            return lists++ < named ? fmt::format(" ({})", join_names(by_state[std::string(state)]))
                                   : std::string{};
        };
        std::vector<std::string> problems;
        for (const auto& [state, label] :
             {std::pair{"failing", "failing"},
              std::pair{"interrupted", "interrupted"},
              std::pair{"not synced", "not synced yet"},
              std::pair{"incomplete", "with quarantined records"}})
            if (count(state) > 0) {
                auto of = problems.empty() ? fmt::format(" of {} stream{}", enabled, plural(enabled)) : "";
                problems.push_back(fmt::format("{}{} {}{}", count(state), of, label, names(state)));
            }
        if (failed_rows > 0)
            problems.push_back(fmt::format("{} outbox row{} failed", failed_rows, failed_rows == 1 ? "" : "s")
            );
        std::string line;
        if (!problems.empty()) {
            line = "attention: " + join_names(problems);
        } else {
            line = fmt::format("ok: {} stream{}", enabled, plural(enabled));
            auto available = enabled - count("unavailable");
            if (complete > 0)
                line += fmt::format(
                    ", {} complete through {}",
                    complete == available ? "all" : std::to_string(complete),
                    oldest
                );
            if (count("running") > 0)
                line += fmt::format(", {} syncing", count("running"));
            if (count("unavailable") > 0)
                line += fmt::format(", {} unavailable{}", count("unavailable"), names("unavailable"));
        }
        return line;
    };
    // Names before the holder's pid; the body is cut only when even the shortest form does not fit.
    for (std::size_t named = 3;; --named) {
        for (bool with_pid : {true, false}) {
            auto line = build(named) + "; " + lock_phrase(status, with_pid);
            if (width(line) <= status_columns)
                return line;
        }
        if (named == 0)
            break;
    }
    auto lock = "; " + lock_phrase(status, false);
    return fit(build(0), status_columns - width(lock)) + lock;
}

// A duration as a person reads it at a glance: 45s, 12m, 5h, 3d.
std::string age(util::sys_micros from, util::sys_micros now)
{
    auto s = std::max<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(now - from).count(), 0);
    if (s < 90)
        return fmt::format("{}s", s);
    if (s < 90 * 60)
        return fmt::format("{}m", s / 60);
    if (s < 48 * 3600)
        return fmt::format("{}h", s / 3600);
    return fmt::format("{}d", s / 86400);
}

// "ok 3m ago" (since the run ended), "running for 5m", "never".
std::string last_run_cell(const json::value& run, util::sys_micros now)
{
    if (!run.is_object())
        return "never";
    auto result = text_of(run.at("result"));
    auto started = util::parse_iso8601(run.at("started_at").as_string());
    std::optional<util::sys_micros> finished;
    if (const auto& f = run.at("finished_at"); f.is_string())
        finished = util::parse_iso8601(f.as_string());
    if (result == "running")
        return started ? fmt::format("running for {}", age(*started, now)) : result;
    auto at = finished ? finished : started;
    return at ? fmt::format("{} {} ago", result, age(*at, now)) : result;
}

using table_row = std::array<std::string, 5>;

table_row row_of(const json::object& o, util::sys_micros now)
{
    // The mode of the run in progress, or of the next run.
    std::string mode = o.at("watermark").is_null() ? "full" : "incremental";
    if (const auto& p = o.at("in_progress"); p.is_object())
        mode = text_of(p.at("mode"));
    return {
        text_of(o.at("stream")),
        mode,
        text_of(o.at("rows")),
        text_of(o.at("data_complete_through")),
        last_run_cell(o.at("last_run"), now)};
}

std::string table(const std::vector<table_row>& enabled, const std::vector<table_row>& others)
{
    const table_row header{"stream", "mode", "rows", "complete through", "last run"};
    std::array<std::size_t, 5> w{};
    for (const auto* rows : {&enabled, &others})
        for (const auto& r : *rows)
            for (std::size_t i = 0; i < r.size(); ++i)
                w.at(i) = std::max(w.at(i), width(r.at(i)));
    for (std::size_t i = 0; i < header.size(); ++i)
        w.at(i) = std::max(w.at(i), width(header.at(i)));
    auto line = [&](const table_row& r) {
        return fmt::format(
            "{:<{}}  {:<{}}  {:>{}}  {:<{}}  {}\n", r[0], w[0], r[1], w[1], r[2], w[2], r[3], w[3], r[4]
        );
    };
    std::string out = line(header);
    for (const auto& r : enabled)
        out += line(r);
    if (!others.empty()) {
        out += "not enabled, rows kept from earlier syncs:\n";
        for (const auto& r : others)
            out += line(r);
    }
    return out;
}

std::string outbox_text(const json::object& status)
{
    const auto* outbox = status.if_contains("outbox");
    if (!outbox)
        return {};
    std::string lines;
    for (const auto& [key, label] : {std::pair{"projects", "projects:"}, {"work_orders", "work orders:"}}) {
        const auto& c = outbox->at(key).as_object();
        if (c.at("pending").as_int64() + c.at("sent").as_int64() + c.at("failed").as_int64() > 0)
            lines += fmt::format(
                "  {:<23}{} sent, {} pending, {} failed\n",
                label,
                text_of(c.at("sent")),
                text_of(c.at("pending")),
                text_of(c.at("failed"))
            );
    }
    // Why pending rows wait (a base that is not Ditio's, a client without ditioapiv3, Ditio unreachable).
    if (const auto* e = outbox->as_object().if_contains("last_pending_error");
        !lines.empty() && e && e->is_string())
        lines += fit(fmt::format("  pending rows wait: {}", text_of(*e)), status_columns) + "\n";
    return lines.empty() ? std::string{}
                         : "outbox (a failed row keeps Ditio's message in last_error)\n" + lines;
}

} // namespace

json::value collect_status(
    SQLite::Database& db,
    const std::vector<const ditio::stream_def*>& enabled,
    std::chrono::milliseconds overlap,
    const store::lock_probe& lock
)
{
    return store::guarded("reading status", [&] {
        store::sync_store st(db);
        json::array out;
        bool attention = false;
        for (const auto& def : ditio::catalogue()) {
            auto state = st.load(std::string(def.name));
            bool is_enabled = std::find(enabled.begin(), enabled.end(), &def) != enabled.end();
            // A stream once synced and since disabled still has rows worth knowing about.
            if (!is_enabled && !state)
                continue;
            auto o = stream_report(st, def, state, is_enabled, overlap, lock.state);
            attention = attention || (is_enabled && needs_attention(o.at("state").as_string()));
            out.push_back(std::move(o));
        }
        store::outbox_store outbox(db);
        auto counts = [&](store::outbox_kind kind) {
            auto c = outbox.counts(kind);
            attention = attention || c.failed > 0;
            return json::object{{"pending", c.pending}, {"sent", c.sent}, {"failed", c.failed}};
        };
        auto waiting = outbox.last_pending_error();
        json::object report{
            {"schema_version", store::schema_version(db)},
            {"streams", std::move(out)},
            {"outbox",
             {{"projects", counts(store::outbox_kind::project)},
              {"work_orders", counts(store::outbox_kind::work_order)},
              {"last_pending_error", waiting ? json::value(*waiting) : json::value(nullptr)}}}};
        report["verdict"] = attention ? "attention" : "ok";
        report["instance_lock"] = json::object{
            {"state", lock_state_name(lock.state)},
            {"pid", lock.pid ? json::value(static_cast<std::int64_t>(*lock.pid)) : json::value(nullptr)}};
        return json::value(std::move(report));
    });
}

json::value only_streams(const json::value& status, const std::vector<std::string>& names)
{
    auto out = status;
    auto& streams = out.as_object()["streams"].as_array();
    json::array kept;
    for (auto& s : streams)
        if (std::find(names.begin(), names.end(), s.at("stream").as_string()) != names.end())
            kept.push_back(std::move(s));
    streams = std::move(kept);
    return out;
}

std::string format_status_summary(const json::value& status, util::sys_micros now)
{
    const auto& report = status.as_object();
    std::vector<table_row> enabled;
    std::vector<table_row> others;
    std::string errors;
    for (const auto& v : report.at("streams").as_array()) {
        const auto& o = v.as_object();
        (o.at("enabled").as_bool() ? enabled : others).push_back(row_of(o, now));
        if (!o.at("last_error").is_null())
            errors += fit(fmt::format("  {}: {}", text_of(o.at("stream")), text_of(o.at("last_error"))),
                          status_columns) +
                      "\n";
    }
    std::string out = verdict_line(report) + "\n" + table(enabled, others);
    if (!errors.empty())
        out += "last errors (ditio-sync status STREAM shows them in full):\n" + errors;
    return out + outbox_text(report);
}

std::string format_status_text(const json::value& status)
{
    std::string out;
    for (const auto& v : status.at("streams").as_array()) {
        const auto& o = v.as_object();
        out +=
            fmt::format("{}{}\n", text_of(o.at("stream")), o.at("enabled").as_bool() ? "" : " (not enabled)");
        out += fmt::format("  mode:                  {}\n", text_of(o.at("mode")));
        out += fmt::format(
            "  rows:                  {} live, {} deleted (table {}, view {})\n",
            text_of(o.at("rows")),
            text_of(o.at("deleted_rows")),
            text_of(o.at("table")),
            text_of(o.at("view"))
        );
        if (!o.at("unavailable_since").is_null())
            out += fmt::format(
                "  unavailable since:     {} (Ditio answered 404; checked again daily)\n",
                text_of(o.at("unavailable_since"))
            );
        if (auto n = o.at("quarantined").as_int64(); n > 0)
            out += fmt::format(
                "  quarantined:           {} record{} kept out of the mirror (table quarantine, stream "
                "'{}')\n",
                n,
                n == 1 ? "" : "s",
                text_of(o.at("stream"))
            );
        out += fmt::format("  watermark:             {}\n", text_of(o.at("watermark")));
        out += fmt::format("  data complete through: {}\n", text_of(o.at("data_complete_through")));
        out += fmt::format("  last success:          {}\n", text_of(o.at("last_success_at")));
        if (const auto& days = o.at("window_piece_days"); !days.is_null())
            out += fmt::format(
                "  window pieces:         {} days (Ditio refused larger; `reset` forgets this)\n",
                text_of(days)
            );
        if (const auto& p = o.at("in_progress"); p.is_object())
            out += fmt::format(
                "  in progress:           run {} ({}), {} pages committed\n",
                text_of(p.at("run_id")),
                text_of(p.at("mode")),
                text_of(p.at("pages_done"))
            );
        if (const auto& r = o.at("last_run"); r.is_object()) {
            auto result = text_of(r.at("result"));
            std::string took = "still running";
            if (r.at("duration_s").is_double())
                took = fmt::format("took {:.1f} s", r.at("duration_s").as_double());
            else if (result != "running")
                took = "did not finish (no ditio-sync holds the database)";
            out += fmt::format(
                "  last run:              run {} ({}) {}, started {}, {}, {} pages, {} upserted, {} "
                "deleted\n",
                text_of(r.at("run_id")),
                text_of(r.at("mode")),
                result,
                text_of(r.at("started_at")),
                took,
                text_of(r.at("pages")),
                text_of(r.at("rows_upserted")),
                text_of(r.at("rows_deleted"))
            );
        }
        if (!o.at("next_run_at").is_null())
            out += fmt::format(
                "  next run:              {} (when the daemon runs)\n", text_of(o.at("next_run_at"))
            );
        if (!o.at("last_error").is_null())
            out += fmt::format(
                "  last error:            {} ({})\n",
                text_of(o.at("last_error")),
                text_of(o.at("last_error_at"))
            );
    }
    return out;
}

} // namespace ditio_sync::ops
