#!/usr/bin/env bash
# systemd-analyze security --offline on packaging/ditio-sync.service: the overall exposure must be at
# most MAX (systemd rates up to 2.0 "OK"), and the unit must parse without warnings.
# Usage: check-unit-security.sh UNIT MAX
set -euo pipefail
unit=$1 max=$2

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (install the systemd package)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$unit" "$tmp/ditio-sync.service"

rc=0
out=$(cd "$tmp" && systemd-analyze security --offline=true --no-pager ./ditio-sync.service 2>&1) || rc=$?
[ "$rc" -eq 0 ] || { printf '%s\n' "$out" >&2; fail "systemd-analyze security: exit status $rc"; }
if warnings=$(grep -E 'ditio-sync\.service(\.d/[^:]*)?:[0-9]+:' <<<"$out"); then
    printf '%s\n' "$warnings" >&2
    fail "the unit does not parse cleanly"
fi
level=$(sed -n 's/.*Overall exposure level for ditio-sync\.service: \([0-9][0-9.]*\).*/\1/p' <<<"$out")
[ -n "$level" ] || { printf '%s\n' "$out" >&2; fail "no overall exposure level in the output above"; }
if ! awk -v l="$level" -v m="$max" 'BEGIN { exit !(l + 0 <= m + 0) }'; then
    grep -F '✗' <<<"$out" >&2 || true
    fail "exposure level $level is above $max; the settings that cost are listed above"
fi
echo "ok: exposure level $level (at most $max)"
grep -F '✗' <<<"$out" || true
