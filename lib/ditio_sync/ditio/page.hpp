// One page of a Data Extraction response, parsed and checked: the envelope, each record's identity and
// change time, and the record JSON to store. Parsing needs no socket and no database.
//
// The page owns the response body; each record's JSON, id and times are views of the bytes Ditio sent, so a
// page costs its body plus a few words per record, not a parsed document and a copy.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ditio_sync::ditio {

// The views point into the page's body (or, for a string with escapes, into the page's own copy of it).
struct record {
    std::string_view id;
    std::string_view modified;   // modifiedDateTime as sent ("" when absent)
    bool deleted = false;        // isDeleted
    std::string_view deleted_at; // deletedDateTime as sent, for tombstones
    std::string change_key;      // normalised max(modified, deleted_at), see util::change_key
    std::string_view json;       // the record object as received
};

struct page {
    std::vector<record> records;
    std::optional<std::string> continuation; // nullopt: end of stream (absent, null or "")
    std::string sync_type;                   // syncTypeName, "" when absent
    std::size_t deleted = 0;                 // tombstones on this page
    // The body the records' views point into. Held by pointer, so moving a page never moves the bytes.
    std::unique_ptr<const std::string> body;
    std::deque<std::string> unescaped; // the record fields that had escapes (a deque never moves them)
};

// Parses a response body, which the page keeps. The whole body is validated (strictly, as Boost.JSON's
// parser does) before it is accepted. On failure returns false and sets `why` to a short reason (for
// example "data is not an array", "record 17 has no id") without echoing record content.
bool parse_page(std::string body, page& out, std::string& why);

} // namespace ditio_sync::ditio
