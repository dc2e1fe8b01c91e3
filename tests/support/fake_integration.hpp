// The fake's Integration API store (ditio-api.md 4.1-4.3): projects and work orders (tasks) as JSON objects,
// the request handling of api/v4/integration/{projects,tasks}, and what each write touched, so fake_ditio can
// mirror it into the extraction streams.
//
// Thread safety: none; fake_ditio calls it under its own mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ditio_sync::testing::detail {

// One project or task a write created, changed or deleted.
struct integration_touch {
    bool task = false;
    std::string id;
    bool deleted = false;
};

struct integration_result {
    int status = 200;
    std::string body; // JSON, empty for 204
    std::vector<integration_touch> touched;
};

// A project or task as the extraction streams and the time registrations need it.
struct integration_entity {
    std::string id;
    std::string json;            // the Integration API object
    std::string stream_fields;   // v1/project or v1/project/work-breakdown-structure fields (JSON object)
    std::string project_id;      // tasks: their project; projects: their own id
    std::string number, name;    // projectNumber or externalId, and name ("" when null)
    std::string external_number; // projects: externalProjectNumber ("" when null)
    std::string key;             // projects: projectNumber; tasks: externalId
};

class integration_store {
public:
    explicit integration_store(std::string company_id);
    ~integration_store();
    integration_store(const integration_store&) = delete;
    integration_store& operator=(const integration_store&) = delete;

    // Answers one authorised request. `rest` is the path after "/api/v4/integration/"; `now_ms` stamps new
    // ids and creation times; `has_registrations(task_id)` refuses a task DELETE.
    integration_result handle(
        std::string_view method,
        std::string_view rest,
        std::string_view body,
        std::int64_t now_ms,
        const std::function<bool(const std::string&)>& has_registrations
    );

    // nullopt: externalProjectNumber is free text; otherwise it is required and must be one of `list`.
    void set_external_project_numbers(std::optional<std::vector<std::string>> list);

    std::optional<integration_entity> project(const std::string& id) const;
    std::optional<integration_entity> task(const std::string& id) const;
    std::vector<integration_entity> projects() const; // creation order
    std::vector<integration_entity> tasks() const;

private:
    struct state;
    std::unique_ptr<state> state_;
};

} // namespace ditio_sync::testing::detail
