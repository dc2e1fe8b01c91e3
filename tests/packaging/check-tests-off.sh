#!/usr/bin/env bash
# The README's package build configures with -DDITIO_SYNC_BUILD_TESTS=OFF, so that `cpack` (which builds
# every target of the build directory first) compiles only what ships. This configures such a build in a
# temporary directory (seconds; nothing is compiled) and checks that its targets are the daemon and its
# libraries, without the tests, the fake Ditio server or the benchmark, and that CPack is set up there.
# Usage: check-tests-off.sh SOURCE_DIR
set -euo pipefail
src=$1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DDITIO_SYNC_BUILD_TESTS=OFF \
    >"$tmp/configure.log" 2>&1; then
    cat "$tmp/configure.log" >&2
    echo "FAIL: configuring with -DDITIO_SYNC_BUILD_TESTS=OFF failed (output above)" >&2
    exit 1
fi
targets=$(cmake --build "$tmp/build" --target help | sed -n 's/^\.\.\. \([^ ]*\).*/\1/p' | grep -v '\.[ois]$')

failures=0
for t in ditio-sync ditio-sync-man package; do
    grep -qx "$t" <<<"$targets" || { echo "FAIL: no target $t" >&2; failures=$((failures + 1)); }
done
# Anything built from tests/ (ditio_sync_unit, ditio_sync_e2e, ditio-fake, ditio_fake, ditio-bench, fuzz_*).
if unwanted=$(grep -Ei 'unit|e2e|fake|bench|fuzz|test' <<<"$targets"); then
    echo "FAIL: targets that do not ship: $(paste -sd" " <<<"$unwanted")" >&2
    failures=$((failures + 1))
fi
[ -f "$tmp/build/CPackConfig.cmake" ] || { echo "FAIL: no CPackConfig.cmake" >&2; failures=$((failures + 1)); }

[ "$failures" -eq 0 ] || exit 1
echo "ok: a tests-off build has only what ships: $(paste -sd" " <<<"$targets")"
