// The fake's Integration API: projects and work orders with Ditio's idempotency, company scoping (every
// failure of access is the same 404), validation lists and the write rules of ditio-api.md 4.1-4.3.
#include "fake_integration.hpp"

#include "fake_data.hpp"

#include <ditio_sync/util/time.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <utility>

namespace ditio_sync::testing::detail {
namespace {

namespace json = boost::json;

enum class field_type { text, boolean, number, date };

struct field_spec {
    std::string_view name;
    field_type type;
};

using enum field_type;

// Stored fields in serving order, after id and companyId (and projectId for tasks).
constexpr std::array<field_spec, 15> project_fields{{
    {"projectNumber", text},
    {"name", text},
    {"externalProjectNumber", text},
    {"externalDimension1", text},
    {"externalDimension2", text},
    {"description", text},
    {"active", boolean},
    {"requireTaskNumber", boolean},
    {"blockedForRegistration", boolean},
    {"startDate", date},
    {"finishedDatePlanned", date},
    {"finishedDate", date},
    {"projectCustomerName", text},
    {"projectAddress", text},
    {"mainContactEmail", text},
}};

constexpr std::array<field_spec, 16> task_fields{{
    {"externalId", text},
    {"name", text},
    {"active", boolean},
    {"externalProjectNumber", text},
    {"externalProjectName", text},
    {"externalDim01", text},
    {"workDescriptionShort", text},
    {"workDescription", text},
    {"startDate", date},
    {"finishedDatePlanned", date},
    {"finishedDate", date},
    {"estimatedHourQty", number},
    {"costPrice", number},
    {"price", number},
    {"unitId", text},
    {"parentActivityId", text},
}};

template <std::size_t N> void set_defaults(json::object& o, const std::array<field_spec, N>& fields)
{
    for (const auto& f : fields)
        o[f.name] = f.type == boolean ? json::value(false) : json::value(nullptr);
}

std::string error_body(std::string_view error, std::string_view message)
{
    json::object o;
    o["error"] = error;
    o["message"] = message;
    return json::serialize(o);
}

integration_result fail(int status, std::string_view error, std::string_view message)
{
    return {status, error_body(error, message), {}};
}

integration_result not_found()
{
    return fail(404, "NotFound", "The resource was not found or is not accessible.");
}

std::string text_of(const json::object& o, std::string_view key)
{
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Checks the type of every known field present in `body`; the message names the first bad one.
template <std::size_t N>
std::optional<std::string> check_types(const json::object& body, const std::array<field_spec, N>& fields)
{
    for (const auto& f : fields) {
        const auto* v = body.if_contains(f.name);
        if (!v || v->is_null())
            continue;
        bool ok = false;
        switch (f.type) {
        case text:
            ok = v->is_string();
            break;
        case boolean:
            ok = v->is_bool();
            break;
        case number:
            ok = v->is_number();
            break;
        case date:
            ok = v->is_string() && util::parse_iso8601(v->as_string()).has_value();
            break;
        }
        if (!ok)
            return fmt::format("The field {} has an invalid value.", f.name);
    }
    return std::nullopt;
}

// Copies the known fields present in `body` into `o` (null resets booleans to false).
template <std::size_t N>
void merge(json::object& o, const json::object& body, const std::array<field_spec, N>& fields)
{
    for (const auto& f : fields) {
        const auto* v = body.if_contains(f.name);
        if (!v)
            continue;
        o[f.name] = v->is_null() && f.type == boolean ? json::value(false) : *v;
    }
}

std::string url_decode(std::string_view s)
{
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            auto hex = std::string(s.substr(i + 1, 2));
            char* end = nullptr;
            auto c = std::strtol(hex.c_str(), &end, 16);
            if (end == hex.c_str() + 2) {
                out += static_cast<char>(c);
                i += 2;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

} // namespace

struct integration_store::state {
    struct entry {
        json::object obj;
        std::int64_t created = 0;
    };
    std::string company;
    std::vector<entry> projects, tasks; // creation order
    std::optional<std::vector<std::string>> external_numbers;
    std::uint64_t counter = 0;

    explicit state(std::string c) : company(std::move(c)) {}

    static std::string id_of(const entry& e) { return text_of(e.obj, "id"); }

    template <class Self> static auto* find_in(Self& list, std::string_view id)
    {
        auto it = std::find_if(list.begin(), list.end(), [&](const auto& e) { return id_of(e) == id; });
        return it == list.end() ? nullptr : &*it;
    }
    entry* find_project(std::string_view id) { return find_in(projects, id); }
    const entry* find_project(std::string_view id) const { return find_in(projects, id); }
    entry* find_task(std::string_view id) { return find_in(tasks, id); }
    const entry* find_task(std::string_view id) const { return find_in(tasks, id); }

    entry* project_by_number(std::string_view number)
    {
        for (auto& p : projects)
            if (text_of(p.obj, "projectNumber") == number)
                return &p;
        return nullptr;
    }

    bool id_in_use(std::string_view id) const { return find_project(id) || find_task(id); }

    std::string new_id(std::int64_t now_ms)
    {
        for (;;) {
            auto secs = static_cast<std::uint32_t>(std::max<std::int64_t>(0, now_ms / 1000));
            auto id = fmt::format(
                "{:08x}{:016x}", secs, fnv1a(fmt::format("{}/integration/{}", company, ++counter))
            );
            if (!id_in_use(id))
                return id;
        }
    }

    // The validation-list rule of ditio-api.md 4.1, on the value the project would have after the write.
    std::optional<integration_result> check_external_number(const json::object& project) const
    {
        if (!external_numbers)
            return std::nullopt;
        auto value = text_of(project, "externalProjectNumber");
        if (std::find(external_numbers->begin(), external_numbers->end(), value) != external_numbers->end())
            return std::nullopt;
        return fail(
            400,
            "ValidationError",
            fmt::format("Extern prosjektnummer {} er ikke en gyldig. Velg fra listen", value)
        );
    }

    static integration_result ok(int status, const json::object& o, std::vector<integration_touch> touched)
    {
        return {status, json::serialize(o), std::move(touched)};
    }

    static integration_result list(const std::vector<const entry*>& entries)
    {
        json::array a;
        for (const auto* e : entries)
            a.push_back(e->obj);
        return {200, json::serialize(a), {}};
    }

    // nullopt when the body's companyId is ours (or absent and `required` is false).
    std::optional<integration_result> check_company(const json::object& body, bool required) const
    {
        const auto* c = body.if_contains("companyId");
        if (!c || c->is_null()) {
            if (required)
                return fail(400, "ValidationError", "The companyId field is required.");
            return std::nullopt;
        }
        if (!c->is_string() || c->as_string() != company)
            return not_found();
        return std::nullopt;
    }

    // ----- projects ---------------------------------------------------------------------------------------

    integration_result create_project(const json::object& body, std::int64_t now_ms)
    {
        if (auto e = check_company(body, true))
            return *e;
        if (auto bad = check_types(body, project_fields))
            return fail(400, "ValidationError", *bad);
        auto number = text_of(body, "projectNumber");
        if (number.empty())
            return fail(400, "ValidationError", "The projectNumber field is required.");
        // Idempotent on the number: the existing project, unchanged (nothing is written, nothing validated).
        if (auto* existing = project_by_number(number))
            return ok(200, existing->obj, {});
        json::object o;
        o["id"] = new_id(now_ms);
        o["companyId"] = company;
        set_defaults(o, project_fields);
        merge(o, body, project_fields);
        if (auto e = check_external_number(o))
            return *e;
        auto id = text_of(o, "id");
        projects.push_back({std::move(o), now_ms});
        return ok(201, projects.back().obj, {{false, id, false}});
    }

    integration_result update_project(entry& p, const json::object& body, bool replace)
    {
        if (auto e = check_company(body, false))
            return *e;
        if (auto bad = check_types(body, project_fields))
            return fail(400, "ValidationError", *bad);
        json::object o = p.obj;
        if (replace)
            set_defaults(o, project_fields);
        merge(o, body, project_fields);
        auto number = text_of(o, "projectNumber");
        if (number.empty())
            return fail(400, "ValidationError", "The projectNumber field is required.");
        if (auto* other = project_by_number(number); other && other != &p)
            return fail(400, "DuplicateProjectNumber", fmt::format("Project number {} is in use.", number));
        if (auto e = check_external_number(o))
            return *e;
        p.obj = std::move(o);
        return ok(200, p.obj, {{false, id_of(p), false}});
    }

    integration_result delete_project(std::string_view id)
    {
        auto* p = find_project(id);
        if (!p)
            return not_found();
        // Permanent and cascading (ditio-api.md 4.1): the project's work orders go with it.
        std::vector<integration_touch> touched;
        std::erase_if(tasks, [&](const entry& t) {
            if (text_of(t.obj, "projectId") != id)
                return false;
            touched.push_back({true, id_of(t), true});
            return true;
        });
        touched.push_back({false, std::string(id), true});
        std::erase_if(projects, [&](const entry& e) { return id_of(e) == id; });
        return {204, {}, std::move(touched)};
    }

    // ----- tasks ------------------------------------------------------------------------------------------

    bool external_id_taken(std::string_view project_id, std::string_view external_id, const entry* self) const
    {
        return std::any_of(tasks.begin(), tasks.end(), [&](const entry& t) {
            return &t != self && text_of(t.obj, "projectId") == project_id &&
                   text_of(t.obj, "externalId") == external_id;
        });
    }

    // The parent rule: null or "" is top level; anything else must be a task of the same project.
    std::optional<integration_result> check_parent(json::object& o, const entry* self) const
    {
        auto parent = text_of(o, "parentActivityId");
        if (parent.empty()) {
            o["parentActivityId"] = nullptr;
            return std::nullopt;
        }
        const auto* p = find_task(parent);
        if (!p || p == self || text_of(p->obj, "projectId") != text_of(o, "projectId"))
            return not_found();
        return std::nullopt;
    }

    integration_result create_task(const json::object& body, std::int64_t now_ms)
    {
        if (auto e = check_company(body, true))
            return *e;
        if (auto bad = check_types(body, task_fields))
            return fail(400, "ValidationError", *bad);
        const auto* pid = body.if_contains("projectId");
        if (!pid || !pid->is_string() || pid->as_string().empty())
            return fail(400, "ValidationError", "The projectId field is required.");
        auto project_id = std::string(pid->as_string());
        if (!find_project(project_id))
            return not_found();
        auto external_id = text_of(body, "externalId");
        if (external_id.empty())
            return fail(400, "ValidationError", "The externalId field is required.");
        if (external_id_taken(project_id, external_id, nullptr))
            return fail(
                400,
                "DuplicateExternalId",
                fmt::format("A work order with externalId {} exists in this project.", external_id)
            );
        // A client-supplied unused id is kept; a used one is refused before any write (ditio-api.md 4.2).
        std::string id;
        if (const auto* given = body.if_contains("id"); given && !given->is_null()) {
            if (!given->is_string() || !parse_hex_id(given->as_string()))
                return fail(400, "ValidationError", "The id field is not a valid id.");
            id = std::string(given->as_string());
            if (id_in_use(id))
                return fail(400, "DuplicateId", fmt::format("The id {} is in use.", id));
        } else {
            id = new_id(now_ms);
        }
        json::object o;
        o["id"] = id;
        o["companyId"] = company;
        o["projectId"] = project_id;
        set_defaults(o, task_fields);
        merge(o, body, task_fields);
        if (auto e = check_parent(o, nullptr))
            return *e;
        tasks.push_back({std::move(o), now_ms});
        return ok(201, tasks.back().obj, {{true, id, false}});
    }

    bool has_children(std::string_view id) const
    {
        return std::any_of(tasks.begin(), tasks.end(), [&](const entry& t) {
            return text_of(t.obj, "parentActivityId") == id;
        });
    }

    integration_result update_task(entry& t, const json::object& body, bool replace)
    {
        if (auto e = check_company(body, false))
            return *e;
        if (auto bad = check_types(body, task_fields))
            return fail(400, "ValidationError", *bad);
        json::object o = t.obj;
        if (replace)
            set_defaults(o, task_fields);
        merge(o, body, task_fields);
        // On PATCH an omitted or null parentActivityId keeps the parent; "" clears it.
        if (const auto* parent = body.if_contains("parentActivityId");
            !replace && parent && parent->is_null())
            o["parentActivityId"] = t.obj.at("parentActivityId");
        if (const auto* pid = body.if_contains("projectId"); pid && !pid->is_null()) {
            if (!pid->is_string() || !find_project(pid->as_string()))
                return not_found();
            if (pid->as_string() != text_of(t.obj, "projectId") && has_children(id_of(t)))
                return not_found(); // a work order with children cannot move between projects
            o["projectId"] = *pid;
        }
        auto external_id = text_of(o, "externalId");
        if (external_id.empty())
            return fail(400, "ValidationError", "The externalId field is required.");
        if (external_id_taken(text_of(o, "projectId"), external_id, &t))
            return fail(
                400,
                "DuplicateExternalId",
                fmt::format("A work order with externalId {} exists in this project.", external_id)
            );
        if (auto e = check_parent(o, &t))
            return *e;
        t.obj = std::move(o);
        return ok(200, t.obj, {{true, id_of(t), false}});
    }

    integration_result
    delete_task(std::string_view id, const std::function<bool(const std::string&)>& has_registrations)
    {
        auto* t = find_task(id);
        if (!t)
            return not_found();
        if (has_children(id))
            return fail(400, "HasChildren", "The work order has child work orders; deactivate it instead.");
        if (has_registrations(std::string(id)))
            return fail(
                400, "HasTimeRegistrations", "The work order has time registrations; deactivate it instead."
            );
        std::erase_if(tasks, [&](const entry& e) { return id_of(e) == id; });
        return {204, {}, {{true, std::string(id), true}}};
    }

    // ----- the stream views -------------------------------------------------------------------------------

    integration_entity view_project(const entry& p) const
    {
        const auto& o = p.obj;
        integration_entity v;
        v.id = id_of(p);
        v.json = json::serialize(o);
        v.project_id = v.id;
        v.number = v.key = text_of(o, "projectNumber");
        v.name = text_of(o, "name");
        v.external_number = text_of(o, "externalProjectNumber");
        json::object s;
        s["number"] = o.at("projectNumber");
        s["name"] = o.at("name");
        s["externalNumber"] = o.at("externalProjectNumber");
        s["externalDim01"] = o.at("externalDimension1");
        s["externalDim02"] = o.at("externalDimension2");
        s["companyId"] = company;
        s["companyName"] = own_company_name;
        s["active"] = o.at("active");
        s["isExternal"] = false;
        s["createdDateTime"] = iso_ms(p.created);
        v.stream_fields = json::serialize(s);
        return v;
    }

    integration_entity view_task(const entry& t) const
    {
        const auto& o = t.obj;
        integration_entity v;
        v.id = id_of(t);
        v.json = json::serialize(o);
        v.project_id = text_of(o, "projectId");
        v.number = v.key = text_of(o, "externalId");
        v.name = text_of(o, "name");
        const auto* p = find_project(v.project_id);
        auto project_number = p ? text_of(p->obj, "projectNumber") : std::string();
        auto project_name = p ? text_of(p->obj, "name") : std::string();
        const auto* parent = find_task(text_of(o, "parentActivityId"));
        // [INFER] ditio-api.md 3.7: externalId shows as the WBS number and externalNumber.
        json::object s;
        s["projectId"] = v.project_id;
        s["number"] = v.number;
        s["name"] = o.at("name");
        s["nameWithNumber"] = fmt::format("{} {}", v.number, v.name);
        s["chapterId"] = nullptr;
        s["externalNumber"] = v.number;
        s["externalDim01"] = o.at("externalDim01");
        s["externalDim02"] = nullptr;
        s["externalPieceWorkId"] = nullptr;
        s["parentName"] = parent ? text_of(parent->obj, "name") : project_name;
        s["fullPathName"] = fmt::format("{} {} / {} {}", project_number, project_name, v.number, v.name);
        s["companyId"] = company;
        s["companyName"] = own_company_name;
        s["isExternal"] = false;
        v.stream_fields = json::serialize(s);
        return v;
    }
};

integration_store::integration_store(std::string company_id)
    : state_(std::make_unique<state>(std::move(company_id)))
{
}

integration_store::~integration_store() = default;

integration_result integration_store::handle(
    std::string_view method,
    std::string_view rest,
    std::string_view body_text,
    std::int64_t now_ms,
    const std::function<bool(const std::string&)>& has_registrations
)
{
    auto& s = *state_;
    while (rest.ends_with('/'))
        rest.remove_suffix(1);
    std::vector<std::string> seg;
    for (std::size_t start = 0; start <= rest.size();) {
        auto slash = rest.find('/', start);
        auto end = slash == std::string_view::npos ? rest.size() : slash;
        seg.push_back(url_decode(rest.substr(start, end - start)));
        start = end + 1;
    }
    bool writes = method == "POST" || method == "PATCH" || method == "PUT";
    json::object body;
    if (writes) {
        boost::system::error_code ec;
        auto v = json::parse(body_text, ec);
        if (ec || !v.is_object())
            return fail(400, "BadRequest", "The request body must be a JSON object.");
        body = std::move(v.as_object());
    }
    auto method_not_allowed = [] {
        return fail(405, "MethodNotAllowed", "The method is not allowed on this resource.");
    };

    if (seg[0] == "projects") {
        if (seg.size() == 1) {
            if (method == "GET") {
                std::vector<const state::entry*> all;
                for (const auto& p : s.projects)
                    all.push_back(&p);
                return state::list(all);
            }
            if (method == "POST")
                return s.create_project(body, now_ms);
            return method_not_allowed();
        }
        if (seg.size() == 3 && seg[1] == "by-project-number") {
            if (method != "GET")
                return method_not_allowed();
            auto* p = s.project_by_number(seg[2]);
            return p ? state::ok(200, p->obj, {}) : not_found();
        }
        if (seg.size() == 2) {
            if (method == "DELETE")
                return s.delete_project(seg[1]);
            auto* p = s.find_project(seg[1]);
            if (!p)
                return not_found();
            if (method == "GET")
                return state::ok(200, p->obj, {});
            if (method == "PATCH" || method == "PUT")
                return s.update_project(*p, body, method == "PUT");
            return method_not_allowed();
        }
    } else if (seg[0] == "tasks") {
        if (seg.size() == 1) {
            if (method == "POST")
                return s.create_task(body, now_ms);
            return method_not_allowed();
        }
        if (seg.size() == 3 && (seg[1] == "project" || seg[1] == "by-project-number")) {
            if (method != "GET")
                return method_not_allowed();
            const auto* p = seg[1] == "project" ? s.find_project(seg[2]) : s.project_by_number(seg[2]);
            if (!p)
                return not_found();
            auto pid = state::id_of(*p);
            std::vector<const state::entry*> in;
            for (const auto& t : s.tasks)
                if (text_of(t.obj, "projectId") == pid)
                    in.push_back(&t);
            return state::list(in);
        }
        if (seg.size() == 2) {
            if (method == "DELETE")
                return s.delete_task(seg[1], has_registrations);
            auto* t = s.find_task(seg[1]);
            if (!t)
                return not_found();
            if (method == "GET")
                return state::ok(200, t->obj, {});
            if (method == "PATCH" || method == "PUT")
                return s.update_task(*t, body, method == "PUT");
            return method_not_allowed();
        }
    }
    return fail(404, "NotFound", fmt::format("No integration endpoint matches '{}'.", rest));
}

void integration_store::set_external_project_numbers(std::optional<std::vector<std::string>> list)
{
    state_->external_numbers = std::move(list);
}

std::optional<integration_entity> integration_store::project(const std::string& id) const
{
    const auto* p = state_->find_project(id);
    return p ? std::optional(state_->view_project(*p)) : std::nullopt;
}

std::optional<integration_entity> integration_store::task(const std::string& id) const
{
    const auto* t = state_->find_task(id);
    return t ? std::optional(state_->view_task(*t)) : std::nullopt;
}

std::vector<integration_entity> integration_store::projects() const
{
    std::vector<integration_entity> out;
    for (const auto& p : state_->projects)
        out.push_back(state_->view_project(p));
    return out;
}

std::vector<integration_entity> integration_store::tasks() const
{
    std::vector<integration_entity> out;
    for (const auto& t : state_->tasks)
        out.push_back(state_->view_task(t));
    return out;
}

} // namespace ditio_sync::testing::detail
