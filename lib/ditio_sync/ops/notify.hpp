// The systemd notification protocol (sd_notify(3)), spoken directly: one datagram per message on the
// AF_UNIX socket systemd names in $NOTIFY_SOCKET ("@..." is the abstract namespace). The daemon reads
// the environment; this class only sends.
// Thread safety: send() may be called from any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ditio_sync::ops {

class notifier {
public:
    // `socket_path` empty: not under systemd, every send() is a no-op that succeeds.
    explicit notifier(std::string socket_path);
    ~notifier();
    notifier(const notifier&) = delete;
    notifier& operator=(const notifier&) = delete;

    // Sends one message ("READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1", several joined by '\n').
    // False when the datagram could not be sent; `error` then says why.
    bool send(std::string_view message, std::string* error = nullptr);

private:
    std::string path_;
    int fd_ = -1;
};

// The watchdog interval systemd asks for, from the values of $WATCHDOG_USEC and $WATCHDOG_PID (either may
// be absent): nullopt when there is none or it is meant for another process. Pings go at half of it.
std::optional<std::chrono::microseconds> watchdog_interval(
    const std::optional<std::string>& usec, const std::optional<std::string>& pid, long own_pid
);

} // namespace ditio_sync::ops
