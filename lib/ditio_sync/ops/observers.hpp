// Observers of the sync engine besides the metrics: several at once (fanout), systemd STATUS= lines, and
// the live progress line of an interactive `sync`.
#pragma once

#include <ditio_sync/ops/notify.hpp>
#include <ditio_sync/sync/observer.hpp>

#include <cstdio>
#include <vector>

namespace ditio_sync::ops {

// Hands the engine's reports to several observers, in order.
struct fanout final : sync::observer {
    std::vector<sync::observer*> targets;
    void run_started(std::string_view stream, sync::run_mode mode) override;
    void page_committed(const sync::page_progress& p) override;
    void run_finished(const sync::run_outcome& r) override;
};

// STATUS= lines for `systemctl status`: what the daemon is doing right now.
struct systemd_status final : sync::observer {
    explicit systemd_status(notifier& n) : notify(n) {}
    notifier& notify;
    void run_started(std::string_view stream, sync::run_mode mode) override;
    void page_committed(const sync::page_progress& p) override;
    void run_finished(const sync::run_outcome& r) override;
};

// One line per stream that rewrites itself as pages commit ("\r\033[K"), for a terminal.
struct terminal_progress final : sync::observer {
    explicit terminal_progress(std::FILE* to = stdout) : out(to) {}
    std::FILE* out;
    // The run's start is in the log already; printing here would share a line with it.
    void run_started(std::string_view, sync::run_mode) override {}
    void page_committed(const sync::page_progress& p) override;
    void run_finished(const sync::run_outcome& r) override;
};

} // namespace ditio_sync::ops
