#!/usr/bin/env bash
# The long crash-safety run: SIGKILL ditio-sync at random points many times while the fake Ditio's data
# changes, then compare the mirror with the server. Builds like scripts/test.sh.
#   scripts/crash-test.sh [KILLS [SEED]]      (default 300 kills, seed from the clock)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/test"
kills=${1:-300}
seed=${2:-$(date +%s)}

"$root/packaging/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
    -DDITIO_SYNC_SANITIZE_ADDRESS=ON -DDITIO_SYNC_SANITIZE_UNDEFINED=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target ditio_sync_e2e ditio-sync
echo "crash test: $kills kills, seed $seed"
DITIO_CRASH_KILLS=$kills DITIO_CRASH_SEED=$seed "$build/tests/ditio_sync_e2e" -ts=e2e-crash -s
