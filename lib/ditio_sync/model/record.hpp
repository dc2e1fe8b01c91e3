// A record of a Data Extraction page as the layers above HTTP see it: its identity, change time and JSON.
// ditio parses it, store writes it, sync moves it between the two; none of them owns the type.
#pragma once

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
};

} // namespace ditio_sync::model
