#!/usr/bin/env bash
# systemd-analyze verify on packaging/ditio-sync.service. verify needs ExecStart's binary to exist, so a
# copy of the unit runs this build's binary instead of /usr/bin/ditio-sync. systemd-analyze exits 0 on
# mere warnings ("Unknown key ..., ignoring"), so any output fails the test too.
# Usage: check-unit-verify.sh UNIT BINARY
set -euo pipefail
unit=$1 binary=$(realpath -m "$2")

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (install the systemd package)"
[ -x "$binary" ] || fail "$binary is not an executable (build the ditio-sync target first)"
grep -q '^ExecStart=/usr/bin/ditio-sync ' "$unit" || fail "$unit: ExecStart does not run /usr/bin/ditio-sync"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#^ExecStart=/usr/bin/ditio-sync #ExecStart=$binary #" "$unit" >"$tmp/ditio-sync.service"

# --man=no: the man page is checked in the package test; it is not installed here.
rc=0
out=$(cd "$tmp" && systemd-analyze verify --man=no --generators=no ./ditio-sync.service 2>&1) || rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
    printf '%s\n' "$out" >&2
    fail "systemd-analyze verify: exit status $rc, output above"
fi
echo "ok: systemd-analyze verify is clean"
