#include <ditio_sync/store/quarantine.hpp>

#include <SQLiteCpp/Statement.h>
#include <fmt/format.h>

#include <string_view>

namespace ditio_sync::store {
namespace {

// FNV-1a, 64 bits: a stable name for a record without an id (the same bytes give the same key in every
// build and on every machine, unlike std::hash).
std::uint64_t fnv1a(std::string_view s)
{
    std::uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

std::string record_key(const model::quarantined_record& q)
{
    if (!q.id.empty())
        return fmt::format("id:{}", q.id);
    return fmt::format("raw:{:016x}", fnv1a(q.json));
}

} // namespace

std::int64_t quarantine_count(SQLite::Database& db, const std::string& stream)
{
    SQLite::Statement q(db, "SELECT count(*) FROM quarantine WHERE stream = :s");
    q.bind(":s", stream);
    q.executeStep();
    return q.getColumn(0).getInt64();
}

std::int64_t quarantine_page(
    SQLite::Database& db,
    const std::string& stream,
    std::int64_t run_id,
    const std::string& now,
    const std::vector<model::quarantined_record>& bad,
    const std::vector<model::record>& good
)
{
    if (!bad.empty()) {
        SQLite::Statement ins(
            db,
            R"(INSERT INTO quarantine (stream, record_key, record_id, reason, data, first_seen_at, last_seen_at,
                   first_run, last_run)
               VALUES (:s, :key, :id, :reason, :data, :now, :now, :run, :run)
               ON CONFLICT (stream, record_key) DO UPDATE SET
                   reason = excluded.reason, data = excluded.data, last_seen_at = excluded.last_seen_at,
                   last_run = excluded.last_run, times_seen = times_seen + 1)"
        );
        for (const auto& q : bad) {
            ins.bind(":s", stream);
            ins.bind(":key", record_key(q));
            if (q.id.empty())
                ins.bind(":id");
            else
                ins.bind(":id", std::string(q.id));
            ins.bind(":reason", q.reason);
            ins.bind(":data", std::string(q.json));
            ins.bind(":now", now);
            ins.bind(":run", run_id);
            ins.exec();
            ins.reset();
        }
    }
    // A good version of a quarantined id supersedes the entry. Looked up only when the stream has entries
    // with an id, so the common page pays one indexed probe, not one per record.
    SQLite::Statement any(
        db, "SELECT EXISTS (SELECT 1 FROM quarantine WHERE stream = :s AND record_id IS NOT NULL)"
    );
    any.bind(":s", stream);
    if (any.executeStep() && any.getColumn(0).getInt() != 0 && !good.empty()) {
        SQLite::Statement del(db, "DELETE FROM quarantine WHERE stream = :s AND record_id = :id");
        std::string id;
        for (const auto& r : good) {
            id.assign(r.id);
            del.bind(":s", stream);
            del.bind(":id", id);
            del.exec();
            del.reset();
        }
    }
    return quarantine_count(db, stream);
}

std::int64_t drop_unseen_quarantine(SQLite::Database& db, const std::string& stream, std::int64_t run_id)
{
    SQLite::Statement del(db, "DELETE FROM quarantine WHERE stream = :s AND last_run <> :run");
    del.bind(":s", stream);
    del.bind(":run", run_id);
    del.exec();
    return quarantine_count(db, stream);
}

void clear_quarantine(SQLite::Database& db, const std::string& stream)
{
    SQLite::Statement del(db, "DELETE FROM quarantine WHERE stream = :s");
    del.bind(":s", stream);
    del.exec();
}

std::vector<quarantine_entry> quarantine_entries(SQLite::Database& db, const std::string& stream)
{
    SQLite::Statement q(
        db,
        R"(SELECT stream, coalesce(record_id, ''), reason, data, first_seen_at, last_seen_at, first_run, last_run,
               times_seen
           FROM quarantine WHERE stream = :s ORDER BY first_seen_at, record_key)"
    );
    q.bind(":s", stream);
    std::vector<quarantine_entry> out;
    while (q.executeStep()) {
        quarantine_entry e;
        e.stream = q.getColumn(0).getString();
        e.record_id = q.getColumn(1).getString();
        e.reason = q.getColumn(2).getString();
        e.data = q.getColumn(3).getString();
        e.first_seen_at = q.getColumn(4).getString();
        e.last_seen_at = q.getColumn(5).getString();
        e.first_run = q.getColumn(6).getInt64();
        e.last_run = q.getColumn(7).getInt64();
        e.times_seen = q.getColumn(8).getInt64();
        out.push_back(std::move(e));
    }
    return out;
}

} // namespace ditio_sync::store
