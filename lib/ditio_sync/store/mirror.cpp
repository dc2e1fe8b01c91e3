#include <ditio_sync/store/mirror.hpp>

#include <fmt/format.h>

namespace ditio_sync::store {
namespace {

// A table keyed by (id, parent_ref) holds one row per record and parent (images, migration 0006).
bool has_parent_column(SQLite::Database& db, const std::string& table)
{
    SQLite::Statement q(db, "SELECT count(*) FROM pragma_table_info(:t) WHERE name = 'parent_ref'");
    q.bind(":t", table);
    return q.executeStep() && q.getColumn(0).getInt() > 0;
}

} // namespace

mirror_table::mirror_table(SQLite::Database& db, std::string table, bool tombstones_carry_data)
    : db_(db), table_(std::move(table)), by_parent_(has_parent_column(db_, table_)),
      carry_data_(tombstones_carry_data),
      // In an UPDATE every right-hand side sees the old row, so each CASE compares against the stored key.
      upsert_(
          db_,
          fmt::format(
              R"(INSERT INTO {0} (id, modified_at, is_deleted, deleted_at, data, first_seen_at, synced_at, change_key, seen_run{1})
                 VALUES (:id, :modified, 0, NULL, :data, :now, :now, :key, :run{2})
                 ON CONFLICT (id{1}) DO UPDATE SET
                   modified_at = CASE WHEN excluded.change_key >= change_key THEN excluded.modified_at ELSE modified_at END,
                   is_deleted  = CASE WHEN excluded.change_key >= change_key THEN 0 ELSE is_deleted END,
                   deleted_at  = CASE WHEN excluded.change_key >= change_key THEN NULL ELSE deleted_at END,
                   data        = CASE WHEN excluded.change_key >= change_key THEN excluded.data ELSE data END,
                   synced_at   = CASE WHEN excluded.change_key >= change_key THEN excluded.synced_at ELSE synced_at END,
                   change_key  = CASE WHEN excluded.change_key >= change_key THEN excluded.change_key ELSE change_key END,
                   seen_run    = excluded.seen_run)",
              table_,
              by_parent_ ? ", parent_ref" : "",
              by_parent_ ? ", :parent" : ""
          )
      ),
      tombstone_(
          db_,
          fmt::format(
              R"(INSERT INTO {0} (id, modified_at, is_deleted, deleted_at, data, first_seen_at, synced_at, change_key{2})
                 VALUES (:id, :modified, 1, :deleted_at, :data, :now, :now, :key{3})
                 ON CONFLICT (id{2}) DO UPDATE SET
                   is_deleted = 1, deleted_at = excluded.deleted_at, modified_at = excluded.modified_at,
                   change_key = excluded.change_key, synced_at = excluded.synced_at{1}
                 WHERE excluded.change_key >= change_key AND NOT (is_deleted = 1 AND change_key = excluded.change_key))",
              table_,
              tombstones_carry_data ? ", data = excluded.data" : "",
              by_parent_ ? ", parent_ref" : "",
              by_parent_ ? ", :parent" : ""
          )
      )
{
    if (!by_parent_)
        return;
    // A tombstone that names no parent (an empty one carries only the id) is the image's own deletion: it
    // applies to every row of the id, each under its own never-overwrite-newer guard, and is stored as a row
    // of its own only when the id has none.
    tombstone_all_.emplace(
        db_,
        fmt::format(
            R"(UPDATE {0} SET is_deleted = 1, deleted_at = :deleted_at, modified_at = :modified, change_key = :key,
                 synced_at = :now{1}
               WHERE id = :id AND :key >= change_key AND NOT (is_deleted = 1 AND change_key = :key))",
            table_,
            tombstones_carry_data ? ", data = :data" : ""
        )
    );
    tombstone_new_.emplace(
        db_,
        fmt::format(
            R"(INSERT INTO {0} (id, parent_ref, modified_at, is_deleted, deleted_at, data, first_seen_at, synced_at, change_key)
               SELECT :id, :parent, :modified, 1, :deleted_at, :data, :now, :now, :key
               WHERE NOT EXISTS (SELECT 1 FROM {0} WHERE id = :id))",
            table_
        )
    );
}

namespace {

// A cached statement whose step failed (disk full, I/O error) must be reset, or every later bind fails
// with SQLITE_MISUSE for the life of the process. tryReset() does not rethrow the step's error.
struct reset_on_exit {
    SQLite::Statement& stmt;
    ~reset_on_exit()
    {
        stmt.tryReset();
        // The text was bound without a copy from buffers reused later: no statement keeps pointing at it.
        try {
            stmt.clearBindings();
        } catch (const std::exception&) { // only an unprepared statement fails, and a destructor must not
                                          // throw
        }
    }
};

} // namespace

apply_counts
mirror_table::apply(const std::vector<model::record>& records, std::int64_t run_id, const std::string& now)
{
    apply_counts counts;
    reset_on_exit upsert_guard{upsert_};
    reset_on_exit tombstone_guard{tombstone_};
    // The record's fields are views into its page: copied into reused buffers, then bound without a copy
    // (SQLiteCpp takes text with a length only from a std::string).
    auto text = [](std::string& buffer, std::string_view v) -> const std::string& {
        buffer.assign(v);
        return buffer;
    };
    // The same for every record of the batch: bound once (reset() keeps bindings).
    upsert_.bindNoCopy(":now", now);
    upsert_.bind(":run", run_id);
    tombstone_.bindNoCopy(":now", now);
    for (const auto& r : records) {
        if (by_parent_ && r.deleted && (r.parent.empty() || r.parent_from_context)) {
            delete_every_parent(r, now);
            ++counts.deleted;
        } else if (!r.deleted) {
            if (by_parent_)
                upsert_.bindNoCopy(":parent", r.parent);
            upsert_.bindNoCopy(":id", text(id_, r.id));
            upsert_.bindNoCopy(":modified", text(modified_, r.modified));
            upsert_.bindNoCopy(":data", text(data_, r.json));
            upsert_.bindNoCopy(":key", r.change_key);
            upsert_.exec();
            upsert_.reset();
            ++counts.upserted;
        } else {
            if (by_parent_)
                tombstone_.bindNoCopy(":parent", r.parent);
            tombstone_.bindNoCopy(":id", text(id_, r.id));
            tombstone_.bindNoCopy(":modified", text(modified_, r.modified));
            tombstone_.bindNoCopy(
                ":deleted_at", text(deleted_at_, r.deleted_at.empty() ? r.modified : r.deleted_at)
            );
            tombstone_.bindNoCopy(":data", text(data_, r.json));
            tombstone_.bindNoCopy(":key", r.change_key);
            tombstone_.exec();
            tombstone_.reset();
            ++counts.deleted;
        }
    }
    return counts;
}

void mirror_table::delete_every_parent(const model::record& r, const std::string& now)
{
    id_.assign(r.id);
    modified_.assign(r.modified);
    deleted_at_.assign(r.deleted_at.empty() ? r.modified : r.deleted_at);
    data_.assign(r.json);
    for (auto* stmt : {&*tombstone_all_, &*tombstone_new_}) {
        reset_on_exit guard{*stmt};
        stmt->bindNoCopy(":id", id_);
        stmt->bindNoCopy(":modified", modified_);
        stmt->bindNoCopy(":deleted_at", deleted_at_);
        stmt->bindNoCopy(":key", r.change_key);
        stmt->bindNoCopy(":now", now);
        if (stmt == &*tombstone_new_ || carry_data_)
            stmt->bindNoCopy(":data", data_);
        if (stmt == &*tombstone_new_)
            stmt->bindNoCopy(":parent", r.parent);
        stmt->exec();
    }
}

std::int64_t mirror_table::sweep(
    std::int64_t run_id,
    const std::string& window_field,
    const std::string& from,
    const std::string& to,
    const std::string& now
)
{
    // An inferred deletion leaves change_key alone: if the row was only moved out of the traversal's
    // reach by an edit during the run, the next incremental run's newer version brings it back.
    std::string sql = fmt::format(
        "UPDATE {} SET is_deleted = 1, deleted_at = :now, synced_at = :now "
        "WHERE is_deleted = 0 AND (seen_run IS NULL OR seen_run <> :run)",
        table_
    );
    // Instants, not strings: window values come as dates, as date-times with Z or with an offset.
    if (!window_field.empty())
        sql += " AND julianday(json_extract(data, :path)) BETWEEN julianday(:from) AND julianday(:to)";
    SQLite::Statement stmt(db_, sql);
    stmt.bind(":now", now);
    stmt.bind(":run", run_id);
    if (!window_field.empty()) {
        stmt.bind(":path", "$." + window_field);
        stmt.bind(":from", from);
        stmt.bind(":to", to);
    }
    return stmt.exec();
}

} // namespace ditio_sync::store
