#include "fake_replay.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ditio_sync::testing {

namespace json = boost::json;

namespace {

constexpr std::string_view empty_page =
    R"({"data":[],"links":{},"continuationToken":null,"recordCount":0,"deletedRecordCount":0})";

std::string lower(std::string_view s)
{
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

std::string trim_slashes(std::string_view s)
{
    while (!s.empty() && s.front() == '/')
        s.remove_prefix(1);
    while (!s.empty() && s.back() == '/')
        s.remove_suffix(1);
    return std::string(s);
}

std::string key_of(std::string_view method, std::string_view relative_path, std::string_view token)
{
    return fmt::format("{} {} {}", method, relative_path, token);
}

const json::value* find(const json::object& o, std::string_view k)
{
    return o.if_contains(k);
}

std::string text(const json::object& o, std::string_view k)
{
    const auto* v = find(o, k);
    return v && v->is_string() ? std::string(v->get_string()) : std::string{};
}

// The request's continuation token, the query parameter named in any case.
std::string token_in(const boost::urls::url_view& u)
{
    for (auto p : u.params())
        if (lower(p.key) == "continuationtoken")
            return p.value;
    return {};
}

} // namespace

capture_replay::capture_replay(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw std::runtime_error(fmt::format("cannot read capture {}", file.string()));
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    auto doc = json::parse(ss.str(), ec);
    if (ec || !doc.is_object() || text(doc.get_object(), "format") != "ditio-sync-capture")
        throw std::runtime_error(fmt::format("{} is not a ditio-sync capture", file.string()));
    const auto& d = doc.get_object();
    const auto* ex = find(d, "exchanges");
    if (!ex || !ex->is_array())
        throw std::runtime_error(fmt::format("{} has no exchanges", file.string()));

    // Bases without their origin, longest first, so a path is made relative to the most specific one.
    std::vector<std::string> bases;
    if (const auto* b = find(d, "bases"); b && b->is_object())
        for (const auto& [name, value] : b->get_object())
            if (value.is_string())
                if (auto u = boost::urls::parse_uri(value.get_string()))
                    bases.push_back(trim_slashes(u->path()));
    std::sort(bases.begin(), bases.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    auto relative = [&](std::string_view path) {
        auto p = trim_slashes(path);
        for (const auto& base : bases)
            if (!base.empty() && p.starts_with(base) && (p.size() == base.size() || p[base.size()] == '/'))
                return trim_slashes(std::string_view(p).substr(base.size()));
        return p;
    };

    struct captured {
        std::string key, method, path;
        replay_answer answer;
    };
    std::vector<captured> all;
    std::set<std::string> tokens_sent;
    for (const auto& item : ex->get_array()) {
        if (!item.is_object())
            continue;
        const auto& e = item.get_object();
        const auto* status = find(e, "status");
        if (!status || !status->is_int64())
            continue; // no answer came: nothing to serve
        auto u = boost::urls::parse_uri(text(e, "url"));
        if (!u)
            throw std::runtime_error(fmt::format("{}: an exchange has no readable url", file.string()));
        auto method = text(e, "method");
        auto path = relative(u->path());
        auto token = token_in(*u);
        if (!token.empty())
            tokens_sent.insert(token);
        replay_answer a;
        a.status = static_cast<int>(status->as_int64());
        a.body = text(e, "body");
        if (const auto* hs = find(e, "response_headers"); hs && hs->is_array())
            for (const auto& h : hs->get_array())
                if (h.is_array() && h.get_array().size() == 2 && h.get_array()[0].is_string() &&
                    h.get_array()[1].is_string())
                    a.headers.emplace_back(h.get_array()[0].get_string(), h.get_array()[1].get_string());
        known_paths_.insert(fmt::format("{} {}", method, path));
        all.push_back({key_of(method, path, token), method, path, std::move(a)});
    }

    for (auto& c : all) {
        boost::system::error_code pec;
        auto body = json::parse(c.answer.body, pec);
        if (!pec && body.is_object()) {
            auto& o = body.get_object();
            bool changed = false;
            // A page: remembered as such; its token, never followed in the capture, ends the traversal.
            if (auto* data = o.if_contains("data"); data && data->is_array()) {
                page_paths_.insert(fmt::format("{} {}", c.method, c.path));
                if (auto* t = o.if_contains("continuationToken");
                    t && t->is_string() && !t->get_string().empty() &&
                    !tokens_sent.count(std::string(t->get_string()))) {
                    *t = nullptr;
                    changed = true;
                }
            }
            if (auto* t = o.if_contains("access_token"); t && t->is_string()) {
                *t = "replay-token";
                changed = true;
            }
            if (changed)
                c.answer.body = json::serialize(body);
        }
        queues_[c.key].push_back(std::move(c.answer));
        ++exchanges_;
    }
}

replay_answer capture_replay::answer(
    std::string_view method, std::string_view path, const std::map<std::string, std::string>& params
)
{
    std::lock_guard lock(mutex_);
    // The daemon under test may put its bases under any path: the longest tail of the path the capture
    // knows is the one meant.
    auto rel = trim_slashes(path);
    for (std::string_view tail = rel;;) {
        if (known_paths_.count(fmt::format("{} {}", method, tail))) {
            rel = std::string(tail);
            break;
        }
        auto slash = tail.find('/');
        if (slash == std::string_view::npos)
            break;
        tail.remove_prefix(slash + 1);
    }
    auto it = params.find("continuationtoken");
    auto key = key_of(method, rel, it == params.end() ? std::string{} : it->second);
    if (auto q = queues_.find(key); q != queues_.end() && !q->second.empty()) {
        auto a = std::move(q->second.front());
        q->second.pop_front();
        last_[key] = a;
        return a;
    }
    if (page_paths_.count(fmt::format("{} {}", method, rel)))
        return {200, std::string(empty_page), {{"Content-Type", "application/json; charset=utf-8"}}};
    if (auto l = last_.find(key); l != last_.end())
        return l->second;
    return {
        404,
        fmt::format(
            R"({{"error":"NotInCapture","message":"The capture has no answer to {} /{}."}})", method, rel
        ),
        {{"Content-Type", "application/json; charset=utf-8"}}};
}

} // namespace ditio_sync::testing
