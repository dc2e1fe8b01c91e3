// libFuzzer target for ditio::parse_page, the Data Extraction page/envelope parser.
//
// Beyond "no crash and no sanitizer report" it checks, on every successful parse:
//   - the number of records equals the length of the envelope's "data" array;
//   - every record has a non-empty id;
//   - record.json (the verbatim slice of the body that is stored in the mirror) parses on its own as a
//     JSON object that is equal to the corresponding element of "data" in the parsed envelope, so the
//     stored JSON is the record the identity and change time were read from; its "id" equals record.id;
//   - record.deleted == isDeleted (a JSON true), modified / deleted_at are the fields as sent;
//   - page.deleted counts the tombstones; a continuation token, when present, is non-empty.
// On failure, `why` must name a reason, and a DOM parse must find the page invalid too. The `page` object is
// reused across inputs on purpose, so a parse that does not reset its output shows up as a record-count
// mismatch.
#include <ditio_sync/ditio/page.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace json = boost::json;

[[noreturn]] void violated(const char* what, std::size_t index)
{
    std::fprintf(stderr, "fuzz_page: invariant violated: %s (record %zu)\n", what, index);
    __builtin_trap();
}

void check(bool ok, const char* what, std::size_t index = 0)
{
    if (!ok)
        violated(what, index);
}

json::value parse_json(std::string_view text, boost::system::error_code& ec)
{
    json::parse_options options;
    options.max_depth = 512; // as parse_page: anything it accepted must parse here too
    return json::parse(text, ec, {}, options);
}

std::string string_field(const json::object& o, std::string_view key)
{
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string())
        return {};
    return std::string(it->value().get_string());
}

// Whether a DOM parse finds `body` a valid page: an object whose data is an array of objects with a
// non-empty string id, and whose continuationToken, if any, is a string or null.
bool acceptable(std::string_view body)
{
    boost::system::error_code ec;
    json::value root = parse_json(body, ec);
    if (ec || !root.is_object())
        return false;
    const auto& o = root.get_object();
    if (const auto* t = o.if_contains("continuationToken"); t && !t->is_string() && !t->is_null())
        return false;
    const auto* data = o.if_contains("data");
    if (!data || !data->is_array())
        return false;
    // A record without an id (or with an unreadable modifiedDateTime) is set aside, not refused: only a
    // record that is not an object fails the page.
    for (const auto& item : data->get_array())
        if (!item.is_object())
            return false;
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static ditio_sync::ditio::page out; // reused: see above
    std::string_view body(reinterpret_cast<const char*>(data), size);
    std::string why;
    if (!ditio_sync::ditio::parse_page(std::string(body), out, why)) {
        check(!why.empty(), "parse_page failed without a reason");
        check(!acceptable(body), "parse_page rejected a page a DOM parse finds valid");
        return 0;
    }

    // The envelope as an independent DOM parse sees it.
    boost::system::error_code ec;
    json::value root = parse_json(body, ec);
    check(!ec, "parse_page accepted a body that is not JSON");
    check(root.is_object(), "parse_page accepted a body that is not an object");
    const auto* array = root.as_object().if_contains("data");
    check(array && array->is_array(), "parse_page accepted an envelope without a data array");
    const auto& items = array->as_array();
    check(
        out.records.size() + out.quarantined.size() == items.size(),
        "records and quarantined records differ from the data array"
    );
    // The records, in order, are the data array without the quarantined ones, which keep their positions.
    std::vector<std::size_t> kept;
    std::size_t q = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (q < out.quarantined.size() && out.quarantined[q].index == i) {
            const auto& bad = out.quarantined[q++];
            check(!bad.reason.empty(), "quarantined without a reason", i);
            json::value stored = parse_json(bad.json, ec);
            check(!ec && stored == items[i], "quarantined json differs from the record in the envelope", i);
        } else {
            kept.push_back(i);
        }
    }
    check(q == out.quarantined.size(), "quarantined positions out of order or out of range");

    if (out.continuation)
        check(!out.continuation->empty(), "continuation present but empty");

    std::size_t tombstones = 0;
    for (std::size_t i = 0; i < out.records.size(); ++i) {
        const auto& r = out.records[i];
        check(!r.id.empty(), "record without id", i);

        json::value stored = parse_json(r.json, ec);
        check(!ec, "record.json is not JSON", i);
        check(stored.is_object(), "record.json is not an object", i);
        check(stored == items[kept[i]], "record.json differs from the record in the envelope", i);

        const auto& obj = stored.as_object();
        const auto* id = obj.if_contains("id");
        check(id && id->is_string() && id->get_string() == r.id, "record.json id differs from record.id", i);

        const auto* is_deleted = obj.if_contains("isDeleted");
        bool deleted = is_deleted && is_deleted->is_bool() && is_deleted->get_bool();
        check(r.deleted == deleted, "record.deleted differs from isDeleted", i);
        check(r.modified == string_field(obj, "modifiedDateTime"), "record.modified differs", i);
        check(r.deleted_at == string_field(obj, "deletedDateTime"), "record.deleted_at differs", i);
        if (r.deleted)
            ++tombstones;
    }
    check(out.deleted == tombstones, "page.deleted differs from the number of tombstones");
    return 0;
}
