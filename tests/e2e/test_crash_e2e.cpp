// Crash safety: ditio-sync is killed with SIGKILL at random points across many runs while Ditio's data
// keeps changing; after a final clean run the mirror must equal the server exactly, for time registrations
// and for streams of the other kinds: machine registrations walked in window pieces, users (last-version
// tombstones) and checklists (full-record tombstones, no window). The number of kills
// and the seed come from DITIO_CRASH_KILLS (default 30) and DITIO_CRASH_SEED (default 20261128);
// scripts/crash-test.sh runs it longer.
#include "harness.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

using namespace ditio_sync;
using namespace ditio_sync::e2e;

namespace {

std::uint64_t env_number(const char* name, std::uint64_t fallback)
{
    const char* v = std::getenv(name);
    return v && *v ? std::stoull(v) : fallback;
}

// Pages committed by every run so far (0 before the database and its schema exist).
std::int64_t committed_pages(const std::filesystem::path& db)
{
    try {
        return query_int(db, "SELECT coalesce(sum(pages), 0) FROM sync_runs");
    } catch (const std::exception&) {
        return 0;
    }
}

} // namespace

TEST_SUITE_BEGIN("e2e-crash");

TEST_CASE("e2e crash: SIGKILL at random points across many runs loses, duplicates and regresses nothing")
{
    const auto kills_wanted = env_number("DITIO_CRASH_KILLS", 30);
    const auto seed = env_number("DITIO_CRASH_SEED", 20261128);
    INFO("DITIO_CRASH_SEED=" << seed << " DITIO_CRASH_KILLS=" << kills_wanted);
    MESSAGE("crash test: seed " << seed << ", " << kills_wanted << " kills");
    std::mt19937_64 rng(seed);
    auto pick = [&](std::uint64_t n) { return n == 0 ? 0 : rng() % n; };

    const std::vector<std::pair<std::string, std::string>> others{
        {"machine-registrations", "machine_registrations"},
        {"checklist-registrations", "checklist_registrations"},
        {"user", "users"},
    };
    fixture_options o;
    o.records = 3000;
    o.chunk_limit = 50;
    o.seed = seed;
    o.settings["sync.streams"] =
        R"(["time-registrations", "machine-registrations", "checklist-registrations", "user"])";
    o.settings["streams.\"machine-registrations\".full_from"] = R"("2026-06-01")";
    o.settings["streams.\"machine-registrations\".full_ahead"] = R"("30d")";
    fixture fx(o);
    auto& server = fx.server();
    server.seed_streams(150, seed, "2026-06-01", "2026-11-20");
    server.set_max_window("machine-registrations", std::chrono::hours{24 * 14});

    std::uint64_t kills = 0;
    std::uint64_t completed = 0;
    std::map<std::string, std::optional<std::string>> last_watermark;
    bool database_created = false;
    for (std::uint64_t round = 0; kills < kills_wanted && round < kills_wanted * 4; ++round) {
        // Ditio changes while the daemon is down (or about to start).
        server.edit(server.pick_live(pick(60), rng()));
        server.remove(server.pick_live(pick(15), rng()));
        server.insert(pick(40));
        for (const auto& [stream, table] : others) {
            server.edit(stream, server.pick_live(stream, pick(6), rng()));
            server.remove(stream, server.pick_live(stream, pick(3), rng()));
            server.insert(stream, pick(4));
        }
        if (pick(5) == 0)
            server.move_work_date(
                server.pick_live(pick(20), rng()),
                fmt::format("2025-0{}-1{}T00:00:00Z", 1 + pick(9), pick(10))
            );

        std::vector<std::string> args{"sync"};
        if (pick(6) == 0)
            args.push_back("--full");
        process_result res;
        if (pick(2) == 0) {
            // Kill while a request is parked on the server: a page fetch in flight, earlier commits racing.
            server.hold_request(1 + pick(8));
            auto proc = fx.start(args);
            // The run may end before it makes that many requests: then there is nothing to kill.
            bool held = false;
            while (!(held = server.wait_until_held(std::chrono::milliseconds{20})) && !proc.exited()) {
            }
            if (held)
                proc.kill(SIGKILL);
            res = proc.wait();
            server.release();
        } else if (pick(2) == 0) {
            // Kill after a random delay: anywhere, including inside a commit, the token request, the
            // migrations or before the database exists (on a slow machine, mostly there).
            auto proc = fx.start(args);
            std::this_thread::sleep_for(std::chrono::milliseconds{pick(250)});
            proc.kill(SIGKILL);
            res = proc.wait();
        } else {
            // Kill a little after a random number of pages has been committed, however long start-up
            // took on this machine: inside a commit, between pages, or during the next fetch.
            auto pages_before = committed_pages(fx.db());
            auto proc = fx.start(args);
            auto target = pages_before + 1 + static_cast<std::int64_t>(pick(30));
            auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{120};
            while (!proc.exited() && committed_pages(fx.db()) < target &&
                   std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds{2});
            std::this_thread::sleep_for(std::chrono::milliseconds{pick(20)});
            proc.kill(SIGKILL);
            res = proc.wait();
        }
        INFO("round " << round << " stderr:\n" << res.err);
        if (res.signal == SIGKILL)
            ++kills;
        else {
            REQUIRE(res.exit_code == 0);
            ++completed;
        }

        // A kill before the database file exists is a legitimate outcome, but only until it was created.
        if (!std::filesystem::exists(fx.db())) {
            REQUIRE(!database_created);
            continue;
        }
        database_created = true;
        REQUIRE(query_text(fx.db(), "PRAGMA integrity_check") == "ok");
        // Killed before the first migration committed: no sync state to check yet.
        if (query_int(fx.db(), "PRAGMA user_version") == 0)
            continue;
        for (const auto& stream : {std::string("time-registrations"), others[0].first}) {
            auto watermark = query_text(
                fx.db(), fmt::format("SELECT watermark FROM sync_state WHERE stream = '{}'", stream)
            );
            auto& last = last_watermark[stream];
            if (last)
                REQUIRE((watermark && *watermark >= *last));
            if (watermark)
                last = watermark;
        }
    }
    MESSAGE("crash test: " << kills << " kills, " << completed << " runs that finished first");
    REQUIRE(kills >= kills_wanted);

    // Two clean runs: the first finishes whatever run was interrupted, the second catches every change
    // made behind a full traversal's cursor.
    for (int i = 0; i < 2; ++i) {
        auto res = fx.run({"sync"});
        INFO(res.err);
        REQUIRE(res.exit_code == 0);
    }
    auto diffs = compare_with_server(server, fx.db());
    std::string first;
    for (std::size_t i = 0; i < diffs.size() && i < 5; ++i)
        first += diffs[i] + "\n";
    CHECK_MESSAGE(diffs.empty(), first);
    CHECK(query_int(fx.db(), "SELECT count(*) FROM sync_runs WHERE status = 'running'") == 0);
    CHECK(
        query_int(fx.db(), "SELECT count(*) FROM time_registrations WHERE is_deleted = 0") ==
        static_cast<std::int64_t>(server.live_count())
    );
    for (const auto& [stream, table] : others)
        check_mirror_exact(server, fx.db(), stream, table);
}

TEST_SUITE_END();
