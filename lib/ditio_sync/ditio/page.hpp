// One page of a Data Extraction response, parsed and checked: the envelope, each record's identity and
// change time, and the record JSON to store. Parsing needs no socket and no database.
#pragma once

#include <boost/system/result.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ditio_sync::ditio {

struct record {
    std::string id;
    std::string modified;   // modifiedDateTime as sent ("" when absent)
    bool deleted = false;   // isDeleted
    std::string deleted_at; // deletedDateTime as sent, for tombstones
    std::string change_key; // normalised max(modified, deleted_at), see util::change_key
    std::string json;       // the record object, serialised
};

struct page {
    std::vector<record> records;
    std::optional<std::string> continuation; // nullopt: end of stream (absent, null or "")
    std::string sync_type;                   // syncTypeName, "" when absent
    std::size_t deleted = 0;                 // tombstones on this page
};

// Parses a response body. On failure returns false and sets `why` to a short reason (for example
// "data is not an array", "record 17 has no id") without echoing record content.
bool parse_page(std::string_view body, page& out, std::string& why);

} // namespace ditio_sync::ditio
