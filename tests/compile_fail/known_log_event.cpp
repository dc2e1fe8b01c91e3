// The control for unknown_log_event.cpp: the same call with a listed event builds.
#include <ditio_sync/log/log.hpp>

void log_a_listed_event()
{
    ditio_sync::log::info(ditio_sync::log::get("sync"), "sync.summary");
}
