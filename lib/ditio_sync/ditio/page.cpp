#include <ditio_sync/ditio/page.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

namespace ditio_sync::ditio {
namespace json = boost::json;

namespace {

std::string string_field(const json::object& o, std::string_view key)
{
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string())
        return {};
    return std::string(it->value().get_string());
}

} // namespace

bool parse_page(std::string_view body, page& out, std::string& why)
{
    out = page{};
    // One arena per page: the DOM is freed in one go once the records are serialised.
    json::monotonic_resource arena;
    boost::system::error_code ec;
    json::value root = json::parse(body, ec, &arena);
    if (ec) {
        why = fmt::format("body is not JSON ({})", ec.message());
        return false;
    }
    const auto* obj = root.if_object();
    if (!obj) {
        why = "body is not a JSON object";
        return false;
    }
    auto data_it = obj->find("data");
    if (data_it == obj->end()) {
        why = "envelope has no data";
        return false;
    }
    const auto* data = data_it->value().if_array();
    if (!data) {
        why = "data is not an array";
        return false;
    }
    if (auto it = obj->find("continuationToken"); it != obj->end()) {
        if (it->value().is_string()) {
            if (!it->value().get_string().empty())
                out.continuation = std::string(it->value().get_string());
        } else if (!it->value().is_null()) {
            why = "continuationToken is not a string";
            return false;
        }
    }
    out.sync_type = string_field(*obj, "syncTypeName");

    out.records.reserve(data->size());
    std::size_t index = 0;
    for (const auto& item : *data) {
        const auto* rec = item.if_object();
        if (!rec) {
            why = fmt::format("record {} is not an object", index);
            return false;
        }
        record r;
        r.id = string_field(*rec, "id");
        if (r.id.empty()) {
            why = fmt::format("record {} has no id", index);
            return false;
        }
        r.modified = string_field(*rec, "modifiedDateTime");
        if (auto it = rec->find("isDeleted"); it != rec->end() && it->value().is_bool())
            r.deleted = it->value().get_bool();
        r.deleted_at = string_field(*rec, "deletedDateTime");
        auto modified_key = util::change_key(r.modified);
        auto deleted_key = r.deleted ? util::change_key(r.deleted_at) : std::string{};
        r.change_key = std::max(modified_key, deleted_key);
        r.json = json::serialize(*rec);
        if (r.deleted)
            ++out.deleted;
        out.records.push_back(std::move(r));
        ++index;
    }
    return true;
}

} // namespace ditio_sync::ditio
