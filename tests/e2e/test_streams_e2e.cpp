// End-to-end over every Data Extraction stream: full and incremental mirroring with edits, inserts and
// each stream's tombstone shape, resume after a kill, window splitting, the full re-sync sweep, endpoints
// missing in an environment, stream parameters, and a failing stream that must not stop the others.
#include "harness.hpp"

#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/util/time.hpp>

#include <SQLiteCpp/Database.h>
#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <csignal>
#include <set>
#include <sstream>

using namespace ditio_sync;
using namespace ditio_sync::e2e;
namespace json = boost::json;

namespace {

std::vector<std::string> all_streams()
{
    std::vector<std::string> out;
    for (const auto& s : ditio::catalogue())
        out.emplace_back(s.name);
    return out;
}

std::string toml_list(const std::vector<std::string>& names)
{
    std::string out = "[";
    for (const auto& n : names)
        out += fmt::format("{}\"{}\"", out.size() > 1 ? ", " : "", n);
    return out + "]";
}

// Every stream enabled, small pages so each stream takes several.
fixture_options all_streams_options(std::size_t records = 300)
{
    fixture_options o;
    o.records = records;
    o.chunk_limit = 40;
    o.settings["sync.streams"] = toml_list(all_streams());
    return o;
}

std::vector<testing::request_record> requests_for(const testing::fake_ditio& server, std::string_view path)
{
    std::vector<testing::request_record> out;
    for (auto& r : server.requests())
        if (r.path.ends_with(path))
            out.push_back(r);
    return out;
}

std::string param(const testing::request_record& r, const std::string& key)
{
    auto it = r.query.find(key);
    return it == r.query.end() ? std::string{} : it->second;
}

std::int64_t live_on_server(const testing::fake_ditio& server, const std::string& stream)
{
    std::int64_t n = 0;
    for (const auto& [id, rec] : server.snapshot(stream))
        n += rec.deleted ? 0 : 1;
    return n;
}

std::string field(const std::string& record_json, const char* name)
{
    auto v = json::parse(record_json);
    const auto* f = v.as_object().if_contains(name);
    return f && f->is_string() ? std::string(f->get_string()) : std::string{};
}

void check_every_stream_exact(fixture& fx)
{
    for (const auto& s : ditio::catalogue()) {
        check_mirror_exact(fx.server(), fx.db(), std::string(s.name), std::string(s.table));
        CHECK_MESSAGE(
            query_int(fx.db(), fmt::format("SELECT count(*) FROM v_{}", s.table)) ==
                live_on_server(fx.server(), std::string(s.name)),
            s.name
        );
    }
}

} // namespace

TEST_SUITE_BEGIN("e2e");

TEST_CASE("e2e: every stream is mirrored exactly by a full run and again after edits, inserts and deletions")
{
    fixture fx(all_streams_options());
    fx.server().seed_streams(120, 11);
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    check_every_stream_exact(fx);
    for (const auto& s : ditio::catalogue()) {
        INFO(s.name);
        CHECK(live_on_server(fx.server(), std::string(s.name)) > 0);
        CHECK(
            query_text(fx.db(), fmt::format("SELECT mode FROM sync_runs WHERE stream = '{}'", s.name)) ==
            "full"
        );
        CHECK(query_text(fx.db(), fmt::format("SELECT watermark FROM sync_state WHERE stream = '{}'", s.name))
                  .has_value());
        // Windowed streams send their window; the others, and those documented to ignore it, do not.
        auto reqs = requests_for(fx.server(), "/" + std::string(s.path));
        REQUIRE(!reqs.empty());
        CHECK((param(reqs.front(), "fromdatetime") == "2020-01-01") == s.windowed);
        CHECK(param(reqs.front(), "todatetime").empty() == !s.windowed);
    }
    // Registrations before the dimensions they refer to.
    auto order = lines_with_event(res.err, "sync.run_started");
    REQUIRE(order.size() == ditio::catalogue().size());
    std::vector<std::string> started;
    for (const auto& line : order)
        started.emplace_back(json::parse(line).at("stream").as_string());
    CHECK(started == all_streams());
    check_no_leaks(fx, res.err);

    // Every stream changes: some records edited, some deleted (each in its stream's tombstone shape),
    // some new.
    std::map<std::string, std::vector<std::string>> removed;
    std::uint64_t seed = 100;
    for (const auto& name : all_streams()) {
        auto picked = fx.server().pick_live(name, 6, ++seed);
        REQUIRE(picked.size() == 6);
        fx.server().edit(name, {picked[0], picked[1], picked[2]});
        removed[name] = {picked[3], picked[4], picked[5]};
        fx.server().insert(name, 4);
    }
    for (const auto& [name, ids] : removed)
        fx.server().remove(name, ids);
    auto res2 = fx.run({"sync"});
    INFO(res2.err);
    REQUIRE(res2.exit_code == 0);
    check_every_stream_exact(fx);
    for (const auto& s : ditio::catalogue()) {
        INFO(s.name);
        CHECK(
            query_text(
                fx.db(),
                fmt::format("SELECT mode FROM sync_runs WHERE stream = '{}' ORDER BY id DESC LIMIT 1", s.name)
            ) == "incremental"
        );
        auto rows = read_mirror(fx.db(), std::string(s.table));
        auto truth = fx.server().snapshot(std::string(s.name));
        for (const auto& id : removed[std::string(s.name)]) {
            const auto& row = rows.at(id);
            CHECK(row.is_deleted);
            CHECK(row.deleted_at == truth.at(id).deleted_at);
            if (s.tombstones == ditio::tombstone_shape::last_version) {
                // The last version replaces the data; its modifiedDateTime may predate the deletion.
                CHECK(json::parse(row.data) == json::parse(truth.at(id).json));
                CHECK(row.modified_at <= *row.deleted_at);
            } else {
                // An empty tombstone never wipes the stored data.
                CHECK(json::parse(row.data).as_object().at("isDeleted") == false);
                CHECK(row.modified_at == truth.at(id).modified);
            }
        }
    }
}

TEST_CASE("e2e: every stream resumes from its checkpoint after the process is killed mid-run")
{
    fixture fx(all_streams_options(150));
    fx.server().seed_streams(150, 12);
    for (const auto& s : ditio::catalogue()) {
        std::string name(s.name);
        INFO(name);
        if (live_on_server(fx.server(), name) <= 40)
            continue; // one page: nothing to resume
        auto pages_done = fmt::format("SELECT pages_done FROM sync_state WHERE stream = '{}'", name);
        auto proc = fx.start_held(2, {"sync", name});
        REQUIRE(wait_for_count(fx.db(), pages_done, 1, std::chrono::seconds{30}));
        proc.kill(SIGKILL);
        auto killed = proc.wait();
        INFO(killed.err);
        fx.server().release();
        CHECK(query_int(fx.db(), pages_done) == 1);
        auto res = fx.run({"sync", name});
        INFO(res.err);
        REQUIRE(res.exit_code == 0);
        auto started = lines_with_event(res.err, "sync.run_started");
        REQUIRE(started.size() == 1);
        CHECK(json::parse(started.front()).at("resumed") == true);
        check_mirror_exact(fx.server(), fx.db(), name, std::string(s.table));
    }
}

TEST_CASE("e2e: a full window Ditio refuses as too large is split, and a killed split run resumes its piece")
{
    fixture_options o;
    o.records = 0;
    o.chunk_limit = 30;
    o.settings["sync.streams"] = R"(["machine-registrations"])";
    o.settings["streams.\"machine-registrations\".full_from"] = R"("2026-07-01")";
    o.settings["streams.\"machine-registrations\".full_ahead"] = R"("30d")";
    fixture fx(o);
    fx.server().seed_streams(300, 13, "2026-07-01", "2026-11-20");
    fx.server().set_max_window("machine-registrations", std::chrono::hours{24 * 7});

    // Hold a request well into the walk over the pieces, kill the process there, and resume.
    auto proc = fx.start_held(25, {"sync"});
    // The pages before the held request commit on the database thread meanwhile: wait until the saved
    // position is past the first piece, so the kill lands mid-walk whatever the machine's load.
    REQUIRE(wait_for_count(
        fx.db(),
        "SELECT count(*) FROM sync_state, json_each(json_extract(run_params, '$.query')) AS q "
        "WHERE stream = 'machine-registrations' AND json_extract(q.value, '$[0]') = 'FromDateTime' "
        "AND json_extract(q.value, '$[1]') > '2026-07-01'",
        1,
        std::chrono::seconds{30}
    ));
    proc.kill(SIGKILL);
    proc.wait();
    fx.server().release();
    auto saved =
        query_text(fx.db(), "SELECT run_params FROM sync_state WHERE stream = 'machine-registrations'");
    REQUIRE(saved.has_value());
    auto saved_plan = json::parse(*saved);
    CHECK(saved_plan.at("max_span_s").as_int64() <= 7 * 86400);
    std::string saved_from;
    for (const auto& kv : saved_plan.at("query").as_array())
        if (kv.as_array()[0] == "FromDateTime")
            saved_from = std::string(kv.as_array()[1].as_string());
    CHECK(saved_from > "2026-07-01");
    CHECK(!lines_with_event(proc.err_so_far(), "sync.window_split").empty());

    auto before_resume = requests_for(fx.server(), "/v1/machine-registrations").size();
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    CHECK(json::parse(lines_with_event(res.err, "sync.run_started").front()).at("resumed") == true);
    check_mirror_exact(fx.server(), fx.db(), "machine-registrations", "machine_registrations");
    auto all = requests_for(fx.server(), "/v1/machine-registrations");
    REQUIRE(all.size() > before_resume);
    CHECK(param(all[before_resume], "fromdatetime") == saved_from);

    // Every answered request asked for at most 7 days, and the answered pieces cover the whole window.
    std::set<std::pair<std::string, std::string>> pieces;
    int refused = 0;
    for (const auto& r : requests_for(fx.server(), "/v1/machine-registrations")) {
        auto from = util::parse_iso8601(param(r, "fromdatetime"));
        auto to = util::parse_iso8601(param(r, "todatetime"));
        REQUIRE((from && to));
        if (r.status == 400) {
            ++refused;
            continue;
        }
        if (r.status != 200)
            continue; // the request held while the process was killed
        CHECK(*to - *from <= std::chrono::hours{24 * 7});
        pieces.emplace(param(r, "fromdatetime"), param(r, "todatetime"));
    }
    CHECK(refused >= 1);
    REQUIRE(!pieces.empty());
    CHECK(pieces.begin()->first == "2026-07-01");
    for (auto it = pieces.begin(); std::next(it) != pieces.end(); ++it)
        CHECK(
            util::parse_iso8601(std::next(it)->first) <= util::parse_iso8601(it->second)
        ); // no gap between pieces
    CHECK(*util::parse_iso8601(pieces.rbegin()->second) > *util::parse_iso8601("2026-11-20"));
}

TEST_CASE("e2e: max_window walks the window in pieces without a single refused request")
{
    fixture_options o;
    o.records = 0;
    o.chunk_limit = 50;
    o.settings["sync.streams"] = R"(["machine-registrations"])";
    o.settings["streams.\"machine-registrations\".full_from"] = R"("2026-07-01")";
    o.settings["streams.\"machine-registrations\".full_ahead"] = R"("30d")";
    o.settings["streams.\"machine-registrations\".max_window"] = R"("7d")";
    fixture fx(o);
    fx.server().seed_streams(200, 14, "2026-07-01", "2026-11-20");
    fx.server().set_max_window("machine-registrations", std::chrono::hours{24 * 7});
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db(), "machine-registrations", "machine_registrations");
    auto reqs = requests_for(fx.server(), "/v1/machine-registrations");
    for (const auto& r : reqs)
        CHECK(r.status == 200);
    CHECK(lines_with_event(res.err, "sync.window_split").empty());
    CHECK(lines_with_event(res.err, "sync.window_piece").size() >= 19);
}

TEST_CASE(
    "e2e: a full re-sync marks deleted only the unreturned rows inside its window, and only when complete"
)
{
    fixture_options o;
    o.records = 0;
    o.chunk_limit = 25;
    o.settings["sync.streams"] = R"(["absence-registrations", "project"])";
    fixture fx(o);
    fx.server().seed_streams(200, 15, "2025-01-01", "2026-10-31");
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    check_mirror_exact(fx.server(), fx.db(), "absence-registrations", "absence_registrations");

    // Purged on the server without a tombstone: one absence before 2026, one in 2026, one project.
    auto snapshot = fx.server().snapshot("absence-registrations");
    std::string old_id, new_id;
    for (const auto& [id, rec] : snapshot) {
        if (rec.deleted)
            continue;
        if (rec.window_at < "2026-01-01" && old_id.empty())
            old_id = id;
        if (rec.window_at >= "2026-02-01" && new_id.empty())
            new_id = id;
    }
    REQUIRE((!old_id.empty() && !new_id.empty()));
    auto project = fx.server().pick_live("project", 1, 3).at(0);
    fx.server().purge("absence-registrations", {old_id, new_id});
    fx.server().purge("project", {project});

    // An incremental run cannot see a purge.
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM absence_registrations WHERE is_deleted = 1") == 0);

    // A full re-sync over 2026 only, killed before its end, marks nothing.
    fx.write_config("[streams.\"absence-registrations\"]\nfull_from = \"2026-01-01\"\n");
    auto proc = fx.start_held(2, {"sync", "--full", "absence-registrations"});
    proc.kill(SIGKILL);
    proc.wait();
    fx.server().release();
    CHECK(query_int(fx.db(), "SELECT count(*) FROM absence_registrations WHERE is_deleted = 1") == 0);

    // Completed, it marks the 2026 row, not the older one outside its window.
    auto before = util::format_iso8601_s(std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now() - std::chrono::seconds{1}
    ));
    auto res = fx.run({"sync", "--full", "absence-registrations", "project"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    auto rows = read_mirror(fx.db(), "absence_registrations");
    CHECK(rows.at(new_id).is_deleted);
    REQUIRE(rows.at(new_id).deleted_at.has_value());
    CHECK(*rows.at(new_id).deleted_at >= before);
    CHECK(!rows.at(old_id).is_deleted);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM absence_registrations WHERE is_deleted = 1") == 1);
    // Projects have no window: the whole table is in scope.
    CHECK(read_mirror(fx.db(), "projects").at(project).is_deleted);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM projects WHERE is_deleted = 1") == 1);
    auto finished = lines_with_event(res.err, "sync.run_finished");
    REQUIRE(finished.size() == 2);
    CHECK(json::parse(finished[0]).at("swept") == 1);
    CHECK(json::parse(finished[1]).at("swept") == 1);
}

TEST_CASE("e2e: an endpoint missing in the environment is reported once and not retried by the daemon")
{
    fixture_options o;
    o.records = 200;
    o.settings["sync.streams"] = R"(["time-registrations", "crew-list-registrations", "user"])";
    o.settings["sync.interval"] = R"("1s")";
    fixture fx(o);
    fx.server().seed_streams(50, 16);
    fx.server().set_stream_available("crew-list-registrations", false);

    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db());
    check_mirror_exact(fx.server(), fx.db(), "user", "users");
    auto reported = lines_with_event(res.err, "sync.stream_unavailable");
    REQUIRE(reported.size() == 1);
    CHECK(json::parse(reported.front()).at("level") == "warning");
    CHECK(
        query_text(fx.db(), "SELECT unavailable_at FROM sync_state WHERE stream = 'crew-list-registrations'")
            .has_value()
    );
    CHECK(
        query_text(
            fx.db(),
            "SELECT status FROM sync_runs WHERE stream = 'crew-list-registrations' ORDER BY id DESC LIMIT 1"
        ) == "unavailable"
    );
    auto status = fx.run({"status", "--json"});
    REQUIRE(status.exit_code == 0);
    bool found = false;
    auto status_doc = json::parse(status.out);
    for (const auto& s : status_doc.at("streams").as_array())
        if (s.at("stream") == "crew-list-registrations") {
            found = true;
            CHECK(s.at("unavailable_since").is_string());
        }
    CHECK(found);

    // The daemon: several passes of the other streams, one quiet look at the missing one at most.
    fx.server().clear_requests();
    auto daemon = fx.start({"run"});
    REQUIRE(wait_for_event(daemon, "sync.run_finished", 7, std::chrono::seconds{60}));
    daemon.kill(SIGTERM);
    auto d = daemon.wait();
    INFO(d.err);
    CHECK(d.exit_code == 0);
    CHECK(requests_for(fx.server(), "/v1/crew-list-registrations").size() <= 1);
    CHECK(requests_for(fx.server(), "/v1/time-registrations").size() >= 3);
    for (const auto& line : lines_with_event(d.err, "sync.stream_unavailable"))
        CHECK(json::parse(line).at("level") != "warning");
    CHECK(query_text(fx.db(), "SELECT next_run_at FROM sync_state WHERE stream = 'crew-list-registrations'")
              .has_value());

    // Only missing endpoints: more likely a wrong base URL than a smaller environment.
    fx.server().set_stream_available("time-registrations", false);
    fx.server().set_stream_available("user", false);
    CHECK(fx.run({"sync"}).exit_code == 1);
}

TEST_CASE("e2e: a failing stream does not stop the others, and keeps its own checkpoint")
{
    fixture fx(all_streams_options(200));
    fx.server().seed_streams(60, 17);
    fx.server().inject(status_fault(500, 1000, {}, "/v1/resource"));
    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.exit_code == 1);
    for (const auto& s : ditio::catalogue()) {
        if (s.name == "resource")
            continue;
        check_mirror_exact(fx.server(), fx.db(), std::string(s.name), std::string(s.table));
    }
    CHECK(query_text(fx.db(), "SELECT status FROM sync_runs WHERE stream = 'resource'") == "failed");
    CHECK(query_text(fx.db(), "SELECT last_error FROM sync_state WHERE stream = 'resource'").has_value());
    CHECK(!query_text(fx.db(), "SELECT watermark FROM sync_state WHERE stream = 'resource'").has_value());

    fx.server().clear_faults();
    auto again = fx.run({"sync", "resource"});
    INFO(again.err);
    CHECK(again.exit_code == 0);
    check_mirror_exact(fx.server(), fx.db(), "resource", "resources");
}

TEST_CASE("e2e: stream parameters reach Ditio, with defaults that keep the mirror complete")
{
    fixture_options o;
    o.records = 0;
    o.settings["sync.streams"] =
        R"(["absence-registrations", "payroll-lines-extended", "images", "crew-list-registrations"])";
    o.extra_toml = R"(
[streams."absence-registrations"]
include_sensitive_data = true
[streams."images"]
sources = ["feed", "checklist"]
own_company_data_only = true
)";
    fixture fx(o);
    fx.server().seed_streams(80, 18);
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);

    auto absences = requests_for(fx.server(), "/v1/absence-registrations");
    REQUIRE(!absences.empty());
    CHECK(param(absences.front(), "includesensitivedata") == "true");
    CHECK(param(absences.front(), "approved").empty());
    CHECK(
        query_int(fx.db(), "SELECT count(*) FROM absence_registrations") ==
        live_on_server(fx.server(), "absence-registrations")
    );
    CHECK(
        query_int(
            fx.db(),
            "SELECT count(*) FROM absence_registrations WHERE json_extract(data, "
            "'$.absenceReason') IS NOT NULL"
        ) > 0
    );

    // Ditio's defaults leave out fixed-pay employees and unapproved lines; the daemon's do not.
    auto payroll = requests_for(fx.server(), "/v1/payroll-lines-extended");
    REQUIRE(!payroll.empty());
    CHECK(param(payroll.front(), "exportfilter") == "All");
    CHECK(param(payroll.front(), "userpayrolltypefilter") == "AllUsers");
    check_mirror_exact(fx.server(), fx.db(), "payroll-lines-extended", "payroll_lines_extended");

    auto crew = requests_for(fx.server(), "/v1/crew-list-registrations");
    REQUIRE(!crew.empty());
    CHECK(param(crew.front(), "includeopen") == "true");
    check_mirror_exact(fx.server(), fx.db(), "crew-list-registrations", "crew_list_registrations");
    CHECK(
        query_int(
            fx.db(),
            "SELECT count(*) FROM crew_list_registrations WHERE json_extract(data, "
            "'$.checkOutDateTime') IS NULL"
        ) > 0
    );

    auto images = requests_for(fx.server(), "/v1/images");
    REQUIRE(!images.empty());
    CHECK(param(images.front(), "owncompanydataonly") == "true");
    CHECK(
        query_int(fx.db(), "SELECT count(*) FROM images WHERE json_extract(data, '$.source') = 'alert'") == 0
    );
    CHECK(
        query_int(fx.db(), "SELECT count(*) FROM images WHERE json_extract(data, '$.source') = 'feed'") > 0
    );
    CHECK(
        query_int(fx.db(), "SELECT count(*) FROM images WHERE json_extract(data, '$.source') = 'checklist'") >
        0
    );
    std::size_t alerts = 0;
    for (const auto& [id, rec] : fx.server().snapshot("images"))
        alerts += !rec.deleted && field(rec.json, "source") == "alert" ? 1 : 0;
    CHECK(alerts > 0);
}

TEST_CASE("e2e: bad stream settings are refused at start-up naming the key")
{
    fixture_options o;
    o.records = 0;
    fixture fx(o);
    struct bad_case {
        const char* toml;
        const char* expected;
    };
    const bad_case cases[] = {
        {"[streams.\"user\"]\napproved = true\n", "approved: not a setting of user"},
        {"[streams.\"images\"]\nsources = [\"feed\", \"video\"]\n",
         "'video' is not one of feed, alert, checklist"},
        {"[streams.\"absence-registrations\"]\nlocked = \"yes\"\n", "must be true or false"},
        {"[streams.\"no-such-stream\"]\ninterval = \"1h\"\n", "no-such-stream\\\": unknown stream"},
        {"[streams.\"project\"]\nmax_window = \"7d\"\n", "project takes no date window"},
        {"[streams.\"payroll-lines\"]\nchunk_limit = 0\n", "out of range 1..10000"},
        {"[streams.\"payroll-lines\"]\nfull_from = \"2024\"\n", "is not a date"},
        {"[streams.\"machine-registrations\"]\nmax_window = \"2h\"\n", "must be between 1d and 3660d"},
    };
    for (const auto& c : cases) {
        INFO(std::string(c.toml));
        fx.write_config(c.toml);
        auto res = fx.run({"sync"});
        INFO(res.err);
        CHECK(res.exit_code == 2);
        CHECK(res.err.find(c.expected) != std::string::npos);
        CHECK(!std::filesystem::exists(fx.db()));
    }
}

TEST_CASE("e2e: status shows every enabled stream with its counts, watermark and last run")
{
    fixture fx(all_streams_options(100));
    fx.server().seed_streams(30, 19);
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    auto res = fx.run({"status", "--json"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);
    auto streams = json::parse(res.out).at("streams").as_array();
    REQUIRE(streams.size() == ditio::catalogue().size());
    for (std::size_t i = 0; i < streams.size(); ++i) {
        const auto& s = streams[i].as_object();
        const auto& def = ditio::catalogue()[i];
        INFO(def.name);
        CHECK(s.at("stream").as_string() == def.name);
        CHECK(s.at("mode") == "incremental");
        CHECK(s.at("rows").as_int64() == live_on_server(fx.server(), std::string(def.name)));
        CHECK(s.at("watermark").is_string());
        CHECK(s.at("data_complete_through").is_string());
        CHECK(s.at("last_run").at("status") == "ok");
        CHECK(s.at("last_run").at("duration_s").is_double());
    }
    // The summary: a verdict and a line per stream, none wider than 100 columns.
    auto text = fx.run({"status"});
    REQUIRE(text.exit_code == 0);
    CHECK(text.out.starts_with(fmt::format("ok: {} streams, all complete through ", ditio::catalogue().size())
    ));
    std::istringstream lines(text.out);
    std::size_t count = 0;
    for (std::string line; std::getline(lines, line); ++count)
        CHECK(line.size() <= 100);
    CHECK(count == 2 + ditio::catalogue().size());
    // Every stream in full.
    std::vector<std::string> all{"status"};
    for (const auto& def : ditio::catalogue())
        all.emplace_back(def.name);
    auto details = fx.run(all);
    REQUIRE(details.exit_code == 0);
    for (const auto& def : ditio::catalogue())
        CHECK(details.out.find(fmt::format("view v_{}", def.table)) != std::string::npos);
}

TEST_CASE("e2e: a query Ditio refuses with 400 ends the run without a checkpoint, so a fixed config applies")
{
    fixture_options o;
    o.records = 0;
    o.chunk_limit = 20;
    o.settings["sync.streams"] = R"(["project/work-breakdown-structure"])";
    fixture fx(o);
    fx.server().seed_streams(10, 20);
    // (A 400 to a request with a continuation token means the token was refused: the run restarts.)
    fx.server().inject(status_fault(
        400,
        1,
        R"({"error":"ValidationError","message":"ChunkLimit is not allowed here"})",
        "/v1/project/work-breakdown-structure"
    ));
    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.exit_code == 1);
    CHECK(res.err.find("ChunkLimit is not allowed here") != std::string::npos);
    CHECK(!query_text(fx.db(), "SELECT run_id FROM sync_state").has_value());
    CHECK(query_text(fx.db(), "SELECT status FROM sync_runs").value_or("") == "failed");

    auto again = fx.run({"sync"});
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    CHECK(json::parse(lines_with_event(again.err, "sync.run_started").front()).at("resumed") == false);
    check_mirror_exact(fx.server(), fx.db(), "project/work-breakdown-structure", "work_orders");
}

namespace {

struct tr_line {
    std::string work_date, user_id, project_id, task_id, resource_id;
    double qty = 0;
    bool approved = false;
};

double number(const json::object& o, const char* key)
{
    const auto* v = o.if_contains(key);
    if (!v || v->is_null())
        return 0;
    return v->is_double() ? v->get_double() : static_cast<double>(v->to_number<std::int64_t>());
}

std::string text(const json::object& o, const char* key)
{
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string{};
}

std::vector<json::object> live_records(const testing::fake_ditio& server, const std::string& stream)
{
    std::vector<json::object> out;
    for (const auto& [id, rec] : server.snapshot(stream))
        if (!rec.deleted)
            out.push_back(json::parse(rec.json).as_object());
    return out;
}

// A query's second column keyed by its first, to compare with sums computed from the server's data.
std::map<std::string, double> sums_by_key(const std::filesystem::path& db, const std::string& sql)
{
    std::map<std::string, double> out;
    SQLite::Database conn(db.string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(conn, sql);
    while (q.executeStep())
        out[q.getColumn(0).getString()] = q.getColumn(1).isNull() ? 0.0 : q.getColumn(1).getDouble();
    return out;
}

void check_sums(const std::map<std::string, double>& expected, const std::map<std::string, double>& actual)
{
    CHECK(expected.size() == actual.size());
    std::size_t wrong = 0;
    for (const auto& [k, v] : expected) {
        auto it = actual.find(k);
        if (it == actual.end() || std::abs(it->second - v) > 1e-6) {
            if (++wrong <= 5)
                FAIL_CHECK(
                    k << ": expected " << v << ", view has " << (it == actual.end() ? -1 : it->second)
                );
        }
    }
}

} // namespace

TEST_CASE("e2e: the joined views answer from the mirror what the server's data says")
{
    fixture fx(all_streams_options(1500));
    fx.server().seed_streams(300, 21);
    // Changes after the first run, so the views are checked after incremental runs too.
    REQUIRE(fx.run({"sync"}).exit_code == 0);
    fx.server().remove("time-registrations", fx.server().pick_live("time-registrations", 40, 1));
    fx.server().edit("time-registrations", fx.server().pick_live("time-registrations", 40, 2));
    fx.server().remove("absence-registrations", fx.server().pick_live("absence-registrations", 10, 3));
    auto res = fx.run({"sync"});
    INFO(res.err);
    REQUIRE(res.exit_code == 0);

    // Person lines: the resource is a Human, has no type, or is unknown to the mirror.
    std::map<std::string, std::string> resource_kind;
    for (const auto& r : live_records(fx.server(), "resource"))
        resource_kind[text(r, "id")] = text(r, "typeBaseName");
    std::map<std::string, std::string> project_name;
    for (const auto& p : live_records(fx.server(), "project"))
        project_name[text(p, "id")] = text(p, "name");
    std::set<std::string> people;
    for (const auto& u : live_records(fx.server(), "user"))
        people.insert(text(u, "identityUserId"));

    std::map<std::string, double> per_day, per_day_machine, per_project, per_project_approved;
    std::int64_t unapproved = 0;
    for (const auto& t : live_records(fx.server(), "time-registrations")) {
        auto kind = resource_kind.find(text(t, "resourceId"));
        bool person = kind == resource_kind.end() || kind->second.empty() || kind->second == "Human";
        auto day = text(t, "workDate").substr(0, 10) + "|" + text(t, "userId") + "|" + text(t, "projectId");
        (person ? per_day : per_day_machine)[day] += number(t, "qty");
        if (person) {
            per_project[text(t, "projectId")] += number(t, "qty");
            if (t.at("approved").as_bool())
                per_project_approved[text(t, "projectId")] += number(t, "qty");
        }
        unapproved += t.at("approved").as_bool() ? 0 : 1;
    }
    REQUIRE(!per_day_machine.empty());
    check_sums(
        per_day,
        sums_by_key(
            fx.db(),
            "SELECT work_date || '|' || user_id || '|' || project_id, hours FROM v_hours_per_employee_day "
            "WHERE registrations > 0"
        )
    );
    check_sums(
        per_project,
        sums_by_key(fx.db(), "SELECT project_id, hours FROM v_hours_per_project WHERE registrations > 0")
    );
    check_sums(
        per_project_approved,
        sums_by_key(
            fx.db(), "SELECT project_id, approved_hours FROM v_hours_per_project WHERE approved_hours > 0"
        )
    );
    CHECK(query_int(fx.db(), "SELECT count(*) FROM v_unapproved_hours") == unapproved);
    // Names come from the dimensions, one row per person however many company profiles they have.
    CHECK(query_int(fx.db(), "SELECT count(*) FROM v_people") == static_cast<std::int64_t>(people.size()));
    CHECK(
        query_int(fx.db(), "SELECT count(*) FROM users") > query_int(fx.db(), "SELECT count(*) FROM v_people")
    );
    for (const auto& [id, name] : project_name)
        if (per_project.contains(id))
            CHECK(
                query_text(
                    fx.db(), "SELECT project_name FROM v_hours_per_project WHERE project_id = '" + id + "'"
                ) == name
            );
    CHECK(query_int(fx.db(), "SELECT count(*) FROM v_hours_per_employee_day WHERE user_name IS NULL") == 0);

    // Absences: distinct days and hours per person and absence type.
    std::map<std::string, std::set<std::string>> days;
    std::map<std::string, double> absence_hours;
    for (const auto& a : live_records(fx.server(), "absence-registrations")) {
        auto key = text(a, "userId") + "|" + text(a, "absenceTypeId");
        days[key].insert(text(a, "date").substr(0, 10));
        absence_hours[key] += number(a, "qty");
    }
    std::map<std::string, double> day_counts;
    for (const auto& [k, d] : days)
        day_counts[k] = static_cast<double>(d.size());
    check_sums(
        day_counts,
        sums_by_key(fx.db(), "SELECT user_id || '|' || absence_type_id, days FROM v_absences_per_employee")
    );
    check_sums(
        absence_hours,
        sums_by_key(fx.db(), "SELECT user_id || '|' || absence_type_id, hours FROM v_absences_per_employee")
    );

    // Freshness: complete through the watermark minus the overlap (10 minutes by default), to the second.
    SQLite::Database conn(fx.db().string(), SQLite::OPEN_READONLY);
    SQLite::Statement q(
        conn,
        "SELECT f.stream, f.watermark, f.complete_through, f.running FROM v_sync_freshness AS f ORDER BY "
        "stream"
    );
    int streams = 0;
    while (q.executeStep()) {
        ++streams;
        auto wm = util::parse_iso8601(q.getColumn(1).getString());
        auto through = util::parse_iso8601(q.getColumn(2).getString());
        REQUIRE((wm && through));
        // A watermark from the local clock has milliseconds; complete_through drops them.
        auto behind = *wm - *through;
        CHECK(behind >= std::chrono::minutes{10});
        CHECK(behind < std::chrono::minutes{10} + std::chrono::seconds{1});
        CHECK(q.getColumn(3).getInt() == 0);
    }
    CHECK(streams == static_cast<int>(ditio::catalogue().size()));
}

TEST_CASE("e2e: a 403 on one stream fails that stream with exit code 3 while the others are mirrored")
{
    fixture fx(all_streams_options(200));
    fx.server().seed_streams(40, 22);
    fx.server().inject(status_fault(
        403,
        1000,
        R"({"error":"Forbidden","message":"The client is not linked to an administrator."})",
        "/v1/payroll-lines-extended"
    ));
    auto res = fx.run({"sync"});
    INFO(res.err);
    CHECK(res.exit_code == 3);
    for (const auto& s : ditio::catalogue())
        if (s.name != "payroll-lines-extended")
            check_mirror_exact(fx.server(), fx.db(), std::string(s.name), std::string(s.table));
    CHECK(requests_for(fx.server(), "/v1/payroll-lines-extended").size() == 1);
    CHECK(
        query_text(fx.db(), "SELECT last_error FROM sync_state WHERE stream = 'payroll-lines-extended'")
            .value_or("")
            .find("administrator") != std::string::npos
    );
}

TEST_CASE("e2e: a 404 in the middle of a run is a failure that keeps the checkpoint, not a missing endpoint")
{
    fixture_options o;
    o.records = 300;
    o.chunk_limit = 50;
    fixture fx(o);
    auto proc = fx.start_held(3, {"sync"});
    fx.server().inject(status_fault(404, 1000));
    fx.server().release();
    auto res = proc.wait();
    INFO(res.err);
    CHECK(res.exit_code == 1);
    CHECK(lines_with_event(res.err, "sync.stream_unavailable").empty());
    CHECK(!query_text(fx.db(), "SELECT unavailable_at FROM sync_state").has_value());
    CHECK(query_int(fx.db(), "SELECT pages_done FROM sync_state") >= 2);

    fx.server().clear_faults();
    auto again = fx.run({"sync"});
    INFO(again.err);
    REQUIRE(again.exit_code == 0);
    CHECK(json::parse(lines_with_event(again.err, "sync.run_started").front()).at("resumed") == true);
    check_mirror_exact(fx.server(), fx.db());
}
