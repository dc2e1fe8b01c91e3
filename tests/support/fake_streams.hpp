// The fake's generic record store: every Data Extraction stream except v1/time-registrations (which keeps its
// own compact store for the benchmark), as JSON records drawn from the shared pools, with each stream's
// tombstone shape and filters, and two ordered indexes (full order, change order) per stream.
//
// Thread safety: none; fake_ditio calls it under its own mutex.
#pragma once

#include "fake_data.hpp"
#include "fake_ditio.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ditio_sync::testing::detail {

// How a deleted record is served in incremental mode (ditio-api.md 3.5).
enum class tombstone_kind {
    empty,        // id, isDeleted, deletedDateTime, modifiedDateTime = deletion time; every other key null
    last_version, // the last version flagged isDeleted; its (older) modifiedDateTime unchanged
    full_record,  // the full record flagged isDeleted, modifiedDateTime = deletion time
};

struct stream_spec {
    std::string_view name; // the path after v1/
    // The full-mode window and order field; empty: From/To are accepted and ignored, full order is by id.
    std::string_view window_field;
    tombstone_kind tombstone;
    bool metadata;
    bool project_scoped;   // ProjectId filters it
    bool from_to_together; // FromDateTime without ToDateTime (or the reverse) is a 400
};

// Every stream the fake serves, time-registrations first, in the daemon's catalogue order.
std::span<const stream_spec> stream_specs();

// nullptr when unknown.
const stream_spec* find_stream_spec(std::string_view name);

// One request's parameters, parsed and validated by the HTTP layer.
struct stream_filter {
    bool incremental = false;
    std::optional<std::int64_t> from_ms, to_ms;      // ms, both inclusive; full mode on windowed streams only
    std::optional<std::int64_t> since_ms, before_ms; // change time: since inclusive, before exclusive
    std::string company, project;
    bool own_company_only = false; // OwnCompanyDataOnly or ExcludeDataFromSubsidiaries: our company's only
    std::size_t chunk = 2500;
    std::optional<bool> approved, approved_payroll, locked; // absences
    bool include_sensitive = false;                         // absences
    bool all_lines = false, all_users = false;              // payroll-lines-extended
    std::set<std::string> sources;                          // images; empty: all
    std::set<std::string> project_ids;                      // crew list; empty: all
    bool include_open = false;                              // crew list
};

// A position in one of the two orders: (window time or 0, id) in full mode, (change time, id) in incremental.
struct stream_position {
    std::int64_t pos = 0;
    object_id id{};
};

struct stream_page {
    std::string data; // the records, comma-separated, without the brackets
    std::size_t count = 0, deleted = 0;
    bool more = false;
    stream_position last; // of the last record on the page, when `more`
};

// Every method throws std::invalid_argument for a stream that is not generic (unknown or time-registrations).
class generic_streams {
public:
    explicit generic_streams(std::string own_company_id);
    ~generic_streams();
    generic_streams(const generic_streams&) = delete;
    generic_streams& operator=(const generic_streams&) = delete;

    // Every pool entry of the metadata streams (those not there yet) and `per_stream` records per
    // registration stream with window days in [first_day, last_day], modified before now_ms.
    void seed(
        std::size_t per_stream,
        std::uint64_t seed,
        std::int32_t first_day,
        std::int32_t last_day,
        std::int64_t now_ms
    );
    // New records created and modified at `t`; returns their ids.
    std::vector<std::string> insert(std::string_view stream, std::size_t count, std::int64_t t);
    // Unknown and deleted ids are ignored by the three below.
    void edit(std::string_view stream, const std::vector<std::string>& ids, std::int64_t t);
    void remove(std::string_view stream, const std::vector<std::string>& ids, std::int64_t t);
    void purge(std::string_view stream, const std::vector<std::string>& ids);
    // Creates, replaces or revives the metadata record `id` (24 hex digits) with `fields_json`, a JSON object
    // of the keys between "id" and "modifiedDateTime", modified at `t`: how Integration API writes show up.
    void upsert(
        std::string_view stream,
        const std::string& id,
        const std::string& fields_json,
        const std::string& company,
        const std::string& project,
        std::int64_t t
    );

    std::vector<std::string> pick_live(std::string_view stream, std::size_t count, std::uint64_t seed) const;
    // images: for `count` live images, one more row with the same image id under another parent (another
    // source and parent id), modified at `t`; returns the image ids. remove() of an image id then removes
    // every row of it.
    std::vector<std::string> share_images(std::size_t count, std::int64_t t);
    // images: the key the parent id is served under ("parentId"); "" leaves it out.
    void set_image_parent_field(std::string name);
    std::map<std::string, record_view> snapshot(std::string_view stream) const;
    std::size_t live_count(std::string_view stream) const;

    // One page after `after` (nullopt: the first page).
    stream_page page(
        std::string_view stream, const stream_filter& filter, const std::optional<stream_position>& after
    ) const;

private:
    struct state;
    std::unique_ptr<state> state_;
};

} // namespace ditio_sync::testing::detail
