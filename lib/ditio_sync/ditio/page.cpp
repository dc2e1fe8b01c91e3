#include <ditio_sync/ditio/page.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <optional>
#include <vector>

namespace ditio_sync::ditio {
namespace json = boost::json;

namespace {

// Scans already-validated JSON text. Used to cut each element of the top-level "data" array out of the
// body verbatim, so the mirror stores records exactly as Ditio sent them (a DOM round trip would rewrite
// numbers, e.g. 8.75 as 8.75E0).
class raw_scanner {
public:
    explicit raw_scanner(std::string_view text) : s_(text) {}

    // The elements of the top-level object's "data" array, or nullopt when there is none.
    std::optional<std::vector<std::string_view>> data_elements()
    {
        skip_ws();
        if (!eat('{'))
            return std::nullopt;
        std::optional<std::vector<std::string_view>> found;
        while (skip_ws(), pos_ < s_.size() && s_[pos_] != '}') {
            auto key = string_token();
            skip_ws();
            eat(':');
            skip_ws();
            if (is_data_key(key) && pos_ < s_.size() && s_[pos_] == '[') {
                ++pos_;
                std::vector<std::string_view> items;
                while (skip_ws(), pos_ < s_.size() && s_[pos_] != ']') {
                    auto start = pos_;
                    skip_value();
                    items.push_back(s_.substr(start, pos_ - start));
                    skip_ws();
                    eat(',');
                }
                eat(']');
                found = std::move(items);
            } else {
                skip_value();
            }
            skip_ws();
            eat(',');
        }
        return found;
    }

private:
    // The key as written may escape letters ("d\\u0061ta"); the DOM decodes it, so must we. Like the
    // DOM, the last "data" key wins.
    static bool is_data_key(std::string_view token)
    {
        if (token == "\"data\"")
            return true;
        if (token.find('\\') == std::string_view::npos)
            return false;
        boost::system::error_code ec;
        auto decoded = json::parse(token, ec);
        return !ec && decoded.is_string() && decoded.get_string() == "data";
    }

    void skip_ws()
    {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
            ++pos_;
    }
    bool eat(char c)
    {
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    std::string_view string_token()
    {
        auto start = pos_;
        ++pos_; // opening quote
        while (pos_ < s_.size() && s_[pos_] != '"')
            pos_ += s_[pos_] == '\\' ? 2 : 1;
        ++pos_;
        return s_.substr(start, std::min(pos_, s_.size()) - start);
    }
    void skip_value()
    {
        if (pos_ >= s_.size())
            return;
        char c = s_[pos_];
        if (c == '"') {
            string_token();
        } else if (c == '{' || c == '[') {
            int depth = 0;
            while (pos_ < s_.size()) {
                char d = s_[pos_];
                if (d == '"') {
                    string_token();
                    continue;
                }
                if (d == '{' || d == '[')
                    ++depth;
                else if ((d == '}' || d == ']') && --depth == 0) {
                    ++pos_;
                    return;
                }
                ++pos_;
            }
        } else {
            while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != '}' && s_[pos_] != ']' &&
                   s_[pos_] != ' ' && s_[pos_] != '\n' && s_[pos_] != '\r' && s_[pos_] != '\t')
                ++pos_;
        }
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

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
    json::parse_options options;
    options.max_depth = 512; // the default (32) would make a deeply nested record block the stream for good
    json::value root = json::parse(body, ec, &arena, options);
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
    auto raw = raw_scanner(body).data_elements();
    if (!raw || raw->size() != data->size()) {
        why = "data array could not be located in the body";
        return false;
    }

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
        r.json = std::string((*raw)[index]);
        if (r.deleted)
            ++out.deleted;
        out.records.push_back(std::move(r));
        ++index;
    }
    return true;
}

} // namespace ditio_sync::ditio
