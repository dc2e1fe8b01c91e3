// ditio-fake: the fake Ditio server as a process, for the demo and the benchmark: time registrations always,
// the other streams (metadata included) with --stream-records. Runs until SIGINT/SIGTERM.
#include "fake_ditio.hpp"

#include <fmt/format.h>

#include <pthread.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using ditio_sync::testing::fake_ditio;
using ditio_sync::testing::fake_options;

constexpr std::string_view usage = R"(usage: ditio-fake [options]
  --port N                 port on 127.0.0.1 (default 0: any free port)
  --records N              time registrations to seed (default 5000)
  --stream-records N       records per other registration stream, plus every metadata pool entry
                           (default 0: time registrations only)
  --seed N                 seed for the generated data (default 1)
  --pki-dir DIR            where the test CA and server certificate live (created if missing)
  --plain                  serve plain HTTP instead of TLS
  --token-lifetime SECONDS access token lifetime (default 1800)
  --client-id ID           (default demo-client)
  --client-secret SECRET   (default demo-secret)
  --port-file FILE         write the bound port here once listening
  --end-of-stream STYLE    last page's continuationToken: absent (default), null or empty
  --replay FILE            serve a `ditio-sync capture` file back instead of generated data (point every
                           base at this server's root)
  --max-window STREAM=DAYS[:SHAPE]
                           refuse full-mode windows of STREAM longer than DAYS with a 400 whose body is
                           SHAPE: specific (default, names the cap), problem (problem+json saying only
                           "One or more validation errors occurred.") or empty
  --max-modified-since STREAM=DAYS[:SHAPE]
                           refuse a ModifiedSince of STREAM more than DAYS back, likewise
  --scopes LIST            the scopes the client may have, comma-separated (default
                           reportingapiv1,ditioapiv3; reportingapiv1 alone is a reporting-only client)
  --narrow-scopes          grant the allowed part of a request for more (the token's scope field says
                           which) instead of refusing it with invalid_scope
  --no-scope-field         leave the scope field out of token responses
  --foreign-prefix P:WHAT  answer every path starting with P as a web server at a wrong base would:
                           WHAT is html (404 page), empty (404, no body) or 405 (HTML 405)
Control endpoints on the same port: POST /_fake/mutate?insert=N&edit=N&delete=N&seed=S[&stream=NAME]
(stream defaults to time-registrations), GET /_fake/stats.
)";

std::uint64_t to_number(std::string_view flag, std::string_view text)
{
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || p != text.data() + text.size())
        throw std::invalid_argument(fmt::format("{} expects a number, got '{}'", flag, text));
    return n;
}

// STREAM=DAYS[:SHAPE] of --max-window and --max-modified-since.
struct cap_arg {
    std::string stream;
    std::chrono::hours max{0};
    ditio_sync::testing::refusal_shape shape = ditio_sync::testing::refusal_shape::specific;
};

cap_arg to_cap(std::string_view flag, std::string_view text)
{
    auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0)
        throw std::invalid_argument(fmt::format("{} expects STREAM=DAYS[:SHAPE], got '{}'", flag, text));
    cap_arg out;
    out.stream = std::string(text.substr(0, eq));
    auto rest = text.substr(eq + 1);
    auto colon = rest.find(':');
    out.max =
        std::chrono::hours{24 * static_cast<std::chrono::hours::rep>(to_number(flag, rest.substr(0, colon)))};
    if (colon != std::string_view::npos) {
        auto shape = ditio_sync::testing::parse_refusal_shape(rest.substr(colon + 1));
        if (!shape)
            throw std::invalid_argument(fmt::format("{}: the shape is specific, problem or empty", flag));
        out.shape = *shape;
    }
    return out;
}

void write_port_file(const std::filesystem::path& path, std::uint16_t port)
{
    auto tmp = path;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << port << '\n';
        if (!out)
            throw std::runtime_error("cannot write " + tmp.string());
    }
    std::filesystem::rename(tmp, path); // readers never see an empty file
}

int run(int argc, char** argv)
{
    fake_options options;
    std::size_t records = 5000, stream_records = 0;
    std::uint64_t seed = 1;
    std::filesystem::path pki_dir, port_file;
    std::vector<cap_arg> max_windows, max_modified_since;
    std::string foreign_prefix;
    std::optional<ditio_sync::testing::foreign_answer> foreign;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= argc)
                throw std::invalid_argument(fmt::format("{} needs a value", arg));
            return argv[++i];
        };
        if (arg == "--help" || arg == "-h") {
            std::cout << usage;
            return EXIT_SUCCESS;
        } else if (arg == "--port") {
            auto port = to_number(arg, value());
            if (port > 65535)
                throw std::invalid_argument("--port must be at most 65535");
            options.port = static_cast<std::uint16_t>(port);
        } else if (arg == "--records") {
            records = static_cast<std::size_t>(to_number(arg, value()));
        } else if (arg == "--stream-records") {
            stream_records = static_cast<std::size_t>(to_number(arg, value()));
        } else if (arg == "--seed") {
            seed = to_number(arg, value());
        } else if (arg == "--pki-dir") {
            pki_dir = value();
        } else if (arg == "--plain") {
            options.tls = false;
        } else if (arg == "--token-lifetime") {
            options.token_lifetime = std::chrono::seconds(to_number(arg, value()));
        } else if (arg == "--client-id") {
            options.client_id = value();
        } else if (arg == "--client-secret") {
            options.client_secret = value();
        } else if (arg == "--port-file") {
            port_file = value();
        } else if (arg == "--replay") {
            options.replay_file = value();
        } else if (arg == "--end-of-stream") {
            auto style = value();
            if (style == "absent")
                options.end_of_stream_style = 0;
            else if (style == "null")
                options.end_of_stream_style = 1;
            else if (style == "empty")
                options.end_of_stream_style = 2;
            else
                throw std::invalid_argument("--end-of-stream is absent, null or empty");
        } else if (arg == "--max-window") {
            max_windows.push_back(to_cap(arg, value()));
        } else if (arg == "--max-modified-since") {
            max_modified_since.push_back(to_cap(arg, value()));
        } else if (arg == "--scopes") {
            options.allowed_scopes.clear();
            std::string_view rest = value();
            while (!rest.empty()) {
                auto comma = rest.find(',');
                if (auto one = rest.substr(0, comma); !one.empty())
                    options.allowed_scopes.emplace_back(one);
                rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
        } else if (arg == "--narrow-scopes") {
            options.narrow_scopes = true;
        } else if (arg == "--no-scope-field") {
            options.omit_scope_field = true;
        } else if (arg == "--foreign-prefix") {
            std::string_view v = value();
            auto colon = v.rfind(':');
            auto what = colon == std::string_view::npos ? std::string_view{} : v.substr(colon + 1);
            if (colon == std::string_view::npos || colon == 0 || v.front() != '/')
                throw std::invalid_argument("--foreign-prefix is /PREFIX:html, /PREFIX:empty or /PREFIX:405");
            if (what == "html")
                foreign = ditio_sync::testing::foreign_answer::html_404;
            else if (what == "empty")
                foreign = ditio_sync::testing::foreign_answer::empty_404;
            else if (what == "405")
                foreign = ditio_sync::testing::foreign_answer::html_405;
            else
                throw std::invalid_argument("--foreign-prefix is /PREFIX:html, /PREFIX:empty or /PREFIX:405");
            foreign_prefix = v.substr(0, colon);
        } else {
            throw std::invalid_argument(fmt::format("unknown option '{}' (see --help)", arg));
        }
    }
    if (options.tls) {
        if (pki_dir.empty())
            pki_dir = std::filesystem::temp_directory_path() / "ditio-fake-pki";
        auto pki = ditio_sync::testing::make_test_pki(pki_dir);
        options.cert_file = pki.server_cert;
        options.key_file = pki.server_key;
    }
    options.control_endpoint = true;

    // Block the signals before any thread starts, so only sigwait below sees them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    fake_ditio server(options);
    server.seed(records, seed);
    if (stream_records > 0)
        server.seed_streams(stream_records, seed);
    // An unknown stream throws std::invalid_argument naming it.
    for (const auto& c : max_windows)
        server.set_max_window(c.stream, c.max, c.shape);
    for (const auto& c : max_modified_since)
        server.set_max_modified_since(c.stream, c.max, c.shape);
    if (foreign)
        server.set_foreign_prefix(foreign_prefix, foreign);
    server.start();
    if (!port_file.empty())
        write_port_file(port_file, server.port());
    if (options.replay_file.empty())
        std::cerr << fmt::format(
                         "ditio-fake: listening on {} ({} time registrations, {} per other stream)\n",
                         server.base_url(),
                         records,
                         stream_records
                     )
                  << std::flush;
    else
        std::cerr << fmt::format(
                         "ditio-fake: listening on {}, replaying {}\n",
                         server.base_url(),
                         options.replay_file.string()
                     )
                  << std::flush;

    int signal = 0;
    sigwait(&signals, &signal);
    server.stop();
    std::cerr << fmt::format("ditio-fake: stopped ({})\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
    return EXIT_SUCCESS;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "ditio-fake: " << e.what() << '\n';
        return EXIT_FAILURE;
    }
}
