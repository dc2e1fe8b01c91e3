// Benchmark of issue 7 (not a test; every number is measured in this run, on this machine). It starts the
// fake Ditio server over TLS on loopback with N time registrations and measures, each in a process of its
// own started through a small launcher so that wait4 reports that process's CPU time and peak RSS alone
// (see measured_prefix):
//   1. the SQLite upsert ceiling: the same rows upserted in a tight loop by the mirror's own code into a
//      fresh WAL database with the daemon's schema, 10,000 per transaction (this binary, hidden mode);
//   2. the quickstart loop in Python (requests, json, sqlite3; tests/bench/quickstart_loop.py);
//   3. `ditio-sync sync` into a fresh database, then checks the mirror against the server;
//   4. the daemon's steady state: the requests of an incremental pass with no changes, and its CPU time
//      over an idle period between passes.
// It prints each measurement, then the ratios with the targets, each marked PASS or FAIL. The exit
// code is 0 whatever the targets say; 1 when something broke (a failed process, a mirror that differs).
//   ditio-bench [--records N] [--chunk-limit N] [--idle-seconds S] [--skip-python]
#include "harness.hpp"
#include "upsert_ceiling.hpp"

#include <fmt/format.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace e2e = ditio_sync::e2e;
using namespace std::chrono_literals;

// The hidden mode that runs the ceiling loop in a child process.
constexpr const char* ceiling_mode = "--upsert-ceiling-child";
// The hidden mode that starts a measured command and writes its rusage to a file: see measured_prefix.
constexpr const char* launcher_mode = "--measure-child";

struct options {
    std::size_t records = 200'000;
    int chunk_limit = 10'000;
    int idle_seconds = 60;
    bool skip_python = false;
};

// One measured process: wall time from start to exit, CPU and peak RSS from wait4 (through the launcher).
struct measurement {
    std::size_t records = 0;
    double wall_seconds = 0;
    double cpu_seconds = 0;
    double peak_rss_mb = 0;

    double records_per_second() const { return static_cast<double>(records) / wall_seconds; }
    double cpu_us_per_record() const { return cpu_seconds * 1e6 / static_cast<double>(records); }
};

// Something that makes the run's numbers meaningless: the benchmark stops with exit code 1.
struct broken : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string self_path()
{
    return fs::read_symlink("/proc/self/exe").string();
}

// On Linux a child's ru_maxrss is at least the RSS of the memory image its exec replaced: a process
// started straight from this one (posix_spawn shares our memory until the exec, fork copies it) would
// report the benchmark's own gigabytes of test data as its peak. So measured commands are started by a
// launcher, this binary again in a hidden mode with about 2 MB resident (the floor of every peak measured
// through it), which forks and execs the command, reaps it with wait4 and writes what it reported to
// `usage_file`. The launcher keeps the command's exit status, stdin, stdout and stderr.
std::vector<std::string> measured_prefix(const fs::path& usage_file)
{
    return {self_path(), launcher_mode, usage_file.string()};
}

struct process_usage {
    double cpu_seconds = 0;
    double peak_rss_mb = 0;
};

process_usage read_usage(const fs::path& usage_file)
{
    std::ifstream in(usage_file);
    double cpu = 0;
    long max_rss_kib = 0;
    if (!(in >> cpu >> max_rss_kib))
        throw broken("the launcher wrote no usage to " + usage_file.string());
    return {.cpu_seconds = cpu, .peak_rss_mb = static_cast<double>(max_rss_kib) / 1024.0};
}

double seconds_since(std::chrono::steady_clock::time_point t)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Runs a command (argv[0] a path) through the launcher to completion, with stdout and stderr in files of
// `dir`; a failure to exit 0 is a broken run.
e2e::process_result run_measured(
    const std::string& what,
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env,
    const fs::path& dir,
    double& wall_seconds,
    process_usage& usage
)
{
    auto usage_file = dir / (what + ".usage");
    auto full = measured_prefix(usage_file);
    full.insert(full.end(), argv.begin(), argv.end());
    auto started = std::chrono::steady_clock::now();
    e2e::child proc(full, env, dir / (what + ".out"), dir / (what + ".err"));
    auto res = proc.wait(std::chrono::hours{2});
    wall_seconds = seconds_since(started);
    if (res.exit_code != 0)
        throw broken(fmt::format(
            "{} failed (exit {}, signal {}):\n{}{}", what, res.exit_code, res.signal, res.out, res.err
        ));
    usage = read_usage(usage_file);
    return res;
}

// The first executable called `name` on PATH.
std::optional<std::string> find_on_path(const std::string& name)
{
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        auto candidate = fs::path(dir.empty() ? "." : dir) / name;
        if (::access(candidate.c_str(), X_OK) == 0)
            return candidate.string();
    }
    return std::nullopt;
}

// utime + stime of a running process, in seconds, from /proc/<pid>/stat (fields 14 and 15, clock ticks).
double proc_cpu_seconds(pid_t pid)
{
    std::ifstream in(fmt::format("/proc/{}/stat", pid));
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = stat.rfind(')');
    if (close == std::string::npos)
        throw broken(fmt::format("cannot read /proc/{}/stat", pid));
    // After "pid (comm)" the fields start at 3 (state); utime is field 14, stime 15.
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int n = 3; n <= 15 && fields >> field; ++n) {
        if (n == 14)
            utime = std::stoull(field);
        if (n == 15)
            stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// What the threads of a running process have done so far, finer than /proc/<pid>/stat's clock ticks:
// on-CPU time from each thread's schedstat (nanoseconds) and its context switches, one per wakeup of a
// sleeping thread (voluntary) or preemption (nonvoluntary). A daemon without polling loops has none while
// idle.
struct thread_totals {
    double on_cpu_seconds = 0;
    std::uint64_t context_switches = 0;
};

thread_totals proc_thread_totals(pid_t pid)
{
    thread_totals out;
    for (const auto& task : fs::directory_iterator(fmt::format("/proc/{}/task", pid))) {
        std::ifstream schedstat(task.path() / "schedstat");
        std::uint64_t ns = 0;
        if (schedstat >> ns)
            out.on_cpu_seconds += static_cast<double>(ns) / 1e9;
        std::ifstream status(task.path() / "status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.starts_with("voluntary_ctxt_switches:") ||
                line.starts_with("nonvoluntary_ctxt_switches:"))
                out.context_switches += std::stoull(line.substr(line.find(':') + 1));
        }
    }
    return out;
}

// Writes every dirty page to disk before a measurement, so that none is charged for the writeback of what
// came before it (the 2.3 GB rows file and database of a 1M run, deleted or not).
void settle_disk()
{
    ::sync();
}

measurement measure_ceiling(e2e::fixture& fx, std::size_t live)
{
    auto rows = fx.dir() / "ceiling-rows.jsonl";
    auto db = fx.dir() / "ceiling" / "ceiling.db";
    auto written = ditio_sync::bench::write_ceiling_rows(fx.server(), rows);
    if (written != live)
        throw broken(fmt::format("the rows file holds {} records, the server {}", written, live));
    settle_disk();
    double wall = 0;
    process_usage usage;
    auto res = run_measured(
        "ceiling", {self_path(), ceiling_mode, rows.string(), db.string()}, {}, fx.dir(), wall, usage
    );
    // The child's own timing of the upsert loop, without loading and parsing the rows file.
    std::istringstream out(res.out);
    ditio_sync::bench::ceiling_timing timing;
    if (!(out >> timing.rows >> timing.wall_seconds >> timing.cpu_seconds) || timing.rows != live)
        throw broken("the ceiling loop reported: " + res.out);
    fs::remove(rows);
    fs::remove_all(db.parent_path());
    return {
        .records = timing.rows,
        .wall_seconds = timing.wall_seconds,
        .cpu_seconds = timing.cpu_seconds,
        .peak_rss_mb = usage.peak_rss_mb,
    };
}

measurement measure_ditio_sync(e2e::fixture& fx, std::size_t live)
{
    auto usage_file = fx.dir() / "sync.usage";
    settle_disk();
    fx.set_command_prefix(measured_prefix(usage_file));
    auto started = std::chrono::steady_clock::now();
    auto res = fx.run({"--log-level", "warning", "sync"}, {}, std::chrono::hours{2});
    auto wall = seconds_since(started);
    fx.set_command_prefix({});
    if (res.exit_code != 0)
        throw broken(fmt::format("ditio-sync sync failed (exit {}):\n{}", res.exit_code, res.err));
    auto diffs = e2e::compare_with_server(fx.server(), fx.db());
    if (!diffs.empty())
        throw broken(fmt::format(
            "the mirror differs from the server in {} rows, first: {}", diffs.size(), diffs.front()
        ));
    auto usage = read_usage(usage_file);
    return {
        .records = live,
        .wall_seconds = wall,
        .cpu_seconds = usage.cpu_seconds,
        .peak_rss_mb = usage.peak_rss_mb,
    };
}

// The window ditio-sync's full sync sent (its first data request), so the Python loop asks the same.
std::pair<std::string, std::string> full_sync_window(const ditio_sync::testing::fake_ditio& server)
{
    for (const auto& r : server.requests()) {
        if (r.method != "GET" || !r.path.ends_with("/v1/time-registrations"))
            continue;
        auto from = r.query.find("fromdatetime");
        auto to = r.query.find("todatetime");
        if (from != r.query.end() && to != r.query.end())
            return {from->second, to->second};
    }
    throw broken("the fake server saw no full-sync request with FromDateTime and ToDateTime");
}

measurement measure_quickstart(e2e::fixture& fx, const options& opt, std::size_t live)
{
    auto python = find_on_path("python3");
    if (!python)
        throw broken("python3 is not on PATH (or run with --skip-python)");
    auto [from, to] = full_sync_window(fx.server());
    auto db = fx.dir() / "quickstart.db";
    auto base = fx.server().base_url();
    settle_disk();
    double wall = 0;
    process_usage usage;
    run_measured(
        "quickstart",
        {*python,
         DITIO_BENCH_QUICKSTART,
         "--identity-base",
         base,
         "--reporting-base",
         base + "/reporting",
         "--client-id",
         ditio_sync::testing::fake_options{}.client_id,
         "--ca",
         fx.pki().ca_cert.string(),
         "--db",
         db.string(),
         "--from",
         from,
         "--to",
         to,
         "--chunk-limit",
         std::to_string(opt.chunk_limit)},
        {{"DITIO_CLIENT_SECRET", fx.secret()}},
        fx.dir(),
        wall,
        usage
    );
    auto rows = e2e::query_int(db, "SELECT count(*) FROM time_registrations");
    if (rows != static_cast<std::int64_t>(live))
        throw broken(fmt::format("the quickstart loop stored {} rows, the server has {}", rows, live));
    for (const auto* suffix : {"", "-wal", "-shm"})
        fs::remove(db.string() + suffix);
    return {
        .records = live,
        .wall_seconds = wall,
        .cpu_seconds = usage.cpu_seconds,
        .peak_rss_mb = usage.peak_rss_mb,
    };
}

struct steady_state {
    std::map<std::string, std::size_t> data_requests; // per stream path, in the second pass
    std::uint64_t token_requests = 0;                 // in the second pass
    double idle_cpu_seconds = 0;                      // utime + stime from /proc/<pid>/stat
    double idle_on_cpu_seconds = 0;                   // from the threads' schedstat
    std::uint64_t idle_wakeups = 0;                   // the threads' context switches
    int idle_seconds = 0;
};

void stop_daemon(e2e::child& daemon)
{
    daemon.kill(SIGTERM);
    auto res = daemon.wait(std::chrono::minutes{2});
    if (res.exit_code != 0)
        throw broken(fmt::format("ditio-sync run did not stop cleanly (exit {}):\n{}", res.exit_code, res.err)
        );
}

// Two passes of the daemon on the mirror `sync` made: the requests of the second (no changes since the
// first), then, from a daemon started with a long interval, its CPU time over an idle period.
steady_state measure_steady_state(e2e::fixture& fx, const options& opt)
{
    steady_state out;
    out.idle_seconds = opt.idle_seconds;
    {
        fx.set_setting("sync.interval", "\"5s\"");
        auto daemon = fx.start({"run"});
        if (!e2e::wait_for_event(daemon, "sync.summary", 1, std::chrono::minutes{30}))
            throw broken("the daemon's first pass did not end:\n" + daemon.err_so_far());
        // The next pass is at least seconds away: nothing runs while the counters are reset.
        fx.server().clear_requests();
        auto tokens_before = fx.server().stats().token_requests;
        if (!e2e::wait_for_event(daemon, "sync.summary", 2, std::chrono::minutes{30}))
            throw broken("the daemon's second pass did not end:\n" + daemon.err_so_far());
        out.token_requests = fx.server().stats().token_requests - tokens_before;
        for (const auto& r : fx.server().requests())
            if (r.method == "GET" && r.path.find("/v1/") != std::string::npos)
                ++out.data_requests[r.path];
        stop_daemon(daemon);
    }
    {
        fx.set_setting("sync.interval", "\"1h\"");
        auto daemon = fx.start({"run"});
        if (!e2e::wait_for_event(daemon, "sync.summary", 1, std::chrono::minutes{30}))
            throw broken("the idle daemon's first pass did not end:\n" + daemon.err_so_far());
        auto before = proc_cpu_seconds(daemon.pid());
        auto threads_before = proc_thread_totals(daemon.pid());
        std::this_thread::sleep_for(std::chrono::seconds{opt.idle_seconds});
        auto after = proc_cpu_seconds(daemon.pid());
        auto threads_after = proc_thread_totals(daemon.pid());
        if (daemon.exited())
            throw broken("the daemon exited while idle:\n" + daemon.err_so_far());
        if (e2e::lines_with_event(daemon.err_so_far(), "sync.summary").size() != 1)
            throw broken("the daemon ran a pass during the idle period; it was not idle");
        out.idle_cpu_seconds = after - before;
        out.idle_on_cpu_seconds = threads_after.on_cpu_seconds - threads_before.on_cpu_seconds;
        out.idle_wakeups = threads_after.context_switches - threads_before.context_switches;
        stop_daemon(daemon);
    }
    return out;
}

const char* verdict(bool pass)
{
    return pass ? "PASS" : "FAIL";
}

void print_report(
    const options& opt,
    std::size_t live,
    const measurement& ceiling,
    const std::optional<measurement>& quickstart,
    const measurement& sync,
    const steady_state& steady
)
{
    fmt::print(
        "ditio-bench: {} time registrations from the fake Ditio over TLS on loopback, ChunkLimit {}\n"
        "(the fake server runs inside ditio-bench and shares the machine's {} cores with what is "
        "measured)\n\n",
        live,
        opt.chunk_limit,
        std::thread::hardware_concurrency()
    );
    fmt::print(
        "{:<22} {:>10} {:>9} {:>10} {:>14} {:>12}\n",
        "",
        "records/s",
        "wall s",
        "CPU s",
        "CPU us/record",
        "peak RSS MB"
    );
    auto row = [](const char* name, const measurement& m) {
        fmt::print(
            "{:<22} {:>10.0f} {:>9.2f} {:>10.2f} {:>14.1f} {:>12.1f}\n",
            name,
            m.records_per_second(),
            m.wall_seconds,
            m.cpu_seconds,
            m.cpu_us_per_record(),
            m.peak_rss_mb
        );
    };
    row("SQLite upsert ceiling", ceiling);
    if (quickstart)
        row("quickstart (Python)", *quickstart);
    else
        fmt::print("{:<22} skipped (--skip-python)\n", "quickstart (Python)");
    row("ditio-sync sync", sync);
    fmt::print(
        "(ceiling: upserts and commits only, {} rows per transaction, timed inside its process; its peak\n"
        " RSS is the whole process's, loading included. The others: start to exit. Peak RSS and the others'\n"
        " CPU: wait4 through the launcher.)\n\n",
        ditio_sync::bench::ceiling_batch
    );

    fmt::print("targets (issue 7)\n");
    auto target = [](std::string_view what,
                     const std::string& value,
                     std::string_view goal,
                     std::optional<bool> pass,
                     const std::string& note) {
        fmt::print(
            "  {:<44} {:>10}  {:<16} {:<4}{}\n",
            what,
            value,
            goal,
            pass ? verdict(*pass) : "SKIP",
            note.empty() ? "" : "  (" + note + ")"
        );
    };
    double throughput = sync.records_per_second() / ceiling.records_per_second();
    target(
        "throughput: ditio-sync / ceiling", fmt::format("{:.2f}", throughput), ">= 0.8", throughput >= 0.8, ""
    );
    if (quickstart) {
        double cpu = quickstart->cpu_us_per_record() / sync.cpu_us_per_record();
        target("CPU per record: quickstart / ditio-sync", fmt::format("{:.1f}", cpu), ">= 10", cpu >= 10, "");
    } else {
        target("CPU per record: quickstart / ditio-sync", "skipped", ">= 10", std::nullopt, "");
    }
    target(
        "memory: ditio-sync peak RSS",
        fmt::format("{:.1f} MB", sync.peak_rss_mb),
        "<= 64 MB",
        sync.peak_rss_mb <= 64,
        ""
    );
    std::size_t most = 0;
    bool one_each = !steady.data_requests.empty();
    std::string per_stream;
    for (const auto& [path, n] : steady.data_requests) {
        most = std::max(most, n);
        one_each = one_each && n == 1;
        per_stream += fmt::format("{}{}: {}", per_stream.empty() ? "" : ", ", path, n);
    }
    target(
        "incremental pass: data requests per stream",
        std::to_string(most),
        "1",
        one_each,
        per_stream.empty() ? "none" : per_stream
    );
    target(
        "incremental pass: token requests",
        std::to_string(steady.token_requests),
        "0",
        steady.token_requests == 0,
        ""
    );
    // /proc/<pid>/stat counts whole clock ticks: "no CPU" is less than one tick per minute. The wakeups say
    // whether anything runs at all (a polling loop), however cheap.
    auto per_minute = [&](double v) { return v * 60.0 / steady.idle_seconds; };
    double tick = 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
    target(
        "idle daemon: CPU seconds per minute",
        fmt::format("{:.2f}", per_minute(steady.idle_cpu_seconds)),
        fmt::format("< {:.2f} (1 tick)", tick),
        per_minute(steady.idle_cpu_seconds) < tick,
        fmt::format(
            "{:.2f} s over {} s; {:.1f} ms on CPU by schedstat",
            steady.idle_cpu_seconds,
            steady.idle_seconds,
            steady.idle_on_cpu_seconds * 1e3
        )
    );
    target(
        "idle daemon: wakeups per minute",
        fmt::format("{:.0f}", per_minute(static_cast<double>(steady.idle_wakeups))),
        "0",
        steady.idle_wakeups == 0,
        fmt::format("context switches of all threads over {} s", steady.idle_seconds)
    );
}

int run_benchmark(const options& opt)
{
    e2e::fixture_options o;
    o.records = opt.records;
    o.chunk_limit = opt.chunk_limit;
    e2e::fixture fx(o);
    auto live = fx.server().live_count();

    auto ceiling = measure_ceiling(fx, live);
    auto sync = measure_ditio_sync(fx, live);
    std::optional<measurement> quickstart;
    if (!opt.skip_python)
        quickstart = measure_quickstart(fx, opt, live);
    auto steady = measure_steady_state(fx, opt);
    print_report(opt, live, ceiling, quickstart, sync, steady);
    return 0;
}

int ceiling_child(int argc, char** argv)
{
    if (argc != 4) {
        std::cerr << "usage: ditio-bench " << ceiling_mode << " ROWS_FILE DATABASE\n";
        return 2;
    }
    auto timing = ditio_sync::bench::run_ceiling(argv[2], argv[3]);
    fmt::print("{} {:.6f} {:.6f}\n", timing.rows, timing.wall_seconds, timing.cpu_seconds);
    return 0;
}

// ditio-bench --measure-child USAGE_FILE COMMAND [ARGS...]: see measured_prefix.
int launcher(int argc, char** argv)
{
    if (argc < 4) {
        std::cerr << "usage: ditio-bench " << launcher_mode << " USAGE_FILE COMMAND [ARGS...]\n";
        return 2;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("ditio-bench: fork");
        return 1;
    }
    if (pid == 0) {
        // The command dies with the launcher (a benchmark killed on timeout leaves nothing behind).
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::execv(argv[3], argv + 3);
        std::perror("ditio-bench: exec");
        ::_exit(127);
    }
    int status = 0;
    rusage usage{};
    while (::wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            std::perror("ditio-bench: wait4");
            return 1;
        }
    }
    auto cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
               static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    std::ofstream(argv[2], std::ios::trunc) << fmt::format("{:.6f} {}\n", cpu, usage.ru_maxrss);
    if (WIFSIGNALED(status)) {
        ::signal(WTERMSIG(status), SIG_DFL);
        ::raise(WTERMSIG(status));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

void usage()
{
    std::cerr << "usage: ditio-bench [--records N] [--chunk-limit N] [--idle-seconds S] [--skip-python]\n";
}

} // namespace

int main(int argc, char** argv)
{
    try {
        if (argc > 1 && std::string_view(argv[1]) == ceiling_mode)
            return ceiling_child(argc, argv);
        if (argc > 1 && std::string_view(argv[1]) == launcher_mode)
            return launcher(argc, argv);
        options opt;
        for (int i = 1; i < argc; ++i) {
            std::string a = argv[i];
            bool has_value = i + 1 < argc;
            if (a == "--skip-python") {
                opt.skip_python = true;
            } else if (a == "--records" && has_value) {
                opt.records = std::stoul(argv[++i]);
            } else if (a == "--chunk-limit" && has_value) {
                opt.chunk_limit = std::stoi(argv[++i]);
            } else if (a == "--idle-seconds" && has_value) {
                opt.idle_seconds = std::stoi(argv[++i]);
            } else {
                usage();
                return 2;
            }
        }
        if (opt.records == 0 || opt.chunk_limit <= 0 || opt.idle_seconds <= 0) {
            usage();
            return 2;
        }
        return run_benchmark(opt);
    } catch (const std::exception& e) {
        std::cerr << "ditio-bench: " << e.what() << "\n";
        return 1;
    }
}
