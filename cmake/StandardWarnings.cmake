# Warnings for our own code only (-Wnull-dereference is left out: at -O2 it fires inside inlined Asio
# executor code, not ours); -Werror when DITIO_SYNC_WARNINGS_AS_ERRORS is ON (CI), off for packagers.
option(DITIO_SYNC_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)

add_library(ditio_sync_warnings INTERFACE)
target_compile_options(
    ditio_sync_warnings
    INTERFACE -Wall
              -Wextra
              -Wpedantic
              -Wshadow
              -Wnon-virtual-dtor
              -Woverloaded-virtual
              -Wconversion
              -Wno-sign-conversion
              $<$<BOOL:${DITIO_SYNC_WARNINGS_AS_ERRORS}>:-Werror>
)
