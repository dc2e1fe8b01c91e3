#include "app.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>

int main(int argc, char** argv)
{
    // Past a file-size limit (RLIMIT_FSIZE) a write must fail with EFBIG, which SQLite reports and the
    // run turns into a clean database error, instead of the signal killing the process mid-page.
    std::signal(SIGXFSZ, SIG_IGN);
    try {
        return ditio_sync::app::run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ditio-sync: fatal: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "ditio-sync: fatal: unknown exception\n");
    }
    return EXIT_FAILURE;
}
