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

} // namespace

json::value collect_status(
    SQLite::Database& db,
    const std::vector<const ditio::stream_def*>& enabled,
    std::chrono::milliseconds overlap
)
{
    return store::guarded("reading status", [&] {
        store::sync_store st(db);
        json::array out;
        for (const auto& def : ditio::catalogue()) {
            const auto* s = &def;
            std::string name(s->name);
            auto state = st.load(name);
            bool is_enabled = std::find(enabled.begin(), enabled.end(), s) != enabled.end();
            // A stream once synced and since disabled still has rows worth knowing about.
            if (!is_enabled && !state)
                continue;
            json::object o;
            o["stream"] = name;
            o["enabled"] = is_enabled;
            o["table"] = s->table;
            o["view"] = fmt::format("v_{}", s->table);
            o["rows"] = st.live_rows(std::string(s->table));
            o["deleted_rows"] = st.deleted_rows(std::string(s->table));
            std::string mode = "never synced";
            if (state && state->watermark)
                mode = "incremental";
            else if (state && state->run_id)
                mode = "full (in progress)";
            else if (state)
                mode = "full (next run)";
            o["mode"] = mode;
            o["watermark"] = state ? opt(state->watermark) : json::value(nullptr);
            json::value complete_through = nullptr;
            if (state && state->watermark)
                if (auto wm = util::parse_iso8601(*state->watermark)) {
                    // The overlap in force when the watermark was written, as v_sync_freshness reads it.
                    auto used = state->overlap.value_or(overlap);
                    complete_through = util::format_iso8601_s(
                        *wm - std::chrono::duration_cast<std::chrono::microseconds>(used)
                    );
                }
            o["data_complete_through"] = complete_through;
            o["last_success_at"] = state ? opt(state->last_success_at) : json::value(nullptr);
            o["last_error"] = state ? error_text(state->last_error) : json::value(nullptr);
            o["last_error_at"] = state ? opt(state->last_error_at) : json::value(nullptr);
            o["unavailable_since"] = state ? opt(state->unavailable_at) : json::value(nullptr);
            o["next_run_at"] = state && is_enabled ? opt(state->next_run_at) : json::value(nullptr);
            if (state && state->run_id) {
                o["in_progress"] = json::object{
                    {"run_id", *state->run_id}, {"mode", state->run_mode}, {"pages_done", state->pages_done}};
            } else {
                o["in_progress"] = nullptr;
            }
            if (auto run = st.last_run(name)) {
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
                o["last_run"] = std::move(r);
            } else {
                o["last_run"] = nullptr;
            }
            out.push_back(std::move(o));
        }
        store::outbox_store outbox(db);
        auto counts = [&](store::outbox_kind kind) {
            auto c = outbox.counts(kind);
            return json::object{{"pending", c.pending}, {"sent", c.sent}, {"failed", c.failed}};
        };
        return json::value(json::object{
            {"schema_version", store::schema_version(db)},
            {"streams", std::move(out)},
            {"outbox",
             {{"projects", counts(store::outbox_kind::project)},
              {"work_orders", counts(store::outbox_kind::work_order)}}}});
    });
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
        out += fmt::format("  watermark:             {}\n", text_of(o.at("watermark")));
        out += fmt::format("  data complete through: {}\n", text_of(o.at("data_complete_through")));
        out += fmt::format("  last success:          {}\n", text_of(o.at("last_success_at")));
        if (const auto& p = o.at("in_progress"); p.is_object())
            out += fmt::format(
                "  in progress:           run {} ({}), {} pages committed\n",
                text_of(p.at("run_id")),
                text_of(p.at("mode")),
                text_of(p.at("pages_done"))
            );
        if (const auto& r = o.at("last_run"); r.is_object())
            out += fmt::format(
                "  last run:              run {} ({}) {}, started {}, {}, {} pages, {} upserted, {} "
                "deleted\n",
                text_of(r.at("run_id")),
                text_of(r.at("mode")),
                text_of(r.at("status")),
                text_of(r.at("started_at")),
                r.at("duration_s").is_double() ? fmt::format("took {:.1f} s", r.at("duration_s").as_double())
                                               : std::string("still running"),
                text_of(r.at("pages")),
                text_of(r.at("rows_upserted")),
                text_of(r.at("rows_deleted"))
            );
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
    if (const auto* outbox = status.as_object().if_contains("outbox")) {
        std::string lines;
        for (const auto& [key, label] :
             {std::pair{"projects", "projects:"}, {"work_orders", "work orders:"}}) {
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
        if (!lines.empty())
            out += "outbox (a failed row keeps Ditio's message in last_error)\n" + lines;
    }
    return out;
}

} // namespace ditio_sync::ops
