// The generic record store of the fake Ditio: record builders per stream, edits, tombstones and paging.
// Records are Boost.JSON objects (thousands per stream, not millions), written by our own serializer so
// numbers look like a .NET serializer's (7.5, not Boost 1.81's 7.5E0).
#include "fake_streams.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace ditio_sync::testing::detail {
namespace {

namespace json = boost::json;
using enum tombstone_kind;

// clang-format off
constexpr std::array<stream_spec, 18> specs{{
    // name                               window field       tombstone     meta   project from+to
    {"time-registrations",               "workDate",        empty,        false, true,  false},
    {"machine-registrations",            "stopDateTime",    empty,        false, true,  true},
    {"absence-registrations",            "date",            empty,        false, true,  false},
    {"payroll-lines",                    "transDateTime",   empty,        false, true,  false},
    {"payroll-lines-extended",           "transDateTime",   empty,        false, false, false},
    {"checklist-registrations",          "",                full_record,  false, true,  false},
    {"incident-registrations",           "",                empty,        false, true,  false},
    {"machine-checklist-registrations",  "",                full_record,  false, true,  false},
    {"machine-incident-registrations",   "",                empty,        false, true,  false},
    {"images",                           "createdDateTime", empty,        false, true,  false},
    {"crew-list-registrations",          "checkInDateTime", empty,        false, true,  false},
    {"flow-trip-registrations",          "loadDateTime",    empty,        false, true,  false},
    {"project",                          "",                last_version, true,  true,  false},
    {"project/work-breakdown-structure", "",                last_version, true,  true,  false},
    {"user",                             "",                last_version, true,  false, false},
    {"resource",                         "",                last_version, true,  false, false},
    {"flow-locations",                   "",                last_version, true,  true,  false},
    {"flow-mass-types",                  "",                last_version, true,  false, false},
}};
// clang-format on

constexpr std::int64_t ms_per_minute = 60'000;
constexpr std::int64_t ms_per_hour = 3'600'000;

// ---------------------------------------------------------------------------------------------------------
// Small helpers

std::int64_t pick(rng& g, std::int64_t lo, std::int64_t hi) // inclusive
{
    return lo + static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(hi - lo + 1)));
}

template <class Container> const auto& pick_from(rng& g, const Container& c)
{
    return c[static_cast<std::size_t>(g.below(c.size()))];
}

double hundredths(std::int64_t v)
{
    return static_cast<double>(v) / 100.0;
}

// Coordinates with the 5 decimals a phone reports, not 6.4171700000000005.
double coordinate(double v)
{
    return std::round(v * 100'000.0) / 100'000.0;
}

json::value text_or_null(std::string_view s)
{
    return s.empty() ? json::value(nullptr) : json::value(s);
}

// Crew-list times are UTC written with an offset (ditio-api.md 6).
std::string iso_offset(std::int64_t ms)
{
    auto s = iso_s(ms);
    s.pop_back();
    return s + "+00:00";
}

std::int64_t day_ms(std::int32_t day)
{
    return std::int64_t{day} * ms_per_day;
}

// Both stores' timestamps are whole milliseconds; sub-millisecond input is floored.
std::int64_t parse_ms(std::string_view text)
{
    auto t = util::parse_iso8601(text);
    if (!t)
        throw std::logic_error(fmt::format("fake_streams: '{}' is not a timestamp", text));
    return floor_div(t->time_since_epoch().count(), 1000);
}

void write_json(std::string& out, const json::value& v);

void write_key(std::string& out, std::string_view key)
{
    out += json::serialize(json::string_view(key.data(), key.size()));
    out += ':';
}

void write_json(std::string& out, const json::value& v)
{
    switch (v.kind()) {
    case json::kind::null:
        out += "null";
        break;
    case json::kind::bool_:
        out += v.get_bool() ? "true" : "false";
        break;
    case json::kind::int64:
        fmt::format_to(std::back_inserter(out), "{}", v.get_int64());
        break;
    case json::kind::uint64:
        fmt::format_to(std::back_inserter(out), "{}", v.get_uint64());
        break;
    case json::kind::double_:
        fmt::format_to(std::back_inserter(out), "{}", v.get_double());
        break;
    case json::kind::string:
        out += json::serialize(v);
        break;
    case json::kind::array: {
        out += '[';
        bool first = true;
        for (const auto& e : v.get_array()) {
            if (!first)
                out += ',';
            first = false;
            write_json(out, e);
        }
        out += ']';
        break;
    }
    case json::kind::object: {
        out += '{';
        bool first = true;
        for (const auto& kv : v.get_object()) {
            if (!first)
                out += ',';
            first = false;
            write_key(out, kv.key());
            write_json(out, kv.value());
        }
        out += '}';
        break;
    }
    }
}

// ASCII for e-mail addresses: "Bjørn Ødegård" -> "bjorn.odegard".
std::string mail_local_part(std::string_view name)
{
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> folds{{
        {"æ", "ae"},
        {"Æ", "ae"},
        {"ø", "o"},
        {"Ø", "o"},
        {"å", "a"},
        {"Å", "a"},
        {"ó", "o"},
    }};
    std::string out;
    for (std::size_t i = 0; i < name.size();) {
        bool folded = false;
        for (const auto& [from, to] : folds)
            if (name.substr(i).starts_with(from)) {
                out += to;
                i += from.size();
                folded = true;
                break;
            }
        if (folded)
            continue;
        char c = name[i++];
        if (c >= 'A' && c <= 'Z')
            out += static_cast<char>(c - 'A' + 'a');
        else if ((c >= 'a' && c <= 'z') || c == '-')
            out += c;
        else if (c == ' ' && !out.empty() && out.back() != '.')
            out += '.';
        // anything else (quotes, apostrophes, other UTF-8) is dropped
    }
    return out;
}

// ---------------------------------------------------------------------------------------------------------
// The world every stream draws from: the shared seeds plus what only the generic streams need.

struct company {
    std::string id, name, org_nr;
};

struct person {
    std::string identity, name, first_name, last_name, email, employee_number, title;
    std::string resource_id, resource_number, hse_card;
    std::size_t company = 0; // index into world::companies
    bool fixed_pay = false;
    bool operator_ = false; // drives machines or trucks
};

struct profile {
    std::string id, employee_number;
    std::size_t person = 0, company = 0;
    bool active = true;
    std::int32_t start_day = 0, end_day = -1; // -1: no end date
};

struct project {
    std::string id, number, name, external_number;
    std::size_t company = 0, leader = 0, foreman = 0;
    bool external = false, active = true;
    double lat = 0, lon = 0;
};

struct task {
    task_seed seed;
    std::size_t project = 0;
};

struct machine {
    std::string id, number, name, type, emission, registration;
    std::int64_t price = 0, cost = 0;
    std::size_t company = 0;
    bool external = false, loader = false, hauler = false;
};

struct location {
    std::string id, name, type;
    std::size_t project = 0;
    double lon = 0, lat = 0;
    std::int64_t radius = 0;
};

struct mass_type {
    std::string id, name, code, unit;
    double density = 0;
};

struct absence_type {
    std::string_view code, name;
    bool sick, child;
};

constexpr std::array<absence_type, 7> absence_types{{
    {"200", "Ferie", false, false},
    {"310", "Egenmelding", true, false},
    {"320", "Sykmelding", true, false},
    {"330", "Sykt barn", false, true},
    {"400", "Permisjon med lønn", false, false},
    {"410", "Velferdspermisjon", false, false},
    {"500", "Avspasering", false, false},
}};

constexpr std::array<std::string_view, 6> absence_reasons{
    "Influensa",
    "Ryggsmerter etter løft",
    "Operasjon (kne) – planlagt",
    "Omgangssyke",
    "Covid-19",
    "Migrene",
};

constexpr std::array<std::string_view, 6> child_names{"Emma", "Noah", "Olivia", "Jakob", "Nora", "Ingrid"};

struct payroll_type {
    std::string_view code, name;
    std::int64_t rate_hundredths; // kroner per unit
    bool hours;
};

constexpr std::array<payroll_type, 7> payroll_types{{
    {"100", "Timelønn", 28550, true},
    {"150", "Overtid 50 %", 14275, true},
    {"160", "Overtid 100 %", 28550, true},
    {"220", "Smusstillegg", 2250, true},
    {"700", "Diett over 12 timer", 34500, false},
    {"710", "Kilometergodtgjørelse", 448, false},
    {"730", "Tillegg for skiftarbeid", 3875, true},
}};

constexpr std::array<std::string_view, 6> checklist_templates{
    "Sikker jobbanalyse (SJA)",
    "Daglig sjekkliste stillas",
    "Kontroll av armering før støp",
    "Mottakskontroll materialer",
    "Miljørunde anlegg",
    "Sjekkliste gravearbeider – kabelpåvisning",
};

constexpr std::array<std::string_view, 4> machine_checklist_templates{
    "Daglig kontroll gravemaskin",
    "Ukentlig ettersyn dumper",
    "Kontroll av løfteutstyr (kran) – «før bruk»",
    "Sjekkliste borerigg før oppstart",
};

constexpr std::array<std::string_view, 5> checklist_statuses{
    "Pending",
    "SentForApproval",
    "Approved",
    "Rejected",
    "Reported",
};

struct incident_seed {
    std::string_view title, type, description;
    int base_type; // 0 HSE, 1 QA, 2 Environmental, 3 Machine, 4 Other
};

constexpr std::array<incident_seed, 8> incident_seeds{{
    {"Nesten-ulykke: løs last på lastebil", "RUH", "Stropp røk under lossing, ingen personskade.", 0},
    {"Manglende rekkverk på stillas, akse 3", "RUH", "Rekkverk fjernet og ikke satt tilbake.", 0},
    {"Avvik armering – feil overdekning", "Avvik", "Overdekning målt til 25 mm, krav 35 mm.", 1},
    {"Oljesøl ved riggområde", "Miljø", "Ca. 5 liter hydraulikkolje, absorbent lagt ut.", 2},
    {"Betong levert med feil resept", "Avvik", "B35 M45 bestilt, B30 M60 levert.", 1},
    {"Støy utenfor tillatt tid", "Miljø", "Pigging etter kl. 19:00 – nabovarsel.", 2},
    {"Skade på kabel ved graving", "Uønsket hendelse", "Lavspentkabel ikke påvist på kart.", 4},
    {"Person uten HMS-kort på plassen", "RUH", "Bortvist til kort ble fremvist.", 0},
}};

constexpr std::array<incident_seed, 5> machine_incident_seeds{{
    {"Hydraulikklekkasje, bom", "Maskinskade", "Slange sprakk ved full last.", 3},
    {"Knust frontrute", "Maskinskade", "Steinsprut under sprenging.", 3},
    {"Varsellampe motor – redusert effekt", "Maskinfeil", "Feilkode E-214, service varslet.", 3},
    {"Rygget på kantstein", "Maskinskade", "Skade på bakskjerm og kantstein.", 3},
    {"Bremser slurer på dumper", "Maskinfeil", "Tatt ut av drift til kontroll.", 3},
}};

constexpr std::array<std::string_view, 3> incident_statuses{"Open", "InProgress", "Closed"};
constexpr std::array<std::string_view, 5> base_types{"HSE", "QA", "Environmental", "Machine", "Other"};
constexpr std::array<std::string_view, 3> risks{"Lav", "Middels", "Høy"};

// Where each project of project_seeds is, for coordinates.
constexpr std::array<std::pair<double, double>, 20> project_places{{
    {60.4721, 5.3316},  {60.3612, 5.1043},  {59.9262, 10.6611}, {59.9049, 10.7553}, {59.9221, 10.6802},
    {61.0813, 7.4912},  {60.3851, 5.3352},  {62.4612, 6.3102},  {63.4401, 10.4003}, {66.0212, 12.6311},
    {59.9116, 10.7608}, {59.6689, 9.6502},  {60.7943, 11.0704}, {69.6823, 18.9201}, {58.9702, 5.7331},
    {59.7441, 10.2045}, {67.2804, 14.4049}, {58.1435, 7.9951},  {59.2113, 10.9402}, {60.6291, 6.4214},
}};

struct location_seed {
    std::string_view name, type;
    std::size_t project;
    double dlat, dlon;
    std::int64_t radius;
};

constexpr std::array<location_seed, 11> location_seeds{{
    {"Massetak Kolltveit", "Load", 1, 0.004, -0.006, 150},
    {"Deponi Storavatnet", "Dump", 1, -0.012, 0.009, 250},
    {"Anleggsvei Sotra km 2,4", "Both", 1, 0.002, 0.003, 80},
    {"Pukkverk Hunstad", "Load", 16, 0.021, 0.035, 300},
    {"Fyllplass Bodø nye bydel – felt B1", "Dump", 16, -0.003, -0.004, 200},
    {"Brattøra kai – utfylling", "Dump", 8, 0.001, 0.002, 120},
    {"Steinbrudd Støren", "Load", 8, -0.35, 0.12, 400},
    {"Tunnelmasser Lærdal portal vest", "Load", 5, 0.006, -0.011, 100},
    {"Mellomlager Lærdalsøyri", "Both", 5, -0.009, 0.004, 180},
    {"Deponi Åsane «Haukås»", "Dump", 0, 0.011, 0.007, 220},
    {"Fjellhall Åsane – tunnelpåhugg", "Load", 0, -0.001, 0.001, 60},
}};

struct mass_seed {
    std::string_view name, code, unit;
    double density;
};

constexpr std::array<mass_seed, 8> mass_seeds{{
    {"Sprengstein 0–500", "SPR", "Ton", 2.0},
    {"Morene", "MOR", "Ton", 2.1},
    {"Matjord", "MAT", "CubicMeter", 1.3},
    {"Pukk 8/16", "P816", "Ton", 1.6},
    {"Leire, forurenset (tilstandsklasse 3)", "LFK3", "Ton", 1.9},
    {"Grus 0/32", "G032", "Ton", 1.8},
    {"Tunnelmasser", "TUN", "Ton", 2.0},
    {"Asfaltflis", "ASF", "CubicMeter", 1.4},
}};

constexpr std::array<std::string_view, 6> customers{
    "Statens vegvesen Region vest",
    "Bergen kommune – Vann og avløp",
    "Bane NOR SF",
    "Nye Veier AS",
    "Trondheim havn IKS",
    "Bodø kommune",
};

struct world {
    std::vector<company> companies; // own, the two subcontractors, the external project owner
    std::vector<person> persons;    // user_seeds order
    std::vector<profile> profiles;  // one or more per person
    std::vector<project> projects;  // project_seeds order
    std::vector<task> tasks;        // tasks_per_project per project, in project order
    std::vector<machine> machines;  // machine_seeds order
    std::vector<location> locations;
    std::vector<mass_type> masses;
    std::map<std::string, std::size_t, std::less<>> project_by_id;
    std::vector<std::size_t> own_persons, operators;

    explicit world(const std::string& own_company_id)
    {
        for (std::size_t i = 0; i < user_companies.size(); ++i)
            companies.push_back(
                {user_company_id(i, own_company_id),
                 std::string(user_companies[i].name),
                 std::string(user_companies[i].org_nr)}
            );
        companies.push_back({std::string(other_company_id), std::string(other_company_name), "985412337"});
        constexpr std::size_t external_company = 3;

        for (std::size_t i = 0; i < user_seeds.size(); ++i) {
            const auto& u = user_seeds[i];
            person p;
            p.identity = user_identity_id(u.name);
            p.name = std::string(u.name);
            auto space = p.name.rfind(' ');
            p.first_name = p.name.substr(0, space);
            p.last_name = p.name.substr(space + 1);
            p.company = static_cast<std::size_t>(u.company);
            p.email = fmt::format(
                "{}@{}.no",
                mail_local_part(p.name),
                p.company == 0 ? "fjellbygg" : (p.company == 1 ? "asane-maskin" : "byggbetong")
            );
            p.employee_number = employee_number(i);
            p.title = std::string(u.title);
            p.resource_id = person_resource_id(u.name);
            p.resource_number = fmt::format("A-{}", 1001 + i);
            p.hse_card = fmt::format("NO{:07}", fnv1a(u.name) % 10'000'000);
            // Managers are salaried: Ditio's default payroll export leaves them out.
            p.fixed_pay = p.title.ends_with("leder");
            p.operator_ = p.title == "Maskinfører" || p.title == "Lastebilsjåfør";
            if (p.company == 0)
                own_persons.push_back(i);
            if (p.operator_)
                operators.push_back(i);
            persons.push_back(std::move(p));
        }
        for (std::size_t i = 0; i < persons.size(); ++i)
            add_profile(i, persons[i].company, true);
        // People who changed employer keep their old profile, inactive: v1/user has two rows for them.
        add_profile(7, 1, false);  // Marius Johansen, formerly at Åsane Maskin
        add_profile(17, 0, false); // Lars Nygård, formerly with us
        add_profile(19, 2, false); // Gro Hølås, formerly at Bygg & Betong

        for (std::size_t i = 0; i < project_seeds.size(); ++i) {
            const auto& s = project_seeds[i];
            project p;
            p.id = project_pool_id(s.number);
            p.number = std::string(s.number);
            p.name = std::string(s.name);
            p.external_number = std::string(s.external_number);
            p.company = s.other_company ? external_company : 0;
            p.external = s.other_company;
            p.active = i != 6 && i != 10; // two finished projects
            p.leader = s.leader;
            p.foreman = s.foreman;
            p.lat = project_places[i].first;
            p.lon = project_places[i].second;
            project_by_id.emplace(p.id, projects.size());
            projects.push_back(std::move(p));
            for (std::size_t t = 0; t < tasks_per_project; ++t)
                tasks.push_back({make_task(i, t), i});
        }

        for (const auto& m : machine_seeds) {
            machine out;
            out.id = machine_resource_id(m.number);
            out.number = std::string(m.number);
            out.name = std::string(m.name);
            out.type = std::string(m.type);
            out.emission = std::string(m.emission);
            out.price = m.price;
            out.cost = m.cost;
            out.external = out.name.find("(ekstern)") != std::string::npos;
            out.company = out.external ? external_company : 0;
            out.loader = out.type == "Gravemaskin" || out.type == "Minigraver" || out.type == "Kompaktlaster";
            out.hauler = out.type == "Dumper" || out.type == "Lastebil";
            if (out.type == "Lastebil")
                out.registration =
                    fmt::format("{} {:05}", out.external ? "ZH" : "SV", fnv1a(m.number) % 100'000);
            machines.push_back(std::move(out));
        }

        for (const auto& l : location_seeds) {
            const auto& p = projects[l.project];
            locations.push_back(
                {pool_id("flow-location", l.name),
                 std::string(l.name),
                 std::string(l.type),
                 l.project,
                 coordinate(p.lon + l.dlon),
                 coordinate(p.lat + l.dlat),
                 l.radius}
            );
        }
        for (const auto& m : mass_seeds)
            masses.push_back(
                {pool_id("mass-type", m.code),
                 std::string(m.name),
                 std::string(m.code),
                 std::string(m.unit),
                 m.density}
            );
    }

    void add_profile(std::size_t person_index, std::size_t company_index, bool active)
    {
        const auto& p = persons[person_index];
        profile out;
        out.id = pool_id("profile", fmt::format("{}/{}", p.name, company_index));
        out.person = person_index;
        out.company = company_index;
        out.active = active;
        out.employee_number = company_index == p.company
                                  ? p.employee_number
                                  : std::to_string((company_index == 0 ? 1001 : 9001) + person_index);
        auto h = fnv1a(out.id);
        out.start_day = static_cast<std::int32_t>(15'000 + h % 3'000); // 2011..2019
        if (!active)
            out.end_day = out.start_day + 200 + static_cast<std::int32_t>(h % 900);
        profiles.push_back(std::move(out));
    }

    const project& project_of(std::string_view id) const { return projects[project_by_id.find(id)->second]; }
};

// A record before the store gives it an id and the trailing modifiedDateTime/isDeleted/deletedDateTime.
struct draft {
    std::string id;         // set for pool entries (metadata), empty: the store makes one
    json::object fields;    // everything between "id" and "modifiedDateTime"
    json::object sensitive; // shown only with IncludeSensitiveData
    std::string company;    // owning company, for CompanyId and OwnCompanyDataOnly
    std::string project;    // for ProjectId
    bool fixed_pay = false; // payroll-lines-extended: the employee has a fixed salary
    std::int64_t created = 0, modified = 0;
    // The ObjectId's time: the record's own day rather than its (now-relative) creation, so a seed gives
    // the same ids on every run.
    std::int64_t id_time = 0;
};

struct stored {
    object_id id{};
    json::object live; // the last live version, as served in full mode (keys in serving order)
    json::object sensitive;
    std::string company, project;
    bool fixed_pay = false;
    std::int64_t modified = 0, deleted = 0, window = 0;
    bool is_deleted = false;

    std::int64_t change() const { return is_deleted ? std::max(modified, deleted) : modified; }
};

using order_set = std::set<std::pair<std::int64_t, object_id>>;

struct store {
    const stream_spec* spec = nullptr;
    std::map<object_id, stored> records;
    order_set full;    // live records: (window time, or 0 when the stream has no window, id)
    order_set changes; // live records and tombstones: (change time, id)
    std::size_t live = 0;
    std::uint32_t counter = 0;
    std::uint64_t inserts = 0;
    std::uint64_t salt = 0;
    std::string parent_field = "parentId"; // images: the key the parent id is served under, "" none
};

} // namespace

// ---------------------------------------------------------------------------------------------------------

struct generic_streams::state {
    std::string own_company;
    world w;
    std::map<std::string, store, std::less<>> stores;

    explicit state(std::string own) : own_company(std::move(own)), w(own_company)
    {
        for (const auto& s : specs) {
            if (s.name == "time-registrations")
                continue;
            store st;
            st.spec = &s;
            st.salt = fnv1a(fmt::format("{}/{}", own_company, s.name));
            stores.emplace(std::string(s.name), std::move(st));
        }
    }

    template <class Self> static auto& get_in(Self& self, std::string_view name)
    {
        auto it = self.stores.find(name);
        if (it == self.stores.end())
            throw std::invalid_argument(fmt::format("fake_ditio: '{}' is not a generic stream", name));
        return it->second;
    }
    store& get(std::string_view name) { return get_in(*this, name); }
    const store& get(std::string_view name) const { return get_in(*this, name); }

    static object_id make_id(store& st, std::int64_t at)
    {
        // ObjectId layout: seconds, a per-stream constant, a counter.
        object_id id{};
        auto secs = static_cast<std::uint32_t>(std::max<std::int64_t>(0, at / 1000));
        for (std::size_t i = 0; i < 4; ++i)
            id[i] = static_cast<std::uint8_t>(secs >> (24 - 8 * i));
        for (std::size_t i = 0; i < 5; ++i)
            id[4 + i] = static_cast<std::uint8_t>(st.salt >> (8 * i));
        auto n = ++st.counter;
        id[9] = static_cast<std::uint8_t>(n >> 16);
        id[10] = static_cast<std::uint8_t>(n >> 8);
        id[11] = static_cast<std::uint8_t>(n);
        return id;
    }

    // ----- indexes -----------------------------------------------------------------------------------------

    static std::int64_t window_of(const store& st, const json::object& live)
    {
        if (st.spec->window_field.empty())
            return 0;
        return parse_ms(live.at(st.spec->window_field).as_string());
    }

    static void unindex(store& st, const stored& r)
    {
        if (!r.is_deleted)
            st.full.erase({r.window, r.id});
        st.changes.erase({r.change(), r.id});
    }

    static void index(store& st, stored& r)
    {
        if (!r.is_deleted) {
            r.window = window_of(st, r.live);
            st.full.insert({r.window, r.id});
        }
        st.changes.insert({r.change(), r.id});
    }

    std::string add(store& st, draft d)
    {
        stored r;
        if (d.id.empty()) {
            r.id = make_id(st, d.id_time);
        } else {
            auto parsed = parse_hex_id(d.id);
            if (!parsed)
                throw std::logic_error("fake_streams: pool id is not an ObjectId: " + d.id);
            r.id = *parsed;
            if (st.records.count(r.id) != 0)
                return {};
        }
        auto hex = to_hex(r.id);
        r.live.reserve(d.fields.size() + 4);
        r.live["id"] = hex;
        for (auto& kv : d.fields)
            r.live[kv.key()] = std::move(kv.value());
        r.live["modifiedDateTime"] = iso_ms(d.modified);
        r.live["isDeleted"] = false;
        r.live["deletedDateTime"] = nullptr;
        r.sensitive = std::move(d.sensitive);
        r.company = std::move(d.company);
        r.project = std::move(d.project);
        r.fixed_pay = d.fixed_pay;
        r.modified = d.modified;
        auto it = st.records.emplace(r.id, std::move(r)).first;
        index(st, it->second);
        ++st.live;
        return hex;
    }

    stored* find_live(store& st, const std::string& hex)
    {
        auto id = parse_hex_id(hex);
        if (!id)
            return nullptr;
        auto it = st.records.find(*id);
        return it == st.records.end() || it->second.is_deleted ? nullptr : &it->second;
    }

    // ----- building records --------------------------------------------------------------------------------

    // Approval stamps for a record created at `created` and last modified at `modified`.
    struct approval {
        bool approved = false, payroll = false, locked = false;
        std::int64_t approved_at = 0, payroll_at = 0, locked_at = 0;
        std::size_t approver = 0;
    };

    static approval approve(rng& g, std::int64_t created, std::int64_t modified, bool fresh)
    {
        approval a;
        a.approver = static_cast<std::size_t>(g.below(3));
        if (fresh || !g.chance(60))
            return a;
        a.approved = true;
        a.approved_at = pick(g, created, modified);
        if (g.chance(50)) {
            a.payroll = true;
            a.payroll_at = pick(g, a.approved_at, modified);
            if (g.chance(50)) {
                a.locked = true;
                a.locked_at = modified;
            }
        }
        return a;
    }

    void put_project(json::object& o, const project& p, bool with_external = true) const
    {
        o["projectId"] = p.id;
        o["projectNumber"] = p.number;
        o["projectName"] = p.name;
        if (with_external) {
            o["projectExternalNumber"] = text_or_null(p.external_number);
            o["projectCompanyName"] = w.companies[p.company].name;
        }
    }

    std::pair<double, double> near(rng& g, const project& p) const
    {
        auto jitter = [&] { return static_cast<double>(pick(g, -500, 500)) / 100'000.0; };
        return {coordinate(p.lat + jitter()), coordinate(p.lon + jitter())};
    }

    static std::string pdf_url(rng& g, std::string_view kind)
    {
        return fmt::format("https://core.ditio.example/api/file/{}", pool_id(kind, std::to_string(g.next())));
    }

    std::vector<draft>
    build(store& st, rng& g, std::int32_t day, std::int64_t created, std::int64_t modified, bool fresh)
    {
        auto drafts = build_drafts(st, g, day, created, modified, fresh);
        for (auto& d : drafts)
            d.id_time = day_ms(day);
        return drafts;
    }

    std::vector<draft>
    build_drafts(store& st, rng& g, std::int32_t day, std::int64_t created, std::int64_t modified, bool fresh)
    {
        auto name = st.spec->name;
        if (name == "machine-registrations")
            return {machine_registration(g, day, created, modified, fresh)};
        if (name == "absence-registrations")
            return absence(st, g, day, created, modified, fresh);
        if (name == "payroll-lines")
            return {payroll_line(g, day, created, modified, fresh)};
        if (name == "payroll-lines-extended")
            return {payroll_extended(g, day, created, modified, fresh)};
        if (name == "checklist-registrations" || name == "machine-checklist-registrations")
            return {checklist(st, g, day, created, modified, fresh, name != "checklist-registrations")};
        if (name == "incident-registrations" || name == "machine-incident-registrations")
            return {incident(st, g, day, created, modified, fresh, name != "incident-registrations")};
        if (name == "images")
            return {image(g, day, created, modified, fresh)};
        if (name == "crew-list-registrations")
            return {crew_passage(g, day, created, modified, fresh)};
        if (name == "flow-trip-registrations")
            return {flow_trip(g, day, created, modified, fresh)};
        throw std::logic_error(fmt::format("fake_streams: no builder for {}", name));
    }

    draft
    machine_registration(rng& g, std::int32_t day, std::int64_t created, std::int64_t modified, bool fresh)
    {
        const auto& m = pick_from(g, w.machines);
        const auto& driver = w.persons[pick_from(g, w.operators)];
        const auto& p = pick_from(g, w.projects);
        auto start = day_ms(day) + 6 * ms_per_hour + 15 * ms_per_minute * pick(g, 0, 12);
        auto minutes = 15 * pick(g, 4, 40);
        auto a = approve(g, created, modified, fresh);
        draft d;
        auto& o = d.fields;
        o["startDateTime"] = iso_s(start);
        o["stopDateTime"] = iso_s(start + minutes * ms_per_minute);
        o["qty"] = hundredths(minutes * 100 / 60);
        o["description"] = pick_from(g, descriptions);
        o["approved"] = a.approved;
        o["machineId"] = m.id;
        o["machineName"] = m.name;
        o["resourceNumber"] = m.number;
        o["machineTypeName"] = m.type;
        o["driverId"] = driver.identity;
        o["driverName"] = driver.name;
        o["driverCompanyName"] = w.companies[driver.company].name;
        put_project(o, p);
        o["createdDateTime"] = iso_ms(created);
        // Machine registrations belong to the machine's owner, whoever's project it worked on.
        d.company = w.companies[m.company].id;
        d.project = p.id;
        d.created = created;
        d.modified = modified;
        return d;
    }

    std::vector<draft>
    absence(store& st, rng& g, std::int32_t day, std::int64_t created, std::int64_t modified, bool fresh)
    {
        const auto& type = pick_from(g, absence_types);
        const auto& who = w.persons[pick_from(g, w.own_persons)];
        auto days = type.code == "200" ? pick(g, 1, 5) : pick(g, 1, 3);
        auto registration = to_hex(make_id(st, day_ms(day)));
        const project* p = g.chance(70) ? &pick_from(g, w.projects) : nullptr;
        auto a = approve(g, created, modified, fresh);
        auto reason = pick_from(g, absence_reasons);
        auto child = pick_from(g, child_names);
        auto child_birth = day_ms(static_cast<std::int32_t>(16'500 + g.below(3'500)));
        auto half = g.chance(15);
        auto pdf = !fresh && g.chance(30) ? pdf_url(g, "absence") : std::string();
        std::vector<draft> out;
        for (std::int64_t k = 0; k < days; ++k) {
            auto date = day_ms(day) + k * ms_per_day;
            draft d;
            auto& o = d.fields;
            o["registrationId"] = registration;
            o["date"] = iso_s(date);
            o["startTime"] = iso_s(date + 7 * ms_per_hour);
            o["qty"] = half ? 3.75 : 7.5;
            o["absenceTypeId"] = pool_id("absence-type", type.code);
            o["absenceTypeCode"] = type.code;
            o["absenceTypeName"] = type.name;
            o["userId"] = who.identity;
            o["userName"] = who.name;
            o["employeeNumber"] = who.employee_number;
            o["projectId"] = p ? json::value(p->id) : json::value(nullptr);
            o["approved"] = a.approved;
            o["approvedByName"] = a.approved ? json::value(w.persons[a.approver].name) : json::value(nullptr);
            o["approvedDateTime"] = a.approved ? json::value(iso_ms(a.approved_at)) : json::value(nullptr);
            o["payrollApproved"] = a.payroll;
            o["payrollApprovedDateTime"] =
                a.payroll ? json::value(iso_ms(a.payroll_at)) : json::value(nullptr);
            o["locked"] = a.locked;
            o["lockedDateTime"] = a.locked ? json::value(iso_ms(a.locked_at)) : json::value(nullptr);
            o["pdfUrl"] = text_or_null(pdf);
            d.sensitive["absenceReason"] = type.sick ? json::value(reason) : json::value(nullptr);
            d.sensitive["childName"] = type.child ? json::value(child) : json::value(nullptr);
            d.sensitive["childBirthDate"] =
                type.child ? json::value(iso_s(child_birth)) : json::value(nullptr);
            d.company = w.companies[who.company].id;
            d.project = p ? p->id : std::string();
            d.created = created;
            d.modified = modified;
            out.push_back(std::move(d));
        }
        return out;
    }

    draft payroll_line(rng& g, std::int32_t day, std::int64_t created, std::int64_t modified, bool fresh)
    {
        const auto& who = w.persons[pick_from(g, w.own_persons)];
        const auto& type = pick_from(g, payroll_types);
        auto ti = static_cast<std::size_t>(g.below(w.tasks.size()));
        const auto& t = w.tasks[ti];
        const auto& p = w.projects[t.project];
        std::int64_t qty =
            type.hours ? 25 * pick(g, 2, 40) : (type.code == "710" ? 100 * pick(g, 5, 180) : 100);
        auto a = approve(g, created, modified, fresh);
        draft d;
        auto& o = d.fields;
        o["transDateTime"] = iso_s(day_ms(day));
        o["userId"] = who.identity;
        o["userName"] = who.name;
        o["employeeNumber"] = who.employee_number;
        o["companyId"] = w.companies[0].id;
        o["payrollTypeId"] = pool_id("payroll-type", type.code);
        o["payrollTypeCode"] = type.code;
        o["payrollTypeName"] = type.name;
        o["qty"] = hundredths(qty);
        o["rate"] = hundredths(type.rate_hundredths);
        o["amount"] = hundredths(qty * type.rate_hundredths / 100);
        o["projectId"] = p.id;
        o["projectNumber"] = p.number;
        o["taskId"] = t.seed.id;
        o["approved"] = a.approved;
        o["locked"] = a.locked;
        d.company = w.companies[0].id;
        d.project = p.id;
        d.created = created;
        d.modified = modified;
        return d;
    }

    draft payroll_extended(rng& g, std::int32_t day, std::int64_t created, std::int64_t modified, bool fresh)
    {
        auto pi = pick_from(g, w.own_persons);
        const auto& who = w.persons[pi];
        auto a = approve(g, created, modified, fresh);
        bool verified = a.approved || (!fresh && g.chance(30));
        auto verified_at = a.approved ? a.approved_at : modified;
        bool absent = g.chance(8);
        std::int64_t standard = absent ? 0 : 750;
        std::int64_t ot50 = absent || !g.chance(30) ? 0 : 50 * pick(g, 1, 6);
        std::int64_t ot100 = absent || !g.chance(10) ? 0 : 50 * pick(g, 1, 4);
        std::int64_t timebank = absent || !g.chance(15) ? 0 : 25 * pick(g, 1, 8);
        std::int64_t absence = absent ? 750 : 0;
        std::int64_t qty = standard + ot50 + ot100;
        draft d;
        auto& o = d.fields;
        o["transDateTime"] = iso_s(day_ms(day));
        o["userId"] = who.identity;
        o["userName"] = who.name;
        o["employeeNumber"] = who.employee_number;
        o["companyId"] = w.companies[0].id;
        o["qty"] = hundredths(qty);
        o["standardQty"] = hundredths(standard);
        o["overtime50Qty"] = hundredths(ot50);
        o["overtime100Qty"] = hundredths(ot100);
        o["timebankQty"] = hundredths(timebank);
        o["breakQty"] = absent ? 0.0 : 0.5;
        o["absenceQty"] = hundredths(absence);
        o["absenceApprovedQty"] = hundredths(a.approved ? absence : 0);
        o["absenceLockedQty"] = hundredths(a.locked ? absence : 0);
        o["totalVerifiedQty"] = hundredths(verified ? qty + absence : 0);
        o["approvedQty"] = hundredths(a.approved ? qty : 0);
        o["lockedQty"] = hundredths(a.locked ? qty : 0);
        o["verified"] = verified;
        o["verifiedByName"] = verified ? json::value(w.persons[3 + a.approver].name) : json::value(nullptr);
        o["verifiedDateTime"] = verified ? json::value(iso_ms(verified_at)) : json::value(nullptr);
        o["approved"] = a.approved;
        o["approvedByName"] = a.approved ? json::value(w.persons[a.approver].name) : json::value(nullptr);
        o["approvedDateTime"] = a.approved ? json::value(iso_ms(a.approved_at)) : json::value(nullptr);
        json::array lines;
        auto line =
            [&](std::string_view code, std::string_view line_name, int type, int overtime, std::int64_t q) {
                json::object l;
                l["payrollTypeId"] = pool_id("payroll-type", code);
                l["name"] = line_name;
                l["lineType"] = type;
                l["overtimeType"] = overtime;
                l["sorting"] = type * 10;
                l["qty"] = hundredths(q);
                lines.push_back(std::move(l));
            };
        if (ot50 != 0)
            line("150", "Overtid 50 %", 20, 1, ot50);
        if (ot100 != 0)
            line("160", "Overtid 100 %", 30, 1, ot100);
        if (timebank != 0)
            line("180", "Fleksitid til timebank", 41, 0, timebank);
        o["overtimeLines"] = std::move(lines);
        d.company = w.companies[0].id;
        d.fixed_pay = who.fixed_pay;
        d.created = created;
        d.modified = modified;
        return d;
    }

    draft checklist(
        store& st,
        rng& g,
        std::int32_t day,
        std::int64_t created,
        std::int64_t modified,
        bool fresh,
        bool for_machine
    )
    {
        const auto& t = pick_from(g, w.tasks);
        const auto& p = w.projects[t.project];
        const machine* m = for_machine || g.chance(20) ? &pick_from(g, w.machines) : nullptr;
        const auto& author = w.persons[static_cast<std::size_t>(g.below(w.persons.size()))];
        // Seeded: filled in on the record's own day; inserted: just now.
        auto made = fresh ? created : day_ms(day) + pick(g, 6 * 60, 16 * 60) * ms_per_minute;
        auto status = fresh ? std::size_t{0} : static_cast<std::size_t>(g.below(checklist_statuses.size()));
        bool submitted = status != 0;
        bool approved = checklist_statuses[status] == "Approved" || checklist_statuses[status] == "Reported";
        auto serial = static_cast<std::int64_t>(st.counter) + 1;
        auto [lat, lon] = near(g, p);
        bool deviation = g.chance(15), comment = g.chance(40), images = g.chance(50);
        draft d;
        auto& o = d.fields;
        o["documentNumber"] = fmt::format("{}-{:05}", for_machine ? "MSJ" : "SJ", serial);
        o["serialNumber"] = serial;
        o["templateName"] =
            for_machine ? pick_from(g, machine_checklist_templates) : pick_from(g, checklist_templates);
        o["templateVersion"] = pick(g, 1, 7);
        o["baseTypeName"] = for_machine ? "Maskin" : (g.chance(60) ? "HMS" : "KS");
        o["statusText"] = checklist_statuses[status];
        o["hasDeviation"] = deviation;
        o["hasComment"] = comment;
        o["hasImages"] = images;
        put_project(o, p, false);
        o["activityId"] = t.seed.id;
        o["activityNumber"] = t.seed.wbs;
        o["activityName"] = t.seed.name;
        o["machineId"] = m ? json::value(m->id) : json::value(nullptr);
        if (for_machine)
            o["machineName"] = m->name;
        o["resourceNumber"] = m ? json::value(m->number) : json::value(nullptr);
        o["createdByUserName"] = author.name;
        o["createdDateTime"] = iso_s(made);
        o["submittedByUserName"] = submitted ? json::value(author.name) : json::value(nullptr);
        o["submittedDateTime"] =
            submitted ? json::value(iso_s(made + pick(g, 5, 240) * ms_per_minute)) : json::value(nullptr);
        o["approvedByUserName"] = approved ? json::value(w.persons[p.leader].name) : json::value(nullptr);
        o["latitude"] = lat;
        o["longitude"] = lon;
        o["pdfUrl"] = submitted ? json::value(pdf_url(g, "checklist")) : json::value(nullptr);
        json::array sections;
        for (std::string_view section : {"Generelt", "Kontrollpunkter"}) {
            json::object s;
            s["name"] = section;
            json::array attachments, pictures;
            if (comment && section == "Generelt")
                attachments.push_back(json::object{{"url", pdf_url(g, "attachment")}});
            if (images)
                pictures.push_back(json::object{{"url", pdf_url(g, "checklist-image")}});
            s["attachments"] = std::move(attachments);
            s["images"] = std::move(pictures);
            sections.push_back(std::move(s));
        }
        o["sections"] = std::move(sections);
        d.company = w.companies[p.company].id;
        d.project = p.id;
        d.created = created;
        d.modified = modified;
        return d;
    }

    draft incident(
        store& st,
        rng& g,
        std::int32_t day,
        std::int64_t created,
        std::int64_t modified,
        bool fresh,
        bool for_machine
    )
    {
        const auto& seed = for_machine ? pick_from(g, machine_incident_seeds) : pick_from(g, incident_seeds);
        const auto& t = pick_from(g, w.tasks);
        const auto& p = w.projects[t.project];
        const machine* m =
            for_machine || seed.base_type == 3 || g.chance(10) ? &pick_from(g, w.machines) : nullptr;
        auto made = fresh ? created : day_ms(day) + pick(g, 6 * 60, 18 * 60) * ms_per_minute;
        auto status = fresh ? std::size_t{0} : static_cast<std::size_t>(g.below(incident_statuses.size()));
        auto serial = static_cast<std::int64_t>(st.counter) + 1;
        auto [lat, lon] = near(g, p);
        draft d;
        auto& o = d.fields;
        o["serialNumber"] = serial;
        o["serialNumberWithPrefix"] = fmt::format("{}-{}", for_machine ? "MSK" : "RUH", serial);
        o["title"] = seed.title;
        o["description"] = seed.description;
        o["typeName"] = seed.type;
        o["baseType"] = seed.base_type;
        o["baseTypeText"] = base_types[static_cast<std::size_t>(seed.base_type)];
        o["status"] = static_cast<std::int64_t>(status);
        o["statusText"] = incident_statuses[status];
        o["risk"] = pick_from(g, risks);
        o["measures"] =
            status == 0 ? json::value(nullptr) : json::value("Gjennomgått på morgenmøte, tiltak iverksatt.");
        o["requiresFurtherAction"] = status != 2 && g.chance(50);
        o["resolvedOnLocation"] = g.chance(40);
        o["companyName"] = w.companies[p.company].name;
        o["projectId"] = p.id;
        o["projectNumber"] = p.number;
        o["projectName"] = p.name;
        o["projectCompanyName"] = w.companies[p.company].name;
        o["taskId"] = t.seed.id;
        o["taskName"] = t.seed.name;
        o["machineId"] = m ? json::value(m->id) : json::value(nullptr);
        o["machineName"] = m ? json::value(m->name) : json::value(nullptr);
        o["latitude"] = lat;
        o["longitude"] = lon;
        o["createdAt"] = iso_s(made);
        o["statusUpdatedAt"] = iso_s(status == 0 ? made : made + pick(g, 1, 72) * ms_per_hour);
        o["pdfUrl"] = fresh ? json::value(nullptr) : json::value(pdf_url(g, "incident"));
        d.company = w.companies[p.company].id;
        d.project = p.id;
        d.created = created;
        d.modified = modified;
        return d;
    }

    // A parent for an image of `source`: a checklist or an incident when there are some, else a feed post.
    std::string image_parent(rng& g, std::string_view source, const project*& p)
    {
        std::string_view parent_stream = source == "checklist" ? "checklist-registrations"
                                         : source == "alert"   ? "incident-registrations"
                                                               : "";
        if (!parent_stream.empty()) {
            const auto& parents = get(parent_stream);
            if (!parents.records.empty()) {
                auto skip = g.below(parents.records.size());
                auto it = std::next(parents.records.begin(), static_cast<std::ptrdiff_t>(skip));
                p = &w.project_of(it->second.live.at("projectId").as_string());
                return to_hex(it->first);
            }
        }
        return pool_id("feed-post", std::to_string(g.next()));
    }

    draft image(rng& g, std::int32_t day, std::int64_t created, std::int64_t modified, bool fresh)
    {
        static constexpr std::array<std::string_view, 3> sources{"feed", "alert", "checklist"};
        auto source = pick_from(g, sources);
        const project* p = &pick_from(g, w.projects);
        auto parent = image_parent(g, source, p);
        auto project_index = static_cast<std::size_t>(p - w.projects.data());
        const auto& t = w.tasks[project_index * tasks_per_project + g.below(tasks_per_project)];
        const auto& who = w.persons[static_cast<std::size_t>(g.below(w.persons.size()))];
        auto made = fresh ? created : day_ms(day) + pick(g, 6 * 60, 18 * 60) * ms_per_minute;
        bool heic = g.chance(25);
        auto number = pick(g, 1000, 9999);
        auto [lat, lon] = near(g, *p);
        auto base = fmt::format(
            "https://media.ditio.example/{}/{}",
            w.companies[p->company].id,
            pool_id("image", parent + std::to_string(number))
        );
        draft d;
        auto& o = d.fields;
        o["fileName"] = fmt::format("{}_{}.{}", heic ? "IMG" : "bilde", number, heic ? "heic" : "jpg");
        o["contentType"] = heic ? "image/heic" : "image/jpeg";
        o["fileSize"] = pick(g, 180'000, 6'500'000);
        o["originalUrl"] = base + "/original";
        o["thumbnailUrl"] = base + "/thumbnail";
        o["mediumUrl"] = base + "/medium";
        o["largeUrl"] = base + "/large";
        o["source"] = source;
        o["parentId"] = parent;
        o["projectId"] = p->id;
        o["projectNumber"] = p->number;
        o["projectName"] = p->name;
        o["taskId"] = t.seed.id;
        o["taskName"] = t.seed.name;
        o["activityId"] = t.seed.id;
        o["activityNumber"] = t.seed.wbs;
        o["companyId"] = w.companies[who.company].id;
        o["projectCompanyId"] = w.companies[p->company].id;
        o["createdByUserId"] = who.identity;
        o["createdByUserName"] = who.name;
        o["createdDateTime"] = iso_s(made);
        o["latitude"] = lat;
        o["longitude"] = lon;
        o["accuracy"] = static_cast<double>(pick(g, 30, 2500)) / 10.0;
        o["roadReference"] =
            g.chance(50) ? json::value(fmt::format("EV39 S{}D1 m{}", pick(g, 1, 9), pick(g, 10, 9000)))
                         : json::value(nullptr);
        // An image belongs to whoever uploaded it.
        d.company = w.companies[who.company].id;
        d.project = p->id;
        d.created = created;
        d.modified = modified;
        return d;
    }

    draft crew_passage(rng& g, std::int32_t day, std::int64_t created, std::int64_t modified, bool fresh)
    {
        const auto& who = pick_from(g, w.persons);
        const auto& p = pick_from(g, w.projects);
        std::int64_t in = 0;
        json::value out;
        if (fresh) {
            // Checked in today, before now; half still on site.
            auto today = floor_div(modified, ms_per_day) * ms_per_day;
            in = std::max(today, modified - pick(g, 10, 360) * ms_per_minute);
            if (g.chance(50))
                out = iso_offset(pick(g, in, modified));
        } else {
            in = day_ms(day) + pick(g, 5 * 60, 9 * 60) * ms_per_minute + pick(g, 0, 59) * 1000;
            if (!g.chance(5))
                out = iso_offset(in + pick(g, 6 * 60, 11 * 60) * ms_per_minute + pick(g, 0, 59) * 1000);
        }
        draft d;
        auto& o = d.fields;
        o["projectId"] = p.id;
        o["projectNumber"] = p.number;
        o["hseCardId"] = who.hse_card;
        o["userId"] = who.identity;
        o["userName"] = who.name;
        o["companyId"] = w.companies[who.company].id;
        o["checkInDateTime"] = iso_offset(in);
        o["checkOutDateTime"] = std::move(out);
        d.company = w.companies[who.company].id;
        d.project = p.id;
        d.created = created;
        d.modified = modified;
        return d;
    }

    draft flow_trip(rng& g, std::int32_t day, std::int64_t created, std::int64_t modified, bool fresh)
    {
        // Every project with a load site also has a dump site.
        std::vector<const location*> loads, dumps;
        for (const auto& l : w.locations)
            if (l.type != "Dump")
                loads.push_back(&l);
        const auto& load = *pick_from(g, loads);
        for (const auto& l : w.locations)
            if (l.project == load.project && l.type != "Load" && &l != &load)
                dumps.push_back(&l);
        const auto& dump = dumps.empty() ? load : *pick_from(g, dumps);
        const auto& p = w.projects[load.project];
        const auto& t = w.tasks[load.project * tasks_per_project + g.below(tasks_per_project)];
        const auto& mass = pick_from(g, w.masses);
        std::vector<const machine*> loaders, haulers;
        for (const auto& m : w.machines) {
            if (m.loader)
                loaders.push_back(&m);
            if (m.hauler)
                haulers.push_back(&m);
        }
        const auto& loader = *pick_from(g, loaders);
        const auto& dumper = *pick_from(g, haulers);
        const auto& loader_driver = w.persons[pick_from(g, w.operators)];
        const auto& dumper_driver = w.persons[pick_from(g, w.operators)];
        auto load_at = day_ms(day) + pick(g, 6 * 60, 17 * 60) * ms_per_minute + pick(g, 0, 59) * 1000;
        auto drive_s = pick(g, 240, 2400);
        auto cycle_s = drive_s * 2 + pick(g, 120, 600);
        auto dump_at = load_at + drive_s * 1000;
        std::int64_t quantity = pick(g, 800, 3200); // hundredths of the unit
        auto m3 = static_cast<double>(quantity) / 100.0 / mass.density;
        auto distance_m = drive_s * pick(g, 5, 14);
        bool verified = !fresh && g.chance(60);
        bool approved = verified && g.chance(60);
        draft d;
        auto& o = d.fields;
        o["loadDateTime"] = iso_s(load_at);
        o["dumpDateTime"] = iso_s(dump_at);
        o["costStartDateTime"] = iso_s(load_at - pick(g, 60, 300) * 1000);
        o["costEndDateTime"] = iso_s(load_at + cycle_s * 1000);
        o["quantity"] = hundredths(quantity);
        o["quantityM3"] = std::round(m3 * 100.0) / 100.0;
        o["registeredQuantity"] = hundredths(quantity);
        o["verifiedQuantity"] = verified ? json::value(hundredths(quantity)) : json::value(nullptr);
        o["unitOfMeasureText"] = mass.unit;
        o["massTypeId"] = mass.id;
        o["massType"] = mass.name;
        o["m3PerHour"] = std::round(m3 * 3600.0 / static_cast<double>(cycle_s) * 100.0) / 100.0;
        o["totalCycleTimeSeconds"] = cycle_s;
        o["totalCycleTimeHours"] = std::round(static_cast<double>(cycle_s) / 36.0) / 100.0;
        o["utilizationRate"] = static_cast<double>(pick(g, 55, 98)) / 100.0;
        o["distance"] = static_cast<double>(distance_m) / 1000.0;
        o["averageSpeedKmh"] =
            std::round(static_cast<double>(distance_m) * 36.0 / static_cast<double>(drive_s)) / 10.0;
        o["netAltitudeChange"] = pick(g, -80, 80);
        o["totalAscent"] = pick(g, 0, 120);
        o["maxGradient"] = static_cast<double>(pick(g, 10, 120)) / 10.0;
        o["averageGradient"] = static_cast<double>(pick(g, 5, 60)) / 10.0;
        o["loadLocationId"] = load.id;
        o["loadLocationName"] = load.name;
        o["dumpLocationId"] = dump.id;
        o["dumpLocationName"] = dump.name;
        o["loadCoordinates"] = json::array{load.lon, load.lat};
        o["dumpCoordinates"] = json::array{dump.lon, dump.lat};
        o["loaderId"] = loader.id;
        o["loaderName"] = loader.name;
        o["loaderNumber"] = loader.number;
        o["loaderDriverName"] = loader_driver.name;
        o["dumperId"] = dumper.id;
        o["dumperName"] = dumper.name;
        o["dumperNumber"] = dumper.number;
        o["dumperRegistrationNumber"] = text_or_null(dumper.registration);
        o["dumperDriverName"] = dumper_driver.name;
        o["dumperDriverCompanyName"] = w.companies[dumper_driver.company].name;
        o["trailer"] = dumper.type == "Lastebil" && g.chance(30);
        o["verified"] = verified;
        o["approved"] = approved;
        o["invoiced"] = approved && g.chance(40);
        o["receiptNumber"] = fmt::format("K-{}", pick(g, 100'000, 999'999));
        o["customerName"] = pick_from(g, customers);
        o["comment"] = g.chance(20) ? json::value(pick_from(g, descriptions)) : json::value(nullptr);
        put_project(o, p);
        o["taskId"] = t.seed.id;
        o["taskName"] = t.seed.name;
        o["isFlowData"] = true;
        d.company = w.companies[p.company].id;
        d.project = p.id;
        d.created = created;
        d.modified = modified;
        return d;
    }

    // ----- metadata ----------------------------------------------------------------------------------------

    // The metadata stream's pool entries, deterministic for the rng.
    std::vector<draft> pool_entries(const store& st, rng& g, std::int64_t now)
    {
        auto name = st.spec->name;
        std::vector<draft> out;
        auto stamp = [&](draft& d) {
            d.modified = now - 1000 - static_cast<std::int64_t>(g.below(400ULL * ms_per_day));
            d.created = d.modified - static_cast<std::int64_t>(g.below(1000ULL * ms_per_day));
        };
        if (name == "project") {
            for (const auto& p : w.projects) {
                auto d = project_row(p, g);
                stamp(d);
                d.fields["createdDateTime"] = iso_ms(d.created);
                out.push_back(std::move(d));
            }
        } else if (name == "project/work-breakdown-structure") {
            for (const auto& t : w.tasks)
                out.push_back(task_row(t.seed, w.projects[t.project], g));
        } else if (name == "user") {
            for (const auto& p : w.profiles)
                out.push_back(user_row(p));
        } else if (name == "resource") {
            for (std::size_t i = 0; i < w.persons.size(); ++i)
                out.push_back(person_resource_row(i));
            for (const auto& m : w.machines)
                out.push_back(machine_resource_row(m, g));
        } else if (name == "flow-locations") {
            for (const auto& l : w.locations)
                out.push_back(location_row(l));
        } else if (name == "flow-mass-types") {
            for (const auto& m : w.masses)
                out.push_back(mass_row(m));
        } else {
            throw std::logic_error(fmt::format("fake_streams: {} is not metadata", name));
        }
        for (auto& d : out)
            if (d.modified == 0)
                stamp(d);
        return out;
    }

    draft project_row(const project& p, rng& g) const
    {
        const auto& c = w.companies[p.company];
        draft d;
        d.id = p.id;
        auto& o = d.fields;
        o["number"] = p.number;
        o["name"] = p.name;
        o["externalNumber"] = text_or_null(p.external_number);
        o["externalDim01"] = g.chance(60) ? json::value(fmt::format("Ansvar {}", pick(g, 41, 49) * 100))
                                          : json::value(nullptr);
        o["externalDim02"] = g.chance(40) ? json::value("Region Vest") : json::value(nullptr);
        o["companyId"] = c.id;
        o["companyName"] = c.name;
        o["active"] = p.active;
        o["isExternal"] = p.external;
        d.company = c.id;
        d.project = p.id;
        return d;
    }

    draft task_row(const task_seed& t, const project& p, rng& g) const
    {
        const auto& c = w.companies[p.company];
        draft d;
        d.id = t.id;
        auto& o = d.fields;
        o["projectId"] = p.id;
        o["number"] = t.wbs;
        o["name"] = t.name;
        o["nameWithNumber"] = fmt::format("{} {}", t.wbs, t.name);
        o["chapterId"] = text_or_null(t.chapter);
        o["externalNumber"] =
            g.chance(50) ? json::value(fmt::format("PK-{}", pick(g, 100, 999))) : json::value(nullptr);
        o["externalDim01"] =
            g.chance(30) ? json::value(fmt::format("Post {}", pick(g, 1, 40))) : json::value(nullptr);
        o["externalDim02"] = nullptr;
        o["externalPieceWorkId"] = text_or_null(t.piece_work);
        o["parentName"] = p.name;
        o["fullPathName"] = fmt::format("{} {} / {} {}", p.number, p.name, t.wbs, t.name);
        o["companyId"] = c.id;
        o["companyName"] = c.name;
        o["isExternal"] = p.external;
        d.company = c.id;
        d.project = p.id;
        return d;
    }

    draft user_row(const profile& pr) const
    {
        const auto& p = w.persons[pr.person];
        const auto& c = w.companies[pr.company];
        draft d;
        d.id = pr.id;
        auto& o = d.fields;
        o["identityUserId"] = p.identity;
        o["employeeNumber"] = pr.employee_number;
        o["name"] = p.name;
        o["firstName"] = p.first_name;
        o["lastName"] = p.last_name;
        o["email"] = p.email;
        o["workTitle"] = p.title;
        o["department"] = pr.company == 0 ? (p.fixed_pay ? "Prosjekt" : "Anlegg Vest") : "Innleid";
        o["companyId"] = c.id;
        o["companyName"] = c.name;
        o["employmentCompanyId"] = c.id;
        o["employmentCompanyName"] = c.name;
        o["isActiveEmployment"] = pr.active;
        o["isDisabled"] = !pr.active;
        o["startDate"] = iso_s(day_ms(pr.start_day));
        o["endDate"] = pr.end_day < 0 ? json::value(nullptr) : json::value(iso_s(day_ms(pr.end_day)));
        d.company = c.id;
        return d;
    }

    draft person_resource_row(std::size_t i) const
    {
        const auto& p = w.persons[i];
        const auto& c = w.companies[p.company];
        draft d;
        d.id = p.resource_id;
        auto& o = d.fields;
        o["number"] = p.resource_number;
        o["name"] = p.name;
        o["typeName"] = "Person";
        o["typeBaseName"] = "Human";
        o["registrationNumber"] = nullptr;
        o["serialNumber"] = nullptr;
        o["department"] = p.company == 0 ? "Anlegg Vest" : "Innleid";
        o["emissionClass"] = nullptr;
        o["buildYear"] = nullptr;
        o["weight"] = nullptr;
        o["capacity"] = nullptr;
        // The same prices time registrations carry for a person.
        o["costPrice"] = p.company == 0 ? 520 : 640;
        o["price"] = p.company == 0 ? 695 : 745;
        o["companyId"] = c.id;
        o["companyName"] = c.name;
        o["active"] = true;
        o["isExternal"] = p.company != 0;
        d.company = c.id;
        return d;
    }

    draft machine_resource_row(const machine& m, rng& g) const
    {
        const auto& c = w.companies[m.company];
        draft d;
        d.id = m.id;
        auto& o = d.fields;
        o["number"] = m.number;
        o["name"] = m.name;
        o["typeName"] = m.type;
        o["typeBaseName"] = m.type == "Lastebil" ? "Vehicle" : "Machine";
        o["registrationNumber"] = text_or_null(m.registration);
        o["serialNumber"] = fmt::format("{:X}", fnv1a(m.number) & 0xFFFFFFFFFFULL);
        o["department"] = "Maskinavdelingen";
        o["emissionClass"] = m.emission;
        o["buildYear"] = pick(g, 2012, 2024);
        o["weight"] = static_cast<double>(pick(g, 15, 400)) / 10.0;
        o["capacity"] =
            m.hauler ? json::value(static_cast<double>(pick(g, 150, 300)) / 10.0) : json::value(nullptr);
        o["costPrice"] = m.cost;
        o["price"] = m.price;
        o["companyId"] = c.id;
        o["companyName"] = c.name;
        o["active"] = true;
        o["isExternal"] = m.external;
        d.company = c.id;
        return d;
    }

    draft location_row(const location& l) const
    {
        const auto& p = w.projects[l.project];
        draft d;
        d.id = l.id;
        auto& o = d.fields;
        o["name"] = l.name;
        o["projectId"] = p.id;
        o["projectNumber"] = p.number;
        o["locationType"] = l.type;
        o["coordinates"] = json::array{l.lon, l.lat};
        o["radius"] = l.radius;
        o["active"] = true;
        o["companyId"] = w.companies[p.company].id;
        d.company = w.companies[p.company].id;
        d.project = p.id;
        return d;
    }

    draft mass_row(const mass_type& m) const
    {
        draft d;
        d.id = m.id;
        auto& o = d.fields;
        o["name"] = m.name;
        o["code"] = m.code;
        o["unitOfMeasureText"] = m.unit;
        o["density"] = m.density;
        o["active"] = true;
        o["companyId"] = w.companies[0].id;
        d.company = w.companies[0].id;
        return d;
    }

    // A new metadata entry (a new project, task, person, machine, ...), numbered by the store's insert count.
    draft new_entry(store& st, rng& g, std::int64_t t)
    {
        auto name = st.spec->name;
        auto n = ++st.inserts;
        draft d;
        if (name == "project") {
            static constexpr std::array<std::string_view, 4> names{
                "Sandvika kontorbygg – riving og nybygg",
                "E6 Ulsberg–Vindåsliene, parsell 3",
                "Lillestrøm stasjon – ny gangbru",
                "Førde sentrum – VA og gatebruk",
            };
            project p;
            p.number = fmt::format("P-24{:02}", n);
            p.id = project_pool_id(p.number);
            p.name = fmt::format("{} ({})", names[(n - 1) % names.size()], n);
            d = project_row(p, g);
            d.fields["createdDateTime"] = iso_ms(t);
        } else if (name == "project/work-breakdown-structure") {
            const auto& p = w.projects[(n - 1) % w.projects.size()];
            task_seed s;
            s.id = pool_id("task", fmt::format("{}/new/{}", p.number, n));
            s.wbs = fmt::format("{:02}.90.{:03}", (n - 1) % w.projects.size() + 1, n);
            s.name = fmt::format("Tilleggsarbeid nr. {}", n);
            d = task_row(s, p, g);
        } else if (name == "user") {
            static constexpr std::array<std::string_view, 4> firsts{"Nora", "Emil", "Sofie", "Jonas"};
            static constexpr std::array<std::string_view, 4> lasts{"Haugen", "Berg", "Lund", "Moen"};
            person p;
            p.first_name = std::string(firsts[(n - 1) % firsts.size()]);
            p.last_name = fmt::format("{}-{}", lasts[(n / 4) % lasts.size()], n);
            p.name = p.first_name + " " + p.last_name;
            p.identity = user_identity_id(p.name);
            p.email = fmt::format("{}@fjellbygg.no", mail_local_part(p.name));
            p.employee_number = std::to_string(2000 + n);
            p.title = "Anleggsarbeider";
            w.persons.push_back(p);
            profile pr;
            pr.id = pool_id("profile", p.name);
            pr.person = w.persons.size() - 1;
            pr.employee_number = p.employee_number;
            pr.start_day = static_cast<std::int32_t>(floor_div(t, ms_per_day));
            d = user_row(pr);
        } else if (name == "resource") {
            machine m;
            m.number = fmt::format("M-2{:02}", n);
            m.id = machine_resource_id(m.number);
            m.name = fmt::format("Volvo EC220E Gravemaskin #{}", n);
            m.type = "Gravemaskin";
            m.emission = "Stage V";
            m.price = 1250;
            m.cost = 840;
            d = machine_resource_row(m, g);
        } else if (name == "flow-locations") {
            location l;
            l.name = fmt::format("Mellomlager nr. {}", n);
            l.id = pool_id("flow-location", l.name);
            l.type = "Both";
            l.project = 1;
            l.lat = w.projects[1].lat + 0.001 * static_cast<double>(n);
            l.lon = w.projects[1].lon;
            l.radius = 100;
            d = location_row(l);
        } else {
            mass_type m;
            m.code = fmt::format("K{}", n);
            m.name = fmt::format("Knuste masser 0/{}", 8 * n);
            m.id = pool_id("mass-type", m.code);
            m.unit = "Ton";
            m.density = 1.7;
            d = mass_row(m);
        }
        d.created = t;
        d.modified = t;
        return d;
    }

    // ----- edits
    // ---------------------------------------------------------------------------------------------

    // A real change of a few fields, as the stream's users would make it.
    void change(const store& st, json::object& o, rng& g, std::int64_t t)
    {
        auto name = st.spec->name;
        auto flip = [&](std::string_view key) { o[key] = !o.at(key).as_bool(); };
        auto stamp_if = [&](std::string_view flag, std::string_view at) {
            o[at] = o.at(flag).as_bool() ? json::value(iso_ms(t)) : json::value(nullptr);
        };
        if (name == "machine-registrations") {
            auto start = parse_ms(o.at("startDateTime").as_string());
            auto stop = parse_ms(o.at("stopDateTime").as_string());
            stop += (stop - start >= 9 * ms_per_hour ? -15 : 15) * ms_per_minute;
            o["stopDateTime"] = iso_s(stop);
            o["qty"] = hundredths((stop - start) / ms_per_minute * 100 / 60);
            o["description"] = pick_from(g, descriptions);
            flip("approved");
        } else if (name == "absence-registrations") {
            // Walks the approval workflow; a locked row is reopened, as after a correction.
            if (!o.at("approved").as_bool()) {
                o["approved"] = true;
                o["approvedByName"] = w.persons[g.below(3)].name;
                o["approvedDateTime"] = iso_ms(t);
            } else if (!o.at("payrollApproved").as_bool()) {
                o["payrollApproved"] = true;
                o["payrollApprovedDateTime"] = iso_ms(t);
            } else if (!o.at("locked").as_bool()) {
                o["locked"] = true;
                o["lockedDateTime"] = iso_ms(t);
            } else {
                for (auto key : {"approved", "payrollApproved", "locked"})
                    o[key] = false;
                for (auto key :
                     {"approvedByName", "approvedDateTime", "payrollApprovedDateTime", "lockedDateTime"})
                    o[key] = nullptr;
            }
        } else if (name == "payroll-lines") {
            auto qty = o.at("qty").to_number<double>() + 0.5;
            o["qty"] = qty;
            o["amount"] = std::round(qty * o.at("rate").to_number<double>() * 100.0) / 100.0;
            flip("approved");
        } else if (name == "payroll-lines-extended") {
            flip("approved");
            bool approved = o.at("approved").as_bool();
            o["approvedByName"] = approved ? json::value(w.persons[g.below(3)].name) : json::value(nullptr);
            stamp_if("approved", "approvedDateTime");
            o["approvedQty"] = approved ? o.at("qty") : json::value(0.0);
        } else if (name == "checklist-registrations" || name == "machine-checklist-registrations") {
            std::string_view status = o.at("statusText").as_string();
            auto it = std::find(checklist_statuses.begin(), checklist_statuses.end(), status);
            auto at = static_cast<std::size_t>(it - checklist_statuses.begin());
            auto next = checklist_statuses[(at + 1) % checklist_statuses.size()];
            o["statusText"] = next;
            if (next == "SentForApproval") {
                o["submittedByUserName"] = o.at("createdByUserName");
                o["submittedDateTime"] = iso_s(t);
                o["pdfUrl"] = pdf_url(g, "checklist");
            }
            o["approvedByUserName"] =
                next == "Approved" ? json::value(w.persons[0].name) : o.at("approvedByUserName");
            flip("hasComment");
        } else if (name == "incident-registrations" || name == "machine-incident-registrations") {
            auto status = (o.at("status").to_number<std::int64_t>() + 1) % 3;
            o["status"] = status;
            o["statusText"] = incident_statuses[static_cast<std::size_t>(status)];
            o["statusUpdatedAt"] = iso_s(t);
            o["measures"] = "Sikret området og informert mannskapet.";
            o["requiresFurtherAction"] = status != 2;
        } else if (name == "images") {
            o["roadReference"] = fmt::format("EV39 S{}D1 m{}", pick(g, 1, 9), pick(g, 10, 9000));
            o["accuracy"] = static_cast<double>(pick(g, 30, 150)) / 10.0;
        } else if (name == "crew-list-registrations") {
            auto in = parse_ms(o.at("checkInDateTime").as_string());
            if (o.at("checkOutDateTime").is_null())
                o["checkOutDateTime"] = iso_offset(std::max(t, in + ms_per_minute));
            else
                o["checkOutDateTime"] =
                    iso_offset(parse_ms(o.at("checkOutDateTime").as_string()) + 15 * ms_per_minute);
        } else if (name == "flow-trip-registrations") {
            flip("verified");
            o["verifiedQuantity"] = o.at("verified").as_bool() ? o.at("quantity") : json::value(nullptr);
            o["approved"] = o.at("verified").as_bool() && g.chance(50);
            o["comment"] = pick_from(g, descriptions);
        } else if (name == "project") {
            flip("active");
            o["externalDim02"] = fmt::format("Region {}", pick(g, 1, 9));
        } else if (name == "project/work-breakdown-structure") {
            o["externalDim02"] = fmt::format("Underpost {}", pick(g, 1, 99));
            o["externalNumber"] = fmt::format("PK-{}", pick(g, 100, 999));
        } else if (name == "user") {
            o["department"] = fmt::format("Avdeling {}", pick(g, 1, 9));
            o["isDisabled"] = !o.at("isDisabled").as_bool();
        } else if (name == "resource") {
            o["price"] = o.at("price").to_number<std::int64_t>() + 25;
            o["costPrice"] = o.at("costPrice").to_number<std::int64_t>() + 15;
        } else if (name == "flow-locations") {
            o["radius"] = o.at("radius").to_number<std::int64_t>() + 10;
            flip("active");
        } else if (name == "flow-mass-types") {
            o["density"] = std::round((o.at("density").to_number<double>() + 0.05) * 100.0) / 100.0;
        }
    }

    // ----- serving
    // -------------------------------------------------------------------------------------------

    bool matches(const store& st, const stored& r, const stream_filter& f) const
    {
        const auto& o = r.live;
        if (!f.company.empty() && r.company != f.company)
            return false;
        if (f.own_company_only && r.company != own_company)
            return false;
        if (!f.project.empty() && st.spec->project_scoped && r.project != f.project)
            return false;
        auto name = st.spec->name;
        auto flag_is = [&](std::string_view key, const std::optional<bool>& want) {
            return !want || o.at(key).as_bool() == *want;
        };
        if (name == "absence-registrations")
            return flag_is("approved", f.approved) && flag_is("payrollApproved", f.approved_payroll) &&
                   flag_is("locked", f.locked);
        if (name == "payroll-lines-extended")
            return (f.all_users || !r.fixed_pay) && (f.all_lines || o.at("approved").as_bool());
        if (name == "images")
            return f.sources.empty() || f.sources.count(std::string(o.at("source").as_string())) != 0;
        if (name == "crew-list-registrations")
            return (f.project_ids.empty() ||
                    f.project_ids.count(std::string(o.at("projectId").as_string())) != 0) &&
                   (f.include_open || !o.at("checkOutDateTime").is_null());
        return true;
    }

    // Appends the record as served: live (with the sensitive fields when asked) or its tombstone.
    static void render(std::string& out, const store& st, const stored& r, bool sensitive)
    {
        out += '{';
        bool first = true;
        auto field = [&](std::string_view key, const json::value& v) {
            if (!first)
                out += ',';
            first = false;
            write_key(out, key);
            write_json(out, v);
        };
        auto kind = st.spec->tombstone;
        json::value deleted_at = r.is_deleted ? json::value(iso_ms(r.deleted)) : json::value(nullptr);
        for (const auto& kv : r.live) {
            auto key = kv.key();
            if (key == "parentId" && st.parent_field != "parentId") {
                if (st.parent_field.empty())
                    continue;
                key = st.parent_field;
            }
            if (key == "modifiedDateTime" && sensitive)
                for (const auto& s : r.sensitive)
                    field(s.key(), r.is_deleted && kind == empty ? json::value(nullptr) : s.value());
            if (!r.is_deleted) {
                field(key, kv.value());
            } else if (key == "isDeleted") {
                field(key, true);
            } else if (key == "deletedDateTime") {
                field(key, deleted_at);
            } else if (key == "modifiedDateTime") {
                field(key, kind == last_version ? kv.value() : deleted_at);
            } else if (key == "id" || kind != empty) {
                field(key, kv.value());
            } else {
                field(key, nullptr);
            }
        }
        out += '}';
    }

    stream_page
    page(const store& st, const stream_filter& f, const std::optional<stream_position>& after) const
    {
        stream_page out;
        auto take = [&](const stored& r) {
            if (out.count != 0)
                out.data += ',';
            render(out.data, st, r, f.include_sensitive);
            ++out.count;
            out.deleted += r.is_deleted ? 1 : 0;
        };
        if (!f.incremental) {
            bool windowed = !st.spec->window_field.empty();
            auto from = windowed && f.from_ms ? *f.from_ms : INT64_MIN;
            auto it =
                after ? st.full.upper_bound({after->pos, after->id}) : st.full.lower_bound({from, zero_id});
            for (; it != st.full.end(); ++it) {
                if (windowed && f.to_ms && it->first > *f.to_ms)
                    break;
                const auto& r = st.records.at(it->second);
                if (!matches(st, r, f))
                    continue;
                if (out.count == f.chunk) {
                    out.more = true;
                    break;
                }
                take(r);
                out.last = {it->first, it->second};
            }
            return out;
        }
        // A page ends only where the change time changes, so a position is a time, never (time, id).
        auto start = after ? after->pos + 1 : f.since_ms.value_or(INT64_MIN);
        std::int64_t last = 0;
        for (auto it = st.changes.lower_bound({start, zero_id}); it != st.changes.end(); ++it) {
            if (f.before_ms && it->first >= *f.before_ms)
                break;
            const auto& r = st.records.at(it->second);
            if (!matches(st, r, f))
                continue;
            if (out.count >= f.chunk && it->first != last) {
                out.more = true;
                break;
            }
            take(r);
            last = it->first;
            out.last = {it->first, it->second};
        }
        return out;
    }
};

// ---------------------------------------------------------------------------------------------------------

std::span<const stream_spec> stream_specs()
{
    return specs;
}

const stream_spec* find_stream_spec(std::string_view name)
{
    for (const auto& s : specs)
        if (s.name == name)
            return &s;
    return nullptr;
}

generic_streams::generic_streams(std::string own_company_id)
    : state_(std::make_unique<state>(std::move(own_company_id)))
{
}

generic_streams::~generic_streams() = default;

void generic_streams::seed(
    std::size_t per_stream,
    std::uint64_t seed,
    std::int32_t first_day,
    std::int32_t last_day,
    std::int64_t now_ms
)
{
    // Registrations first: images pick their parents among the checklists and incidents.
    for (const auto& spec : specs) {
        if (spec.name == "time-registrations")
            continue;
        auto& st = state_->get(spec.name);
        rng g{seed * 0x2545f4914f6cdd1dULL + fnv1a(spec.name)};
        if (spec.metadata) {
            for (auto& d : state_->pool_entries(st, g, now_ms))
                state_->add(st, std::move(d));
            continue;
        }
        std::size_t added = 0;
        while (added < per_stream) {
            // Runs of records sharing one modified time; now and then a big one, like a bulk approval.
            auto run = g.chance(3) ? 10 + g.below(40) : 1 + g.below(5);
            auto t = now_ms - 1000 - static_cast<std::int64_t>(g.below(365ULL * ms_per_day));
            for (std::uint64_t k = 0; k < run && added < per_stream; ++k) {
                auto day =
                    first_day +
                    static_cast<std::int32_t>(g.below(static_cast<std::uint64_t>(last_day - first_day) + 1));
                auto created = g.chance(60) ? t : t - static_cast<std::int64_t>(g.below(30ULL * ms_per_day));
                for (auto& d : state_->build(st, g, day, created, t, false)) {
                    if (added == per_stream)
                        break;
                    state_->add(st, std::move(d));
                    ++added;
                }
            }
        }
    }
}

std::vector<std::string> generic_streams::insert(std::string_view stream, std::size_t count, std::int64_t t)
{
    auto& st = state_->get(stream);
    rng g{0xfeedULL + 0x9e3779b97f4a7c15ULL * (st.inserts + 1) + fnv1a(stream)};
    std::vector<std::string> ids;
    while (ids.size() < count) {
        if (st.spec->metadata) {
            ids.push_back(state_->add(st, state_->new_entry(st, g, t)));
            continue;
        }
        ++st.inserts;
        auto day =
            static_cast<std::int32_t>(floor_div(t, ms_per_day) - static_cast<std::int64_t>(g.below(3)));
        for (auto& d : state_->build(st, g, day, t, t, true)) {
            if (ids.size() == count)
                break;
            ids.push_back(state_->add(st, std::move(d)));
        }
    }
    return ids;
}

void generic_streams::edit(std::string_view stream, const std::vector<std::string>& ids, std::int64_t t)
{
    auto& st = state_->get(stream);
    for (const auto& id : ids) {
        auto* r = state_->find_live(st, id);
        if (!r)
            continue;
        state::unindex(st, *r);
        rng g{fnv1a(id) ^ static_cast<std::uint64_t>(r->modified)};
        state_->change(st, r->live, g, t);
        r->modified = t;
        r->live["modifiedDateTime"] = iso_ms(t);
        state::index(st, *r);
    }
}

void generic_streams::remove(std::string_view stream, const std::vector<std::string>& ids, std::int64_t t)
{
    auto& st = state_->get(stream);
    auto drop = [&](stored* r) {
        state::unindex(st, *r);
        r->is_deleted = true;
        r->deleted = t;
        state::index(st, *r);
        --st.live;
    };
    for (const auto& id : ids) {
        if (stream == "images") {
            // Every row of the image (share_images gives one image several rows).
            for (auto& [key, r] : st.records)
                if (!r.is_deleted && r.live.at("id").as_string() == id)
                    drop(&r);
            continue;
        }
        if (auto* r = state_->find_live(st, id))
            drop(r);
    }
}

std::vector<std::string> generic_streams::share_images(std::size_t count, std::int64_t t)
{
    auto& st = state_->get("images");
    std::vector<std::string> shared;
    for (const auto& hex : pick_live("images", count, static_cast<std::uint64_t>(t))) {
        auto* original = state_->find_live(st, hex);
        if (!original)
            continue;
        stored copy;
        copy.id = state::make_id(st, t);
        copy.live = original->live; // the same image id, under another parent
        auto source = copy.live.at("source").as_string();
        copy.live["source"] = source == "feed" ? "checklist" : "feed";
        copy.live["parentId"] = pool_id("shared-parent", to_hex(copy.id));
        copy.live["modifiedDateTime"] = iso_ms(t);
        copy.company = original->company;
        copy.project = original->project;
        copy.modified = t;
        shared.emplace_back(copy.live.at("id").as_string());
        auto it = st.records.emplace(copy.id, std::move(copy)).first;
        state::index(st, it->second);
        ++st.live;
    }
    return shared;
}

void generic_streams::set_image_parent_field(std::string name)
{
    state_->get("images").parent_field = std::move(name);
}

void generic_streams::purge(std::string_view stream, const std::vector<std::string>& ids)
{
    auto& st = state_->get(stream);
    for (const auto& id : ids) {
        auto parsed = parse_hex_id(id);
        if (!parsed)
            continue;
        auto it = st.records.find(*parsed);
        if (it == st.records.end())
            continue;
        state::unindex(st, it->second);
        if (!it->second.is_deleted)
            --st.live;
        st.records.erase(it);
    }
}

void generic_streams::upsert(
    std::string_view stream,
    const std::string& id,
    const std::string& fields_json,
    const std::string& company,
    const std::string& project,
    std::int64_t t
)
{
    auto& st = state_->get(stream);
    auto parsed = parse_hex_id(id);
    if (!parsed)
        throw std::invalid_argument("fake_streams: not an ObjectId: " + id);
    auto fields = json::parse(fields_json).as_object();
    auto it = st.records.find(*parsed);
    if (it == st.records.end()) {
        draft d;
        d.id = id;
        d.fields = std::move(fields);
        d.company = company;
        d.project = project;
        d.created = d.modified = d.id_time = t;
        state_->add(st, std::move(d));
        return;
    }
    auto& r = it->second;
    state::unindex(st, r);
    if (r.is_deleted)
        ++st.live;
    r.is_deleted = false;
    r.deleted = 0;
    r.live.clear();
    r.live["id"] = to_hex(r.id);
    for (auto& kv : fields)
        r.live[kv.key()] = std::move(kv.value());
    r.live["modifiedDateTime"] = iso_ms(t);
    r.live["isDeleted"] = false;
    r.live["deletedDateTime"] = nullptr;
    r.company = company;
    r.project = project;
    r.modified = t;
    state::index(st, r);
}

std::vector<std::string>
generic_streams::pick_live(std::string_view stream, std::size_t count, std::uint64_t seed) const
{
    const auto& st = state_->get(stream);
    std::vector<object_id> live;
    live.reserve(st.live);
    for (const auto& [id, r] : st.records) // id order: independent of edits
        if (!r.is_deleted)
            live.push_back(id);
    rng g{seed ^ 0x9c0ffee5ULL};
    count = std::min(count, live.size());
    std::vector<std::string> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        auto j = i + static_cast<std::size_t>(g.below(live.size() - i));
        std::swap(live[i], live[j]);
        out.push_back(to_hex(live[i]));
    }
    return out;
}

std::map<std::string, record_view> generic_streams::snapshot(std::string_view stream) const
{
    const auto& st = state_->get(stream);
    std::map<std::string, record_view> out;
    for (const auto& [id, r] : st.records) {
        record_view v;
        state::render(v.json, st, r, false);
        v.deleted = r.is_deleted;
        v.modified =
            r.is_deleted && st.spec->tombstone != last_version ? iso_ms(r.deleted) : iso_ms(r.modified);
        if (r.is_deleted)
            v.deleted_at = iso_ms(r.deleted);
        if (!st.spec->window_field.empty())
            v.window_at = std::string(r.live.at(st.spec->window_field).as_string());
        out.emplace(to_hex(id), std::move(v));
    }
    return out;
}

std::size_t generic_streams::live_count(std::string_view stream) const
{
    return state_->get(stream).live;
}

stream_page generic_streams::page(
    std::string_view stream, const stream_filter& filter, const std::optional<stream_position>& after
) const
{
    const auto& st = state_->get(stream);
    return state_->page(st, filter, after);
}

} // namespace ditio_sync::testing::detail
