#!/usr/bin/env bash
# Quick start (b): install what is missing, build with warnings as errors and AddressSanitizer/UBSan, run
# clang-tidy over the sources (scripts/tidy.sh), every test (unit and end-to-end) with ctest, then each
# libFuzzer target for FUZZ_SECONDS (default 60; 0 skips fuzzing). CI runs exactly this (.ci/run).
# Every stage runs even when one before it failed, except that a failed build skips clang-tidy and ctest
# (they need it; the fuzzers have a build of their own). Ends with one line per stage; exits 1 when any
# stage failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/test"
# shellcheck source=scripts/lib/stages.sh
. "$root/scripts/lib/stages.sh"

configure_and_build() {
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
        -DDITIO_SYNC_WARNINGS_AS_ERRORS=ON \
        -DDITIO_SYNC_SANITIZE_ADDRESS=ON -DDITIO_SYNC_SANITIZE_UNDEFINED=ON \
        -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
    cmake --build "$build" -j"$(nproc)"
}

run_ctest() {
    cd "$build"
    ctest --output-on-failure -j"$(nproc)" --timeout 600
}

stage "install deps" "$root/packaging/install-deps.sh"
stage build configure_and_build
if stage_passed build; then
    stage clang-tidy "$root/scripts/tidy.sh" "$build"
    stage ctest run_ctest
else
    stage_skip clang-tidy "build failed"
    stage_skip ctest "build failed"
fi
if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
    stage fuzz "$root/scripts/fuzz.sh"
else
    stage_skip fuzz "FUZZ_SECONDS=0"
fi
stage_summary
