# shellcheck shell=bash
# Stage runner for scripts/test.sh, sourced: every stage runs whatever happened to the ones before, and
# the summary at the end gives one line per stage. tests/scripts/check-stages.sh tests it.
# Call `stage` as a plain command (not in `if`, `&&` or `||`), with `set -e` off in the caller.

stage_names=()
stage_results=()
stage_times=()

# stage NAME COMMAND [ARG...]: runs the command (a function too) in a subshell with `set -e`, so any
# failing command in it fails the stage, and records ok or FAILED with the time it took.
stage() {
    local name=$1 start=$SECONDS rc
    shift
    echo "== $name"
    (
        set -e
        "$@"
    )
    rc=$?
    stage_names+=("$name")
    stage_times+=("$((SECONDS - start)) s")
    if [ "$rc" -eq 0 ]; then
        stage_results+=(ok)
    else
        stage_results+=("FAILED (exit $rc)")
        echo "== $name: FAILED (exit $rc)" >&2
    fi
}

# stage_skip NAME REASON: records a stage that did not run.
stage_skip() {
    stage_names+=("$1")
    stage_results+=("skipped ($2)")
    stage_times+=("")
}

# stage_passed NAME: whether the stage ran and succeeded.
stage_passed() {
    local i
    for i in "${!stage_names[@]}"; do
        [ "${stage_names[$i]}" = "$1" ] && [ "${stage_results[$i]}" = ok ] && return 0
    done
    return 1
}

# stage_summary: one line per stage, then the verdict; returns 1 when any stage failed.
stage_summary() {
    local i failed=0 skipped=0
    echo
    echo "== summary"
    for i in "${!stage_names[@]}"; do
        if [ -n "${stage_times[$i]}" ]; then
            printf '   %-14s %-26s %s\n' "${stage_names[$i]}" "${stage_results[$i]}" "${stage_times[$i]}"
        else
            printf '   %-14s %s\n' "${stage_names[$i]}" "${stage_results[$i]}"
        fi
        case "${stage_results[$i]}" in
        FAILED*) failed=$((failed + 1)) ;;
        skipped*) skipped=$((skipped + 1)) ;;
        esac
    done
    if [ "$failed" -ne 0 ]; then
        echo "== FAILED: $failed of ${#stage_names[@]} stages ($skipped skipped)"
        return 1
    fi
    echo "== ok: no stage failed ($skipped skipped)"
}
