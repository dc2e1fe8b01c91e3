#!/usr/bin/env bash
# Runs clang-tidy (the checks in .clang-tidy, among them at most 120 lines per function) on every source in
# lib/ and daemon/, with the compile commands of a configured build directory (default build/test, which
# scripts/test.sh configures). Fails on any finding.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${1:-$root/build/test}"
tidy=$(command -v clang-tidy-14 || command -v clang-tidy || true)
if [ -z "$tidy" ]; then
    echo "tidy: clang-tidy not found (packaging/install-deps.sh installs clang-tidy-14)" >&2
    exit 1
fi
if [ ! -f "$build/compile_commands.json" ]; then
    echo "tidy: $build/compile_commands.json is missing; configure with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON" >&2
    exit 1
fi
cd "$root"
# The module include paths fence <ditio_sync/...> includes; a quoted relative one would go round them.
if grep -rn --include='*.cpp' --include='*.hpp' '^#include "' lib; then
    echo "tidy: include the headers of lib/ as <ditio_sync/module/file.hpp>, so the module fences apply" >&2
    exit 1
fi
# GCC's warning flags that clang does not know are not findings.
find lib daemon -name '*.cpp' -print0 | sort -z |
    xargs -0 -n 4 -P "$(nproc)" "$tidy" -p "$build" --quiet --extra-arg=-Wno-unknown-warning-option \
        2> >(grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings' >&2)
echo "tidy: no findings"
