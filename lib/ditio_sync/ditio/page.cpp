#include <ditio_sync/ditio/page.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace ditio_sync::ditio {
namespace json = boost::json;

namespace {

// Scans JSON text structurally (the SAX parser below validates it). Used to cut each element of the
// top-level "data" array out of the body verbatim, so the mirror stores records exactly as Ditio sent them
// (a DOM round trip would rewrite numbers, e.g. 8.75 as 8.75E0), and to feed the parser record by record.
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
        // The text is not validated yet: a step that does not move on (malformed input) gives up.
        while (skip_ws(), pos_ < s_.size() && s_[pos_] != '}') {
            if (s_[pos_] != '"')
                return std::nullopt;
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
                    if (pos_ == start)
                        return std::nullopt;
                    items.push_back(s_.substr(start, std::min(pos_, s_.size()) - start));
                    skip_ws();
                    eat(',');
                }
                eat(']');
                found = std::move(items);
            } else {
                if (is_data_key(key))
                    found.reset(); // like the DOM: a later "data" that is no array replaces an earlier one
                auto start = pos_;
                skip_value();
                if (pos_ == start)
                    return std::nullopt;
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
        // memchr to the next quote (most of a record is string values), then count the backslashes before
        // it: an odd number escapes it.
        for (;;) {
            if (pos_ >= s_.size())
                break;
            const auto* q = static_cast<const char*>(std::memchr(s_.data() + pos_, '"', s_.size() - pos_));
            if (!q) {
                pos_ = s_.size();
                break;
            }
            auto at = static_cast<std::size_t>(q - s_.data());
            std::size_t slashes = 0;
            while (at - slashes > start + 1 && s_[at - slashes - 1] == '\\')
                ++slashes;
            pos_ = at + 1;
            if (slashes % 2 == 0)
                break;
        }
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

// SAX handler: validates the whole body without building a document, and picks out the envelope fields and
// each record's id, change times and isDeleted. Where a key repeats, the last one wins, as in a DOM.
class page_handler {
public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    enum class data_state { absent, array, other };

    page_handler(std::string_view body, const model::parent_rule* parent) : body_(body), parent_(parent)
    {
        if (parent_)
            parent_values_.resize(1 + parent_->id_fields.size() + parent_->context_fields.size());
    }

    // What the page needs; records in order of the (last) data array.
    std::vector<record> records;
    std::deque<std::string> unescaped;
    data_state data = data_state::absent;
    bool root_is_object = true;
    std::optional<std::string> continuation;
    bool continuation_bad = false;
    std::string sync_type;
    std::optional<std::string> record_error;                 // the first malformed element of the data array
    std::vector<std::pair<std::size_t, std::string>> broken; // records breaking the contract, and why
    std::size_t depth = 0;

    bool on_document_begin(json::error_code&) { return true; }
    bool on_document_end(json::error_code&) { return true; }

    bool on_object_begin(json::error_code&)
    {
        if (depth == 0) {
            // the root
        } else if (depth == 1) {
            root_value_not_string();
        } else if (depth == 2 && in_data_) {
            records.emplace_back();
            in_record_ = true;
            id_kind_ = modified_kind_ = value_kind::absent;
            std::fill(parent_values_.begin(), parent_values_.end(), std::string_view{});
        } else if (depth == 3 && in_record_) {
            member_not_scalar();
        }
        ++depth;
        return true;
    }
    bool on_object_end(std::size_t, json::error_code&)
    {
        --depth;
        if (depth == 2 && in_record_) {
            finish_record();
            in_record_ = false;
        }
        return true;
    }
    bool on_array_begin(json::error_code&)
    {
        if (depth == 0) {
            root_is_object = false;
        } else if (depth == 1) {
            if (key_code_ == key::data) {
                data = data_state::array;
                in_data_ = true;
            } else {
                root_value_not_string();
            }
        } else if (depth == 2 && in_data_) {
            element_not_object();
        } else if (depth == 3 && in_record_) {
            member_not_scalar();
        }
        ++depth;
        return true;
    }
    bool on_array_end(std::size_t, json::error_code&)
    {
        --depth;
        if (depth == 1)
            in_data_ = false;
        return true;
    }

    // Only the keys of the envelope (depth 1) and of a record's own members (depth 3) matter.
    bool on_key_part(json::string_view s, std::size_t, json::error_code&)
    {
        if (depth == 1 || depth == 3) {
            if (!key_started_)
                key_.clear();
            key_started_ = true;
            key_.append(s.data(), s.size());
        }
        return true;
    }
    bool on_key(json::string_view s, std::size_t, json::error_code&)
    {
        if (depth == 1 || depth == 3) {
            if (!key_started_)
                key_.clear();
            key_started_ = false;
            key_.append(s.data(), s.size());
            key_code_ = code_of(key_);
            if (depth == 1 && key_code_ == key::data) {
                // A later "data" replaces an earlier one.
                records.clear();
                record_error.reset();
                broken.clear();
                data = data_state::other;
            }
        }
        return true;
    }
    bool on_string_part(json::string_view s, std::size_t, json::error_code&)
    {
        if (wanted_string())
            value_.append(s.data(), s.size());
        in_parts_ = true;
        return true;
    }
    bool on_string(json::string_view s, std::size_t, json::error_code&)
    {
        if (depth == 0)
            root_is_object = false;
        if (wanted_string()) {
            std::string_view v(s.data(), s.size());
            if (in_parts_ || !inside_body(v)) {
                // Escaped (the parser unescaped it elsewhere) or cut by a feed: keep a copy.
                value_.append(v);
                v = unescaped.emplace_back(std::move(value_));
            }
            if (depth == 1)
                root_string(v);
            else
                member_string(v);
        } else if (depth == 2 && in_data_) {
            element_not_object();
        } else if (depth == 3 && in_record_) {
            clear_member(); // a string isDeleted is not a true one
        }
        value_.clear();
        in_parts_ = false;
        key_code_ = key::other;
        return true;
    }
    bool on_number_part(json::string_view, json::error_code&) { return true; }
    bool on_int64(std::int64_t, json::string_view, json::error_code&) { return scalar(); }
    bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return scalar(); }
    bool on_double(double, json::string_view, json::error_code&) { return scalar(); }
    bool on_bool(bool b, json::error_code&)
    {
        if (depth == 3 && in_record_ && key_code_ == key::is_deleted) {
            records.back().deleted = b;
            key_code_ = key::other;
            return true;
        }
        return scalar();
    }
    bool on_null(json::error_code&)
    {
        if (depth == 3 && in_record_ && (key_code_ == key::id || key_code_ == key::modified)) {
            clear_member();
            (key_code_ == key::id ? id_kind_ : modified_kind_) = value_kind::absent; // null: as if absent
            key_code_ = key::other;
            return true;
        }
        if (depth == 1 && key_code_ == key::continuation_token) {
            continuation.reset();
            continuation_bad = false;
            key_code_ = key::other;
            return true;
        }
        return scalar();
    }
    bool on_comment_part(json::string_view, json::error_code&) { return true; }
    bool on_comment(json::string_view, json::error_code&) { return true; }

private:
    // A string value this handler keeps: an envelope field or a record's identity and times.
    bool wanted_string() const
    {
        if (depth == 1)
            return key_code_ == key::continuation_token || key_code_ == key::sync_type_name;
        return depth == 3 && in_record_ &&
               (key_code_ == key::id || key_code_ == key::modified || key_code_ == key::deleted_at ||
                key_code_ == key::parent);
    }
    bool inside_body(std::string_view v) const
    {
        return v.data() >= body_.data() && v.data() + v.size() <= body_.data() + body_.size();
    }
    void root_string(std::string_view v)
    {
        if (key_code_ == key::continuation_token) {
            continuation_bad = false;
            if (v.empty())
                continuation.reset();
            else
                continuation = std::string(v);
        } else {
            sync_type = std::string(v);
        }
    }
    void member_string(std::string_view v)
    {
        auto& r = records.back();
        if (key_code_ == key::id) {
            r.id = v;
            id_kind_ = value_kind::string;
        } else if (key_code_ == key::modified) {
            r.modified = v;
            modified_kind_ = value_kind::string;
        } else if (key_code_ == key::parent) {
            parent_values_[parent_slot_] = v;
        } else {
            r.deleted_at = v;
        }
    }
    // A value that is not a string where a string is kept: as a DOM lookup of a string field would, it
    // leaves the field empty (or, for the token, makes the envelope invalid).
    void root_value_not_string()
    {
        if (key_code_ == key::continuation_token)
            continuation_bad = true;
        if (key_code_ == key::sync_type_name)
            sync_type.clear();
        key_code_ = key::other;
    }
    void member_not_scalar()
    {
        clear_member();
        key_code_ = key::other;
    }
    void clear_member()
    {
        auto& r = records.back();
        if (key_code_ == key::id) {
            r.id = {};
            id_kind_ = value_kind::other;
        } else if (key_code_ == key::modified) {
            r.modified = {};
            modified_kind_ = value_kind::other;
        } else if (key_code_ == key::parent)
            parent_values_[parent_slot_] = {};
        else if (key_code_ == key::deleted_at)
            r.deleted_at = {};
        else if (key_code_ == key::is_deleted)
            r.deleted = false;
    }
    bool scalar()
    {
        if (depth == 0)
            root_is_object = false;
        else if (depth == 1)
            root_value_not_string();
        else if (depth == 2 && in_data_)
            element_not_object();
        else if (depth == 3 && in_record_)
            member_not_scalar();
        return true;
    }
    void element_not_object()
    {
        if (!record_error)
            record_error = fmt::format("record {} is not an object", records.size());
        records.emplace_back(); // keeps the indexes of later records right
    }
    void finish_record()
    {
        auto& r = records.back();
        auto modified_key = util::change_key(r.modified);
        auto deleted_key = r.deleted ? util::change_key(r.deleted_at) : std::string{};
        r.change_key = std::max(modified_key, deleted_key);
        const char* reason = nullptr;
        if (id_kind_ == value_kind::absent)
            reason = "no id";
        else if (id_kind_ == value_kind::other)
            reason = "id is not a string";
        else if (r.id.empty())
            reason = "id is empty";
        else if (modified_kind_ == value_kind::other)
            reason = "modifiedDateTime is not a string";
        else if (modified_kind_ == value_kind::string && modified_key.empty())
            reason = "modifiedDateTime is not a date-time";
        if (reason)
            broken.emplace_back(records.size() - 1, reason);
        if (parent_)
            compose_parent(r);
    }

    // "<kind>:<field>=<value>" from the first id field present, else "<kind>:<f1>=<v1>;<f2>=<v2>" from the
    // context fields present; "" when nothing is. Migration 0006 computes the same in SQL for old rows.
    void compose_parent(record& r) const
    {
        auto kind = parent_values_[0];
        auto ids = parent_->id_fields.size();
        for (std::size_t i = 0; i < ids; ++i)
            if (!parent_values_[1 + i].empty()) {
                r.parent = fmt::format("{}:{}={}", kind, parent_->id_fields[i], parent_values_[1 + i]);
                return;
            }
        r.parent_from_context = true;
        std::string context;
        for (std::size_t i = 0; i < parent_->context_fields.size(); ++i)
            if (auto v = parent_values_[1 + ids + i]; !v.empty())
                context += fmt::format("{}{}={}", context.empty() ? "" : ";", parent_->context_fields[i], v);
        if (!kind.empty() || !context.empty())
            r.parent = fmt::format("{}:{}", kind, context);
    }

    std::string_view body_;
    const model::parent_rule* parent_;
    enum class key {
        other,
        data,
        continuation_token,
        sync_type_name,
        id,
        modified,
        deleted_at,
        is_deleted,
        parent
    };
    key code_of(std::string_view k)
    {
        if (parent_ && depth == 3) {
            // Slot 0 is the kind, then the id fields, then the context fields.
            std::size_t slot = 0;
            for (auto name :
                 {std::span<const std::string_view>(&parent_->kind_field, 1),
                  parent_->id_fields,
                  parent_->context_fields})
                for (auto n : name) {
                    if (k == n) {
                        parent_slot_ = slot;
                        return key::parent;
                    }
                    ++slot;
                }
        }
        if (k == "id")
            return key::id;
        if (k == "modifiedDateTime")
            return key::modified;
        if (k == "deletedDateTime")
            return key::deleted_at;
        if (k == "isDeleted")
            return key::is_deleted;
        if (k == "data")
            return key::data;
        if (k == "continuationToken")
            return key::continuation_token;
        if (k == "syncTypeName")
            return key::sync_type_name;
        return key::other;
    }

    std::string key_; // the current member's key at depth 1 or 3, as it arrives
    key key_code_ = key::other;
    bool key_started_ = false;
    std::string value_; // a kept string arriving in parts
    bool in_parts_ = false;
    bool in_data_ = false;
    bool in_record_ = false;
    // What the current record's id and modifiedDateTime were (the last of a repeated key wins).
    enum class value_kind { absent, string, other };
    value_kind id_kind_ = value_kind::absent;
    value_kind modified_kind_ = value_kind::absent;
    std::vector<std::string_view> parent_values_; // the parent rule's fields in the current record
    std::size_t parent_slot_ = 0;
};

} // namespace

bool parse_page(std::string body_text, page& out, std::string& why, const model::parent_rule* parent)
{
    out = page{};
    out.body = std::make_unique<const std::string>(std::move(body_text));
    std::string_view body = *out.body;

    json::parse_options options;
    options.max_depth = 512; // the default (32) would make a deeply nested record block the stream for good
    json::basic_parser<page_handler> parser(options, body, parent);
    auto& h = parser.handler();

    // The parser gets the body in consecutive pieces cut at the data array's elements, so each element
    // can be checked to be exactly one record as the parser saw it. Every byte is parsed once, in order.
    auto raw = raw_scanner(body).data_elements();
    if (raw)
        h.records.reserve(raw->size());
    bool aligned = true;
    std::size_t at = 0;
    boost::system::error_code ec;
    auto feed = [&](std::size_t until, bool more) {
        until = std::max(until, at); // cuts found in malformed text may not line up; the parser decides
        auto n = parser.write_some(more, body.data() + at, until - at, ec);
        at += n;
        return !ec;
    };
    if (raw) {
        for (std::size_t i = 0; i < raw->size() && !ec; ++i) {
            auto begin = static_cast<std::size_t>((*raw)[i].data() - body.data());
            auto end = begin + (*raw)[i].size();
            if (!feed(begin, true))
                break;
            bool before = h.depth == 2 && h.records.size() == i;
            if (!feed(end, true))
                break;
            aligned = aligned && before && h.depth == 2 && h.records.size() == i + 1;
        }
    }
    if (!ec)
        feed(body.size(), false);
    if (ec || at != body.size()) {
        why = fmt::format("body is not JSON ({})", ec ? ec.message() : "trailing characters");
        out = page{};
        return false;
    }
    auto fail = [&](std::string reason) {
        why = std::move(reason);
        out = page{};
        return false;
    };
    if (!h.root_is_object)
        return fail("body is not a JSON object");
    if (h.data == page_handler::data_state::absent)
        return fail("envelope has no data");
    if (h.data == page_handler::data_state::other)
        return fail("data is not an array");
    if (h.continuation_bad)
        return fail("continuationToken is not a string");
    if (h.record_error)
        return fail(*h.record_error);
    if (!raw || !aligned || raw->size() != h.records.size())
        return fail("data array could not be located in the body");

    out.continuation = std::move(h.continuation);
    out.sync_type = std::move(h.sync_type);
    out.unescaped = std::move(h.unescaped);
    auto broken = h.broken.begin();
    out.records.reserve(h.records.size() - h.broken.size());
    for (std::size_t i = 0; i < h.records.size(); ++i) {
        auto& r = h.records[i];
        r.json = (*raw)[i];
        if (broken != h.broken.end() && broken->first == i) {
            out.quarantined.push_back({i, std::move(broken->second), r.id, r.json});
            ++broken;
            continue;
        }
        if (r.deleted)
            ++out.deleted;
        out.records.push_back(std::move(r));
    }
    return true;
}

} // namespace ditio_sync::ditio
