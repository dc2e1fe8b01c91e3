#include <ditio_sync/ops/status.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/store/sync_state.hpp>
#include <ditio_sync/util/time.hpp>

#include <SQLiteCpp/Statement.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace ditio_sync::ops {

namespace json = boost::json;

namespace {

json::value opt(const std::optional<std::string>& v)
{
    return v ? json::value(*v) : json::value(nullptr);
}

std::string text_of(const json::value& v)
{
    if (v.is_null())
        return "-";
    if (v.is_string())
        return std::string(v.get_string());
    return json::serialize(v);
}

} // namespace

json::value collect_status(
    SQLite::Database& db,
    const std::vector<const ditio::stream_def*>& streams,
    std::chrono::milliseconds overlap
)
{
    return store::guarded("reading status", [&] {
        store::sync_store st(db);
        json::array out;
        for (const auto* s : streams) {
            std::string name(s->name);
            auto state = st.load(name);
            json::object o;
            o["stream"] = name;
            o["table"] = s->table;
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
                if (auto wm = util::parse_iso8601(*state->watermark))
                    complete_through = util::format_iso8601_s(
                        *wm - std::chrono::duration_cast<std::chrono::microseconds>(overlap)
                    );
            o["data_complete_through"] = complete_through;
            o["last_success_at"] = state ? opt(state->last_success_at) : json::value(nullptr);
            o["last_error"] = state ? opt(state->last_error) : json::value(nullptr);
            o["last_error_at"] = state ? opt(state->last_error_at) : json::value(nullptr);
            if (state && state->run_id) {
                o["in_progress"] = json::object{
                    {"run_id", *state->run_id}, {"mode", state->run_mode}, {"pages_done", state->pages_done}};
            } else {
                o["in_progress"] = nullptr;
            }
            SQLite::Statement q(db, R"(SELECT id, mode, status, started_at, finished_at, pages, rows_upserted,
                rows_deleted, error FROM sync_runs WHERE stream = :s ORDER BY id DESC LIMIT 1)");
            q.bind(":s", name);
            if (q.executeStep()) {
                json::object r;
                r["run_id"] = q.getColumn(0).getInt64();
                r["mode"] = q.getColumn(1).getString();
                r["status"] = q.getColumn(2).getString();
                r["started_at"] = q.getColumn(3).getString();
                r["finished_at"] =
                    q.getColumn(4).isNull() ? json::value(nullptr) : json::value(q.getColumn(4).getString());
                r["pages"] = q.getColumn(5).getInt64();
                r["rows_upserted"] = q.getColumn(6).getInt64();
                r["rows_deleted"] = q.getColumn(7).getInt64();
                r["error"] =
                    q.getColumn(8).isNull() ? json::value(nullptr) : json::value(q.getColumn(8).getString());
                o["last_run"] = std::move(r);
            } else {
                o["last_run"] = nullptr;
            }
            out.push_back(std::move(o));
        }
        return json::value(json::object{
            {"schema_version", store::schema_version(db)}, {"streams", std::move(out)}});
    });
}

std::string format_status_text(const json::value& status)
{
    std::string out;
    for (const auto& v : status.at("streams").as_array()) {
        const auto& o = v.as_object();
        out += fmt::format("{}\n", text_of(o.at("stream")));
        out += fmt::format("  mode:                  {}\n", text_of(o.at("mode")));
        out += fmt::format(
            "  rows:                  {} live, {} deleted (table {})\n",
            text_of(o.at("rows")),
            text_of(o.at("deleted_rows")),
            text_of(o.at("table"))
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
                "  last run:              run {} ({}) {}, started {}, {} pages, {} upserted, {} deleted\n",
                text_of(r.at("run_id")),
                text_of(r.at("mode")),
                text_of(r.at("status")),
                text_of(r.at("started_at")),
                text_of(r.at("pages")),
                text_of(r.at("rows_upserted")),
                text_of(r.at("rows_deleted"))
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
