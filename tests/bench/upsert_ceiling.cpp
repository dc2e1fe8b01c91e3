#include "upsert_ceiling.hpp"

#include <ditio_sync/ditio/page.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/store/mirror.hpp>
#include <ditio_sync/util/time.hpp>

#include <SQLiteCpp/Transaction.h>
#include <fmt/format.h>

#include <time.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace ditio_sync::bench {

namespace fs = std::filesystem;

namespace {

double cpu_now()
{
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double wall_now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

} // namespace

std::size_t write_ceiling_rows(const testing::fake_ditio& server, const fs::path& file)
{
    auto snapshot = server.snapshot();
    // A full sync walks the live records by work date, then id; inserting in that order (not the map's id
    // order) gives the primary-key index the same access pattern as the daemon.
    std::vector<const std::pair<const std::string, testing::record_view>*> order;
    order.reserve(snapshot.size());
    for (const auto& entry : snapshot)
        if (!entry.second.deleted)
            order.push_back(&entry);
    std::sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
        return std::tie(a->second.work_date, a->first) < std::tie(b->second.work_date, b->first);
    });

    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    if (!out)
        throw std::runtime_error("cannot write " + file.string());
    for (std::size_t i = 0; i < order.size(); ++i) {
        const auto& json = order[i]->second.json;
        if (json.find('\n') != std::string::npos)
            throw std::runtime_error("a record's JSON holds a newline; the rows file is one page per line");
        bool first_of_page = i % ceiling_batch == 0;
        bool last_of_page = (i + 1) % ceiling_batch == 0 || i + 1 == order.size();
        out << (first_of_page ? "{\"data\":[" : ",") << json;
        if (last_of_page)
            out << "]}\n";
    }
    out.close();
    if (!out)
        throw std::runtime_error("cannot write " + file.string());
    return order.size();
}

ceiling_timing run_ceiling(const fs::path& rows_file, const fs::path& db_path)
{
    std::ifstream in(rows_file, std::ios::binary);
    if (!in)
        throw std::runtime_error("cannot read " + rows_file.string());

    ceiling_timing timing;
    auto wall_start = wall_now();
    auto cpu_start = cpu_now();
    auto db = std::make_unique<SQLite::Database>(
        store::open_database(db_path, std::chrono::seconds{5}, store::open_mode::read_write)
    );
    store::migrate(*db);
    auto table = std::make_unique<store::mirror_table>(*db, "time_registrations", false);
    timing.wall_seconds += wall_now() - wall_start;
    timing.cpu_seconds += cpu_now() - cpu_start;

    auto now = util::format_iso8601_ms(
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now())
    );
    std::string line;
    ditio::page page;
    std::string why;
    while (std::getline(in, line)) {
        // Loading and parsing: not timed.
        if (!ditio::parse_page(line, page, why))
            throw std::runtime_error(fmt::format("rows file, page {}: {}", timing.rows / ceiling_batch, why));

        wall_start = wall_now();
        cpu_start = cpu_now();
        SQLite::Transaction tx(*db, SQLite::TransactionBehavior::IMMEDIATE);
        auto counts = table->apply(page.records, 1, now);
        tx.commit();
        timing.wall_seconds += wall_now() - wall_start;
        timing.cpu_seconds += cpu_now() - cpu_start;
        timing.rows += static_cast<std::size_t>(counts.upserted);
    }

    // Closing checkpoints the WAL into the database file; ditio-sync's timed run ends the same way.
    wall_start = wall_now();
    cpu_start = cpu_now();
    table.reset();
    db.reset();
    timing.wall_seconds += wall_now() - wall_start;
    timing.cpu_seconds += cpu_now() - cpu_start;
    return timing;
}

} // namespace ditio_sync::bench
