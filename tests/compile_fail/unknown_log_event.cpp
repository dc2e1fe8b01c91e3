// Must not compile: the event is not in log::events. The ctest "build: ..." expects this build to fail
// naming the reason; log_event_known.cpp, the same with a listed name, must build.
#include <ditio_sync/log/log.hpp>

void log_an_unlisted_event()
{
    ditio_sync::log::info(ditio_sync::log::get("sync"), "sync.no_such_event");
}
