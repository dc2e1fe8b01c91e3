#include "cli.hpp"

#include <malloc.h>
#include <sqlite3.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>

int main(int argc, char** argv)
{
    // Past a file-size limit (RLIMIT_FSIZE) a write must fail with EFBIG, which SQLite reports and the
    // run turns into a clean database error, instead of the signal killing the process mid-page.
    std::signal(SIGXFSZ, SIG_IGN);
    // A page is one buffer of up to tens of MB. glibc raises its mmap threshold to the size of such a
    // buffer once one is freed, after which pages come from the heap, where fragmentation keeps them
    // resident; a fixed threshold keeps every page in its own mapping, returned to the kernel when freed.
    ::mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    // SQLite's memory statistics take a global mutex on every allocation; nothing here reads them.
    // (Before SQLite is initialised, as here, it cannot fail; if it did, the statistics would stay on.)
    (void)::sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    try {
        return ditio_sync::app::run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ditio-sync: fatal: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "ditio-sync: fatal: unknown exception\n");
    }
    return EXIT_FAILURE;
}
