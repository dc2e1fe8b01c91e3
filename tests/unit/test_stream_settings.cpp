// Unit tests for [streams."<name>"] tables: parsing in config, and their resolution against the stream
// catalogue in sync/stream_settings (overrides, parameter types, defaults, errors naming the key).
#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ditio/streams.hpp>
#include <ditio_sync/sync/stream_settings.hpp>

#include <doctest/doctest.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>

namespace {

namespace cfg = ditio_sync::config;
namespace ditio = ditio_sync::ditio;
using ditio_sync::sync::resolve_stream;
using namespace std::chrono_literals;

const ditio::stream_def& def(std::string_view name)
{
    const auto* d = ditio::find_stream(name);
    REQUIRE(d != nullptr);
    return *d;
}

// The error resolving `stream` under `toml`, "" when there is none.
std::string resolve_error(std::string_view toml, std::string_view stream)
{
    try {
        auto c = cfg::parse(toml, "test.toml");
        auto names = ditio::stream_names();
        cfg::validate(c, names, cfg::need_credentials::no);
        resolve_stream(c, def(stream));
        ditio_sync::sync::check_streams(c);
    } catch (const cfg::config_error& e) {
        return e.what();
    }
    return {};
}

} // namespace

TEST_CASE("stream settings: the catalogue names every documented endpoint once, registrations first")
{
    std::set<std::string_view> names, tables;
    bool seen_dimension = false;
    for (const auto& s : ditio::catalogue()) {
        CHECK(names.insert(s.name).second);
        CHECK(tables.insert(s.table).second);
        CHECK(s.path == "v1/" + std::string(s.name));
        CHECK(s.windowed == !s.window_field.empty());
        CHECK(!(s.windowed && s.ignores_window));
        // Once the dimensions start, no registration follows.
        if (s.dimension)
            seen_dimension = true;
        else
            CHECK_MESSAGE(!seen_dimension, s.name);
    }
    CHECK(names.size() == 18);
    for (auto n : {"project", "project/work-breakdown-structure", "user", "resource"}) {
        CHECK(def(n).dimension);
        CHECK(def(n).tombstones == ditio::tombstone_shape::last_version);
    }
    CHECK(def("project/work-breakdown-structure").table == "work_orders");
    CHECK(def("machine-registrations").window_field == "stopDateTime");
    CHECK(def("checklist-registrations").ignores_window);
}

TEST_CASE("stream settings: defaults come from [sync], and a stream table overrides them")
{
    auto c = cfg::parse(
        R"(
[sync]
interval = "20m"
chunk_limit = 3000
full_from = "2022-01-01"
[streams."machine-registrations"]
interval = "1h"
chunk_limit = 800
full_from = "2025-06-01"
full_ahead = "7d"
max_window = "7d"
)",
        "test.toml"
    );
    auto m = resolve_stream(c, def("machine-registrations"));
    CHECK(m.interval == 1h);
    CHECK(m.chunk_limit == 800);
    CHECK(m.full_from == "2025-06-01");
    CHECK(m.full_ahead == std::chrono::hours{24 * 7});
    REQUIRE(m.max_window.has_value());
    CHECK(*m.max_window == std::chrono::hours{24 * 7});
    CHECK(m.params.empty());

    auto t = resolve_stream(c, def("time-registrations"));
    CHECK(t.interval == 20min);
    CHECK(t.chunk_limit == 3000);
    CHECK(t.full_from == "2022-01-01");
    CHECK(!t.max_window.has_value());
    CHECK(!t.max_incremental_age.has_value()); // unset by default
}

TEST_CASE("stream settings: max_incremental_age is a setting of every stream, windowed or not")
{
    auto c = cfg::parse(
        R"(
[streams."machine-registrations"]
max_incremental_age = "3d"
[streams."user"]
max_incremental_age = "36h"
)",
        "test.toml"
    );
    auto names = ditio::stream_names();
    cfg::validate(c, names, cfg::need_credentials::no);
    auto m = resolve_stream(c, def("machine-registrations"));
    REQUIRE(m.max_incremental_age.has_value());
    CHECK(*m.max_incremental_age == std::chrono::hours{72});
    auto u = resolve_stream(c, def("user"));
    REQUIRE(u.max_incremental_age.has_value());
    CHECK(*u.max_incremental_age == 36h);
    CHECK(
        resolve_error("[streams.\"user\"]\nmax_incremental_age = \"10m\"\n", "user") ==
        R"(streams."user".max_incremental_age: must be between 1h and 3660d)"
    );
}

TEST_CASE("stream settings: sync.company_id filters every stream without its own; push.company_id none")
{
    using q = ditio::query;
    auto pushing = cfg::parse("[push]\ncompany_id = \"5f0c3a9e1d2b4c6a8e0f1a2b\"\n", "test.toml");
    CHECK(resolve_stream(pushing, def("user")).params.empty());
    auto narrowed = cfg::parse(
        "[sync]\ncompany_id = \"5f0c3a9e1d2b4c6a8e0f1a2b\"\n[streams.\"project\"]\ncompany_id = \"x\"\n",
        "test.toml"
    );
    CHECK(resolve_stream(narrowed, def("user")).params == q{{"CompanyId", "5f0c3a9e1d2b4c6a8e0f1a2b"}});
    CHECK(resolve_stream(narrowed, def("project")).params == q{{"CompanyId", "x"}});
}

TEST_CASE("stream settings: parameters become Ditio's query, with defaults that keep the mirror complete")
{
    auto c = cfg::parse(
        R"(
[ditio]
company_id = "5f0c3a9e1d2b4c6a8e0f1a2b"
[streams."absence-registrations"]
approved = false
include_sensitive_data = true
[streams."images"]
sources = ["feed", "alert"]
company_id = "61a7e2c4b9d8f0a1c2e3d4f5"
[streams."crew-list-registrations"]
project_ids = ["aaa", "bbb"]
include_open = false
[streams."payroll-lines-extended"]
user_payroll_type_filter = "HourlyPaid"
exclude_data_from_subsidiaries = true
)",
        "test.toml"
    );
    using q = ditio::query;
    CHECK(
        resolve_stream(c, def("absence-registrations")).params ==
        q{{"CompanyId", "5f0c3a9e1d2b4c6a8e0f1a2b"}, {"Approved", "false"}, {"IncludeSensitiveData", "true"}}
    );
    CHECK(
        resolve_stream(c, def("images")).params ==
        q{{"CompanyId", "61a7e2c4b9d8f0a1c2e3d4f5"}, {"Sources", "feed"}, {"Sources", "alert"}}
    );
    CHECK(
        resolve_stream(c, def("crew-list-registrations")).params ==
        q{{"CompanyId", "5f0c3a9e1d2b4c6a8e0f1a2b"}, {"ProjectIds", "aaa,bbb"}, {"IncludeOpen", "false"}}
    );
    CHECK(
        resolve_stream(c, def("payroll-lines-extended")).params ==
        q{{"CompanyId", "5f0c3a9e1d2b4c6a8e0f1a2b"},
          {"ExcludeDataFromSubsidiaries", "true"},
          {"ExportFilter", "All"},
          {"UserPayrollTypeFilter", "HourlyPaid"}}
    );

    // Set empty for one stream, a value sends nothing there, whatever the default or ditio.company_id.
    auto opted_out = cfg::parse(
        "[ditio]\ncompany_id = \"5f0c3a9e1d2b4c6a8e0f1a2b\"\n[streams.\"user\"]\ncompany_id = \"\"\n"
        "[streams.\"payroll-lines-extended\"]\nexport_filter = \"\"\n",
        "test.toml"
    );
    CHECK(resolve_stream(opted_out, def("user")).params.empty());
    CHECK(
        resolve_stream(opted_out, def("payroll-lines-extended")).params ==
        q{{"CompanyId", "5f0c3a9e1d2b4c6a8e0f1a2b"}, {"UserPayrollTypeFilter", "AllUsers"}}
    );

    auto defaults = cfg::parse("", "test.toml");
    CHECK(
        resolve_stream(defaults, def("payroll-lines-extended")).params ==
        q{{"ExportFilter", "All"}, {"UserPayrollTypeFilter", "AllUsers"}}
    );
    CHECK(resolve_stream(defaults, def("crew-list-registrations")).params == q{{"IncludeOpen", "true"}});
    CHECK(resolve_stream(defaults, def("time-registrations")).params.empty());
}

TEST_CASE("stream settings: bad stream tables are errors that name the key")
{
    CHECK(
        resolve_error("[streams.\"user\"]\napproved = true\n", "user") ==
        R"(streams."user".approved: not a setting of user (valid: interval, chunk_limit, max_incremental_age, company_id, own_company_data_only, exclude_data_from_subsidiaries))"
    );
    CHECK(
        resolve_error("[streams.\"images\"]\nsources = [\"feed\", \"video\"]\n", "images") ==
        R"(streams."images".sources: 'video' is not one of feed, alert, checklist)"
    );
    CHECK(
        resolve_error("[streams.\"absence-registrations\"]\nlocked = \"yes\"\n", "absence-registrations") ==
        R"(streams."absence-registrations".locked: must be true or false)"
    );
    CHECK(
        resolve_error("[streams.\"crew-list-registrations\"]\nproject_ids = [\"a,b\"]\n", "user") ==
        R"(streams."crew-list-registrations".project_ids: 'a,b' is not a valid id)"
    );
    CHECK(
        resolve_error("[streams.\"payroll-lines-extended\"]\nexport_filter = true\n", "user") ==
        R"(streams."payroll-lines-extended".export_filter: must be a string)"
    );
    CHECK(
        resolve_error("[streams.\"project\"]\nmax_window = \"7d\"\n", "project") ==
        R"(streams."project".max_window: project takes no date window)"
    );
    CHECK(
        resolve_error("[streams.\"nope\"]\ninterval = \"1h\"\n", "user") ==
        R"(streams."nope": unknown stream (valid: time-registrations, machine-registrations, absence-registrations, payroll-lines, payroll-lines-extended, checklist-registrations, incident-registrations, machine-checklist-registrations, machine-incident-registrations, images, crew-list-registrations, flow-trip-registrations, project, project/work-breakdown-structure, user, resource, flow-locations, flow-mass-types))"
    );
    CHECK(
        resolve_error("[streams.\"time-registration\"]\ninterval = \"1h\"\n", "user")
            .find("unknown stream (did you mean 'time-registrations'?") != std::string::npos
    );
    CHECK(
        resolve_error(
            "[streams.\"crew-list-registrations\"]\ninclude_opne = true\n", "crew-list-registrations"
        )
            .find("not a setting of crew-list-registrations (did you mean 'include_open'? valid: interval, "
                  "chunk_limit,") != std::string::npos
    );
    CHECK(!resolve_error("[streams.\"user\"]\ninterval = \"soon\"\n", "user").empty());
    CHECK(
        resolve_error("[streams.\"user\"]\ninterval = \"500ms\"\n", "user") ==
        R"(streams."user".interval: must be between 1s and 30d)"
    );
    CHECK(
        resolve_error("[streams.\"user\"]\nchunk_limit = 10001\n", "user") ==
        R"(test.toml: streams."user".chunk_limit: 10001 is out of range 1..10000)"
    );
    CHECK(
        resolve_error("[streams.\"user\"]\nfull_from = \"01.01.2024\"\n", "user") ==
        R"(streams."user".full_from: '01.01.2024' is not a date (YYYY-MM-DD))"
    );
    CHECK(
        resolve_error("[streams.\"user\"]\nnested = { a = 1 }\n", "user") ==
        R"(test.toml: streams."user".nested: must be a boolean, a string or an array of strings)"
    );
    CHECK(
        resolve_error("streams = 3\n", "user") ==
        R"(test.toml: streams: must be a table of [streams."<name>"] tables)"
    );
    CHECK(resolve_error("[streams.\"user\"]\ncompany_id = \"x\"\n", "user").empty());
    CHECK(
        resolve_error("[streams.\"project\"]\nfull_ahead = \"30d\"\n", "project") ==
        R"(streams."project".full_ahead: project takes no date window)"
    );
}

TEST_CASE("stream settings: the example config parses, and so do its commented stream examples")
{
    std::ifstream in(std::string(DITIO_SYNC_SOURCE_DIR) + "/config/ditio-sync.example.toml");
    REQUIRE(in);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto names = ditio::stream_names();
    auto plain = cfg::parse(text, "example");
    cfg::validate(plain, names, cfg::need_credentials::no);
    ditio_sync::sync::check_streams(plain);

    // Uncomment the [streams."..."] examples and the settings that follow them.
    std::istringstream lines(text);
    std::string line, uncommented;
    bool in_examples = false;
    int settings = 0;
    while (std::getline(lines, line)) {
        if (line.starts_with("# [streams."))
            in_examples = true;
        else if (!line.starts_with("#"))
            in_examples = false;
        bool setting = line.size() > 2 && line.starts_with("# ") && (std::islower(line[2]) || line[2] == '[');
        if (in_examples && setting) {
            uncommented += line.substr(2) + "\n";
            ++settings;
        } else {
            uncommented += line + "\n";
        }
    }
    CHECK(settings >= 15);
    auto examples = cfg::parse(uncommented, "example, uncommented");
    cfg::validate(examples, names, cfg::need_credentials::no);
    ditio_sync::sync::check_streams(examples);
    CHECK(examples.streams.size() == 5);
    CHECK(
        resolve_stream(examples, def("payroll-lines-extended")).params ==
        ditio::query{{"ExportFilter", "All"}, {"UserPayrollTypeFilter", "AllUsers"}}
    );
}
