#!/usr/bin/env bash
# Quick start (a): install what is missing, build, start the bundled fake Ditio server on loopback, mirror
# every Data Extraction stream with `ditio-sync sync`, and show what was mirrored and how to query it.
# The demo's files (config, database, logs) stay in build/demo for you to look at. Setting up shows one
# line per step; the output of the steps is in build/demo/setup.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/release"
demo="$root/build/demo"

rm -rf "$demo"
mkdir -p "$demo"
chmod 700 "$demo"
setup_log="$demo/setup.log"

# step TITLE COMMAND [ARG...]: runs a setup step with its output in setup.log and one line on screen; on
# failure shows the end of that output and stops the demo.
step() {
    local title=$1 rc=0
    shift
    printf '== %s... ' "$title"
    echo "== $title" >>"$setup_log"
    "$@" >>"$setup_log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "FAILED (exit $rc)"
        echo "demo: the last lines of its output (all of it in $setup_log):" >&2
        tail -n 30 "$setup_log" >&2
        exit 1
    fi
    echo ok
}

build_demo() {
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
        cmake --build "$build" -j"$(nproc)" --target ditio-sync ditio-fake
}

step "installing missing Debian packages (packaging/install-deps.sh)" "$root/packaging/install-deps.sh"
step "building ditio-sync and the fake Ditio (a few minutes on 2 cores)" build_demo

# The fake's arguments, also shown at the end for starting it again by hand (with the port it had).
fake=("$build/tests/support/ditio-fake" --pki-dir "$demo/pki" --records 5000 --stream-records 400 --seed 7)
"${fake[@]}" --port-file "$demo/port" 2>"$demo/fake-ditio.log" &
fake_pid=$!
stop_fake() {
    kill "$fake_pid" 2>/dev/null || true
    wait "$fake_pid" 2>/dev/null || true
}
trap stop_fake EXIT

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

echo "== ditio-sync sync (fake Ditio on https://127.0.0.1:$port, every stream, logs in build/demo/sync.log)"
"$build/ditio-sync" --config "$demo/ditio-sync.toml" --log-format json sync 2>"$demo/sync.log"
grep -c '"event":"sync.page_committed"' "$demo/sync.log" | xargs printf '   %s pages committed\n'

# Runs a query against the mirror, showing it first.
show() {
    echo
    echo "== $1"
    printf '   %s\n' "${2//$'\n'/$'\n'   }"
    sqlite3 -header -column "$demo/ditio.db" "$2"
}

show "What was mirrored (ditio-sync status --json has all of it)" \
"SELECT r.stream, r.rows_upserted AS rows, r.pages, f.complete_through
FROM sync_runs AS r JOIN v_sync_freshness AS f USING (stream)
ORDER BY r.id;"

show "Hours per employee per week, the last two weeks" \
"SELECT printf('%d-W%02d', iso_year, iso_week) AS week, employee_number, user_name,
       round(sum(hours), 2) AS hours, round(sum(machine_hours), 2) AS machine_hours
FROM v_hours_per_employee_day
WHERE work_date BETWEEN date('now', '-13 days') AND date('now')
GROUP BY week, user_id ORDER BY week DESC, hours DESC LIMIT 8;"

show "Hours per project" \
"SELECT project_number, project_name, round(hours, 1) AS hours, round(unapproved_hours, 1) AS unapproved,
       round(machine_hours, 1) AS machine_hours, employees
FROM v_hours_per_project ORDER BY hours DESC LIMIT 5;"

show "Unapproved hours, oldest first" \
"SELECT work_date, user_name, project_number, task_name, qty FROM v_unapproved_hours
WHERE is_person = 1 ORDER BY work_date, user_name LIMIT 5;"

show "Absences per employee" \
"SELECT employee_number, user_name, absence_type_name, days, round(hours, 1) AS hours
FROM v_absences_per_employee ORDER BY days DESC, user_name LIMIT 5;"

echo
echo "== ditio-sync push: the quickstart's project and work order, through the outbox (logs in build/demo/push.log)"
company=5f0c3a9e1d2b4c6a8e0f1a2b # the fake's company
"$build/ditio-sync" --config "$demo/ditio-sync.toml" --log-format json \
    push project --number P-1001 --name "Prosjekt Fjellhall" --company "$company" 2>"$demo/push.log" | sed 's/^/   /'
"$build/ditio-sync" --config "$demo/ditio-sync.toml" --log-format json \
    push work-order --project-number P-1001 --external-id WO-001 --name "Graving byggegrop" --company "$company" \
    2>>"$demo/push.log" | sed 's/^/   /'
"$build/ditio-sync" --config "$demo/ditio-sync.toml" --log-format json \
    sync project project/work-breakdown-structure 2>>"$demo/sync.log"

show "The outbox, and the pushed work order as the mirror now has it" \
"SELECT 'project' AS outbox, project_number, '' AS external_id, status, ditio_id, attempts FROM outbox_projects
UNION ALL
SELECT 'work order', project_number, external_id, status, ditio_id, attempts FROM outbox_work_orders;
SELECT p.number AS project_number, p.name AS project, w.number AS wbs_number, w.name AS work_order
FROM v_work_orders AS w JOIN v_projects AS p ON p.id = w.project_id WHERE p.number = 'P-1001';"

stop_fake
trap - EXIT
# Commands as they can be typed where the demo was started: paths relative to it, quoted where needed.
command_line() {
    local a
    for a in "$@"; do
        [[ "$a" != /* ]] || a=$(realpath --relative-to=. "$a")
        printf ' %q' "$a"
    done
}
echo
echo "== The fake Ditio server has been stopped, so ditio-sync with build/demo's config (check, sync)"
echo "   now fails to connect. To explore further, start the fake again on its port (Ctrl-C stops it):"
echo "  $(command_line "${fake[@]}" --port "$port")"
echo "   and in another terminal, for example:"
echo "  $(command_line "$build/ditio-sync" --config "$demo/ditio-sync.toml" check)"
