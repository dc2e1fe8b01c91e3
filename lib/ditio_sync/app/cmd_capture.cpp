// `capture [streams] [--pages N] [--chunk-limit N] [--full] --out FILE`: a short sync of the named (default:
// all enabled) streams into a scratch database, every exchange recorded into FILE for support (capture.hpp).
// The mirror is only read (each stream's watermark, so the requests are the ones the next sync would send)
// and never written; no instance lock is taken, so it runs beside the daemon.
#include <ditio_sync/app/capture.hpp>
#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/runtime.hpp>
#include <ditio_sync/app/setup.hpp>
#include <ditio_sync/store/database.hpp>
#include <ditio_sync/store/migrations.hpp>
#include <ditio_sync/store/sync_state.hpp>
#include <ditio_sync/util/clock.hpp>
#include <ditio_sync/util/time.hpp>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <system_error>

namespace ditio_sync::app {

namespace fs = std::filesystem;

namespace {

// A private directory for the scratch database, removed with everything in it.
class scratch_dir {
public:
    scratch_dir()
    {
        auto pattern = (fs::temp_directory_path() / "ditio-sync-capture-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr)
            throw usage_error(
                fmt::format("cannot create a scratch directory in {}: {}", pattern, std::strerror(errno))
            );
        path_ = pattern;
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    ~scratch_dir()
    {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

// Where each stream stands in the mirror, when there is one with the current schema; nothing otherwise (the
// capture then records a full sync's first pages).
std::vector<store::stream_state> mirror_states(const config::config& cfg)
{
    std::error_code ec;
    if (!fs::exists(cfg.storage.path, ec))
        return {};
    auto db = store::open_database(cfg.storage.path, cfg.storage.busy_timeout, store::open_mode::read_only);
    if (store::schema_version(db) != store::latest_schema_version())
        return {};
    return store::sync_store(db).load_all();
}

// Written beside the target and renamed over it, readable by its owner alone: it holds company data.
void write_private(const fs::path& path, const std::string& text)
{
    auto tmp = path;
    tmp += ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        throw usage_error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
    std::size_t done = 0;
    while (done < text.size()) {
        auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            auto why = std::strerror(errno);
            ::close(fd);
            ::unlink(tmp.c_str());
            throw usage_error(fmt::format("cannot write {}: {}", tmp.string(), why));
        }
        done += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
        auto why = std::strerror(errno);
        ::unlink(tmp.c_str());
        throw usage_error(fmt::format("cannot write {}: {}", path.string(), why));
    }
}

} // namespace

int cmd_capture(const options& opt, std::ostream& out)
{
    if (opt.capture_out.empty())
        throw usage_error("capture needs --out FILE");
    if (opt.capture_pages < 1 || opt.capture_chunk_limit < 1)
        throw usage_error("capture: --pages and --chunk-limit must be at least 1");
    auto cfg = load_config(opt, config::need_credentials::yes);
    auto names = opt.sync_streams.empty() ? cfg.sync.streams : opt.sync_streams;
    auto streams = settings_for(cfg, resolve_streams(names));
    for (auto& s : streams)
        s.chunk_limit = opt.capture_chunk_limit;
    auto secret = preflight(cfg, opt);
    auto states = opt.sync_full ? std::vector<store::stream_state>{} : mirror_states(cfg);

    util::real_clock clock;
    scratch_dir dir;
    auto scratch = cfg;
    scratch.storage.path = (dir.path() / "capture.db").string();
    auto db = open_and_migrate(scratch);
    {
        auto now = util::format_iso8601_ms(util::now_micros(clock));
        store::sync_store s(db);
        for (const auto& st : states)
            if (st.watermark)
                s.start_from(st, now);
    }

    capture_header header{
        .captured_at = util::format_iso8601_s(util::now_micros(clock)),
        .identity_base = cfg.ditio.identity_base,
        .reporting_base = cfg.ditio.reporting_base,
        .api_base = cfg.ditio.api_base,
        .streams = {},
        .pages = opt.capture_pages,
        .chunk_limit = opt.capture_chunk_limit,
        .mode = opt.sync_full ? "full" : "as the next sync",
    };
    for (const auto& s : streams)
        header.streams.emplace_back(s.def->name);
    capture_recorder recorder(std::move(header));

    runtime rt(scratch, std::move(secret), std::move(db));
    rt.http.on_exchange([&](const auto& req, const auto& res, auto elapsed) {
        recorder.record(req, res, elapsed);
    });
    auto settings = engine_settings_for(cfg);
    settings.max_pages = opt.capture_pages;
    rt.engine.set_settings(settings);
    auto kind = opt.sync_full ? sync::run_kind::full : sync::run_kind::automatic;
    auto outcomes = rt.run_to_end([&]() -> boost::asio::awaitable<std::vector<std::string>> {
        std::vector<std::string> lines;
        for (const auto& s : streams) {
            if (rt.stop.stop_requested())
                break;
            auto report = co_await rt.engine.run(s, kind);
            lines.push_back(fmt::format(
                "  {}: {} ({} page{})",
                s.def->name,
                report.status == sync::run_status::cancelled ? "page limit reached"
                                                             : to_string(report.status),
                report.pages,
                report.pages == 1 ? "" : "s"
            ));
        }
        co_return lines;
    }());

    auto text = boost::json::serialize(recorder.document());
    write_private(opt.capture_out, text + "\n");
    out << fmt::format(
        "captured {} exchange{} into {} ({} KB); secrets and access tokens are removed, but it holds your "
        "Ditio records: share it as you would the mirror\n",
        recorder.exchanges(),
        recorder.exchanges() == 1 ? "" : "s",
        opt.capture_out,
        (text.size() + 1023) / 1024
    );
    for (const auto& line : outcomes)
        out << line << '\n';
    return exit_code::ok;
}

} // namespace ditio_sync::app
