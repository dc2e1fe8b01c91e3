// The composition root: parses the command line, builds config, logger, event loop, database thread,
// clients and scheduler, handles signals, and maps outcomes to exit codes.
#pragma once

namespace ditio_sync::app {

// Exit codes (design.md): 0 ok, 1 a sync failed, 2 usage/configuration, 3 authentication refused,
// 4 database unusable.
enum exit_code : int { ok = 0, sync_failed = 1, usage = 2, auth_refused = 3, database = 4 };

int run(int argc, char** argv);

} // namespace ditio_sync::app
