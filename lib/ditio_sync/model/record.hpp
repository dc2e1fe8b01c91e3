// A record of a Data Extraction page as the layers above HTTP see it: its identity, change time and JSON.
// ditio parses it, store writes it, sync moves it between the two; none of them owns the type.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ditio_sync::model {

// The views point into the page's body (or, for a string with escapes, into the page's own copy of it).
struct record {
    std::string_view id;
    std::string_view modified;   // modifiedDateTime as sent ("" when absent)
    bool deleted = false;        // isDeleted
    std::string_view deleted_at; // deletedDateTime as sent, for tombstones
    std::string change_key;      // normalised max(modified, deleted_at), see util::change_key
    std::string_view json;       // the record object as received
    // Streams with a parent rule (images): which parent record this row belongs to, "" for other streams.
    std::string parent;
    bool parent_from_context = false; // no parent id field: `parent` is the fallback context
};

// A well-formed record that breaks the record contract (no string id, a modifiedDateTime that is not a
// date-time): kept out of the mirror, written to the quarantine table with the page.
struct quarantined_record {
    std::size_t index = 0; // position in the page's data array
    std::string reason;    // short, without record content
    std::string_view id;   // "" when it has no string id
    std::string_view json; // the record object as received
};

} // namespace ditio_sync::model
