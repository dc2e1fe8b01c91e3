#include "app.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>

int main(int argc, char** argv)
{
    try {
        return ditio_sync::app::run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ditio-sync: fatal: %s\n", e.what());
    } catch (...) {
        std::fprintf(stderr, "ditio-sync: fatal: unknown exception\n");
    }
    return EXIT_FAILURE;
}
