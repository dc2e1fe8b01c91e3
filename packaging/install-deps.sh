#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and running the demo of ditio-sync needs
# (clang and its runtime for the libFuzzer targets, clang-tidy for scripts/tidy.sh, tinyproxy for the proxy test, prlimit from util-linux;
# for the packaging tests, dpkg-shlibdeps from dpkg-dev, systemd-analyze and systemd-sysusers from
# systemd, groff from groff-base; python3 with requests for the quickstart loop that ditio-bench runs as
# its baseline, tests/bench/quickstart_loop.py).
# Idempotent: when everything is present it prints nothing and changes nothing.
set -euo pipefail

packages=(
    build-essential cmake pkg-config ca-certificates sqlite3
    libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
    libssl-dev libsqlitecpp-dev libsqlite3-dev libspdlog-dev libfmt-dev
    doctest-dev libtomlplusplus-dev libcli11-dev zlib1g-dev
    clang-14 libclang-rt-14-dev clang-tidy-14
    tinyproxy util-linux
    dpkg-dev systemd groff-base
    python3 python3-requests
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}; run as root (or with sudo)" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
