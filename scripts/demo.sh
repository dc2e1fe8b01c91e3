#!/usr/bin/env bash
# Quick start (a): install what is missing, build, start the bundled fake Ditio server on loopback, mirror
# its time registrations with `ditio-sync sync`, and show what was mirrored and how to query it.
# The demo's files (config, database, logs) stay in build/demo for you to look at.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"
demo="$root/build/demo"

"$root/packaging/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target ditio-sync ditio-fake

rm -rf "$demo"
mkdir -p "$demo"
chmod 700 "$demo"

"$build/tests/support/ditio-fake" --pki-dir "$demo/pki" --records 5000 --seed 7 --port-file "$demo/port" \
    2>"$demo/fake-ditio.log" &
fake_pid=$!
trap 'kill "$fake_pid" 2>/dev/null || true; wait "$fake_pid" 2>/dev/null || true' EXIT

for _ in $(seq 1 300); do
    [ -s "$demo/port" ] && break
    kill -0 "$fake_pid" 2>/dev/null || { cat "$demo/fake-ditio.log" >&2; exit 1; }
    sleep 0.1
done
[ -s "$demo/port" ] || { echo "demo: the fake Ditio server did not start" >&2; exit 1; }
port=$(cat "$demo/port")

umask 077
printf 'demo-secret\n' >"$demo/client_secret"
sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$demo|g" "$root/config/demo.toml" >"$demo/ditio-sync.toml"

echo "== ditio-sync sync (fake Ditio on https://127.0.0.1:$port, logs in build/demo/sync.log)"
"$build/ditio-sync" --config "$demo/ditio-sync.toml" --log-format json sync 2>"$demo/sync.log"
grep -c '"event":"sync.page_committed"' "$demo/sync.log" | xargs printf '   %s pages committed\n'
grep '"event":"sync.run_finished"' "$demo/sync.log" | sed 's/^/   /'

echo
echo "== ditio-sync status"
"$build/ditio-sync" --config "$demo/ditio-sync.toml" status

query="SELECT work_date, user_name, project_name, round(sum(qty), 2) AS hours
       FROM v_time_registrations
       GROUP BY work_date, user_name, project_name
       ORDER BY work_date DESC, hours DESC LIMIT 5;"
echo
echo "== sqlite3 build/demo/ditio.db \"$(echo "$query" | tr -s ' \n' ' ')\""
sqlite3 -header -column "$demo/ditio.db" "$query"
echo
echo "== sqlite3 build/demo/ditio.db \"SELECT count(*) AS live_rows, round(sum(qty), 1) AS hours FROM v_time_registrations;\""
sqlite3 -header -column "$demo/ditio.db" "SELECT count(*) AS live_rows, round(sum(qty), 1) AS hours FROM v_time_registrations;"
