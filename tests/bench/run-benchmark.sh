#!/usr/bin/env bash
# Issue 7's benchmark as the README quotes it: builds ditio-sync and ditio-bench in Release (build/release,
# or $BUILD_DIR), then runs ditio-bench at 200,000 and at 1,000,000 time registrations, ChunkLimit 10000.
# Further arguments go to both runs (e.g. --idle-seconds 10, --skip-python). Needs python3 with requests
# (Debian: python3-requests) for the quickstart loop.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-$root/build/release}"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target ditio-bench ditio-sync

for records in 200000 1000000; do
    echo "+ ditio-bench --records $records --chunk-limit 10000 $*"
    "$build/tests/ditio-bench" --records "$records" --chunk-limit 10000 "$@"
    echo
done
