#!/usr/bin/env bash
# Quick start (b): install what is missing, build with warnings as errors and AddressSanitizer/UBSan, run
# clang-tidy over the sources (scripts/tidy.sh), every test (unit and end-to-end) with ctest, then each
# libFuzzer target for FUZZ_SECONDS (default 60; 0 skips fuzzing). CI runs exactly this (.ci/run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/test"

"$root/packaging/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
    -DDITIO_SYNC_WARNINGS_AS_ERRORS=ON \
    -DDITIO_SYNC_SANITIZE_ADDRESS=ON -DDITIO_SYNC_SANITIZE_UNDEFINED=ON \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
"$root/scripts/tidy.sh" "$build"
(cd "$build" && ctest --output-on-failure -j"$(nproc)" --timeout 600)

if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
    "$root/scripts/fuzz.sh"
fi
