// One page of a Data Extraction response, parsed and checked: the envelope, each record's identity and
// change time, and the record JSON to store. Parsing needs no socket and no database.
//
// The page owns the response body; each record's JSON, id and times are views of the bytes Ditio sent, so a
// page costs its body plus a few words per record, not a parsed document and a copy.
#pragma once

#include <ditio_sync/model/record.hpp>
#include <ditio_sync/model/stream.hpp>

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ditio_sync::ditio {

using model::quarantined_record;
using model::record;

struct page {
    std::vector<record> records;
    // Well-formed records that break the record contract, in page order: not in `records`.
    std::vector<quarantined_record> quarantined;
    std::optional<std::string> continuation; // nullopt: end of stream (absent, null or "")
    std::string sync_type;                   // syncTypeName, "" when absent
    std::size_t deleted = 0;                 // tombstones on this page
    // The body the records' views point into. Held by pointer, so moving a page never moves the bytes.
    std::unique_ptr<const std::string> body;
    std::deque<std::string> unescaped; // the record fields that had escapes (a deque never moves them)
};

// Parses a response body, which the page keeps. The whole body is validated (strictly, as Boost.JSON's
// parser does) before it is accepted. On failure (the page is malformed: not JSON, no data array, a
// record that is not an object) returns false and sets `why` to a short reason (for example "data is not
// an array", "record 17 is not an object") without echoing record content. A record without a string id
// or with a modifiedDateTime that is not a date-time does not fail the page: it goes to `quarantined`
// with its reason. With `parent`, each record's parent reference is filled in (see model::parent_rule).
bool parse_page(std::string body, page& out, std::string& why, const model::parent_rule* parent = nullptr);

} // namespace ditio_sync::ditio
