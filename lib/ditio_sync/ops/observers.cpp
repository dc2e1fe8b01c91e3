#include <ditio_sync/ops/observers.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace ditio_sync::ops {

void fanout::run_started(std::string_view stream, sync::run_mode mode)
{
    for (auto* t : targets)
        t->run_started(stream, mode);
}

void fanout::page_committed(const sync::page_progress& p)
{
    for (auto* t : targets)
        t->page_committed(p);
}

void fanout::run_finished(const sync::run_outcome& r)
{
    for (auto* t : targets)
        t->run_finished(r);
}

void systemd_status::run_started(std::string_view stream, sync::run_mode mode)
{
    notify.send(fmt::format("STATUS={}: {} sync started", stream, to_string(mode)));
}

void systemd_status::page_committed(const sync::page_progress& p)
{
    notify.send(fmt::format("STATUS={}: page {}, {} rows", p.stream, p.page, p.run_rows));
}

void systemd_status::run_finished(const sync::run_outcome& r)
{
    notify.send(fmt::format(
        "STATUS=idle; last run: {} {} ({} rows in {:.1f} s)",
        r.stream,
        to_string(r.status),
        r.upserted + r.deleted,
        std::chrono::duration<double>(r.duration).count()
    ));
}

void terminal_progress::page_committed(const sync::page_progress& p)
{
    auto seconds = std::max(std::chrono::duration<double>(p.run_elapsed).count(), 0.001);
    fmt::print(
        out,
        "\r\033[K{}: page {}, {} rows, {:.0f} rows/s",
        p.stream,
        p.page,
        p.run_rows,
        static_cast<double>(p.run_rows) / seconds
    );
    std::fflush(out);
}

void terminal_progress::run_finished(const sync::run_outcome& r)
{
    fmt::print(
        out,
        "\r\033[K{}: {}, {} pages, {} rows upserted, {} deleted, {:.1f} s\n",
        r.stream,
        to_string(r.status),
        r.pages,
        r.upserted,
        r.deleted,
        std::chrono::duration<double>(r.duration).count()
    );
    std::fflush(out);
}

} // namespace ditio_sync::ops
