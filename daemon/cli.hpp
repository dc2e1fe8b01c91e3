// The command line of the ditio-sync binary.
#pragma once

namespace ditio_sync::app {

// Parses the command line, runs the command it names and returns the process's exit code.
int run(int argc, char** argv);

} // namespace ditio_sync::app
