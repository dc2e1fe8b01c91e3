// Shared by the fake's two record stores (the compact time-registrations store and the generic one): the
// deterministic random source, ObjectId-style ids, time formatting, and the pools of companies, people,
// projects, tasks and machines every stream draws from, so that registrations join to the metadata streams.
#pragma once

#include <ditio_sync/util/time.hpp>

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ditio_sync::testing::detail {

inline constexpr std::int64_t ms_per_day = 86'400'000;

// splitmix64: the std distributions differ between standard libraries, this does not.
class rng {
public:
    explicit rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next()
    {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
    bool chance(unsigned percent) { return below(100) < percent; }

private:
    std::uint64_t state_;
};

inline std::uint64_t fnv1a(std::string_view s)
{
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

inline std::int64_t floor_div(std::int64_t a, std::int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}
inline std::int64_t ceil_div(std::int64_t a, std::int64_t b)
{
    return -floor_div(-a, b);
}

inline util::sys_micros micros_of_ms(std::int64_t ms)
{
    return util::sys_micros{std::chrono::milliseconds{ms}};
}
inline std::string iso_ms(std::int64_t ms)
{
    return util::format_iso8601_ms(micros_of_ms(ms));
}
inline std::string iso_s(std::int64_t ms)
{
    return util::format_iso8601_s(micros_of_ms(ms));
}

struct project_seed {
    std::string_view number, name, external_number;
    std::size_t leader, foreman;
    bool other_company;
};

inline constexpr std::array<project_seed, 20> project_seeds{{
    {"P-2301", "Prosjekt Fjellhall – Åsane", "EXT-55123", 0, 3, false},
    {"P-2302", "Rv. 555 Sotrasambandet – delparsell 2, Kolltveit–Storavatnet", "SVV-2021-0412", 1, 4, false},
    {"P-2303", "Kvartal Øvre Ullern – blokk A, B og C (byggetrinn 1)", "", 2, 5, false},
    {"P-2304", "Bjørvika Næringsbygg \"B4\" – råbygg og tett hus", "OSL-B4-77", 0, 6, false},
    {"P-2305", "Skøyen Stasjonsområde – VA-omlegging og fjernvarme", "", 1, 7, false},
    {"P-2306", "Lærdalstunnelen rehabilitering – vann- og frostsikring", "SVV-2019-1187", 2, 8, false},
    {"P-2307", "Nygårdsbroen – utskifting av lager og fuger", "BK-3341", 0, 9, false},
    {"P-2308", "Ålesund sykehus – ny akuttmottak-fløy", "HMN-AKU-2", 1, 10, false},
    {"P-2309", "Trondheim havn – kaiforlengelse Brattøra", "", 2, 11, false},
    {"P-2310", "Fv. 17 Helgelandskysten – gang- og sykkelvei Sandnessjøen", "NFK-17-GS", 0, 3, false},
    {"P-2311", "Grønland skole – rehabilitering og tilbygg", "OBY-5520", 1, 4, false},
    {"P-2312", "Kongsberg Teknologipark – parkeringshus P3", "", 2, 5, false},
    {"P-2313", "Hamar vannverk – ny høydebasseng og ledningsnett", "HVV-2024-03", 0, 6, false},
    {"P-2314", "Tromsø lufthavn – utvidelse av oppstillingsplass", "AVI-TOS-118", 1, 7, false},
    {"P-2315", "Stavanger sentrum – Breiavatnet omlegging av fjernvarme", "", 2, 8, false},
    {"P-2316", "Drammen Strømsø – boligprosjekt «Elvekanten»", "DRM-EK-1", 0, 9, false},
    {"P-2317", "Bodø nye bydel – grunnarbeider felt B1", "BOD-NB-B1", 1, 10, false},
    {"P-2318", "Kristiansand Kanalbyen – mur og kaifront", "", 2, 11, false},
    {"P-2319", "Fredrikstad Værste – næringsbygg og p-kjeller", "FRE-VA-09", 0, 3, false},
    {"P-2320", "Voss Gondolen – bunnstasjon, fundamenter (underentreprise)", "VG-UE-7", 1, 4, true},
}};

struct user_seed {
    std::string_view name, title, shift;
    int company; // 0 own, 1 and 2 subcontractors
};

inline constexpr std::array<user_seed, 24> user_seeds{{
    {"Bjørn Ødegård", "Prosjektleder", "Dagtid 07–15", 0},
    {"Åse Sæther", "Prosjektleder", "Dagtid 07–15", 0},
    {"Kari Nordmann", "Anleggsleder", "Dagtid 07–15", 0},
    {"Ola Hansen", "Formann", "Dagtid 07–15", 0},
    {"Per Øyvind Løvås", "Formann", "Skift 2-2-3", 0},
    {"Ingrid Bråten", "Bas", "Dagtid 07–15", 0},
    {"Sindre Ærø", "Bas", "Turnus 14/21", 0},
    {"Marius Johansen", "Maskinfører", "Dagtid 06–14", 0},
    {"Håkon Fjærli", "Maskinfører", "Skift 2-2-3", 0},
    {"Siv Kværnes", "Anleggsarbeider", "Dagtid 07–15", 0},
    {"Tor Åge Brøndbo", "Fagarbeider betong", "Dagtid 07–15", 0},
    {"Eirik Strøm", "Tømrer", "Dagtid 07–15", 0},
    {"Line Grønli", "Lærling anleggsmaskinfører", "Dagtid 07–15", 0},
    {"Jørgen Aasheim", "Sprengningsleder", "Turnus 14/21", 0},
    {"Mette Sørli", "Anleggsarbeider", "Dagtid 07–15", 0},
    {"Knut Bækken", "Maskinfører", "Kveld 15–23", 0},
    {"Ragnhild Øverås", "Betongarbeider", "Dagtid 07–15", 0},
    {"Lars Nygård", "Lastebilsjåfør", "Dagtid 06–14", 1},
    {"Trond Skjævestad", "Lastebilsjåfør", "Dagtid 06–14", 1},
    {"Gro Hølås", "Maskinfører", "Dagtid 06–14", 1},
    {"Zbigniew Wójcik", "Armerer", "Turnus 10/4", 2},
    {"Andrius Kazlauskas", "Armerer", "Turnus 10/4", 2},
    {"Mari-Ann O'Brien", "Stillasmontør", "Dagtid 07–15", 2},
    {"Jon \"Jonny\" Bakke", "Anleggsarbeider", "Dagtid 07–15", 0},
}};

struct company_seed {
    std::string_view name, org_nr;
};

inline constexpr std::array<company_seed, 3> user_companies{{
    {"Fjellbygg Entreprenør AS", "914237865"},
    {"Åsane Maskin & Transport AS", "998112334"},
    {"Bygg & Betong Sørvest AS", "921556780"},
}};

inline constexpr std::string_view own_company_name = "Fjellbygg Entreprenør AS";
inline constexpr std::string_view other_company_id = "61a7e2c4b9d8f0a1c2e3d4f5";
inline constexpr std::string_view other_company_name = "Vestland Anlegg & Maskin AS";

struct machine_seed {
    std::string_view number, name, type, emission;
    std::int64_t price, cost; // whole kroner per hour
};

inline constexpr std::array<machine_seed, 12> machine_seeds{{
    {"M-101", "CAT 336 Gravemaskin 36 t", "Gravemaskin", "Stage V", 1450, 980},
    {"M-102", "Hitachi ZX135US-7 Gravemaskin", "Gravemaskin", "Stage V", 1150, 760},
    {"M-103", "Volvo A30G Dumper", "Dumper", "Stage IV", 1350, 870},
    {"M-104", "Liebherr LTM 1090-4.2 Mobilkran", "Mobilkran", "Stage V", 2450, 1620},
    {"M-105", "Scania R500 8x4 Lastebil m/ tipp", "Lastebil", "Euro 6", 1250, 810},
    {"M-106", "Bobcat S770 Kompaktlaster", "Kompaktlaster", "Stage V", 750, 430},
    {"M-107", "Atlas Copco XAS 185 Kompressor", "Kompressor", "Stage V", 350, 190},
    {"M-108", "Sandvik DT922i Borerigg", "Borerigg", "Stage V", 2950, 2100},
    {"M-109", "Hamm HD+ 120i Valse", "Valse", "Stage V", 950, 610},
    {"M-110", "Wacker Neuson EZ26 Minigraver", "Minigraver", "Stage V", 650, 390},
    {"M-111", "Volvo FH16 Semitrailer (ekstern)", "Lastebil", "Euro 6", 1390, 1010},
    {"M-112", "Merlo P40.17 Teleskoptruck", "Teleskoptruck", "Stage V", 850, 520},
}};

inline constexpr std::array<std::string_view, 12> task_names{
    "Rigg og drift",
    "Graving og sprenging",
    "Grøft – VA og overvann",
    "Forskaling dekker og vegger",
    "Armering",
    "Betongstøp",
    "Tilbakefylling og komprimering",
    "Asfaltering og kantstein",
    "Fjellsikring – bolting og sprøytebetong",
    "Stillas og sikring",
    "Ekstraarbeid etter regning (tillegg)",
    "Opprydding og ferdigstillelse",
};

inline constexpr std::size_t tasks_per_project = 6;

inline constexpr std::array<std::string_view, 24> descriptions{
    "Støp av dekke i akse C–D, 3. etasje. Betongbil kom 40 min forsinket.",
    "Graving for VA-grøft, fjell i bunn fra profil 120 til 165 – må sprenges.",
    "Montert rekkverk \"type B\" langs gang- og sykkelvei, 84 lm.",
    "Reparasjon av hydraulikkslange på gravemaskin 🔧 – deler bestilt fra Pon.",
    "Flytting av brakkerigg og strømtilkobling 🚧 etter avtale med byggherre.",
    "Oppmåling og utsetting, filer lagret under K:\\Prosjekt\\2301\\Stikning\\rev3.",
    "Ventet på avklaring fra rådgiver (RIB) om utsparinger – «stopp i arbeidet».",
    "Armering av vegg akse 4, 2 lag Ø12 c/c 150 og Ø16 c/c 200.",
    "Komprimering av forsterkningslag 0/32, 6 overfarter med valse.",
    "Sprøytebetong E700 i tunnelprofil 2+340 til 2+365, 12 m³.",
    "Transport av masser til deponi på Kolltveit – 14 lass.",
    "Forskaling av søyler i plan 2; timer inkl. riving av gammel forskaling.",
    "Kurs: arbeidsvarsling nivå 1 (halv dag), deretter vanlig drift.",
    "Brøyting og strøing av riggområde før oppstart. ❄️",
    "Tetting av lekkasje i kum K12, skiftet pakning og mansjett.",
    "Asfaltlapping etter grøft, 35 m² – ABT 11.",
    "Riving av gammel kaifront, fjerning av armeringsjern og betong (sortert).",
    "Befaring med byggherre og UE; notat sendt på e-post.\nOppfølging neste uke.",
    "Montering av stillas nord-fasade, 3 etasjer, inkl. sikringsnett.",
    "Boring av 48 hull à 3,2 m for sprengning, salve nr. 17.",
    "Kantstein lagt langs Strandgata (granitt), 62 lm – ferdig.",
    "Tilleggsarbeid etter regning: omlegging av fiberkabel for Telenor\tref. TA-8812.",
    "Service på borerigg (250-timers) – «ikke fakturerbart».",
    "Dagsrapport: 8 mann på jobb, vær: regn og 6 °C, ingen uønskede hendelser.",
};

// A deterministic ObjectId-looking hex id for pool entries.
inline std::string pool_id(std::string_view kind, std::string_view key)
{
    auto a = fnv1a(fmt::format("{}/{}", kind, key));
    auto b = fnv1a(fmt::format("{}\\{}", key, kind));
    return fmt::format("{:016x}{:08x}", a, static_cast<std::uint32_t>(b));
}

using object_id = std::array<std::uint8_t, 12>;

inline std::string to_hex(const object_id& id)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(24, '0');
    for (std::size_t i = 0; i < id.size(); ++i) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 0xf];
    }
    return out;
}

inline std::optional<object_id> parse_hex_id(std::string_view s)
{
    if (s.size() != 24)
        return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    object_id id{};
    for (std::size_t i = 0; i < id.size(); ++i) {
        int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        id[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return id;
}

inline constexpr object_id zero_id{};

// --- Ids derived from the pools, defined once so both stores agree ---

// What registrations carry in userId and v1/user in identityUserId (not a profile id).
inline std::string user_identity_id(std::string_view name)
{
    return "auth0|" + pool_id("user", name);
}

inline std::string person_resource_id(std::string_view name)
{
    return pool_id("resource", name);
}

inline std::string machine_resource_id(std::string_view number)
{
    return pool_id("machine", number);
}

inline std::string project_pool_id(std::string_view number)
{
    return pool_id("project", number);
}

// The employee number of user_seeds[index] in its primary company.
inline std::string employee_number(std::size_t index)
{
    return std::to_string(user_seeds[index].company == 0 ? 1001 + index : 9001 + index);
}

// The company id of user_companies[index]; index 0 is the server's own company.
inline std::string user_company_id(std::size_t index, std::string_view own_company_id)
{
    return index == 0 ? std::string(own_company_id) : pool_id("company", user_companies[index].org_nr);
}

// Task `t` of project_seeds[project]: what time registrations and the WBS stream both show.
struct task_seed {
    std::string id, name, name_long, wbs, chapter, piece_work; // chapter, piece_work: "" for none
};

inline task_seed make_task(std::size_t project, std::size_t t)
{
    const auto& s = project_seeds[project];
    task_seed out;
    out.name = std::string(task_names[(project * 5 + t * 7) % task_names.size()]);
    out.wbs = fmt::format("{:02}.{:02}.{:03}", project + 1, t + 1, (project * 31 + t * 17) % 400 + 1);
    out.chapter = t % 3 == 2 ? std::string() : fmt::format("K-{:02}", t + 1);
    out.piece_work = t % 4 == 1 ? fmt::format("AK-{}", 100 + project * 10 + t) : std::string();
    out.id = pool_id("task", fmt::format("{}/{}", s.number, t));
    out.name_long = fmt::format("{} {} – {} ({})", out.wbs, out.name, s.name, s.number);
    return out;
}

} // namespace ditio_sync::testing::detail
