// The fake Ditio server: token endpoint, the Data Extraction streams, data mutation and fault injection.
// Time registrations are compact structs whose JSON is written on demand, so a million of them fit in
// memory; the other streams live in the generic store of fake_streams.cpp.
#include "fake_ditio.hpp"

#include "fake_data.hpp"
#include "fake_integration.hpp"
#include "fake_replay.hpp"
#include "fake_streams.hpp"

#include <ditio_sync/util/asio.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>
#include <boost/url/parse_query.hpp>
#include <fmt/format.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>

namespace ditio_sync::testing {
namespace {

using namespace detail;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using util::use_nothrow;
using request_t = http::request<http::string_body>;
using response_t = http::response<http::string_body>;

constexpr std::string_view json_type = "application/json; charset=utf-8";
constexpr std::size_t default_chunk = 2500;
constexpr std::size_t max_chunk = 10000;
constexpr std::size_t max_logged_requests = 100'000;
constexpr std::chrono::seconds idle_timeout{60};
constexpr std::chrono::seconds io_timeout{30};

// ---------------------------------------------------------------------------------------------------------
// Small helpers

std::string to_lower(std::string_view s)
{
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && to_lower(a) == to_lower(b);
}

std::int64_t system_ms(std::chrono::milliseconds offset)
{
    auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    return (now.time_since_epoch() + offset).count();
}

void append_json_string(std::string& out, std::string_view s)
{
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (char c : s) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                out += "\\u00";
                out += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
                out += hex[static_cast<unsigned char>(c) & 0xf];
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

std::string json_string(std::string_view s)
{
    std::string out;
    append_json_string(out, s);
    return out;
}

// A JSON string literal, or null for an empty view.
std::string json_string_or_null(std::string_view s)
{
    return s.empty() ? std::string("null") : json_string(s);
}

void append_int(std::string& out, std::int64_t v)
{
    std::array<char, 24> buf{};
    auto [p, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    out.append(buf.data(), p);
}

// Hundredths as the shortest decimal a .NET serializer would write: 69500 -> 695, 52125 -> 521.25.
void append_hundredths(std::string& out, std::int64_t v)
{
    if (v < 0) {
        out += '-';
        v = -v;
    }
    append_int(out, v / 100);
    auto frac = v % 100;
    if (frac == 0)
        return;
    out += '.';
    out += static_cast<char>('0' + frac / 10);
    if (frac % 10 != 0)
        out += static_cast<char>('0' + frac % 10);
}

constexpr std::string_view b64_std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view b64_url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url_encode(std::string_view data)
{
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto byte = [&](std::size_t k) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(data[k]));
    };
    for (; i + 3 <= data.size(); i += 3) {
        std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        out += b64_url[n >> 18 & 63];
        out += b64_url[n >> 12 & 63];
        out += b64_url[n >> 6 & 63];
        out += b64_url[n & 63];
    }
    if (data.size() - i == 1) {
        std::uint32_t n = byte(i) << 16;
        out += b64_url[n >> 18 & 63];
        out += b64_url[n >> 12 & 63];
    } else if (data.size() - i == 2) {
        std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8;
        out += b64_url[n >> 18 & 63];
        out += b64_url[n >> 12 & 63];
        out += b64_url[n >> 6 & 63];
    }
    return out;
}

// Decodes standard or URL-safe base64, padded or not.
std::optional<std::string> base64_decode(std::string_view s)
{
    while (!s.empty() && s.back() == '=')
        s.remove_suffix(1);
    if (s.size() % 4 == 1)
        return std::nullopt;
    std::string out;
    out.reserve(s.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
        auto pos = b64_std.find(c);
        if (pos == std::string_view::npos)
            pos = b64_url.find(c);
        if (pos == std::string_view::npos)
            return std::nullopt;
        acc = acc << 6 | static_cast<std::uint32_t>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

std::string random_token()
{
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        throw std::runtime_error("RAND_bytes failed");
    return base64url_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

// Decoded query or form parameters in order; '+' is a space, as ASP.NET reads them. nullopt when malformed.
using param_list = std::vector<std::pair<std::string, std::string>>;

std::optional<param_list> parse_params(std::string_view s)
{
    param_list out;
    if (s.empty())
        return out;
    // parse_query reads its argument as a C string (boostorg/url#757, Boost 1.81/1.82), so hand it one.
    std::string copy(s);
    auto parsed = boost::urls::parse_query(copy);
    if (!parsed)
        return std::nullopt;
    boost::urls::encoding_opts opt{true};
    for (auto p : *parsed) {
        if (p.key.empty() && !p.has_value)
            continue;
        out.emplace_back(p.key.decode(opt), p.has_value ? p.value.decode(opt) : std::string{});
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------------
// Pools the records draw from: small, realistic and full of things a JSON writer must get right.

constexpr std::array<std::string_view, 8> internal_descriptions{
    "",
    "Fakturerbart tillegg – avtalt med byggeleder på stedet.",
    "Ikke fakturerbart. Intern feilretting.",
    "Merknad fra formann: kontroller timer mot maskinlogg \"ML-7\".",
    "",
    "Sjekk med lønn: overtid 50 % etter kl. 17:00.",
    "Avvik registrert i Ditio (HMS) – se avvik #4411.",
    "Ref. endringsmelding EM-023 / 2024\\Q3.",
};

// The key order of a served record; tombstones print the same keys with null values.
constexpr std::array<std::string_view, 59> record_keys{
    "id",
    "workDate",
    "startDateTime",
    "stopDateTime",
    "qty",
    "unitName",
    "unitQty",
    "unitPrice",
    "price",
    "amount",
    "costPriceBase",
    "costPriceMan",
    "costPriceMachine",
    "costAmount",
    "costAmountMan",
    "costAmountMachine",
    "breakQty",
    "description",
    "descriptionInternal",
    "approved",
    "approvedByName",
    "approvedDateTime",
    "payrollApproved",
    "payrollApprovedDateTime",
    "locked",
    "lockedByName",
    "lockedDateTime",
    "invoiced",
    "projectId",
    "projectNumber",
    "projectName",
    "projectExternalNumber",
    "projectCompanyId",
    "projectCompanyName",
    "projectLeaderName",
    "projectMainForemanName",
    "taskId",
    "taskName",
    "taskNameLong",
    "taskWbsNumber",
    "taskChapterId",
    "taskPieceWorkId",
    "resourceId",
    "resourceNumber",
    "resourceName",
    "resourceTypeName",
    "primaryResourceName",
    "machineEmissionClass",
    "userId",
    "userName",
    "userEmployeeNumber",
    "userCompanyName",
    "userCompanyOrgNr",
    "userWorkTitle",
    "userWorkShiftSettingName",
    "createdDateTime",
    "modifiedDateTime",
    "isDeleted",
    "deletedDateTime",
};

// Pre-rendered JSON fragments ("key":value,...) so serving a record is mostly appending.
struct pools {
    struct project {
        std::string fragment; // projectId .. projectMainForemanName
        std::string id;
        std::string company_id;
    };
    struct task {
        std::string fragment; // taskId .. taskPieceWorkId
    };
    struct resource {
        std::string head; // resourceId .. resourceTypeName
        std::string tail; // machineEmissionClass
        bool machine = false;
        std::int64_t price = 0, cost_man = 0, cost_machine = 0; // kroner per hour
    };
    struct user {
        std::string fragment; // userId .. userWorkShiftSettingName
        std::string name;     // JSON string literal
    };
    std::vector<project> projects;
    std::vector<task> tasks;         // tasks_per_project per project, in project order
    std::vector<resource> resources; // one per user (the person), then the machines
    std::vector<user> users;
    std::vector<std::string> descriptions;          // JSON literals
    std::vector<std::string> internal_descriptions; // JSON literals or null

    explicit pools(const std::string& company_id)
    {
        for (const auto& u : user_seeds) {
            auto i = users.size();
            const auto& c = user_companies[static_cast<std::size_t>(u.company)];
            user out;
            out.name = json_string(u.name);
            out.fragment = fmt::format(
                R"("userId":"{}","userName":{},"userEmployeeNumber":"{}","userCompanyName":{},)"
                R"("userCompanyOrgNr":"{}","userWorkTitle":{},"userWorkShiftSettingName":{})",
                user_identity_id(u.name),
                out.name,
                employee_number(i),
                json_string(c.name),
                c.org_nr,
                json_string(u.title),
                json_string(u.shift)
            );
            users.push_back(std::move(out));

            resource r;
            r.head = fmt::format(
                R"("resourceId":"{}","resourceNumber":"A-{}","resourceName":{},"resourceTypeName":"Person")",
                person_resource_id(u.name),
                1001 + i,
                json_string(u.name)
            );
            r.tail = R"("machineEmissionClass":null)";
            r.price = u.company == 0 ? 695 : 745;
            r.cost_man = u.company == 0 ? 520 : 640;
            resources.push_back(std::move(r));
        }
        for (const auto& m : machine_seeds) {
            resource r;
            r.machine = true;
            r.head = fmt::format(
                R"("resourceId":"{}","resourceNumber":"{}","resourceName":{},"resourceTypeName":{})",
                machine_resource_id(m.number),
                m.number,
                json_string(m.name),
                json_string(m.type)
            );
            r.tail = fmt::format(R"("machineEmissionClass":{})", json_string(m.emission));
            r.price = m.price;
            r.cost_man = 520;
            r.cost_machine = m.cost;
            resources.push_back(std::move(r));
        }
        for (std::size_t p = 0; p < project_seeds.size(); ++p) {
            const auto& s = project_seeds[p];
            project out;
            out.id = project_pool_id(s.number);
            out.company_id = s.other_company ? std::string(other_company_id) : company_id;
            out.fragment = fmt::format(
                R"("projectId":"{}","projectNumber":"{}","projectName":{},"projectExternalNumber":{},)"
                R"("projectCompanyId":{},"projectCompanyName":{},"projectLeaderName":{},)"
                R"("projectMainForemanName":{})",
                out.id,
                s.number,
                json_string(s.name),
                json_string_or_null(s.external_number),
                json_string(out.company_id),
                json_string(s.other_company ? other_company_name : own_company_name),
                users[s.leader].name,
                users[s.foreman].name
            );
            projects.push_back(std::move(out));
            for (std::size_t t = 0; t < tasks_per_project; ++t) {
                auto seed = make_task(p, t);
                tasks.push_back(
                    {.fragment = fmt::format(
                         R"("taskId":"{}","taskName":{},"taskNameLong":{},"taskWbsNumber":"{}","taskChapterId":{},)"
                         R"("taskPieceWorkId":{})",
                         seed.id,
                         json_string(seed.name),
                         json_string(seed.name_long),
                         seed.wbs,
                         json_string_or_null(seed.chapter),
                         json_string_or_null(seed.piece_work)
                     )}
                );
            }
        }
        for (auto d : detail::descriptions)
            descriptions.push_back(json_string(d));
        for (auto d : ditio_sync::testing::internal_descriptions)
            internal_descriptions.push_back(json_string_or_null(d));
    }
};

// ---------------------------------------------------------------------------------------------------------
// Records

enum record_flag : std::uint8_t {
    flag_approved = 1,
    flag_payroll_approved = 2,
    flag_locked = 4,
    flag_invoiced = 8,
    flag_deleted = 16,
    flag_purged = 32,
};

// 88 bytes; everything else is derived from the pools when the record is written.
struct record {
    object_id id{};
    std::uint8_t flags = 0;
    std::uint8_t description = 0;
    std::uint8_t internal_description = 0;
    std::uint8_t approver = 0; // user index, also the one who locked
    std::uint16_t project = 0;
    std::uint16_t task = 0; // index into pools::tasks
    std::uint16_t resource = 0;
    std::uint16_t user = 0;
    std::uint16_t start_minute = 0; // minutes after midnight UTC
    std::uint16_t minutes = 0;      // between start and stop, a multiple of 15
    std::uint16_t break_minutes = 0;
    std::uint32_t version = 1;
    std::int32_t work_day = 0;                           // days since 1970-01-01
    std::int64_t created = 0, modified = 0, deleted = 0; // ms since the epoch
    std::int64_t approved_at = 0, payroll_approved_at = 0, locked_at = 0;

    bool has(record_flag f) const { return (flags & f) != 0; }
    void set(record_flag f, bool on) { flags = static_cast<std::uint8_t>(on ? flags | f : flags & ~f); }
    std::int64_t work_ms() const { return std::int64_t{work_day} * ms_per_day; }
};
static_assert(sizeof(record) <= 96, "a million of them must stay cheap");

// Ordering key for both orders: (time, id); the index is payload.
struct order_key {
    std::int64_t time = 0;
    object_id id{};
    std::uint32_t index = 0;
    friend bool operator<(const order_key& a, const order_key& b)
    {
        return a.time != b.time ? a.time < b.time : a.id < b.id;
    }
};

// ---------------------------------------------------------------------------------------------------------
// Query parameters of v1/time-registrations

struct api_error {
    int status = 400;
    std::string error, message;
};

struct api_query {
    bool incremental = false;
    std::optional<std::int64_t> from_us, to_us, since_us, before_us;
    std::string company, project;
    std::size_t chunk = default_chunk;
    std::optional<std::string> token;
    std::string hash; // of every parameter but the token

    std::string compute_hash() const
    {
        auto opt = [](const std::optional<std::int64_t>& v) {
            return v ? std::to_string(*v) : std::string("-");
        };
        auto text = fmt::format(
            "{}|{}|{}|{}|{}|{}|{}|{}",
            incremental ? "inc" : "full",
            opt(from_us),
            opt(to_us),
            opt(since_us),
            opt(before_us),
            company,
            project,
            chunk
        );
        return fmt::format("{:016x}", fnv1a(text));
    }
};

struct cursor {
    std::string mode;
    std::int64_t pos = 0; // ms: work date (full) or modified time (incremental) of the last record served
    object_id id{};
};

std::string encode_cursor(const cursor& c, const std::string& hash)
{
    json::object o;
    o["v"] = 1;
    o["mode"] = c.mode;
    o["pos"] = iso_ms(c.pos);
    o["id"] = to_hex(c.id);
    o["q"] = hash;
    return base64url_encode(json::serialize(o));
}

std::optional<cursor> decode_cursor(std::string_view token, std::string& hash)
{
    auto raw = base64_decode(token);
    if (!raw)
        return std::nullopt;
    boost::system::error_code ec;
    auto v = json::parse(*raw, ec);
    if (ec || !v.is_object())
        return std::nullopt;
    const auto& o = v.get_object();
    auto str = [&](std::string_view key) -> std::optional<std::string_view> {
        auto* p = o.if_contains(key);
        if (!p || !p->is_string())
            return std::nullopt;
        return std::string_view(p->get_string());
    };
    auto* version = o.if_contains("v");
    auto mode = str("mode"), pos = str("pos"), id = str("id"), q = str("q");
    if (!version || !version->is_int64() || version->get_int64() != 1 || !mode || !pos || !id || !q)
        return std::nullopt;
    if (*mode != "full" && *mode != "inc")
        return std::nullopt;
    auto t = util::parse_iso8601(*pos);
    auto parsed_id = parse_hex_id(*id);
    if (!t || !parsed_id)
        return std::nullopt;
    cursor c;
    c.mode = std::string(*mode);
    c.pos = std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
    c.id = *parsed_id;
    hash = std::string(*q);
    return c;
}

std::string simple_error(std::string_view error, std::string_view message)
{
    std::string out = "{\"error\":";
    append_json_string(out, error);
    out += ",\"message\":";
    append_json_string(out, message);
    out += '}';
    return out;
}

std::string_view fault_status_error(int status)
{
    switch (status) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalServerError";
    case 502:
        return "BadGateway";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "GatewayTimeout";
    default:
        return "Error";
    }
}

constexpr std::string_view proxy_error_page =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

} // namespace

// ---------------------------------------------------------------------------------------------------------

struct fake_ditio::impl {
    // A reply before it becomes an HTTP response.
    struct reply {
        int status = 200;
        std::string body;
        std::string content_type{json_type};
        std::vector<std::pair<http::field, std::string>> headers;
        std::size_t records = 0;
        std::string continuation_token;
    };

    enum class action { respond, reset, truncate };

    // What the io thread knows about one connection, so stop() and release() can reach it.
    struct session_ctl {
        std::uint64_t id = 0;
        asio::steady_timer timer;
        std::function<void()> close;
        explicit session_ctl(asio::io_context& ioc) : timer(ioc) {}
    };

    struct token_info {
        std::vector<std::string> scopes;
        std::int64_t expires_at = 0; // ms, server clock
    };

    explicit impl(fake_options o)
        : options_(std::move(o)), pools_(options_.company_id), streams_(options_.company_id),
          integration_(options_.company_id)
    {
        for (const auto& spec : detail::stream_specs())
            data_paths_.emplace_back(fmt::format("/v1/{}", spec.name), &spec);
        if (!options_.replay_file.empty())
            replay_ = std::make_unique<capture_replay>(options_.replay_file);
    }

    std::unique_ptr<capture_replay> replay_; // --replay: every answer comes from a capture

    // --- state, guarded by mutex_ ---
    fake_options options_;
    // Grows only by register_hours: Integration API projects and tasks that registrations reference are
    // appended after the seeded entries (which generate() alone draws from).
    pools pools_;
    detail::generic_streams streams_; // every stream but time-registrations
    detail::integration_store integration_;
    std::map<std::string, std::uint16_t, std::less<>> integration_pool_projects_, integration_pool_tasks_;
    std::set<std::string, std::less<>> tasks_with_hours_;
    std::vector<integration_write> integration_writes_;
    std::uint64_t write_requests_ = 0;
    std::uint64_t write_hold_at_ = 0; // integration write number to hold, 0 none
    std::vector<std::pair<std::string, const detail::stream_spec*>> data_paths_; // immutable
    std::set<std::string, std::less<>> unavailable_;
    // A cap on a stream's requests and how a request beyond it is refused.
    struct cap {
        std::chrono::hours max{0};
        refusal_shape shape = refusal_shape::specific;
    };
    std::map<std::string, cap, std::less<>> max_window_, max_modified_since_;
    mutable std::mutex mutex_;
    std::condition_variable held_cv_;
    std::vector<record> records_;
    std::set<order_key> by_work_date_; // live records
    std::set<order_key> by_modified_;  // live records and tombstones
    std::size_t live_ = 0;
    std::int64_t last_batch_ = 0;
    std::uint64_t insert_counter_ = 0;
    std::chrono::milliseconds clock_offset_{0};
    std::unordered_map<std::string, token_info> tokens_;
    std::vector<std::string> issued_;
    bool client_revoked_ = false;
    int wrong_scope_status_ = 401;
    std::string foreign_prefix_;
    std::optional<foreign_answer> foreign_answer_;
    std::deque<fault> faults_;
    std::uint64_t data_requests_ = 0;
    std::uint64_t hold_at_ = 0; // data request number to hold, 0 none
    bool held_ = false;
    std::vector<std::uint64_t> parked_; // session ids waiting in a hold
    std::uint64_t max_requests_per_connection_ = 0;
    fake_stats stats_;
    std::deque<request_record> requests_;

    // --- network; the io thread only, except where noted ---
    std::optional<ssl::context> ssl_ctx_;
    std::unordered_map<std::uint64_t, session_ctl*> sessions_;
    std::uint64_t next_session_ = 1;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint16_t> port_{0};
    // Declared after everything the coroutine frames touch: frames die with the io_context.
    asio::io_context ioc_{1};
    std::optional<tcp::acceptor> acceptor_;
    std::thread thread_;
    std::future<void> thread_done_;

    // -----------------------------------------------------------------------------------------------------
    // Clock and ids

    std::int64_t now_ms() const { return system_ms(clock_offset_); }

    // One timestamp per mutation batch, strictly after the previous batch even on a coarse or moved clock.
    std::int64_t batch_time()
    {
        auto t = std::max(now_ms(), last_batch_ + 1);
        last_batch_ = t;
        return t;
    }

    object_id make_id(std::int64_t stamp_ms, std::size_t index) const
    {
        // ObjectId layout: 4 bytes seconds, 5 bytes per-"process" constant, 3 bytes counter. The counter is
        // the record's index, which makes lookups by id a decode instead of a hash map.
        object_id id{};
        auto secs = static_cast<std::uint32_t>(std::max<std::int64_t>(0, stamp_ms / 1000));
        id[0] = static_cast<std::uint8_t>(secs >> 24);
        id[1] = static_cast<std::uint8_t>(secs >> 16);
        id[2] = static_cast<std::uint8_t>(secs >> 8);
        id[3] = static_cast<std::uint8_t>(secs);
        auto salt = fnv1a(options_.company_id);
        for (std::size_t i = 0; i < 5; ++i)
            id[4 + i] = static_cast<std::uint8_t>(salt >> (8 * i));
        id[9] = static_cast<std::uint8_t>(index >> 16);
        id[10] = static_cast<std::uint8_t>(index >> 8);
        id[11] = static_cast<std::uint8_t>(index);
        return id;
    }

    record* find(std::string_view hex)
    {
        auto id = parse_hex_id(hex);
        if (!id)
            return nullptr;
        std::size_t index = std::size_t{(*id)[9]} << 16 | std::size_t{(*id)[10]} << 8 | (*id)[11];
        if (index >= records_.size() || records_[index].id != *id || records_[index].has(flag_purged))
            return nullptr;
        return &records_[index];
    }

    std::uint32_t index_of(const record& r) const { return static_cast<std::uint32_t>(&r - records_.data()); }
    order_key work_key(const record& r) const { return {r.work_ms(), r.id, index_of(r)}; }
    order_key modified_key(const record& r) const { return {r.modified, r.id, index_of(r)}; }

    // -----------------------------------------------------------------------------------------------------
    // Data

    record generate(rng& g, std::int32_t work_day, std::int64_t created, std::int64_t modified)
    {
        if (records_.size() >= (std::size_t{1} << 24))
            throw std::length_error("fake_ditio: at most 16M records");
        record r;
        r.project = static_cast<std::uint16_t>(g.below(project_seeds.size()));
        r.task = static_cast<std::uint16_t>(r.project * tasks_per_project + g.below(tasks_per_project));
        r.user = static_cast<std::uint16_t>(g.below(pools_.users.size()));
        // Most hours are people's own; some are a machine the person operated.
        r.resource = g.chance(70)
                         ? r.user
                         : static_cast<std::uint16_t>(
                               pools_.users.size() + g.below(pools_.resources.size() - pools_.users.size())
                           );
        r.description = static_cast<std::uint8_t>(g.below(pools_.descriptions.size()));
        r.internal_description = static_cast<std::uint8_t>(g.below(pools_.internal_descriptions.size()));
        r.approver = static_cast<std::uint8_t>(g.below(3));
        r.work_day = work_day;
        r.start_minute = static_cast<std::uint16_t>(6 * 60 + 15 * g.below(13));
        r.minutes = static_cast<std::uint16_t>(15 * (2 + g.below(39)));
        r.break_minutes = static_cast<std::uint16_t>(r.minutes >= 6 * 60 && g.chance(80) ? 30 : 0);
        r.created = created;
        r.modified = modified;
        r.version = created == modified ? 1 : static_cast<std::uint32_t>(2 + g.below(3));
        if (g.chance(60)) {
            r.set(flag_approved, true);
            r.approved_at =
                modified -
                static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(modified - created) + 1));
            if (g.chance(50)) {
                r.set(flag_payroll_approved, true);
                r.payroll_approved_at =
                    modified - static_cast<std::int64_t>(
                                   g.below(static_cast<std::uint64_t>(modified - r.approved_at) + 1)
                               );
                if (g.chance(50)) {
                    r.set(flag_locked, true);
                    r.locked_at = modified;
                }
            }
            r.set(flag_invoiced, g.chance(30));
        }
        r.id = make_id(r.work_ms() + std::int64_t{r.start_minute} * 60'000, records_.size());
        return r;
    }

    void add(const record& r)
    {
        records_.push_back(r);
        const auto& stored = records_.back();
        by_work_date_.insert(work_key(stored));
        by_modified_.insert(modified_key(stored));
        ++live_;
    }

    // Applies a change to a live record, keeping both orders right.
    template <class Change> void change(record& r, std::int64_t t, Change&& what)
    {
        by_work_date_.erase(work_key(r));
        by_modified_.erase(modified_key(r));
        what(r);
        r.modified = t;
        ++r.version;
        if (!r.has(flag_deleted))
            by_work_date_.insert(work_key(r));
        by_modified_.insert(modified_key(r));
    }

    // -----------------------------------------------------------------------------------------------------
    // JSON

    static void append_time_ms(std::string& out, std::int64_t ms)
    {
        out += '"';
        out += iso_ms(ms);
        out += '"';
    }

    static void append_time_s(std::string& out, std::int64_t ms)
    {
        out += '"';
        out += iso_s(ms);
        out += '"';
    }

    void append_live(std::string& out, const record& r) const
    {
        const auto& res = pools_.resources[r.resource];
        const auto& user = pools_.users[r.user];
        auto start = r.work_ms() + std::int64_t{r.start_minute} * 60'000;
        // Quantities in hundredths of an hour: exact for quarter hours.
        std::int64_t qty = (std::int64_t{r.minutes} - r.break_minutes) * 100 / 60;
        std::int64_t break_qty = std::int64_t{r.break_minutes} * 100 / 60;

        out += "{\"id\":\"";
        out += to_hex(r.id);
        out += "\",\"workDate\":";
        append_time_s(out, r.work_ms());
        out += ",\"startDateTime\":";
        append_time_s(out, start);
        out += ",\"stopDateTime\":";
        append_time_s(out, start + std::int64_t{r.minutes} * 60'000);
        out += ",\"qty\":";
        append_hundredths(out, qty);
        out += ",\"unitName\":\"timer\",\"unitQty\":";
        append_hundredths(out, qty);
        out += ",\"unitPrice\":";
        append_int(out, res.price);
        out += ",\"price\":";
        append_int(out, res.price);
        out += ",\"amount\":";
        append_hundredths(out, qty * res.price);
        out += ",\"costPriceBase\":";
        append_int(out, res.cost_man + res.cost_machine);
        out += ",\"costPriceMan\":";
        append_int(out, res.cost_man);
        out += ",\"costPriceMachine\":";
        append_int(out, res.cost_machine);
        out += ",\"costAmount\":";
        append_hundredths(out, qty * (res.cost_man + res.cost_machine));
        out += ",\"costAmountMan\":";
        append_hundredths(out, qty * res.cost_man);
        out += ",\"costAmountMachine\":";
        append_hundredths(out, qty * res.cost_machine);
        out += ",\"breakQty\":";
        append_hundredths(out, break_qty);
        out += ",\"description\":";
        out += pools_.descriptions[r.description];
        out += ",\"descriptionInternal\":";
        out += pools_.internal_descriptions[r.internal_description];

        const auto& approver = pools_.users[r.approver].name;
        bool approved = r.has(flag_approved), payroll = r.has(flag_payroll_approved),
             locked = r.has(flag_locked);
        out += approved ? ",\"approved\":true,\"approvedByName\":"
                        : ",\"approved\":false,\"approvedByName\":null";
        if (approved) {
            out += approver;
            out += ",\"approvedDateTime\":";
            append_time_ms(out, r.approved_at);
        } else {
            out += ",\"approvedDateTime\":null";
        }
        out += payroll ? ",\"payrollApproved\":true,\"payrollApprovedDateTime\":"
                       : ",\"payrollApproved\":false,\"payrollApprovedDateTime\":null";
        if (payroll)
            append_time_ms(out, r.payroll_approved_at);
        out += locked ? ",\"locked\":true,\"lockedByName\":" : ",\"locked\":false,\"lockedByName\":null";
        if (locked) {
            out += approver;
            out += ",\"lockedDateTime\":";
            append_time_ms(out, r.locked_at);
        } else {
            out += ",\"lockedDateTime\":null";
        }
        out += r.has(flag_invoiced) ? ",\"invoiced\":true," : ",\"invoiced\":false,";

        out += pools_.projects[r.project].fragment;
        out += ',';
        out += pools_.tasks[r.task].fragment;
        out += ',';
        out += res.head;
        out += ",\"primaryResourceName\":";
        out += res.machine ? user.name : std::string_view("null");
        out += ',';
        out += res.tail;
        out += ',';
        out += user.fragment;
        out += ",\"createdDateTime\":";
        append_time_ms(out, r.created);
        out += ",\"modifiedDateTime\":";
        append_time_ms(out, r.modified);
        out += ",\"isDeleted\":false,\"deletedDateTime\":null}";
    }

    static void append_tombstone(std::string& out, const record& r)
    {
        out += '{';
        bool first = true;
        for (auto key : record_keys) {
            if (!first)
                out += ',';
            first = false;
            out += '"';
            out += key;
            out += "\":";
            if (key == "id") {
                out += '"';
                out += to_hex(r.id);
                out += '"';
            } else if (key == "isDeleted") {
                out += "true";
            } else if (key == "deletedDateTime" || key == "modifiedDateTime") {
                append_time_ms(out, r.deleted);
            } else {
                out += "null";
            }
        }
        out += '}';
    }

    void append_record(std::string& out, const record& r) const
    {
        if (r.has(flag_deleted))
            append_tombstone(out, r);
        else
            append_live(out, r);
    }

    // -----------------------------------------------------------------------------------------------------
    // v1/time-registrations

    std::variant<api_query, api_error> parse_query(const std::map<std::string, std::string>& params) const
    {
        api_query q;
        auto bad = [](std::string message) { return api_error{400, "InvalidArgument", std::move(message)}; };
        auto date = [&](const char* key, const char* name, std::optional<std::int64_t>& out
                    ) -> std::optional<api_error> {
            auto it = params.find(key);
            if (it == params.end() || it->second.empty())
                return std::nullopt;
            auto t = util::parse_iso8601(it->second);
            if (!t)
                return bad(fmt::format("The value '{}' is not valid for {}.", it->second, name));
            out = t->time_since_epoch().count();
            return std::nullopt;
        };
        if (auto e = date("fromdatetime", "FromDateTime", q.from_us))
            return *e;
        if (auto e = date("todatetime", "ToDateTime", q.to_us))
            return *e;
        if (auto e = date("modifiedsince", "ModifiedSince", q.since_us))
            return *e;
        if (auto e = date("modifiedbefore", "ModifiedBefore", q.before_us))
            return *e;
        if (q.before_us && !q.since_us)
            return api_error{400, "ArgumentIsNull", "The 'ModifiedSince' parameter is required."};
        if (q.before_us && *q.before_us <= *q.since_us)
            return bad("ModifiedBefore must be later than ModifiedSince.");
        if (q.from_us && q.to_us && *q.to_us < *q.from_us)
            return bad("ToDateTime must not be earlier than FromDateTime.");
        if (auto it = params.find("chunklimit"); it != params.end() && !it->second.empty()) {
            long long n = 0;
            auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n);
            if (ec == std::errc::result_out_of_range)
                n = it->second.front() == '-' ? 0 : static_cast<long long>(max_chunk);
            else if (ec != std::errc{} || p != it->second.data() + it->second.size())
                return bad(fmt::format("The value '{}' is not valid for ChunkLimit.", it->second));
            q.chunk =
                static_cast<std::size_t>(std::clamp<long long>(n, 1, static_cast<long long>(max_chunk)));
        }
        if (auto it = params.find("companyid"); it != params.end())
            q.company = it->second;
        if (auto it = params.find("projectid"); it != params.end())
            q.project = it->second;
        if (auto it = params.find("continuationtoken"); it != params.end() && !it->second.empty())
            q.token = it->second;
        q.incremental = q.since_us.has_value();
        q.hash = q.compute_hash();
        return q;
    }

    bool matches(const record& r, const api_query& q) const
    {
        const auto& p = pools_.projects[r.project];
        return (q.company.empty() || q.company == p.company_id) && (q.project.empty() || q.project == p.id);
    }

    // Builds one page; the caller holds mutex_. `raw_query` is the request's own query, for links.next.
    // The position a continuation token carries (nullopt without one), or the 400 that rejects it: a token
    // is valid only in its own mode and with the parameters (`hash`) it was issued for.
    static std::variant<std::optional<cursor>, reply>
    read_token(const std::optional<std::string>& token, bool incremental, const std::string& hash)
    {
        if (!token)
            return std::optional<cursor>{};
        std::string issued_for;
        auto c = decode_cursor(*token, issued_for);
        if (!c)
            return error_reply(400, "InvalidContinuationToken", "The continuation token is not valid.");
        if (c->mode == "inc" && !incremental)
            return error_reply(
                400,
                "InvalidContinuationToken",
                "An incremental continuation token requires ModifiedSince on every request."
            );
        if (c->mode == "full" && incremental)
            return error_reply(
                400,
                "InvalidContinuationToken",
                "A full-sync continuation token cannot be used with ModifiedSince."
            );
        if (issued_for != hash)
            return error_reply(
                400,
                "InvalidContinuationToken",
                "The continuation token does not match the request parameters; send them unchanged."
            );
        return c;
    }

    // Closes a page body that holds `{"data":[` and the records: links, token, mode and counts.
    void finish_page(
        std::string& body,
        std::string_view stream,
        std::string_view raw_query,
        const std::string& token,
        bool incremental,
        std::size_t count,
        std::size_t deleted
    ) const
    {
        bool more = !token.empty();
        body += "],\"links\":{";
        if (more) {
            body += "\"next\":";
            append_json_string(body, next_link(stream, raw_query, token));
        }
        body += '}';
        if (more) {
            body += ",\"continuationToken\":\"";
            body += token;
            body += '"';
        } else if (options_.end_of_stream_style == 1) {
            body += ",\"continuationToken\":null";
        } else if (options_.end_of_stream_style == 2) {
            body += ",\"continuationToken\":\"\"";
        }
        body += ",\"syncTypeName\":";
        body += incremental ? "\"incremental\"" : "\"full\"";
        body += ",\"recordCount\":";
        append_int(body, static_cast<std::int64_t>(count));
        body += ",\"deletedRecordCount\":";
        append_int(body, static_cast<std::int64_t>(deleted));
        body += '}';
    }

    reply time_registrations(const api_query& q, std::string_view raw_query)
    {
        auto read = read_token(q.token, q.incremental, q.hash);
        if (auto* rejected = std::get_if<reply>(&read))
            return std::move(*rejected);
        const auto& from_token = std::get<std::optional<cursor>>(read);

        std::vector<std::uint32_t> page;
        bool more = false;
        if (!q.incremental) {
            auto it = from_token ? by_work_date_.upper_bound({from_token->pos, from_token->id, 0})
                                 : by_work_date_.lower_bound(
                                       {q.from_us ? ceil_div(*q.from_us, 1000) : INT64_MIN, zero_id, 0}
                                   );
            std::optional<std::int64_t> to_ms;
            if (q.to_us)
                to_ms = floor_div(*q.to_us, 1000); // inclusive
            for (; it != by_work_date_.end(); ++it) {
                if (to_ms && it->time > *to_ms)
                    break;
                if (!matches(records_[it->index], q))
                    continue;
                if (page.size() == q.chunk) {
                    more = true;
                    break;
                }
                page.push_back(it->index);
            }
        } else {
            // A page ends only where the modified time changes, so a position is a time, never (time, id).
            auto start = from_token ? from_token->pos + 1 : ceil_div(*q.since_us, 1000);
            std::optional<std::int64_t> before_ms;
            if (q.before_us)
                before_ms = ceil_div(*q.before_us, 1000); // exclusive
            std::int64_t last = 0;
            for (auto it = by_modified_.lower_bound({start, zero_id, 0}); it != by_modified_.end(); ++it) {
                if (before_ms && it->time >= *before_ms)
                    break;
                if (!matches(records_[it->index], q))
                    continue;
                if (page.size() >= q.chunk && it->time != last) {
                    more = true;
                    break;
                }
                page.push_back(it->index);
                last = it->time;
            }
        }

        reply out;
        out.records = page.size();
        std::string token;
        if (more) {
            const auto& last = records_[page.back()];
            cursor c{q.incremental ? "inc" : "full", q.incremental ? last.modified : last.work_ms(), last.id};
            token = encode_cursor(c, q.hash);
        }
        std::size_t deleted = 0;
        auto& body = out.body;
        body.reserve(page.size() * 2300 + 512);
        body += "{\"data\":[";
        for (std::size_t i = 0; i < page.size(); ++i) {
            if (i != 0)
                body += ',';
            const auto& r = records_[page[i]];
            deleted += r.has(flag_deleted) ? 1 : 0;
            append_record(body, r);
        }
        finish_page(body, "time-registrations", raw_query, token, q.incremental, page.size(), deleted);
        out.continuation_token = std::move(token);
        return out;
    }

    // The request's parameters plus the new token, relative and without the base path, as Ditio writes it.
    static std::string next_link(std::string_view stream, std::string_view raw_query, std::string_view token)
    {
        std::string out = fmt::format("/v1/{}?", stream);
        std::size_t pos = 0;
        while (pos <= raw_query.size() && !raw_query.empty()) {
            auto amp = raw_query.find('&', pos);
            auto part =
                raw_query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
            auto key = part.substr(0, part.find('='));
            if (!part.empty() && !iequals(key, "continuationtoken")) {
                out += part;
                out += '&';
            }
            if (amp == std::string_view::npos)
                break;
            pos = amp + 1;
        }
        out += "ContinuationToken=";
        out += token;
        return out;
    }

    // -----------------------------------------------------------------------------------------------------
    // Request handling (io thread)

    static reply error_reply(int status, std::string_view error, std::string_view message)
    {
        reply r;
        r.status = status;
        r.body = simple_error(error, message);
        return r;
    }

    // A request refused for a cap, in `shape`. Only the specific shape says why.
    static reply refusal(refusal_shape shape, std::string_view message)
    {
        switch (shape) {
        case refusal_shape::specific:
            return error_reply(400, "ValidationError", message);
        case refusal_shape::problem: {
            reply r;
            r.status = 400;
            r.content_type = "application/problem+json; charset=utf-8";
            r.body = json::serialize(json::object{
                {"type", "https://tools.ietf.org/html/rfc9110#section-15.5.1"},
                {"title", "One or more validation errors occurred."},
                {"status", 400},
                {"errors", json::object{{"request", json::array{"The request is invalid."}}}},
                {"traceId", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}});
            return r;
        }
        case refusal_shape::empty: {
            reply r;
            r.status = 400;
            r.content_type.clear();
            return r;
        }
        }
        return error_reply(400, "ValidationError", message);
    }

    static reply oauth_error(std::string_view error, std::string_view description = {})
    {
        reply r;
        r.status = 400;
        json::object o;
        o["error"] = error;
        if (!description.empty())
            o["error_description"] = description;
        r.body = json::serialize(o);
        r.headers.emplace_back(http::field::cache_control, "no-store");
        return r;
    }

    reply handle_token(const request_t& req)
    {
        std::lock_guard lock(mutex_);
        if (req.method() != http::verb::post) {
            auto r = oauth_error("invalid_request", "The token endpoint accepts POST only.");
            r.status = 405;
            r.headers.emplace_back(http::field::allow, "POST");
            return r;
        }
        auto type = to_lower(req[http::field::content_type]);
        if (type.rfind("application/x-www-form-urlencoded", 0) != 0)
            return oauth_error("invalid_request", "Expected application/x-www-form-urlencoded.");
        auto form = parse_params(req.body());
        if (!form)
            return oauth_error("invalid_request", "Malformed form body.");
        std::map<std::string, std::string> f(form->begin(), form->end());

        std::optional<std::string> id, secret;
        if (auto auth = req[http::field::authorization];
            auth.size() > 6 && iequals(auth.substr(0, 6), "basic ")) {
            // RFC 6749 2.3.1: both halves are form-urlencoded before base64.
            auto decoded = base64_decode(auth.substr(6));
            auto colon = decoded ? decoded->find(':') : std::string::npos;
            if (colon == std::string::npos)
                return oauth_error("invalid_client");
            auto a = parse_params("a=" + decoded->substr(0, colon));
            auto b = parse_params("b=" + decoded->substr(colon + 1));
            if (!a || !b || a->empty() || b->empty())
                return oauth_error("invalid_client");
            id = a->front().second;
            secret = b->front().second;
        } else {
            if (auto it = f.find("client_id"); it != f.end())
                id = it->second;
            if (auto it = f.find("client_secret"); it != f.end())
                secret = it->second;
        }
        if (id != options_.client_id || secret != options_.client_secret)
            return oauth_error("invalid_client");
        auto grant = f.find("grant_type");
        if (grant == f.end())
            return oauth_error("invalid_request", "grant_type is missing.");
        if (grant->second != "client_credentials")
            return oauth_error("unsupported_grant_type");

        std::vector<std::string> scopes;
        if (auto it = f.find("scope"); it != f.end()) {
            std::string_view s = it->second;
            while (!s.empty()) {
                auto sp = s.find(' ');
                auto one = s.substr(0, sp);
                if (!one.empty() && std::find(scopes.begin(), scopes.end(), one) == scopes.end())
                    scopes.emplace_back(one);
                if (sp == std::string_view::npos)
                    break;
                s.remove_prefix(sp + 1);
            }
        }
        if (scopes.empty())
            scopes =
                options_.allowed_scopes; // IdentityServer grants every allowed scope when none is asked for
        auto allowed = [&](const std::string& s) {
            return std::find(options_.allowed_scopes.begin(), options_.allowed_scopes.end(), s) !=
                   options_.allowed_scopes.end();
        };
        if (options_.narrow_scopes)
            scopes.erase(
                std::remove_if(
                    scopes.begin(), scopes.end(), [&](const std::string& s) { return !allowed(s); }
                ),
                scopes.end()
            );
        for (const auto& s : scopes)
            if (!allowed(s))
                return oauth_error("invalid_scope");

        auto token = random_token();
        auto lifetime = options_.token_lifetime.count();
        tokens_[token] = {scopes, now_ms() + lifetime * 1000};
        issued_.push_back(token);
        ++stats_.tokens_issued;

        std::string granted;
        for (const auto& s : scopes)
            granted += (granted.empty() ? "" : " ") + s;
        json::object o;
        o["access_token"] = token;
        o["expires_in"] = lifetime;
        o["token_type"] = "Bearer";
        if (!options_.omit_scope_field)
            o["scope"] = granted;
        reply r;
        r.body = json::serialize(o);
        r.headers.emplace_back(http::field::cache_control, "no-store");
        r.headers.emplace_back(http::field::pragma, "no-cache");
        return r;
    }

    // Checks the bearer token; the caller holds mutex_. nullopt when the request may proceed.
    std::optional<reply> authorize(const request_t& req, std::string_view scope = "reportingapiv1")
    {
        auto unauthorized = [&](std::string_view message, bool presented) {
            ++stats_.unauthorized;
            auto r = error_reply(401, "Unauthorized", message);
            r.headers.emplace_back(
                http::field::www_authenticate, presented ? "Bearer error=\"invalid_token\"" : "Bearer"
            );
            return r;
        };
        auto auth = req[http::field::authorization];
        if (auth.size() <= 7 || !iequals(auth.substr(0, 7), "bearer "))
            return unauthorized("Authorization header with a bearer token is required.", false);
        auto it = tokens_.find(std::string(auth.substr(7)));
        if (it == tokens_.end())
            return unauthorized("The access token is not valid.", true);
        if (now_ms() >= it->second.expires_at)
            return unauthorized(
                fmt::format("The token expired at '{}'.", iso_s(it->second.expires_at)), true
            );
        if (client_revoked_)
            return unauthorized("The client is disabled.", true);
        const auto& scopes = it->second.scopes;
        if (std::find(scopes.begin(), scopes.end(), scope) == scopes.end()) {
            if (wrong_scope_status_ == 401)
                return unauthorized("The token's audience is not valid for this API.", true);
            return error_reply(
                wrong_scope_status_, "Forbidden", fmt::format("The token lacks the scope {}.", scope)
            );
        }
        return std::nullopt;
    }

    // The stream a data path asks for; nullptr when the path is no data endpoint. data_paths_ never
    // changes, so no lock is needed.
    const detail::stream_spec* data_stream(std::string_view path) const
    {
        for (const auto& [suffix, spec] : data_paths_)
            if (path.ends_with(suffix))
                return spec;
        return nullptr;
    }

    reply handle_data(
        const detail::stream_spec& spec,
        const request_t& req,
        const std::map<std::string, std::string>& params,
        std::string_view raw_query
    )
    {
        std::lock_guard lock(mutex_);
        if (auto denied = authorize(req))
            return *denied;
        if (req.method() != http::verb::get) {
            auto r = error_reply(405, "MethodNotAllowed", "Use GET.");
            r.headers.emplace_back(http::field::allow, "GET");
            return r;
        }
        if (unavailable_.count(spec.name) != 0)
            return error_reply(404, "NotFound", "This endpoint is not available on this environment yet.");
        auto parsed = parse_query(params);
        if (auto* e = std::get_if<api_error>(&parsed))
            return error_reply(e->status, e->error, e->message);
        const auto& q = std::get<api_query>(parsed);
        if (spec.from_to_together && q.from_us.has_value() != q.to_us.has_value())
            return error_reply(400, "ValidationError", "FromDateTime and ToDateTime must be set together.");
        if (auto max = max_window_.find(spec.name);
            max != max_window_.end() && !q.incremental && q.from_us && q.to_us &&
            std::chrono::microseconds(*q.to_us - *q.from_us) > max->second.max)
            return refusal(
                max->second.shape,
                fmt::format(
                    "The date range between FromDateTime and ToDateTime can be at most {} days.",
                    static_cast<double>(max->second.max.count()) / 24.0
                )
            );
        if (auto max = max_modified_since_.find(spec.name);
            max != max_modified_since_.end() && q.incremental && q.since_us &&
            std::chrono::microseconds(now_ms() * 1000 - *q.since_us) > max->second.max)
            return refusal(
                max->second.shape,
                fmt::format(
                    "ModifiedSince can be at most {} days back.",
                    static_cast<double>(max->second.max.count()) / 24.0
                )
            );
        if (spec.name == "time-registrations")
            return time_registrations(q, raw_query);
        return stream_data(spec, q, params, raw_query);
    }

    // Every value of a list parameter, repeated (Sources=a&Sources=b) or comma-separated (Sources=a,b).
    static std::vector<std::string> list_param(std::string_view raw_query, std::string_view name)
    {
        std::vector<std::string> out;
        auto list = parse_params(raw_query);
        if (!list)
            return out;
        for (const auto& [key, value] : *list) {
            if (!iequals(key, name))
                continue;
            std::string_view rest = value;
            for (;;) {
                auto comma = rest.find(',');
                auto one = rest.substr(0, comma);
                while (!one.empty() && one.front() == ' ')
                    one.remove_prefix(1);
                while (!one.empty() && one.back() == ' ')
                    one.remove_suffix(1);
                if (!one.empty())
                    out.emplace_back(one);
                if (comma == std::string_view::npos)
                    break;
                rest.remove_prefix(comma + 1);
            }
        }
        return out;
    }

    // One page of a generic stream; the caller holds mutex_ and has checked what handle_data checks.
    reply stream_data(
        const detail::stream_spec& spec,
        const api_query& q,
        const std::map<std::string, std::string>& params,
        std::string_view raw_query
    )
    {
        detail::stream_filter f;
        f.incremental = q.incremental;
        f.company = q.company;
        f.project = q.project;
        f.chunk = q.chunk;
        if (q.since_us)
            f.since_ms = ceil_div(*q.since_us, 1000);
        if (q.before_us)
            f.before_ms = ceil_div(*q.before_us, 1000); // exclusive
        // Streams without a window field accept FromDateTime/ToDateTime and ignore them.
        if (!spec.window_field.empty() && !q.incremental) {
            if (q.from_us)
                f.from_ms = ceil_div(*q.from_us, 1000);
            if (q.to_us)
                f.to_ms = floor_div(*q.to_us, 1000); // inclusive
            if (spec.name == "crew-list-registrations" && !q.from_us && !q.to_us) {
                // Asked for no period at all, the crew list answers for today (UTC, server clock).
                auto today = floor_div(now_ms(), ms_per_day) * ms_per_day;
                f.from_ms = today;
                f.to_ms = today + ms_per_day - 1;
            }
        }

        // Every parameter beyond api_query's goes into the token hash too.
        std::string extras;
        std::optional<api_error> bad;
        auto flag = [&](const char* key, std::string_view name) -> std::optional<bool> {
            std::optional<bool> out;
            if (auto it = params.find(key); it != params.end() && !it->second.empty()) {
                if (iequals(it->second, "true"))
                    out = true;
                else if (iequals(it->second, "false"))
                    out = false;
                else if (!bad)
                    bad = api_error{
                        400,
                        "InvalidArgument",
                        fmt::format("The value '{}' is not valid for {}.", it->second, name)};
            }
            extras += fmt::format("{}={}|", key, out ? (*out ? "1" : "0") : "-");
            return out;
        };
        auto text = [&](const char* key) {
            auto it = params.find(key);
            auto value = it == params.end() ? std::string() : to_lower(it->second);
            extras += fmt::format("{}={}|", key, value);
            return value;
        };
        // Both keep only what our own company owns (tenants here have no subsidiaries of their own).
        f.own_company_only = flag("owncompanydataonly", "OwnCompanyDataOnly").value_or(false);
        f.own_company_only =
            flag("excludedatafromsubsidiaries", "ExcludeDataFromSubsidiaries").value_or(false) ||
            f.own_company_only;
        if (spec.name == "absence-registrations") {
            f.approved = flag("approved", "Approved");
            f.approved_payroll = flag("approvedpayroll", "ApprovedPayroll");
            f.locked = flag("locked", "Locked");
            f.include_sensitive = flag("includesensitivedata", "IncludeSensitiveData").value_or(false);
        } else if (spec.name == "payroll-lines-extended") {
            f.all_lines = text("exportfilter") == "all";
            f.all_users = text("userpayrolltypefilter") == "allusers";
        } else if (spec.name == "images") {
            for (auto& source : list_param(raw_query, "sources")) {
                auto lower = to_lower(source);
                if (lower != "feed" && lower != "alert" && lower != "checklist" && !bad)
                    bad = api_error{
                        400,
                        "InvalidArgument",
                        fmt::format("The value '{}' is not valid for Sources.", source)};
                f.sources.insert(std::move(lower));
            }
            for (const auto& source : f.sources)
                extras += source + ',';
        } else if (spec.name == "crew-list-registrations") {
            for (auto& id : list_param(raw_query, "projectids"))
                f.project_ids.insert(std::move(id));
            for (const auto& id : f.project_ids)
                extras += id + ',';
            f.include_open = flag("includeopen", "IncludeOpen").value_or(false);
        }
        if (bad)
            return error_reply(bad->status, bad->error, bad->message);

        auto hash = fmt::format("{:016x}", fnv1a(fmt::format("{}|{}|{}", q.hash, spec.name, extras)));
        auto read = read_token(q.token, q.incremental, hash);
        if (auto* rejected = std::get_if<reply>(&read))
            return std::move(*rejected);
        std::optional<detail::stream_position> after;
        if (const auto& c = std::get<std::optional<cursor>>(read))
            after = detail::stream_position{c->pos, c->id};

        auto page = streams_.page(spec.name, f, after);
        std::string token;
        if (page.more)
            token = encode_cursor({q.incremental ? "inc" : "full", page.last.pos, page.last.id}, hash);
        reply out;
        out.records = page.count;
        out.body.reserve(page.data.size() + 512);
        out.body += "{\"data\":[";
        out.body += page.data;
        finish_page(out.body, spec.name, raw_query, token, q.incremental, page.count, page.deleted);
        out.continuation_token = std::move(token);
        return out;
    }

    // -----------------------------------------------------------------------------------------------------
    // Mutations; each takes mutex_ itself

    static std::int32_t parse_day(const std::string& text)
    {
        auto t = util::parse_iso8601(text);
        if (!t)
            throw std::invalid_argument(fmt::format("fake_ditio: '{}' is not a date", text));
        return static_cast<std::int32_t>(std::chrono::floor<std::chrono::days>(*t).time_since_epoch().count()
        );
    }

    std::vector<std::string>
    seed(std::size_t count, std::uint64_t seed, const std::string& first, const std::string& last)
    {
        auto first_day = parse_day(first), last_day = parse_day(last);
        if (last_day < first_day)
            throw std::invalid_argument("fake_ditio: last_work_date is before first_work_date");
        std::lock_guard lock(mutex_);
        rng g{seed * 0x2545f4914f6cdd1dULL + 0x5eed};
        auto now = now_ms();
        std::vector<std::string> ids;
        ids.reserve(count);
        records_.reserve(records_.size() + count);
        while (ids.size() < count) {
            // Runs of records sharing one modified time; now and then a big one, like a bulk approval.
            auto run = g.chance(2) ? 20 + g.below(100) : 1 + g.below(6);
            run = std::min<std::uint64_t>(run, count - ids.size());
            auto t = now - 1000 - static_cast<std::int64_t>(g.below(365ULL * ms_per_day));
            for (std::uint64_t k = 0; k < run; ++k) {
                auto day =
                    first_day +
                    static_cast<std::int32_t>(g.below(static_cast<std::uint64_t>(last_day - first_day) + 1));
                auto created = g.chance(60) ? t : t - static_cast<std::int64_t>(g.below(30ULL * ms_per_day));
                add(generate(g, day, created, t));
                ids.push_back(to_hex(records_.back().id));
            }
        }
        return ids;
    }

    std::vector<std::string> insert(std::size_t count)
    {
        std::lock_guard lock(mutex_);
        auto t = batch_time();
        rng g{0xfeedULL + 0x9e3779b97f4a7c15ULL * ++insert_counter_};
        std::vector<std::string> ids;
        ids.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            auto day =
                static_cast<std::int32_t>(floor_div(t, ms_per_day) - static_cast<std::int64_t>(g.below(3)));
            auto r = generate(g, day, t, t);
            r.flags = 0; // new registrations are not approved yet
            add(r);
            ids.push_back(to_hex(records_.back().id));
        }
        return ids;
    }

    void edit(const std::vector<std::string>& ids)
    {
        std::lock_guard lock(mutex_);
        auto t = batch_time();
        for (const auto& id : ids) {
            auto* r = find(id);
            if (!r || r->has(flag_deleted))
                continue;
            change(*r, t, [&](record& x) {
                rng g{fnv1a(id) ^ x.version};
                auto n = pools_.descriptions.size();
                x.description = static_cast<std::uint8_t>((x.description + 1 + g.below(n - 1)) % n);
                x.minutes = static_cast<std::uint16_t>(
                    x.minutes >= 9 * 60 || (x.minutes > 60 && g.chance(50)) ? x.minutes - 15 : x.minutes + 15
                );
                x.break_minutes = static_cast<std::uint16_t>(x.minutes >= 6 * 60 ? 30 : 0);
                // Walks the approval workflow; a locked record is reopened, as after a correction.
                if (!x.has(flag_approved)) {
                    x.set(flag_approved, true);
                    x.approved_at = t;
                    x.approver = static_cast<std::uint8_t>(g.below(3));
                } else if (!x.has(flag_payroll_approved)) {
                    x.set(flag_payroll_approved, true);
                    x.payroll_approved_at = t;
                } else if (!x.has(flag_locked)) {
                    x.set(flag_locked, true);
                    x.locked_at = t;
                } else {
                    x.flags = 0;
                }
            });
        }
    }

    void move_work_date(const std::vector<std::string>& ids, const std::string& work_date)
    {
        auto day = parse_day(work_date);
        std::lock_guard lock(mutex_);
        auto t = batch_time();
        for (const auto& id : ids)
            if (auto* r = find(id); r && !r->has(flag_deleted))
                change(*r, t, [&](record& x) { x.work_day = day; });
    }

    void remove(const std::vector<std::string>& ids)
    {
        std::lock_guard lock(mutex_);
        auto t = batch_time();
        for (const auto& id : ids) {
            auto* r = find(id);
            if (!r || r->has(flag_deleted))
                continue;
            change(*r, t, [&](record& x) {
                x.set(flag_deleted, true);
                x.deleted = t;
            });
            --live_;
        }
    }

    void purge(const std::vector<std::string>& ids)
    {
        std::lock_guard lock(mutex_);
        for (const auto& id : ids) {
            auto* r = find(id);
            if (!r)
                continue;
            if (!r->has(flag_deleted)) {
                by_work_date_.erase(work_key(*r));
                --live_;
            }
            by_modified_.erase(modified_key(*r));
            r->set(flag_purged, true);
        }
    }

    std::vector<std::string> pick_live(std::size_t count, std::uint64_t seed) const
    {
        std::lock_guard lock(mutex_);
        std::vector<std::uint32_t> live;
        live.reserve(live_);
        for (const auto& k : by_work_date_)
            live.push_back(k.index);
        std::sort(live.begin(), live.end()); // independent of the work-date order, which edits change
        rng g{seed ^ 0x9c0ffee5ULL};
        count = std::min(count, live.size());
        std::vector<std::string> out;
        out.reserve(count);
        for (std::size_t i = 0; i < count; ++i) {
            auto j = i + static_cast<std::size_t>(g.below(live.size() - i));
            std::swap(live[i], live[j]);
            out.push_back(to_hex(records_[live[i]].id));
        }
        return out;
    }

    std::map<std::string, record_view> snapshot() const
    {
        std::lock_guard lock(mutex_);
        std::map<std::string, record_view> out;
        for (const auto& r : records_) {
            if (r.has(flag_purged))
                continue;
            record_view v;
            append_record(v.json, r);
            v.modified = iso_ms(r.modified);
            v.deleted = r.has(flag_deleted);
            if (v.deleted)
                v.deleted_at = iso_ms(r.deleted);
            v.work_date = iso_s(r.work_ms());
            v.window_at = v.work_date;
            out.emplace(to_hex(r.id), std::move(v));
        }
        return out;
    }

    // --- the same for any stream: time-registrations goes to the compact store above, the rest to streams_

    static const detail::stream_spec& spec_of(const std::string& stream)
    {
        const auto* spec = detail::find_stream_spec(stream);
        if (!spec)
            throw std::invalid_argument(fmt::format("fake_ditio: unknown stream '{}'", stream));
        return *spec;
    }

    static bool is_time_registrations(const std::string& stream)
    {
        return spec_of(stream).name == "time-registrations";
    }

    void seed_streams(
        std::size_t per_stream, std::uint64_t seed, const std::string& first, const std::string& last
    )
    {
        auto first_day = parse_day(first), last_day = parse_day(last);
        if (last_day < first_day)
            throw std::invalid_argument("fake_ditio: last_date is before first_date");
        std::lock_guard lock(mutex_);
        streams_.seed(per_stream, seed, first_day, last_day, now_ms());
    }

    std::vector<std::string> insert_into(const std::string& stream, std::size_t count)
    {
        if (is_time_registrations(stream))
            return insert(count);
        std::lock_guard lock(mutex_);
        return streams_.insert(stream, count, batch_time());
    }

    void edit_in(const std::string& stream, const std::vector<std::string>& ids)
    {
        if (is_time_registrations(stream))
            return edit(ids);
        std::lock_guard lock(mutex_);
        streams_.edit(stream, ids, batch_time());
    }

    void remove_from(const std::string& stream, const std::vector<std::string>& ids)
    {
        if (is_time_registrations(stream))
            return remove(ids);
        std::lock_guard lock(mutex_);
        streams_.remove(stream, ids, batch_time());
    }

    void purge_from(const std::string& stream, const std::vector<std::string>& ids)
    {
        if (is_time_registrations(stream))
            return purge(ids);
        std::lock_guard lock(mutex_);
        streams_.purge(stream, ids);
    }

    std::vector<std::string>
    pick_live_in(const std::string& stream, std::size_t count, std::uint64_t seed) const
    {
        if (is_time_registrations(stream))
            return pick_live(count, seed);
        std::lock_guard lock(mutex_);
        return streams_.pick_live(stream, count, seed);
    }

    std::map<std::string, record_view> snapshot_of(const std::string& stream) const
    {
        if (is_time_registrations(stream))
            return snapshot();
        std::lock_guard lock(mutex_);
        return streams_.snapshot(stream);
    }

    std::size_t live_in(const std::string& stream) const
    {
        bool tr = is_time_registrations(stream);
        std::lock_guard lock(mutex_);
        return tr ? live_ : streams_.live_count(stream);
    }

    reply handle_control(
        const request_t& req, std::string_view path, const std::map<std::string, std::string>& params
    )
    {
        reply r;
        if (path.ends_with("/_fake/stats")) {
            std::lock_guard lock(mutex_);
            r.body = fmt::format(
                R"({{"connections_accepted":{},"token_requests":{},"tokens_issued":{},"api_requests":{},)"
                R"("unauthorized":{},"live":{},"records":{}}})",
                stats_.connections_accepted,
                stats_.token_requests,
                stats_.tokens_issued,
                stats_.api_requests,
                stats_.unauthorized,
                live_,
                by_modified_.size()
            );
            return r;
        }
        if (req.method() != http::verb::post)
            return error_reply(405, "MethodNotAllowed", "Use POST.");
        std::array<std::uint64_t, 4> n{};
        constexpr std::array<const char*, 4> keys{"insert", "edit", "delete", "seed"};
        for (std::size_t i = 0; i < keys.size(); ++i) {
            auto it = params.find(keys[i]);
            if (it == params.end())
                continue;
            auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), n[i]);
            if (ec != std::errc{} || p != it->second.data() + it->second.size())
                return error_reply(400, "InvalidArgument", fmt::format("'{}' is not a number.", it->second));
        }
        std::string stream = "time-registrations";
        if (auto it = params.find("stream"); it != params.end())
            stream = it->second;
        if (!detail::find_stream_spec(stream))
            return error_reply(400, "InvalidArgument", fmt::format("'{}' is not a stream.", stream));
        // Edited and deleted records are distinct: one pick, split in two.
        auto picked = pick_live_in(stream, static_cast<std::size_t>(n[1] + n[2]), n[3]);
        auto split =
            static_cast<std::ptrdiff_t>(std::min<std::size_t>(picked.size(), static_cast<std::size_t>(n[1])));
        std::vector<std::string> edits(picked.begin(), picked.begin() + split);
        std::vector<std::string> deletes(picked.begin() + split, picked.end());
        if (!edits.empty())
            edit_in(stream, edits);
        if (!deletes.empty())
            remove_from(stream, deletes);
        auto inserted = n[0] != 0 ? insert_into(stream, static_cast<std::size_t>(n[0])).size() : 0;
        auto live = live_in(stream);
        r.body = fmt::format(
            R"({{"inserted":{},"edited":{},"deleted":{},"live":{}}})",
            inserted,
            edits.size(),
            deletes.size(),
            live
        );
        return r;
    }

    // The path after "/api/v4/integration/" when `path` is an Integration API path.
    static std::optional<std::string_view> integration_rest(std::string_view path)
    {
        constexpr std::string_view marker = "/api/v4/integration/";
        auto at = path.find(marker);
        if (at == std::string_view::npos)
            return std::nullopt;
        return path.substr(at + marker.size());
    }

    static bool is_write(const request_t& req)
    {
        auto m = req.method();
        return m == http::verb::post || m == http::verb::patch || m == http::verb::put ||
               m == http::verb::delete_;
    }

    // The pool slots of an Integration API project or task (created on first use, refreshed on every
    // write), so compact time registrations can reference them; the caller holds mutex_.
    void refresh_pool_entry(const detail::integration_entity& e, bool task)
    {
        auto& index = task ? integration_pool_tasks_ : integration_pool_projects_;
        auto it = index.find(e.id);
        if (it == index.end())
            return;
        if (!task) {
            auto& p = pools_.projects[it->second];
            p.fragment = fmt::format(
                R"("projectId":"{}","projectNumber":{},"projectName":{},"projectExternalNumber":{},)"
                R"("projectCompanyId":{},"projectCompanyName":{},"projectLeaderName":null,)"
                R"("projectMainForemanName":null)",
                e.id,
                json_string(e.number),
                json_string(e.name),
                json_string_or_null(e.external_number),
                json_string(options_.company_id),
                json_string(own_company_name)
            );
            return;
        }
        const auto project = integration_.project(e.project_id);
        auto& t = pools_.tasks[it->second];
        t.fragment = fmt::format(
            R"("taskId":"{}","taskName":{},"taskNameLong":{},"taskWbsNumber":{},"taskChapterId":null,)"
            R"("taskPieceWorkId":null)",
            e.id,
            json_string(e.name),
            json_string(fmt::format(
                "{} {} – {} ({})",
                e.number,
                e.name,
                project ? project->name : "",
                project ? project->number : ""
            )),
            json_string(e.number)
        );
    }

    reply handle_integration(const request_t& req, std::string_view rest)
    {
        std::lock_guard lock(mutex_);
        if (auto denied = authorize(req, "ditioapiv3"))
            return *denied;
        auto t = is_write(req) ? batch_time() : now_ms();
        auto result =
            integration_.handle(req.method_string(), rest, req.body(), t, [&](const std::string& id) {
                return tasks_with_hours_.count(id) != 0;
            });
        for (const auto& touch : result.touched) {
            const auto* stream = touch.task ? "project/work-breakdown-structure" : "project";
            if (touch.deleted) {
                streams_.remove(stream, {touch.id}, t);
                continue;
            }
            auto e = touch.task ? integration_.task(touch.id) : integration_.project(touch.id);
            if (!e)
                continue;
            streams_.upsert(stream, e->id, e->stream_fields, options_.company_id, e->project_id, t);
            refresh_pool_entry(*e, touch.task);
        }
        reply r;
        r.status = result.status;
        r.body = std::move(result.body);
        return r;
    }

    void record_write(const request_t& req, std::string_view path, int status, std::string_view response)
    {
        std::lock_guard lock(mutex_);
        integration_writes_.push_back(
            {std::string(req.method_string()), std::string(path), req.body(), status, std::string(response)}
        );
    }

    std::string register_hours(
        const std::string& project_id, const std::string& task_id, double qty, const std::string& work_date
    )
    {
        auto day = parse_day(work_date);
        if (!(qty > 0) || qty > 24)
            throw std::invalid_argument("fake_ditio: register_hours wants 0 < qty <= 24");
        std::lock_guard lock(mutex_);
        auto project = integration_.project(project_id);
        auto task = integration_.task(task_id);
        if (!project)
            throw std::invalid_argument("fake_ditio: no Integration API project " + project_id);
        if (!task || task->project_id != project_id)
            throw std::invalid_argument(
                "fake_ditio: no Integration API task " + task_id + " in that project"
            );
        if (records_.size() >= (std::size_t{1} << 24))
            throw std::length_error("fake_ditio: at most 16M records");
        // The compact store references projects and tasks by pool index, so the two get pool slots.
        if (!integration_pool_projects_.count(project_id)) {
            pools_.projects.push_back({{}, project_id, options_.company_id});
            integration_pool_projects_[project_id] = static_cast<std::uint16_t>(pools_.projects.size() - 1);
            refresh_pool_entry(*project, false);
        }
        if (!integration_pool_tasks_.count(task_id)) {
            pools_.tasks.push_back({});
            integration_pool_tasks_[task_id] = static_cast<std::uint16_t>(pools_.tasks.size() - 1);
            refresh_pool_entry(*task, true);
        }
        auto t = batch_time();
        record r;
        r.project = integration_pool_projects_.at(project_id);
        r.task = integration_pool_tasks_.at(task_id);
        r.work_day = day;
        r.start_minute = 7 * 60;
        r.minutes = static_cast<std::uint16_t>(std::lround(qty * 60));
        r.created = r.modified = t;
        r.id = make_id(r.work_ms() + std::int64_t{r.start_minute} * 60'000, records_.size());
        add(r);
        tasks_with_hours_.insert(task_id);
        return to_hex(r.id);
    }

    reply route(
        const request_t& req,
        std::string_view path,
        std::string_view raw_query,
        const std::map<std::string, std::string>& params
    )
    {
        if (replay_) {
            auto a = replay_->answer(req.method_string(), path, params);
            reply r;
            r.status = a.status;
            r.body = std::move(a.body);
            for (auto& [name, value] : a.headers) {
                auto field = http::string_to_field(name);
                if (field == http::field::content_type)
                    r.content_type = value;
                else if (field == http::field::date || field == http::field::retry_after || field == http::field::www_authenticate)
                    r.headers.emplace_back(field, value);
            }
            return r;
        }
        if (path.ends_with("/connect/token"))
            return handle_token(req);
        if (auto rest = integration_rest(path))
            return handle_integration(req, *rest);
        if (const auto* spec = data_stream(path))
            return handle_data(*spec, req, params, raw_query);
        if (options_.control_endpoint && (path.ends_with("/_fake/mutate") || path.ends_with("/_fake/stats")))
            return handle_control(req, path, params);
        return error_reply(404, "NotFound", fmt::format("No endpoint matches '{}'.", path));
    }

    // An error answer that repeats the request as a careless server might: the credentials in every form
    // a redactor must catch.
    static reply echo_reply(const request_t& req, const fault& f)
    {
        std::string auth(req[http::field::authorization]);
        auto bare = auth.substr(std::min(auth.size(), auth.find(' ') + 1));
        auto text = fmt::format(
            "rejected request: Authorization: {} (as {}; token {}); body: {}",
            auth,
            to_lower(auth),
            bare,
            std::string_view(req.body())
        );
        reply r;
        r.status = f.status;
        if (f.body == "html") {
            r.content_type = "text/html";
            r.body = "<html><body><h1>Error</h1><pre>" + text + "</pre></body></html>";
            return r;
        }
        r.body = "{\"error\":";
        append_json_string(
            r.body, std::string_view(req.body()).empty() ? auth : std::string_view(req.body())
        );
        r.body += ",\"error_description\":";
        append_json_string(r.body, text);
        r.body += ",\"message\":";
        append_json_string(r.body, text);
        r.body += '}';
        return r;
    }

    response_t make_response(const request_t& req, reply&& r) const
    {
        response_t res{static_cast<http::status>(r.status), req.version()};
        res.set(http::field::date, util::format_http_date(micros_of_ms(now_ms_locked())));
        if (!r.content_type.empty())
            res.set(http::field::content_type, r.content_type);
        for (auto& [field, value] : r.headers)
            res.set(field, value);
        res.body() = std::move(r.body);
        res.prepare_payload();
        return res;
    }

    std::int64_t now_ms_locked() const
    {
        std::lock_guard lock(mutex_);
        return now_ms();
    }

    void log_request(
        const request_t& req,
        std::string_view path,
        const std::map<std::string, std::string>& params,
        int status,
        const reply* r
    )
    {
        request_record rec;
        rec.method = std::string(req.method_string());
        rec.path = std::string(path);
        rec.user_agent = std::string(req[http::field::user_agent]);
        rec.query = params;
        if (auto q = req.target().find('?'); q != std::string_view::npos)
            rec.raw_query = std::string(req.target().substr(q + 1));
        rec.status = status;
        if (r) {
            rec.records = r->records;
            rec.continuation_token = r->continuation_token;
        }
        std::lock_guard lock(mutex_);
        requests_.push_back(std::move(rec));
        if (requests_.size() > max_logged_requests)
            requests_.pop_front();
    }

    // Takes the first fault that applies to this request, if any.
    std::optional<fault> take_fault(std::string_view path, bool data_with_token)
    {
        std::lock_guard lock(mutex_);
        for (auto it = faults_.begin(); it != faults_.end(); ++it) {
            if (!path.ends_with(it->path_suffix))
                continue;
            if (it->what == fault::kind::reject_continuation && !data_with_token)
                continue;
            auto f = *it;
            if (--it->count <= 0)
                faults_.erase(it);
            return f;
        }
        return std::nullopt;
    }

    // Counts this request in `counter` and parks the session while it is the held one (`hold_at`); false when
    // the server is stopping.
    asio::awaitable<bool> maybe_hold(session_ctl& ctl, std::uint64_t& counter, std::uint64_t& hold_at)
    {
        {
            std::lock_guard lock(mutex_);
            ++counter;
            if (hold_at == 0 || counter != hold_at)
                co_return true;
            hold_at = 0;
            held_ = true;
            parked_.push_back(ctl.id);
        }
        held_cv_.notify_all();
        for (;;) {
            {
                std::lock_guard lock(mutex_);
                if (std::find(parked_.begin(), parked_.end(), ctl.id) == parked_.end())
                    break;
            }
            if (stopping_)
                co_return false;
            ctl.timer.expires_at(asio::steady_timer::time_point::max());
            co_await ctl.timer.async_wait(use_nothrow);
        }
        co_return !stopping_;
    }

    // Decides how to answer one request: the reply, and whether to reset or truncate instead.
    asio::awaitable<std::pair<action, response_t>> process(const request_t& req, session_ctl& ctl)
    {
        std::string_view target = req.target();
        auto qmark = target.find('?');
        auto path = target.substr(0, qmark);
        auto raw_query = qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
        std::map<std::string, std::string> params;
        bool malformed = false;
        if (auto list = parse_params(raw_query))
            for (auto& [k, v] : *list)
                params[to_lower(k)] = v;
        else
            malformed = true;

        bool is_data = data_stream(path) != nullptr;
        bool is_integration_write = integration_rest(path).has_value() && is_write(req);
        {
            // Counted on arrival, so a request answered by a fault counts too.
            std::lock_guard lock(mutex_);
            if (is_data || integration_rest(path))
                ++stats_.api_requests;
            else if (path.ends_with("/connect/token"))
                ++stats_.token_requests;
        }
        if (is_data && req.method() == http::verb::get && !co_await maybe_hold(ctl, data_requests_, hold_at_))
            co_return std::pair{action::reset, response_t{}};

        auto f = take_fault(path, is_data && params.count("continuationtoken") != 0);
        if (f && f->what == fault::kind::delay) {
            ctl.timer.expires_after(f->delay);
            co_await ctl.timer.async_wait(use_nothrow);
            if (stopping_)
                co_return std::pair{action::reset, response_t{}};
        }
        if (f && f->what == fault::kind::reset) {
            log_request(req, path, params, 0, nullptr);
            if (is_integration_write)
                record_write(req, path, 0, {});
            co_return std::pair{action::reset, response_t{}};
        }

        reply r;
        std::optional<foreign_answer> foreign;
        {
            std::lock_guard lock(mutex_);
            if (foreign_answer_ && !foreign_prefix_.empty() && path.starts_with(foreign_prefix_))
                foreign = foreign_answer_;
        }
        if (foreign) {
            // A web server at a wrong address: not Ditio's JSON, whatever the path.
            r.status = *foreign == foreign_answer::html_405 ? 405 : 404;
            r.content_type = "text/html";
            if (*foreign == foreign_answer::empty_404)
                r.content_type = "text/plain";
            else
                r.body = fmt::format(
                    "<!DOCTYPE html>\r\n<html><head><title>{0} {1}</title></head><body><h1>{1}</h1><p>The "
                    "requested URL was not found on this server.</p><hr><address>Apache Server</address>"
                    "</body></html>\r\n",
                    r.status,
                    r.status == 405 ? "Method Not Allowed" : "Not Found"
                );
        } else if (f && f->what == fault::kind::echo) {
            r = echo_reply(req, *f);
        } else if (f && f->what == fault::kind::token_cycle) {
            auto sent = params.count("continuationtoken") ? params.at("continuationtoken") : std::string{};
            auto next = sent == "cycle-a" ? "cycle-b" : "cycle-a";
            r.body = fmt::format(
                R"({{"data":[],"links":{{}},"continuationToken":"{}","syncTypeName":"full","recordCount":0,)"
                R"("deletedRecordCount":0}})",
                next
            );
            r.continuation_token = next;
        } else if (f && f->what == fault::kind::status) {
            r.status = f->status;
            r.body =
                f->body.empty() ? simple_error(fault_status_error(f->status), "Injected fault.") : f->body;
            if (f->retry_after)
                r.headers.emplace_back(http::field::retry_after, *f->retry_after);
        } else if (f && f->what == fault::kind::html_200) {
            r.content_type = "text/html";
            r.body = std::string(proxy_error_page);
        } else if (f && f->what == fault::kind::reject_continuation) {
            r = error_reply(400, "InvalidContinuationToken", "The continuation token has expired.");
        } else if (malformed) {
            r = error_reply(400, "InvalidArgument", "The query string is malformed.");
        } else {
            try {
                r = route(req, path, raw_query, params);
            } catch (const std::exception& e) {
                r = error_reply(500, "InternalServerError", e.what());
            }
        }
        log_request(req, path, params, r.status, &r);
        if (is_integration_write) {
            record_write(req, path, r.status, r.body);
            // After the write is applied: the client waits for an answer about a write that happened.
            if (!co_await maybe_hold(ctl, write_requests_, write_hold_at_))
                co_return std::pair{action::reset, response_t{}};
        }
        if (f && f->what == fault::kind::reset_after)
            co_return std::pair{action::reset, response_t{}};
        if (f && f->what == fault::kind::date)
            r.headers.emplace_back(http::field::date, f->header);
        if (f && f->what == fault::kind::bad_record && r.status == 200) {
            if (auto at = r.body.find("\"data\":["); at != std::string::npos) {
                at += 8;
                bool empty = at < r.body.size() && r.body[at] == ']';
                r.body.insert(at, empty ? f->body : f->body + ",");
            }
        }
        auto what = f && f->what == fault::kind::truncate ? action::truncate : action::respond;
        co_return std::pair{what, make_response(req, std::move(r))};
    }

    template <class Stream> static void close_hard(Stream& stream, bool reset)
    {
        auto& socket = beast::get_lowest_layer(stream).socket();
        boost::system::error_code ec;
        if (reset)
            socket.set_option(asio::socket_base::linger(true, 0), ec); // RST, as a dying proxy would
        socket.close(ec);
    }

    template <class Stream> asio::awaitable<void> serve(Stream& stream, session_ctl& ctl, bool tls)
    {
        beast::flat_buffer buffer;
        std::uint64_t served = 0;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(1 << 20);
            beast::get_lowest_layer(stream).expires_after(idle_timeout);
            auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
            if (ec || stopping_)
                co_return; // EOF, a killed client, timeout or stop(): nothing to answer
            auto req = parser.release();
            ++served;
            auto [what, res] = co_await process(req, ctl);
            if (stopping_)
                co_return;
            if (what == action::reset) {
                close_hard(stream, true);
                co_return;
            }
            std::uint64_t limit = 0;
            {
                std::lock_guard lock(mutex_);
                limit = max_requests_per_connection_;
            }
            bool keep_alive = req.keep_alive() && (limit == 0 || served < limit) && what == action::respond;
            res.keep_alive(keep_alive);
            beast::get_lowest_layer(stream).expires_after(io_timeout);
            if (what == action::truncate) {
                // The real Content-Length, then half the body and a close: a proxy dying mid-answer.
                auto half = res.body().size() / 2;
                http::response_serializer<http::string_body> sr{res};
                auto [hec, hn] = co_await http::async_write_header(stream, sr, use_nothrow);
                if (!hec)
                    co_await asio::async_write(stream, asio::buffer(res.body().data(), half), use_nothrow);
                close_hard(stream, false);
                co_return;
            }
            auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
            if (wec)
                co_return;
            if (!keep_alive)
                break;
        }
        if (tls) {
            if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
                beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
                co_await stream.async_shutdown(use_nothrow);
            }
        } else {
            boost::system::error_code ec;
            beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
        }
        close_hard(stream, false);
    }

    asio::awaitable<void> run_session(tcp::socket socket)
    {
        session_ctl ctl{ioc_};
        ctl.id = next_session_++;
        sessions_[ctl.id] = &ctl;
        struct unregister {
            impl* self;
            std::uint64_t id;
            ~unregister() { self->sessions_.erase(id); }
        } guard{this, ctl.id};

        boost::system::error_code ec;
        socket.set_option(tcp::no_delay(true), ec);
        if (ssl_ctx_) {
            beast::ssl_stream<beast::tcp_stream> stream{beast::tcp_stream{std::move(socket)}, *ssl_ctx_};
            ctl.close = [&stream] { close_hard(stream, false); };
            if (stopping_)
                co_return;
            beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
            auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, use_nothrow);
            if (hec || stopping_)
                co_return; // a client that does not trust us, or a port scanner
            co_await serve(stream, ctl, true);
        } else {
            beast::tcp_stream stream{std::move(socket)};
            ctl.close = [&stream] { close_hard(stream, false); };
            if (stopping_)
                co_return;
            co_await serve(stream, ctl, false);
        }
    }

    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            auto [ec, socket] = co_await acceptor_->async_accept(use_nothrow);
            if (stopping_ || ec == asio::error::operation_aborted)
                co_return;
            if (ec) {
                // EMFILE and friends: back off instead of spinning.
                asio::steady_timer pause{ioc_, std::chrono::milliseconds(50)};
                co_await pause.async_wait(use_nothrow);
                continue;
            }
            {
                std::lock_guard lock(mutex_);
                ++stats_.connections_accepted;
            }
            asio::co_spawn(ioc_, run_session(std::move(socket)), [](std::exception_ptr e) {
                if (!e)
                    return;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    std::cerr << "fake_ditio: session failed: " << ex.what() << '\n';
                }
            });
        }
    }
};

// ---------------------------------------------------------------------------------------------------------

fake_ditio::fake_ditio(fake_options options) : impl_(std::make_unique<impl>(std::move(options))) {}

fake_ditio::~fake_ditio()
{
    stop();
}

void fake_ditio::start()
{
    auto& m = *impl_;
    if (m.thread_.joinable())
        return;
    if (m.stopping_)
        throw std::logic_error("fake_ditio: cannot start again after stop()");
    if (m.options_.tls) {
        m.ssl_ctx_.emplace(ssl::context::tls_server);
        m.ssl_ctx_->set_options(
            ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3
        );
        SSL_CTX_set_min_proto_version(m.ssl_ctx_->native_handle(), TLS1_2_VERSION);
        m.ssl_ctx_->use_certificate_chain_file(m.options_.cert_file.string());
        m.ssl_ctx_->use_private_key_file(m.options_.key_file.string(), ssl::context::pem);
    }
    tcp::endpoint endpoint{asio::ip::make_address_v4("127.0.0.1"), m.options_.port};
    m.acceptor_.emplace(m.ioc_);
    m.acceptor_->open(endpoint.protocol());
    m.acceptor_->set_option(asio::socket_base::reuse_address(true));
    m.acceptor_->bind(endpoint);
    m.acceptor_->listen(asio::socket_base::max_listen_connections);
    m.port_ = m.acceptor_->local_endpoint().port();

    asio::co_spawn(m.ioc_, m.accept_loop(), [](std::exception_ptr e) {
        if (e)
            std::rethrow_exception(e); // ends run(): the thread reports it
    });
    std::promise<void> done;
    m.thread_done_ = done.get_future();
    m.thread_ = std::thread([&m, done = std::move(done)]() mutable {
        try {
            m.ioc_.run();
        } catch (const std::exception& e) {
            std::cerr << "fake_ditio: server thread failed: " << e.what() << '\n';
        }
        done.set_value();
    });
}

void fake_ditio::stop()
{
    auto& m = *impl_;
    if (!m.thread_.joinable())
        return;
    m.stopping_ = true;
    asio::post(m.ioc_, [&m] {
        boost::system::error_code ec;
        if (m.acceptor_)
            m.acceptor_->close(ec);
        for (auto& [id, ctl] : m.sessions_) {
            ctl->timer.cancel();
            if (ctl->close)
                ctl->close();
        }
    });
    // Sessions end once their sockets are closed; the deadline only keeps a bug from hanging a test run.
    if (m.thread_done_.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
        m.ioc_.stop();
    m.thread_.join();
}

std::uint16_t fake_ditio::port() const
{
    return impl_->port_;
}

std::string fake_ditio::base_url() const
{
    return fmt::format("{}://127.0.0.1:{}", impl_->options_.tls ? "https" : "http", port());
}

std::vector<std::string> fake_ditio::seed(
    std::size_t count, std::uint64_t seed, std::string first_work_date, std::string last_work_date
)
{
    return impl_->seed(count, seed, first_work_date, last_work_date);
}

std::vector<std::string> fake_ditio::insert(std::size_t count)
{
    return impl_->insert(count);
}

void fake_ditio::edit(const std::vector<std::string>& ids)
{
    impl_->edit(ids);
}

void fake_ditio::move_work_date(const std::vector<std::string>& ids, const std::string& work_date)
{
    impl_->move_work_date(ids, work_date);
}

void fake_ditio::remove(const std::vector<std::string>& ids)
{
    impl_->remove(ids);
}

void fake_ditio::purge(const std::vector<std::string>& ids)
{
    impl_->purge(ids);
}

std::vector<std::string> fake_ditio::pick_live(std::size_t count, std::uint64_t seed) const
{
    return impl_->pick_live(count, seed);
}

std::map<std::string, record_view> fake_ditio::snapshot() const
{
    return impl_->snapshot();
}

std::size_t fake_ditio::live_count() const
{
    std::lock_guard lock(impl_->mutex_);
    return impl_->live_;
}

std::vector<std::string> fake_ditio::stream_names()
{
    std::vector<std::string> out;
    for (const auto& spec : detail::stream_specs())
        out.emplace_back(spec.name);
    return out;
}

void fake_ditio::seed_streams(
    std::size_t per_stream, std::uint64_t seed, std::string first_date, std::string last_date
)
{
    impl_->seed_streams(per_stream, seed, first_date, last_date);
}

std::vector<std::string> fake_ditio::insert(const std::string& stream, std::size_t count)
{
    return impl_->insert_into(stream, count);
}

void fake_ditio::edit(const std::string& stream, const std::vector<std::string>& ids)
{
    impl_->edit_in(stream, ids);
}

void fake_ditio::remove(const std::string& stream, const std::vector<std::string>& ids)
{
    impl_->remove_from(stream, ids);
}

void fake_ditio::purge(const std::string& stream, const std::vector<std::string>& ids)
{
    impl_->purge_from(stream, ids);
}

std::vector<std::string>
fake_ditio::pick_live(const std::string& stream, std::size_t count, std::uint64_t seed) const
{
    return impl_->pick_live_in(stream, count, seed);
}

std::map<std::string, record_view> fake_ditio::snapshot(const std::string& stream) const
{
    return impl_->snapshot_of(stream);
}

std::size_t fake_ditio::live_count(const std::string& stream) const
{
    return impl_->live_in(stream);
}

void fake_ditio::set_stream_available(const std::string& stream, bool available)
{
    const auto& spec = impl::spec_of(stream);
    std::lock_guard lock(impl_->mutex_);
    if (available)
        impl_->unavailable_.erase(std::string(spec.name));
    else
        impl_->unavailable_.emplace(spec.name);
}

void fake_ditio::set_max_window(
    const std::string& stream, std::optional<std::chrono::hours> max, refusal_shape shape
)
{
    const auto& spec = impl::spec_of(stream);
    std::lock_guard lock(impl_->mutex_);
    if (max)
        impl_->max_window_[std::string(spec.name)] = {*max, shape};
    else
        impl_->max_window_.erase(std::string(spec.name));
}

std::vector<std::string> fake_ditio::share_images(std::size_t count)
{
    std::lock_guard lock(impl_->mutex_);
    return impl_->streams_.share_images(count, impl_->batch_time());
}

void fake_ditio::set_image_parent_field(std::string name)
{
    std::lock_guard lock(impl_->mutex_);
    impl_->streams_.set_image_parent_field(std::move(name));
}

void fake_ditio::set_max_modified_since(
    const std::string& stream, std::optional<std::chrono::hours> max, refusal_shape shape
)
{
    const auto& spec = impl::spec_of(stream);
    std::lock_guard lock(impl_->mutex_);
    if (max)
        impl_->max_modified_since_[std::string(spec.name)] = {*max, shape};
    else
        impl_->max_modified_since_.erase(std::string(spec.name));
}

std::optional<refusal_shape> parse_refusal_shape(std::string_view text)
{
    if (text == "specific")
        return refusal_shape::specific;
    if (text == "problem")
        return refusal_shape::problem;
    if (text == "empty")
        return refusal_shape::empty;
    return std::nullopt;
}

void fake_ditio::set_clock_offset(std::chrono::milliseconds offset)
{
    std::lock_guard lock(impl_->mutex_);
    impl_->clock_offset_ = offset;
}

void fake_ditio::set_token_lifetime(std::chrono::seconds lifetime)
{
    std::lock_guard lock(impl_->mutex_);
    impl_->options_.token_lifetime = lifetime;
}

void fake_ditio::expire_all_tokens()
{
    std::lock_guard lock(impl_->mutex_);
    impl_->tokens_.clear();
}

void fake_ditio::set_client_revoked(bool revoked)
{
    std::lock_guard lock(impl_->mutex_);
    impl_->client_revoked_ = revoked;
}

void fake_ditio::set_foreign_prefix(std::string prefix, std::optional<foreign_answer> answer)
{
    std::lock_guard lock(impl_->mutex_);
    impl_->foreign_prefix_ = std::move(prefix);
    impl_->foreign_answer_ = answer;
}

void fake_ditio::set_wrong_scope_status(int status)
{
    std::lock_guard lock(impl_->mutex_);
    impl_->wrong_scope_status_ = status;
}

std::vector<std::string> fake_ditio::issued_tokens() const
{
    std::lock_guard lock(impl_->mutex_);
    return impl_->issued_;
}

void fake_ditio::inject(fault f)
{
    std::lock_guard lock(impl_->mutex_);
    if (f.count > 0)
        impl_->faults_.push_back(std::move(f));
}

void fake_ditio::clear_faults()
{
    std::lock_guard lock(impl_->mutex_);
    impl_->faults_.clear();
}

void fake_ditio::hold_integration_write(std::uint64_t nth)
{
    std::lock_guard lock(impl_->mutex_);
    impl_->write_hold_at_ = nth == 0 ? 0 : impl_->write_requests_ + nth;
}

void fake_ditio::set_external_project_numbers(std::optional<std::vector<std::string>> list)
{
    std::lock_guard lock(impl_->mutex_);
    impl_->integration_.set_external_project_numbers(std::move(list));
}

std::vector<integration_write> fake_ditio::integration_writes() const
{
    std::lock_guard lock(impl_->mutex_);
    return impl_->integration_writes_;
}

namespace {
std::vector<integration_entity_view> views_of(const std::vector<detail::integration_entity>& entities)
{
    std::vector<integration_entity_view> out;
    for (const auto& e : entities)
        out.push_back({e.id, e.key, e.project_id, e.json});
    return out;
}
} // namespace

std::vector<integration_entity_view> fake_ditio::integration_projects() const
{
    std::lock_guard lock(impl_->mutex_);
    return views_of(impl_->integration_.projects());
}

std::vector<integration_entity_view> fake_ditio::integration_tasks() const
{
    std::lock_guard lock(impl_->mutex_);
    return views_of(impl_->integration_.tasks());
}

std::string fake_ditio::register_hours(
    const std::string& project_id, const std::string& task_id, double qty, const std::string& work_date
)
{
    return impl_->register_hours(project_id, task_id, qty, work_date);
}

void fake_ditio::hold_request(std::uint64_t nth)
{
    std::lock_guard lock(impl_->mutex_);
    impl_->hold_at_ = nth == 0 ? 0 : impl_->data_requests_ + nth;
    impl_->held_ = false;
}

bool fake_ditio::wait_until_held(std::chrono::milliseconds timeout)
{
    std::unique_lock lock(impl_->mutex_);
    return impl_->held_cv_.wait_for(lock, timeout, [&] { return impl_->held_; });
}

void fake_ditio::release()
{
    auto& m = *impl_;
    std::vector<std::uint64_t> parked;
    {
        std::lock_guard lock(m.mutex_);
        m.held_ = false;
        m.hold_at_ = 0;
        m.write_hold_at_ = 0;
        parked.swap(m.parked_);
    }
    // Timers belong to the io thread; wake the parked sessions there.
    asio::post(m.ioc_, [&m, parked = std::move(parked)] {
        for (auto id : parked)
            if (auto it = m.sessions_.find(id); it != m.sessions_.end())
                it->second->timer.cancel();
    });
}

void fake_ditio::set_max_requests_per_connection(std::uint64_t n)
{
    std::lock_guard lock(impl_->mutex_);
    impl_->max_requests_per_connection_ = n;
}

fake_stats fake_ditio::stats() const
{
    std::lock_guard lock(impl_->mutex_);
    return impl_->stats_;
}

std::vector<request_record> fake_ditio::requests() const
{
    std::lock_guard lock(impl_->mutex_);
    return {impl_->requests_.begin(), impl_->requests_.end()};
}

void fake_ditio::clear_requests()
{
    std::lock_guard lock(impl_->mutex_);
    impl_->requests_.clear();
}

} // namespace ditio_sync::testing
