#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (ASan + UBSan, the library instrumented for coverage) in
# build/fuzz and runs each for a bounded time on a copy of the seed corpus in tests/fuzz/corpus/, so the
# repository is never written to. Exits non-zero when any fuzzer finds a crash, a leak, a timeout or a
# violated invariant; the reproducer is kept in build/fuzz/artifacts/ and its path printed.
#
#   scripts/fuzz.sh                                 each target for 60 s (what CI runs)
#   FUZZ_SECONDS=3600 scripts/fuzz.sh               each target for an hour
#   FUZZ_TARGETS="fuzz_page" FUZZ_SECONDS=600 scripts/fuzz.sh      one target only
#   FUZZ_KEEP_CORPUS=1 scripts/fuzz.sh              keep the grown corpus (path printed) to merge seeds from
#
# One target by hand, after a first run of this script has built it:
#   mkdir -p /tmp/page-corpus
#   build/fuzz/tests/fuzz/fuzz_page -dict=tests/fuzz/page.dict -max_len=65536 /tmp/page-corpus tests/fuzz/corpus/page
#   (new inputs go to the first directory, the others are only read; -jobs=2 runs two processes; the same
#   for fuzz_duration -max_len=64 and fuzz_config -max_len=16384 with corpus/duration and corpus/config)
# Reproduce a crash:  build/fuzz/tests/fuzz/fuzz_page build/fuzz/artifacts/fuzz_page-crash-<sha1>
# Add new seeds:      build/fuzz/tests/fuzz/fuzz_page -merge=1 tests/fuzz/corpus/page /tmp/page-corpus
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/fuzz"
seconds="${FUZZ_SECONDS:-60}"
read -r -a targets <<<"${FUZZ_TARGETS:-fuzz_page fuzz_duration fuzz_config}"
jobs="${FUZZ_BUILD_JOBS:-$(nproc)}"

for tool in clang-14 clang++-14; do
    if ! command -v "$tool" >/dev/null; then
        echo "fuzz: $tool not found; run packaging/install-deps.sh (clang-14 libclang-rt-14-dev)" >&2
        exit 1
    fi
done

# Per target: corpus directory, -max_len, extra libFuzzer flags.
declare -A corpus_of=([fuzz_page]=page [fuzz_duration]=duration [fuzz_config]=config)
declare -A max_len_of=([fuzz_page]=65536 [fuzz_duration]=64 [fuzz_config]=16384)
declare -A extra_of=([fuzz_page]="-dict=$root/tests/fuzz/page.dict" [fuzz_duration]="" [fuzz_config]="")

# The library and the fuzz targets are instrumented alike: coverage (fuzzer-no-link), ASan and UBSan with
# every UB report fatal, and libstdc++ assertions (bounds checks on operator[], front(), ...).
# -fno-sanitize=function: clang 14 cannot compile C++20 coroutines with it ("error: Cannot represent a
# difference across sections", llvm/llvm-project#49689); it only checks calls through mistyped pointers.
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function -fno-sanitize-recover=all"
flags+=" -fno-omit-frame-pointer"
flags+=" -D_GLIBCXX_ASSERTIONS"
start=$(date +%s)
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$flags" \
    -DDITIO_SYNC_BUILD_TESTS=ON -DDITIO_SYNC_BUILD_FUZZERS=ON \
    -DDITIO_SYNC_SANITIZE_ADDRESS=OFF -DDITIO_SYNC_SANITIZE_UNDEFINED=OFF >/dev/null
cmake --build "$build" --target "${targets[@]}" -j"$jobs"
echo "fuzz: built ${targets[*]} in $(($(date +%s) - start)) s"

artifacts="$build/artifacts"
logs="$build/logs"
mkdir -p "$artifacts" "$logs"
work=$(mktemp -d "${TMPDIR:-/tmp}/ditio-fuzz.XXXXXX")
if [ -z "${FUZZ_KEEP_CORPUS:-}" ]; then
    trap 'rm -rf "$work"' EXIT
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

failed=0
summary=()
for t in "${targets[@]}"; do
    name="${corpus_of[$t]:?unknown fuzz target $t}"
    bin="$build/tests/fuzz/$t"
    mkdir -p "$work/$name"
    cp -R "$root/tests/fuzz/corpus/$name/." "$work/$name/"
    marker="$work/$t.started"
    touch "$marker"
    log="$logs/$t.log"
    echo "fuzz: $t for ${seconds}s (corpus $work/$name, log $log)"
    rc=0
    # shellcheck disable=SC2086 # extra_of holds zero or one flag
    "$bin" -max_total_time="$seconds" -max_len="${max_len_of[$t]}" -timeout=25 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/$t-" ${extra_of[$t]} \
        "$work/$name" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    units=$(find "$work/$name" -type f | wc -l)
    found=$(find "$artifacts" -maxdepth 1 -type f -name "$t-*" -newer "$marker" 2>/dev/null || true)
    if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
        failed=1
        summary+=("$t: FAILED (exit $rc) after ${execs:-?} execs")
        echo "fuzz: $t FAILED (exit $rc); last lines of $log:" >&2
        tail -n 40 "$log" >&2
        for f in $found; do
            echo "fuzz: $t reproducer: $f (run: $bin $f)" >&2
        done
    else
        summary+=("$t: ok, ${execs:-?} execs, ${rate:-?} exec/s, corpus $units inputs")
    fi
done

echo "fuzz: summary (${seconds}s per target)"
for line in "${summary[@]}"; do
    echo "  $line"
done
if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    echo "fuzz: grown corpora kept in $work (merge with: <fuzzer> -merge=1 tests/fuzz/corpus/<name> $work/<name>)"
fi
exit "$failed"
