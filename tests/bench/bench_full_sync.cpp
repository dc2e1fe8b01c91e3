// Benchmark (not a test): a full first sync of N time registrations from the fake Ditio server over TLS
// on loopback, printing records/s, CPU seconds and the peak RSS of the ditio-sync process.
//   ditio-bench [--records N] [--chunk-limit N]
#include "harness.hpp"

#include <fmt/format.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv)
{
    std::size_t records = 200'000;
    int chunk = 10'000;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--records")
            records = std::stoul(argv[i + 1]);
        else if (a == "--chunk-limit")
            chunk = std::stoi(argv[i + 1]);
        else {
            std::cerr << "usage: ditio-bench [--records N] [--chunk-limit N]\n";
            return 2;
        }
    }
    try {
        ditio_sync::e2e::fixture_options o;
        o.records = records;
        o.chunk_limit = chunk;
        o.extra_toml = "";
        ditio_sync::e2e::fixture fx(o);
        auto live = fx.server().live_count();

        auto started = std::chrono::steady_clock::now();
        auto res = fx.run({"--log-level", "warning", "sync"}, {}, std::chrono::minutes{30});
        auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (res.exit_code != 0) {
            std::cerr << "ditio-sync failed:\n" << res.err;
            return 1;
        }
        auto diffs = ditio_sync::e2e::compare_with_server(fx.server(), fx.db());
        if (!diffs.empty()) {
            std::cerr << "mirror differs from the server: " << diffs.front() << " (" << diffs.size()
                      << " in all)\n";
            return 1;
        }
        rusage usage{};
        getrusage(RUSAGE_CHILDREN, &usage);
        auto cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                   static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
        auto db_mb = static_cast<double>(std::filesystem::file_size(fx.db())) / (1024.0 * 1024.0);
        fmt::print(
            "full sync over TLS: {} records, ChunkLimit {}\n"
            "  wall time      {:.2f} s\n"
            "  throughput     {:.0f} records/s\n"
            "  CPU (ditio-sync) {:.2f} s ({:.1f} us/record)\n"
            "  peak RSS       {:.1f} MB\n"
            "  database       {:.1f} MB\n",
            live,
            chunk,
            seconds,
            static_cast<double>(live) / seconds,
            cpu,
            cpu * 1e6 / static_cast<double>(live),
            static_cast<double>(usage.ru_maxrss) / 1024.0,
            db_mb
        );
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "ditio-bench: " << e.what() << "\n";
        return 1;
    }
}
