#!/usr/bin/env bash
# Tests scripts/lib/stages.sh, the stage runner of scripts/test.sh, with stand-in stages: a failure does
# not stop the stages after it, a command failing inside a stage fails it, skipped stages are listed,
# the summary has one line per stage in order, and the exit status says whether any stage failed.
# Usage: check-stages.sh SOURCE_DIR
set -euo pipefail
lib="$1/scripts/lib/stages.sh"
[ -f "$lib" ] || { echo "FAIL: $lib missing" >&2; exit 1; }

failures=0
check() {
    local what=$1
    shift
    if ! "$@"; then
        echo "FAIL: $what" >&2
        failures=$((failures + 1))
    fi
}
has_line() { grep -Eq "$1" <<<"$out"; }
lacks_line() { ! grep -Eq "$1" <<<"$out"; }

# scripts/test.sh's shape: no `set -e` in the runner, stages as plain commands.
rc=0
out=$(bash -c '
set -uo pipefail
. "$1"
fails_then_goes_on() { false; echo "after the failure"; }
exits_3() { exit 3; }
stage one true
stage two fails_then_goes_on
stage three echo "three ran"
if stage_passed two; then stage four true; else stage_skip four "two failed"; fi
stage five exits_3
stage six echo "six ran"
stage_summary
' _ "$lib" 2>&1) || rc=$?
echo "$out"
check "exit status $rc with failed stages, not 1" [ "$rc" -eq 1 ]
check "a stage after a failed one did not run" has_line '^three ran$'
check "the last stage did not run after exit 3" has_line '^six ran$'
check "a stage went on after a failing command" lacks_line '^after the failure$'
check "no ok line for stage one" has_line '^   one +ok +[0-9]+ s$'
check "no FAILED (exit 1) line for stage two" has_line '^   two +FAILED \(exit 1\) +[0-9]+ s$'
check "no skipped line for stage four" has_line '^   four +skipped \(two failed\)$'
check "no FAILED (exit 3) line for stage five" has_line '^   five +FAILED \(exit 3\) +[0-9]+ s$'
check "no verdict line with 2 failed" has_line '^== FAILED: 2 of 6 stages \(1 skipped\)$'
order=$(sed -n 's/^   \([a-z]*\) .*/\1/p' <<<"$out" | paste -sd' ')
check "summary order is '$order'" [ "$order" = "one two three four five six" ]

rc=0
out=$(bash -c '
set -uo pipefail
. "$1"
stage build true
if stage_passed build; then stage tests true; else stage_skip tests "build failed"; fi
if stage_passed nonexistent; then echo "unknown stage passed"; fi
stage_skip fuzz "FUZZ_SECONDS=0"
stage_summary
' _ "$lib" 2>&1) || rc=$?
echo "$out"
check "exit status $rc when no stage failed, not 0" [ "$rc" -eq 0 ]
check "a stage that never ran counts as passed" lacks_line '^unknown stage passed$'
check "no ok line for the stage after a passed build" has_line '^   tests +ok +[0-9]+ s$'
check "no ok verdict" has_line '^== ok: no stage failed \(1 skipped\)$'

[ "$failures" -eq 0 ] || { echo "FAIL: $failures check(s) failed" >&2; exit 1; }
echo "ok: the stage runner runs every stage and sums them up"
