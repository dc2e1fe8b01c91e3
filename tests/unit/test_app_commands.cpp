// The commands in-process (app/): status and reset against a real SQLite file written by the store, the
// status summary's layout, and the reload decision read from the config key table.
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/reload.hpp>
#include <ditio_sync/app/runtime.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ops/status.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/instance_lock.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/store/sync_state.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <sstream>
#include <support/temp_dir.hpp>

namespace app = ditio_sync::app;
namespace config = ditio_sync::config;
namespace store = ditio_sync::store;
using ditio_sync::testing::temp_dir;

namespace {

// A configuration file naming a database in `dir`, and the options that point at it; logging off.
struct setup {
    temp_dir dir;
    std::filesystem::path db_path = dir.path() / "ditio.db";
    app::options opt;

    explicit setup(const std::string& extra = "")
    {
        // The commands read the process environment: what a developer's shell sets must not redirect
        // them (each test case runs in a process of its own).
        for (const char* name :
             {"DITIO_SYNC_DB",
              "DITIO_CLIENT_ID",
              "DITIO_CLIENT_SECRET",
              "DITIO_IDENTITY_BASE",
              "DITIO_API_BASE",
              "DITIO_REPORTING_BASE",
              "CREDENTIALS_DIRECTORY"})
            ::unsetenv(name);
        write_config(extra);
        opt.log_level = "off";
    }

    void write_config(const std::string& extra)
    {
        opt.config_file = dir.write(
                                 "ditio-sync.toml",
                                 fmt::format(
                                     "[storage]\npath = \"{}\"\n[sync]\nstreams = [\"time-registrations\", "
                                     "\"user\"]\n{}",
                                     db_path.string(),
                                     extra
                                 )
        )
                              .string();
    }

    std::string run(int (*cmd)(const app::options&, std::ostream&), int expect = app::exit_code::ok)
    {
        std::ostringstream out;
        CHECK(cmd(opt, out) == expect);
        return out.str();
    }
};

bool contains(const std::string& text, std::string_view part)
{
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("app: status reads what the store wrote, as text and as JSON")
{
    setup s;
    CHECK(contains(s.run(app::cmd_migrate), fmt::format("schema version {}", store::latest_schema_version()))
    );
    {
        auto db = store::open_database(s.db_path, std::chrono::seconds{1}, store::open_mode::read_write);
        store::sync_store st(db);
        auto run = st.begin_run("user", "full", "{}", "2026-10-01T06:00:00.000Z");
        std::vector<ditio_sync::model::record> none;
        store::page_commit pc{.stream = "user", .table = "users", .run_id = run, .records = &none};
        pc.now = "2026-10-01T06:00:05.000Z";
        st.finish_run(pc, {.watermark = "2026-10-01T06:00:00Z", .overlap_ms = 600000, .full = true});
        st.record_error("time-registrations", "HTTP 503: try later", "2026-10-01T07:00:00.000Z");
    }

    auto summary = s.run(app::cmd_status);
    CAPTURE(summary);
    CHECK(contains(summary, "time-registrations: HTTP 503: try later\n"));
    s.opt.status_streams = {"user", "time-registrations"};
    auto text = s.run(app::cmd_status);
    CAPTURE(text);
    CHECK(contains(text, "time-registrations\n"));
    CHECK(contains(text, "HTTP 503: try later"));
    CHECK(contains(text, "user\n"));
    CHECK(contains(text, "mode:                  incremental"));
    CHECK(contains(text, "watermark:             2026-10-01T06:00:00Z"));
    CHECK(contains(text, "data complete through: 2026-10-01T05:50:00Z"));
    s.opt.status_streams.clear();

    s.opt.status_json = true;
    auto json = boost::json::parse(s.run(app::cmd_status));
    const auto& streams = json.at("streams").as_array();
    REQUIRE(streams.size() == 2);
    CHECK(streams[0].at("stream") == "time-registrations");
    CHECK(streams[0].at("mode") == "full (next run)");
    CHECK(streams[1].at("last_run").at("status") == "ok");
    CHECK(streams[1].at("last_run").at("pages") == 1);
    CHECK(json.at("schema_version") == store::latest_schema_version());
}

TEST_CASE("app: status refuses a database it cannot read as this version's")
{
    setup s;
    SUBCASE("no database at all")
    {
        std::ostringstream out;
        CHECK_THROWS_AS(app::cmd_status(s.opt, out), store::db_error);
        CHECK_FALSE(std::filesystem::exists(s.db_path)); // status never creates one
    }
    SUBCASE("a database without a schema")
    {
        {
            SQLite::Database db(s.db_path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        }
        std::ostringstream out;
        try {
            app::cmd_status(s.opt, out);
            FAIL("accepted");
        } catch (const store::db_error& e) {
            CHECK(contains(e.what(), "run `ditio-sync migrate`"));
        }
    }
}

namespace {

// The lines of a text, without their ends.
std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

// The words of a line, one space between each.
std::string words(const std::string& line)
{
    std::istringstream in(line);
    std::string out;
    for (std::string w; in >> w;)
        out += (out.empty() ? "" : " ") + w;
    return out;
}

// Columns on a terminal: one per UTF-8 character.
std::size_t columns(std::string_view line)
{
    return static_cast<std::size_t>(std::count_if(line.begin(), line.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }));
}

// The keys of a JSON object, sorted, comma-separated.
std::string keys_of(const boost::json::value& v)
{
    std::vector<std::string> keys;
    for (const auto& kv : v.as_object())
        keys.emplace_back(kv.key());
    std::sort(keys.begin(), keys.end());
    return fmt::format("{}", fmt::join(keys, ","));
}

// A run of `stream` that ended ok at `end`, with watermark `watermark` and a 10 minute overlap.
void finished_run(
    store::sync_store& st,
    const std::string& stream,
    const std::string& table,
    const std::string& start,
    const std::string& end,
    const std::string& watermark
)
{
    std::vector<ditio_sync::model::record> none;
    auto run = st.begin_run(stream, "full", "{}", start);
    store::page_commit pc{.stream = stream, .table = table, .run_id = run, .records = &none};
    pc.now = end;
    st.finish_run(pc, {.watermark = watermark, .overlap_ms = 600000, .full = true});
}

// The user stream, synced in full once: the status tests' common ground.
void finished_user_run(const setup& s)
{
    auto db = store::open_database(s.db_path, std::chrono::seconds{1}, store::open_mode::read_write);
    store::sync_store st(db);
    finished_run(
        st, "user", "users", "2026-10-01T06:00:00.000Z", "2026-10-01T06:00:05.000Z", "2026-10-01T06:00:00Z"
    );
}

} // namespace

TEST_CASE("app: status says first whether all is well, then one aligned line per stream")
{
    setup s;
    s.run(app::cmd_migrate);
    finished_user_run(s);
    {
        auto db = store::open_database(s.db_path, std::chrono::seconds{1}, store::open_mode::read_write);
        store::sync_store st(db);
        finished_run(
            st,
            "time-registrations",
            "time_registrations",
            "2026-10-01T05:00:00.000Z",
            "2026-10-01T05:01:00.000Z",
            "2026-10-01T05:00:00.250Z"
        );
    }
    SUBCASE("all well")
    {
        auto lines = lines_of(s.run(app::cmd_status));
        CAPTURE(fmt::format("{}", fmt::join(lines, "\n")));
        REQUIRE(lines.size() == 4);
        // The oldest of the streams' complete-through times, to the second.
        CHECK(lines[0] == "ok: 2 streams, all complete through 2026-10-01T04:50:00Z; no ditio-sync running");
        CHECK(lines[1].starts_with("stream              mode         rows  complete through      last run"));
        CHECK(lines[2].starts_with("time-registrations  incremental     0  2026-10-01T04:50:00Z  ok "));
        CHECK(lines[3].starts_with("user                incremental     0  2026-10-01T05:50:00Z  ok "));
        CHECK(lines[3].ends_with(" ago"));
    }
    SUBCASE("a failing stream needs attention, and its error is shown cut to one line")
    {
        {
            auto db = store::open_database(s.db_path, std::chrono::seconds{1}, store::open_mode::read_write);
            store::sync_store st(db);
            st.record_error(
                "time-registrations",
                "HTTP 503: try later " + std::string(300, 'x'),
                "2026-10-01T07:00:00.000Z"
            );
        }
        auto text = s.run(app::cmd_status);
        CAPTURE(text);
        auto lines = lines_of(text);
        REQUIRE(lines.size() == 6);
        CHECK(lines[0] == "attention: 1 of 2 streams failing (time-registrations); no ditio-sync running");
        CHECK(lines[4] == "last errors (ditio-sync status STREAM shows them in full):");
        CHECK(lines[5].starts_with("  time-registrations: HTTP 503: try later xxx"));
        CHECK(lines[5].ends_with("x\u2026"));
        for (const auto& line : lines)
            CHECK(columns(line) <= 100);

        s.opt.status_json = true;
        auto json = boost::json::parse(s.run(app::cmd_status));
        CHECK(json.at("verdict") == "attention");
        CHECK(json.at("instance_lock").at("state") == "free");
        CHECK(json.at("instance_lock").at("pid").is_null());
        const auto& streams = json.at("streams").as_array();
        REQUIRE(streams.size() == 2);
        CHECK(streams[0].at("state") == "failing");
        CHECK(streams[1].at("state") == "ok");
        CHECK(streams[1].at("last_run").at("result") == "ok");
        CHECK(streams[1].at("data_complete_through") == "2026-10-01T05:50:00Z");
        // Every field --json had before is still there; the new ones are added beside them.
        CHECK(keys_of(json) == "instance_lock,outbox,schema_version,streams,verdict");
        CHECK(
            keys_of(streams[1]) ==
            "data_complete_through,deleted_rows,enabled,in_progress,last_error,last_error_at,last_run,"
            "last_success_at,mode,next_run_at,quarantined,rows,state,stream,table,unavailable_since,view,"
            "watermark,window_piece_days"
        );
        CHECK(
            keys_of(streams[1].at("last_run")) == "duration_s,error,finished_at,mode,pages,result,rows_"
                                                  "deleted,rows_upserted,run_id,started_at,status"
        );
    }
}

TEST_CASE("app: a run without an end is interrupted once no ditio-sync holds the database")
{
    setup s;
    s.run(app::cmd_migrate);
    {
        auto db = store::open_database(s.db_path, std::chrono::seconds{1}, store::open_mode::read_write);
        store::sync_store st(db);
        st.begin_run("user", "full", "{}", "2026-10-01T06:00:00.000Z"); // and then the process died
    }
    auto user_line = [](const std::string& text) {
        for (const auto& line : lines_of(text))
            if (line.starts_with("user "))
                return line;
        return std::string{};
    };

    SUBCASE("no ditio-sync runs: interrupted")
    {
        auto text = s.run(app::cmd_status);
        CAPTURE(text);
        // Both lists of names would not fit beside the rest: the first one keeps its names.
        CHECK(
            lines_of(text).at(0) ==
            "attention: 1 of 2 streams interrupted (user), 1 not synced yet; no ditio-sync running"
        );
        CHECK(words(user_line(text)).starts_with("user full 0 - interrupted "));
        CHECK(user_line(text).ends_with(" ago"));
        CHECK_FALSE(contains(text, "running for"));

        s.opt.status_streams = {"user"};
        auto detail = s.run(app::cmd_status);
        CHECK(contains(
            detail, "last run:              run 1 (full) interrupted, started 2026-10-01T06:00:00.000Z"
        ));
        CHECK_FALSE(contains(detail, "still running"));

        s.opt.status_json = true;
        auto json = boost::json::parse(s.run(app::cmd_status));
        const auto& run = json.at("streams").at(0).at("last_run");
        CHECK(run.at("status") == "running"); // as sync_runs has it, as before
        CHECK(run.at("result") == "interrupted");
        CHECK(json.at("streams").at(0).at("state") == "interrupted");
    }
    SUBCASE("a ditio-sync holds the database: running")
    {
        store::instance_lock held(s.db_path);
        auto text = s.run(app::cmd_status);
        CAPTURE(text);
        CHECK(contains(lines_of(text).at(0), fmt::format("; ditio-sync running (pid {})", ::getpid())));
        CHECK(contains(user_line(text), "  running for "));

        s.opt.status_streams = {"user"};
        CHECK(contains(s.run(app::cmd_status), "still running"));

        s.opt.status_json = true;
        auto json = boost::json::parse(s.run(app::cmd_status));
        CHECK(json.at("streams").at(0).at("last_run").at("result") == "running");
        CHECK(json.at("streams").at(0).at("state") == "running");
        CHECK(json.at("instance_lock").at("state") == "held");
        CHECK(json.at("instance_lock").at("pid") == ::getpid());
    }
}

TEST_CASE("app: status STREAM shows the named streams in full; an unknown name is a usage error")
{
    setup s;
    s.run(app::cmd_migrate);
    finished_user_run(s);
    s.opt.status_streams = {"user"};
    auto text = s.run(app::cmd_status);
    CAPTURE(text);
    CHECK(text.starts_with("user\n  mode:                  incremental\n"));
    CHECK(contains(text, "data complete through: 2026-10-01T05:50:00Z\n"));
    CHECK(
        contains(text, "last run:              run 1 (full) ok, started 2026-10-01T06:00:00.000Z, took 5.0 s")
    );
    CHECK_FALSE(contains(text, "time-registrations"));

    // A known stream that is neither enabled nor ever synced has nothing to show, and says so.
    s.opt.status_streams = {"project", "time-registrations"};
    text = s.run(app::cmd_status);
    CHECK(text.starts_with("time-registrations\n"));
    CHECK(contains(text, "project: not enabled in sync.streams and never synced\n"));

    s.opt.status_json = true;
    s.opt.status_streams = {"user"};
    auto json = boost::json::parse(s.run(app::cmd_status));
    REQUIRE(json.at("streams").as_array().size() == 1);
    CHECK(json.at("streams").at(0).at("stream") == "user");

    SUBCASE("an unknown name")
    {
        s.opt.status_streams = {"user", "users"};
        std::ostringstream out;
        try {
            app::cmd_status(s.opt, out);
            FAIL("accepted an unknown stream");
        } catch (const app::usage_error& e) {
            CHECK(contains(e.what(), "unknown stream 'users'"));
        }
        CHECK(out.str().empty());
    }
}

TEST_CASE("status: every line of the summary fits 100 columns, all 18 streams and long values included")
{
    SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    store::migrate(db);
    store::sync_store st(db);
    std::vector<const ditio_sync::ditio::stream_def*> all;
    for (const auto& def : ditio_sync::ditio::catalogue()) {
        all.push_back(&def);
        std::string name(def.name);
        // Every stream fails, with a long message and a run left without an end.
        st.begin_run(name, "full", "{}", "2026-09-01T06:00:00.000Z");
        st.record_error(name, "HTTP 500: " + std::string(500, 'e'), "2026-10-01T06:00:00.000Z");
    }
    auto status = ditio_sync::ops::collect_status(db, all, std::chrono::minutes{10}, {});
    auto now = *ditio_sync::util::parse_iso8601("2026-10-01T07:00:00Z");
    auto text = ditio_sync::ops::format_status_summary(status, now);
    CAPTURE(text);
    auto lines = lines_of(text);
    // verdict, header, 18 streams, the errors' heading, 18 errors
    CHECK(lines.size() == 2 + 2 * ditio_sync::ditio::catalogue().size() + 1);
    for (const auto& line : lines)
        CHECK(columns(line) <= 100);
    // Too many names for one line: the verdict counts them instead.
    CHECK(lines.at(0) == "attention: 18 of 18 streams failing; whether ditio-sync runs is unknown");
    // Ages are read from `now`: the runs started 30 days and an hour before it.
    CHECK(contains(lines.at(2), "  running for 30d"));
}

TEST_CASE("app: reset forgets the watermark and the checkpoint of one stream only")
{
    setup s;
    s.run(app::cmd_migrate);
    {
        auto db = store::open_database(s.db_path, std::chrono::seconds{1}, store::open_mode::read_write);
        store::sync_store st(db);
        std::vector<ditio_sync::model::record> none;
        for (const char* stream : {"user", "time-registrations"}) {
            auto run = st.begin_run(stream, "full", "{}", "T0");
            store::page_commit pc{.stream = stream, .table = "users", .run_id = run, .records = &none};
            if (std::string_view(stream) == "time-registrations")
                pc.table = "time_registrations";
            pc.now = "T1";
            pc.window_span_s = 7 * 86400; // a window piece size Ditio accepted
            st.finish_run(pc, {.watermark = "2026-10-01T06:00:00Z"});
        }
        st.begin_run("user", "incremental", "{}", "T2"); // a run in progress
    }

    s.opt.reset_stream = "user";
    auto said = s.run(app::cmd_reset);
    CHECK(said == "user: watermark and checkpoint cleared; the next run is a full sync\n");

    auto db = store::open_database(s.db_path, std::chrono::seconds{1}, store::open_mode::read_only);
    store::sync_store st(db);
    auto user = st.load("user");
    REQUIRE(user.has_value());
    CHECK_FALSE(user->watermark.has_value());
    CHECK_FALSE(user->run_id.has_value());
    CHECK_FALSE(user->window_span_s.has_value()); // the next full sync asks for the whole window again
    CHECK(st.load("time-registrations")->watermark == "2026-10-01T06:00:00Z");
    CHECK(st.load("time-registrations")->window_span_s == 7 * 86400);

    SUBCASE("an unknown stream is a usage error that writes nothing")
    {
        s.opt.reset_stream = "users";
        std::ostringstream out;
        CHECK_THROWS_AS(app::cmd_reset(s.opt, out), app::usage_error);
        CHECK(out.str().empty());
    }
}

TEST_CASE("app: which changed keys a reload applies and which need a restart")
{
    auto base = config::parse(
        "[ditio]\nclient_id = \"a\"\n[sync]\ninterval = \"15m\"\n[ops]\nlisten = \"127.0.0.1:9464\"\n", "base"
    );
    CHECK(config::keys_needing_restart(base, base).empty());

    SUBCASE("keys the running objects take over")
    {
        auto fresh = config::parse(
            "[ditio]\nclient_id = \"b\"\nscope = \"reportingapiv1\"\n[sync]\ninterval = \"5m\"\noverlap = "
            "\"20m\"\nchunk_limit = 100\nstreams = [\"user\"]\n[log]\nlevel = \"debug\"\nformat = \"text\"\n"
            "[push]\ninterval = \"1m\"\ncheck_every = \"5s\"\n[http]\nrun_retry_budget = 3\n[storage]\n"
            "keep_runs = 5\n[ops]\nlisten = \"127.0.0.1:9464\"\nstale_after = \"2h\"\n",
            "fresh"
        );
        CHECK(config::keys_needing_restart(base, fresh).empty());
    }
    SUBCASE("keys held by objects built once at start-up")
    {
        auto fresh = config::parse(
            "[ditio]\nclient_id = \"a\"\nidentity_base = \"https://id.example\"\napi_base = "
            "\"https://api.example\"\nreporting_base = \"https://rep.example\"\n[storage]\npath = \"/x.db\"\n"
            "busy_timeout = \"1s\"\n[http]\ntimeout = \"5s\"\nca_file = \"/ca.pem\"\nproxy = "
            "\"http://127.0.0.1:3128\"\nmax_body_mb = 1\nmax_retries = 1\nretry_initial = \"2s\"\nretry_max "
            "= "
            "\"3s\"\n[ops]\nlisten = \"127.0.0.1:9465\"\nallow_remote = true\n[push]\nenabled = "
            "false\n[sync]\n"
            "interval = \"15m\"\n",
            "fresh"
        );
        auto keys = config::keys_needing_restart(base, fresh);
        std::vector<std::string> expected{
            "ditio.identity_base",
            "ditio.api_base",
            "ditio.reporting_base",
            "storage.path",
            "storage.busy_timeout",
            "http.timeout",
            "http.ca_file",
            "http.proxy",
            "http.max_body_mb",
            "http.max_retries",
            "http.retry_initial",
            "http.retry_max",
            "ops.listen",
            "ops.allow_remote",
            "push.enabled"};
        CHECK(keys == expected);
    }
    SUBCASE("a value the environment set counts like one from the file")
    {
        auto env = [](std::string_view name) -> std::optional<std::string> {
            if (name == "DITIO_SYNC_DB")
                return "/elsewhere.db";
            return std::nullopt;
        };
        temp_dir dir;
        auto fresh = config::load(dir.write("c.toml", "[ditio]\nclient_id = \"a\"\n"), true, env);
        auto keys = config::keys_needing_restart(base, fresh);
        CHECK(std::find(keys.begin(), keys.end(), "storage.path") != keys.end());
    }
}

TEST_CASE("app: a reload takes a good file, and keeps the old configuration when the new one is bad")
{
    const std::string credentials = "[ditio]\nclient_id = \"a\"\nclient_secret = \"s\"\n";
    setup s(credentials);
    auto startup = app::load_config(s.opt, config::need_credentials::yes);
    app::runtime rt(startup, "s", app::open_and_migrate(startup));
    ditio_sync::sync::scheduler sched(
        rt.engine,
        app::settings_for(startup, app::resolve_streams(startup.sync.streams)),
        {},
        rt.clock,
        rt.stop,
        ditio_sync::log::get("sync"),
        1
    );
    ditio_sync::ops::metrics metrics(rt.clock.system_now());
    auto current = startup;

    // setup's file has [storage] and [sync] already; a stream's own interval applies on a reload.
    s.write_config(credentials + "[log]\nlevel = \"off\"\n[streams.\"user\"]\ninterval = \"5m\"\n");
    app::reload(s.opt, startup, current, sched, rt, metrics);
    REQUIRE(current.streams.contains("user"));
    CHECK(current.streams.at("user").interval == std::chrono::minutes{5});

    SUBCASE("a file that does not parse is refused")
    {
        s.write_config(credentials + "[sync\n");
        app::reload(s.opt, startup, current, sched, rt, metrics);
        CHECK(current.streams.at("user").interval == std::chrono::minutes{5});
    }
    SUBCASE("a file without a readable secret is refused")
    {
        s.write_config("[ditio]\nclient_id = \"a\"\nclient_secret_file = \"/nonexistent/secret\"\n");
        app::reload(s.opt, startup, current, sched, rt, metrics);
        CHECK(current.ditio.client_secret == "s");
        CHECK(current.streams.contains("user"));
    }
}
