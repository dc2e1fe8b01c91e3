// SIGHUP in `run`: the configuration (and the secret) read again and applied to the running objects.
#pragma once

#include <ditio_sync/app/commands.hpp>
#include <ditio_sync/app/runtime.hpp>
#include <ditio_sync/config/config.hpp>
#include <ditio_sync/ops/metrics.hpp>
#include <ditio_sync/sync/scheduler.hpp>

namespace ditio_sync::app {

// The new configuration replaces `current` when it is valid and its secret readable; otherwise it is
// refused with a log line (app.reload_failed) and `current` stays. Keys the key table marks as needing a
// restart are compared with `startup`, what the long-lived objects were built from, so a later reload
// still names a change that has not taken effect (app.reloaded, needs_restart).
void reload(
    const options& opt,
    const config::config& startup,
    config::config& current,
    sync::scheduler& sched,
    runtime& rt,
    ops::metrics& metrics
);

} // namespace ditio_sync::app
