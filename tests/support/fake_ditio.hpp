// A fake Ditio for tests, the demo and the benchmark: the identity token endpoint and every Data Extraction
// stream the daemon mirrors (v1/time-registrations in a compact store sized for the benchmark, the 17 others
// in a generic one, all drawn from the same projects, tasks, people and machines so their ids join), over
// TLS (or plain HTTP) on loopback, behaving as ../shared/ditio-api.md documents, with each stream's quirks,
// ways to change data between runs and fault injection.
//
// Thread safety: the server runs on its own thread; every public member may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ditio_sync::testing {

// Paths of a throwaway PKI: a CA, and a server certificate it signed for 127.0.0.1, ::1 and localhost.
struct test_pki {
    std::filesystem::path ca_cert;
    std::filesystem::path server_cert;
    std::filesystem::path server_key;
};

// Creates (or reuses, when all three files exist) a test PKI in dir. Throws on failure.
test_pki make_test_pki(const std::filesystem::path& dir);

// One test PKI for the whole process, made on first use in a fresh temp directory. The directory (and its
// private keys) goes when the process exits normally, which a doctest run does whether checks failed or
// not; only a crash leaves it behind. Throws on failure.
const test_pki& process_test_pki();

// A CA whose key is kept (ca.pem and ca-key.pem in dir), for tests that need server certificates for other
// names from one trusted CA. Created, or reused when both files exist. Throws on failure.
struct test_ca {
    std::filesystem::path cert;
    std::filesystem::path key;
};
test_ca make_test_ca(const std::filesystem::path& dir);

// A server certificate and key signed by `ca` for `names` (IP literals become IP SANs, anything else DNS
// SANs; the first name is also the CN), written as server.pem and server-key.pem in dir. The result's
// ca_cert is ca.cert. Throws on failure.
test_pki
make_server_cert(const test_ca& ca, const std::filesystem::path& dir, const std::vector<std::string>& names);

struct fake_options {
    std::string client_id = "demo-client";
    std::string client_secret = "demo-secret";
    // The scopes this client may request; asking for any other scope gives invalid_scope.
    std::vector<std::string> allowed_scopes{"reportingapiv1", "ditioapiv3"};
    // Instead of invalid_scope, a request naming scopes beyond allowed_scopes gets a token for those it may
    // have, its `scope` field saying which (RFC 6749 5.1 lets a server narrow silently).
    bool narrow_scopes = false;
    // The token response leaves out `scope` (RFC 6749 5.1: optional when it is what was asked for).
    bool omit_scope_field = false;
    std::chrono::seconds token_lifetime{1800};
    std::uint16_t port = 0;          // 0 picks a free port
    bool tls = true;                 // false serves plain HTTP
    std::filesystem::path cert_file; // required when tls
    std::filesystem::path key_file;
    std::string company_id = "5f0c3a9e1d2b4c6a8e0f1a2b";
    // How the last page says "no more": 0 absent key, 1 null, 2 "" (Ditio's docs allow all three).
    int end_of_stream_style = 0;
    // Also serve POST /_fake/mutate?insert=N&edit=N&delete=N&seed=S[&stream=NAME] and GET /_fake/stats,
    // unauthenticated (ditio-fake turns this on so the demo and the benchmark can change data between runs).
    bool control_endpoint = false;
    // Serve this `ditio-sync capture` file back instead of the generated data (fake_replay.hpp).
    std::filesystem::path replay_file;
};

// One record as the server holds it: its current JSON (or tombstone) and state.
struct record_view {
    std::string json;     // the live record as served in full mode, or the tombstone once deleted
    std::string modified; // modifiedDateTime as served
    bool deleted = false;
    std::string deleted_at; // deletedDateTime when deleted
    std::string work_date;  // time registrations: workDate, "YYYY-MM-DDT00:00:00Z"
    // The full-mode window field's value as served (workDate, stopDateTime, checkInDateTime, ...); "" for
    // streams without a window.
    std::string window_at;
};

// What answers at a prefix that is not Ditio's (set_foreign_prefix): a web server or proxy at a wrong base.
enum class foreign_answer {
    html_404,  // 404 text/html, a web server's "Not Found" page
    empty_404, // 404 with an empty body
    html_405,  // 405 text/html, "Method Not Allowed"
};

// A fault applied to the next `count` requests whose path ends with `path_suffix`
// ("/connect/token", "/v1/time-registrations", "/v1/project"; empty matches every request).
struct fault {
    enum class kind {
        status,              // answer `status` with `body` (and Retry-After when retry_after is set)
        reset,               // close the connection without answering
        truncate,            // send the headers and half the body of the real answer, then close
        delay,               // answer normally after `delay`
        html_200,            // answer 200 text/html with a proxy-style error page
        reject_continuation, // answer 400 InvalidContinuationToken to a request that carries a token
        reset_after,         // act on the request as usual (a write is applied), then close unanswered
        date,                // answer as usual, with the Date header `header` (a clock far off)
        token_cycle,         // a page without records and the continuation token "cycle-a", or "cycle-b"
                             // to a request carrying "cycle-a": A -> B -> A -> ...
        bad_record,          // answer as usual, with `body` (one raw JSON record, e.g. one without an id)
                             // put first in the page's data array
        echo,                // answer `status` with an error that repeats the request: its Authorization
                             // value (as sent, in lower case, and the bare token) and its body; in JSON
                             // (error, error_description, message) or, with `body` "html", an HTML page
    };
    kind what = kind::status;
    std::string path_suffix;
    int count = 1;
    int status = 503;
    std::string body;
    std::string header; // date: the Date header's value
    std::optional<std::string> retry_after;
    std::chrono::milliseconds delay{0};
};

// One request as the server saw it (query parameter names lower-cased; Authorization is never kept).
struct request_record {
    std::string method;
    std::string path;
    std::map<std::string, std::string> query;
    std::string raw_query; // as sent, repeated keys included (Sources=feed&Sources=alert)
    int status = 0;
    std::size_t records = 0;        // records in the answered page
    std::string continuation_token; // token returned to the client, empty at the end
    std::string user_agent;
};

// One Integration API write (POST, PATCH, PUT or DELETE under api/v4/integration/) as the server saw it,
// including writes answered by an injected fault (status 0: the connection was reset).
struct integration_write {
    std::string method;
    std::string path;
    std::string body; // the request body as sent
    int status = 0;
    std::string response; // the response body
};

// A project or work order of the Integration API store.
struct integration_entity_view {
    std::string id;
    std::string key;        // projects: projectNumber; tasks: externalId
    std::string project_id; // tasks: their project; projects: their own id
    std::string json;       // the object as GET returns it
};

// How a request refused for a cap (a date window too long, a ModifiedSince too far back) is answered: each
// shape Ditio's sources allow for a 400 (ditio-api.md 5), none of which promises what the refusal says.
enum class refusal_shape {
    specific, // {"error":"ValidationError","message":...} naming the cap, as the docs' simple errors
    problem,  // application/problem+json: only "One or more validation errors occurred." and an `errors`
              // object that names no parameter (ASP.NET's model validation)
    empty,    // a 400 with an empty body
};

// "specific", "problem" or "empty"; nullopt for anything else.
std::optional<refusal_shape> parse_refusal_shape(std::string_view text);

struct fake_stats {
    std::uint64_t connections_accepted = 0;
    std::uint64_t token_requests = 0;
    std::uint64_t tokens_issued = 0;
    std::uint64_t api_requests = 0;
    std::uint64_t unauthorized = 0;
};

class fake_ditio {
public:
    explicit fake_ditio(fake_options options);
    ~fake_ditio();
    fake_ditio(const fake_ditio&) = delete;
    fake_ditio& operator=(const fake_ditio&) = delete;

    // Binds 127.0.0.1 and starts serving on an internal thread; returns once it accepts connections.
    void start();
    // Stops serving and joins the thread; idempotent, also done by the destructor.
    void stop();

    std::uint16_t port() const;
    // "https://127.0.0.1:PORT" (or http://): usable as identity, api and reporting base.
    std::string base_url() const;

    // --- data of v1/time-registrations ---
    // Adds `count` realistic records with work dates spread over [first_work_date, last_work_date]
    // ("YYYY-MM-DD"), deterministic for `seed`. Modified times are spread over the past
    // (before now), several records sharing each timestamp. Returns the new ids.
    std::vector<std::string> seed(
        std::size_t count,
        std::uint64_t seed,
        std::string first_work_date = "2024-01-01",
        std::string last_work_date = "2026-12-31"
    );
    // Inserts `count` new records modified now (all with the same modifiedDateTime).
    std::vector<std::string> insert(std::size_t count);
    // Edits the records (new version: changed qty/description/approval, modifiedDateTime = now, one
    // timestamp for the whole batch). Unknown or deleted ids are ignored.
    void edit(const std::vector<std::string>& ids);
    // Moves records to another work date (an edit that changes their full-mode position).
    void move_work_date(const std::vector<std::string>& ids, const std::string& work_date);
    // Deletes the records: they become tombstones (id, isDeleted, deletedDateTime, modifiedDateTime =
    // deletion time, every other field null), served only in incremental mode.
    void remove(const std::vector<std::string>& ids);
    // Removes records without leaving a tombstone (as if purged): only a full re-sync can notice.
    void purge(const std::vector<std::string>& ids);
    // Picks `count` distinct live ids, deterministic for `seed`.
    std::vector<std::string> pick_live(std::size_t count, std::uint64_t seed) const;
    // Every record the server knows, keyed by id.
    std::map<std::string, record_view> snapshot() const;
    std::size_t live_count() const;

    // --- data of every stream ---
    // `stream` is the path after v1/ ("project/work-breakdown-structure"); each of these also takes
    // "time-registrations" and then does what the time-registrations method above does. An unknown stream
    // throws std::invalid_argument.

    // Every stream served, in the daemon's catalogue order (time-registrations first).
    static std::vector<std::string> stream_names();
    // Seeds every stream but time-registrations (seed() does that one): every pool entry of the metadata
    // streams (projects, tasks, users, resources, flow locations and mass types, whatever per_stream), and
    // `per_stream` records per registration stream with their window dates spread over [first_date,
    // last_date] and modified times in the past, several sharing a timestamp. Deterministic for `seed`.
    void seed_streams(
        std::size_t per_stream,
        std::uint64_t seed,
        std::string first_date = "2024-01-01",
        std::string last_date = "2026-12-31"
    );
    // New records (metadata: new entries, e.g. a new project), created and modified now, one timestamp.
    std::vector<std::string> insert(const std::string& stream, std::size_t count);
    // A real change of some fields; modifiedDateTime = now, one timestamp per batch, strictly after the
    // previous batch. Unknown or deleted ids are ignored (as by the three below).
    void edit(const std::string& stream, const std::vector<std::string>& ids);
    // Tombstones in the stream's shape (ditio-api.md 3.5), served only in incremental mode: registrations
    // empty, metadata their last version (older modifiedDateTime), checklists the full record.
    void remove(const std::string& stream, const std::vector<std::string>& ids);
    void purge(const std::string& stream, const std::vector<std::string>& ids);
    std::vector<std::string>
    pick_live(const std::string& stream, std::size_t count, std::uint64_t seed) const;
    std::map<std::string, record_view> snapshot(const std::string& stream) const;
    std::size_t live_count(const std::string& stream) const;
    // An unavailable stream answers 404 NotFound ("not available on this environment yet").
    void set_stream_available(const std::string& stream, bool available);
    // A full-mode request whose ToDateTime - FromDateTime exceeds `max` gets a 400 in `shape` (as
    // machine-registrations once did); nullopt, the default, allows any window.
    void set_max_window(
        const std::string& stream,
        std::optional<std::chrono::hours> max,
        refusal_shape shape = refusal_shape::specific
    );
    // An incremental request whose ModifiedSince lies more than `max` before the server's clock gets a 400
    // in `shape` (machine-registrations, says an old Postman note: 3 days); nullopt, the default, allows
    // any.
    void set_max_modified_since(
        const std::string& stream,
        std::optional<std::chrono::hours> max,
        refusal_shape shape = refusal_shape::specific
    );
    // v1/images is one row per image and parent record (ditio-api.md 3.1). For `count` live images, adds a
    // row with the same image id under another parent (another source and parent id), modified now; returns
    // the image ids. remove("images", {id}) then deletes every row of the image, each with an empty
    // tombstone (only the id).
    std::vector<std::string> share_images(std::size_t count);
    // The key an image row's parent id is served under: "parentId" (the default), another name, or "" to
    // leave it out (Ditio's docs name no such field).
    void set_image_parent_field(std::string name);

    // --- Integration API (api/v4/integration/projects and tasks, ditio-api.md 4.1-4.3, scope ditioapiv3) ---
    // Served under any prefix (the daemon uses {base}/core). Starts empty: the seeded pool projects are
    // extraction data only. Every create or change also appears in v1/project and
    // v1/project/work-breakdown-structure with modifiedDateTime = the write time; deletes leave tombstones.

    // nullopt (the default): externalProjectNumber is free text. Otherwise a project POST (of a new number),
    // PATCH or PUT whose resulting externalProjectNumber is missing or not in `list` gets 400 ValidationError
    // "Extern prosjektnummer <value> er ikke en gyldig. Velg fra listen".
    void set_external_project_numbers(std::optional<std::vector<std::string>> list);
    // Every write so far, in arrival order.
    std::vector<integration_write> integration_writes() const;
    // The stores, in creation order.
    std::vector<integration_entity_view> integration_projects() const;
    std::vector<integration_entity_view> integration_tasks() const;
    // Adds one time registration of `qty` hours (rounded to whole minutes, starting 07:00 UTC) on `work_date`
    // ("YYYY-MM-DD") for an Integration API project and one of its tasks, by the first pool person, modified
    // now; returns its id. Throws std::invalid_argument for an unknown project, a task of another project or
    // a bad date. The task's DELETE is refused from then on.
    std::string register_hours(
        const std::string& project_id, const std::string& task_id, double qty, const std::string& work_date
    );

    // --- clock ---
    // Shifts the server's clock (modification times, Date header) relative to the real one.
    void set_clock_offset(std::chrono::milliseconds offset);

    // --- auth ---
    void set_token_lifetime(std::chrono::seconds lifetime);
    // Makes every token issued so far invalid (the next API call with one gets 401).
    void expire_all_tokens();
    // A revoked client still gets tokens, but the API answers 401 to them (ditio-api.md 2).
    void set_client_revoked(bool revoked);
    // Status for a token lacking the API's scope (reportingapiv1 for v1/*, ditioapiv3 for the Integration
    // API): 401 (default) or 403.
    void set_wrong_scope_status(int status);
    // Every access token issued so far, to check that none leaks into logs or the database.
    std::vector<std::string> issued_tokens() const;

    // --- faults and observation ---
    // Every request whose path starts with `prefix` ("/wrong") is answered by something that is not Ditio
    // (a wrong base URL), whatever follows; nullopt (or an empty prefix) turns it off.
    void set_foreign_prefix(std::string prefix, std::optional<foreign_answer> answer);
    void inject(fault f);
    void clear_faults();
    // Holds the answer to the `nth` (1-based, counted from now) data request until release() is called.
    void hold_request(std::uint64_t nth);
    // Holds the answer to the `nth` (1-based, counted from now) Integration API write after the write has
    // been applied, until release(): the client never learns the outcome of a write that happened (a crash
    // between POST and commit). Independent of hold_request's count; wait_until_held and release serve both.
    void hold_integration_write(std::uint64_t nth);
    // Waits until a held request has arrived; false on timeout.
    bool wait_until_held(std::chrono::milliseconds timeout);
    void release();
    // Closes every connection after it has served `n` requests (0: keep-alive without limit).
    void set_max_requests_per_connection(std::uint64_t n);

    fake_stats stats() const;
    std::vector<request_record> requests() const;
    void clear_requests();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace ditio_sync::testing
