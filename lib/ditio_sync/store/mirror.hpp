// Writes to one mirror table: upserts of live records, tombstones, and the deletion sweep that ends a full
// re-sync. A row is only replaced by a version whose change time is not older than the stored one.
// Must run inside the caller's transaction, on the database thread.
#pragma once

#include <ditio_sync/model/record.hpp>

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ditio_sync::store {

struct apply_counts {
    std::int64_t upserted = 0;
    std::int64_t deleted = 0;
};

class mirror_table {
public:
    // `table` comes from the compiled-in stream catalogue, never from input. `tombstones_carry_data`: Ditio
    // sends deleted records of this stream as their last version (metadata, checklists), which then
    // replaces the stored data; otherwise tombstones are empty and the stored data is kept.
    mirror_table(SQLite::Database& db, std::string table, bool tombstones_carry_data);

    // Upserts live records and applies tombstones (flag the row, keep its last data; store the tombstone
    // itself when the id is unknown). Idempotent. A table with a parent_ref column (images) is keyed by
    // (id, record.parent); there a tombstone whose parent reference is not from a parent id field (an empty
    // tombstone names none) flags every row of its id that is not newer.
    apply_counts
    apply(const std::vector<model::record>& records, std::int64_t run_id, const std::string& now);

    // Marks deleted every live row that run `run_id` did not return, limited to rows whose
    // `window_field` instant lies in [from, to] when window_field is not empty. Returns the rows marked.
    std::int64_t sweep(
        std::int64_t run_id,
        const std::string& window_field,
        const std::string& from,
        const std::string& to,
        const std::string& now
    );

    const std::string& table() const { return table_; }

private:
    void delete_every_parent(const model::record& r, const std::string& now);

    SQLite::Database& db_;
    std::string table_;
    bool by_parent_ = false;
    bool carry_data_ = false;
    SQLite::Statement upsert_;
    SQLite::Statement tombstone_;
    std::optional<SQLite::Statement> tombstone_all_; // by_parent_ only
    std::optional<SQLite::Statement> tombstone_new_;
    std::string id_, modified_, deleted_at_, data_; // the record being written, reused
};

} // namespace ditio_sync::store
