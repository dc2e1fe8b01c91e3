#!/usr/bin/env bash
# Builds the Debian package from a build directory's CPack configuration (its ditio-sync binary and the
# install rules of cmake/Packaging.cmake) into a temporary directory, and checks it: the exact file list
# with owners and modes, the control fields, conffiles, the maintainer scripts, the man page, the
# copyright file (Apache-2.0, DEP-5), and that the sysusers.d entry creates the user it should.
# Usage: check-deb.sh BUILD_DIR/CPackConfig.cmake SOURCE_DIR VERSION
set -euo pipefail
cpack_config=$1 src=$2 version=$3

failures=0
fail() { echo "FAIL: $*" >&2; exit 1; }
# A failed check that does not stop the others.
check_failed() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

for tool in cpack dpkg-deb dpkg-shlibdeps groff systemd-sysusers; do
    command -v "$tool" >/dev/null ||
        fail "$tool not found (packaging/install-deps.sh installs cmake, dpkg-dev, groff-base and systemd)"
done
[ -f "$cpack_config" ] || fail "$cpack_config missing (configure the build first)"

tmp=$(mktemp -d)
# cpack's install step writes install_manifest.txt into the build directory: put back what was there.
manifest="$(dirname "$cpack_config")/install_manifest.txt"
[ ! -e "$manifest" ] || cp -p "$manifest" "$tmp/install_manifest.saved"
cleanup() {
    if [ -e "$tmp/install_manifest.saved" ]; then
        cp -p "$tmp/install_manifest.saved" "$manifest"
    else
        rm -f "$manifest"
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# 1. Build the package. CPack runs the build directory's `preinstall` target (with Makefiles: checks that
# every target is up to date, as after `cmake --build`), installs into its own staging directory under
# -B, strips the binary and runs dpkg-shlibdeps. gzip instead of the package's xz: the same contents,
# packed in seconds instead of most of a minute for a Debug build's sanitized binary.
if ! cpack --config "$cpack_config" -G DEB -B "$tmp/out" -D CPACK_DEBIAN_COMPRESSION_TYPE=gzip \
    >"$tmp/cpack.log" 2>&1; then
    cat "$tmp/cpack.log" >&2
    fail "cpack -G DEB failed (output above)"
fi
shopt -s nullglob
debs=("$tmp"/out/*.deb)
[ ${#debs[@]} -eq 1 ] || fail "expected one .deb in $tmp/out, found ${#debs[@]}"
deb=${debs[0]}
arch=$(dpkg --print-architecture)
case "$(basename "$deb")" in
"ditio-sync_${version}-"*"_${arch}.deb") ;;
*) check_failed "file name $(basename "$deb") is not ditio-sync_${version}-<release>_${arch}.deb" ;;
esac
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# 2. Control fields.
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = ditio-sync ] || check_failed "Package is '$(field Package)', not ditio-sync"
[[ "$(field Version)" == "${version}-"* ]] || check_failed "Version '$(field Version)' does not start with $version-"
[ "$(field Architecture)" = "$arch" ] || check_failed "Architecture is '$(field Architecture)', not $arch"
[ -n "$(field Maintainer)" ] || check_failed "no Maintainer"
depends=$(field Depends)
echo "Depends: $depends"
# Libraries the binary links (from dpkg-shlibdeps), the trust store for TLS, and a way to add the user.
for dep in libc6 libstdc++6 libssl3 libsqlite3-0 libboost-json1.81.0 'systemd | adduser' ca-certificates; do
    re=${dep//./\\.}
    re=${re//|/\\|}
    re=${re//+/\\+}
    if ! grep -Eq "(^|, )${re}( \(|,|$)" <<<"$depends"; then
        check_failed "Depends lacks $dep"
    fi
done

# 3. The files, with owners and modes, and nothing else (no test binaries, no ditio-fake).
expected="drwxr-xr-x root/root ./
drwxr-xr-x root/root ./etc/
drwxr-xr-x root/root ./etc/ditio-sync/
-rw-r----- root/root ./etc/ditio-sync/ditio-sync.toml
drwxr-xr-x root/root ./lib/
drwxr-xr-x root/root ./lib/systemd/
drwxr-xr-x root/root ./lib/systemd/system/
-rw-r--r-- root/root ./lib/systemd/system/ditio-sync.service
drwxr-xr-x root/root ./usr/
drwxr-xr-x root/root ./usr/bin/
-rwxr-xr-x root/root ./usr/bin/ditio-sync
drwxr-xr-x root/root ./usr/lib/
drwxr-xr-x root/root ./usr/lib/sysusers.d/
-rw-r--r-- root/root ./usr/lib/sysusers.d/ditio-sync.conf
drwxr-xr-x root/root ./usr/lib/tmpfiles.d/
-rw-r--r-- root/root ./usr/lib/tmpfiles.d/ditio-sync.conf
drwxr-xr-x root/root ./usr/share/
drwxr-xr-x root/root ./usr/share/doc/
drwxr-xr-x root/root ./usr/share/doc/ditio-sync/
-rw-r--r-- root/root ./usr/share/doc/ditio-sync/README.md
-rw-r--r-- root/root ./usr/share/doc/ditio-sync/copyright
drwxr-xr-x root/root ./usr/share/man/
drwxr-xr-x root/root ./usr/share/man/man8/
-rw-r--r-- root/root ./usr/share/man/man8/ditio-sync.8.gz"
actual=$(dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }')
# CPack lists "./" only in some versions; compare without it.
if ! listing_diff=$(diff <(grep -vx 'drwxr-xr-x root/root ./' <<<"$expected" | sort) \
    <(grep -vx 'drwxr-xr-x root/root ./' <<<"$actual" | sort)); then
    echo "$listing_diff" >&2
    check_failed "package contents differ from the expected list (< expected, > actual)"
fi

# 4. Control archive: conffiles and maintainer scripts.
dpkg-deb -e "$deb" "$tmp/control"
[ "$(cat "$tmp/control/conffiles" 2>/dev/null)" = /etc/ditio-sync/ditio-sync.toml ] ||
    check_failed "conffiles is not exactly /etc/ditio-sync/ditio-sync.toml"
for script in postinst prerm postrm; do
    f="$tmp/control/$script"
    if [ ! -f "$f" ]; then
        check_failed "no $script"
        continue
    fi
    [ "$(stat -c %a "$f")" = 755 ] || check_failed "$script has mode $(stat -c %a "$f"), not 755"
    [ "$(head -n 1 "$f")" = '#!/bin/sh' ] || check_failed "$script does not start with #!/bin/sh"
    grep -qx 'set -e' "$f" || check_failed "$script does not set -e"
    sh -n "$f" || check_failed "$script: sh -n reports a syntax error"
    if command -v shellcheck >/dev/null; then
        shellcheck -s sh "$f" || check_failed "$script: shellcheck complains (above)"
    fi
done
for script in preinst config templates; do
    [ ! -e "$tmp/control/$script" ] || check_failed "unexpected $script in the control archive"
done

# 5. Data: the files are the sources they come from, the binary runs, the man page renders.
dpkg-deb -x "$deb" "$tmp/root"
cmp -s "$tmp/root/etc/ditio-sync/ditio-sync.toml" "$src/config/ditio-sync.example.toml" ||
    check_failed "/etc/ditio-sync/ditio-sync.toml is not config/ditio-sync.example.toml"
cmp -s "$tmp/root/lib/systemd/system/ditio-sync.service" "$src/packaging/ditio-sync.service" ||
    check_failed "the unit is not packaging/ditio-sync.service"
cmp -s "$tmp/root/usr/share/doc/ditio-sync/README.md" "$src/README.md" ||
    check_failed "/usr/share/doc/ditio-sync/README.md is not README.md"
# The licence, in Debian's machine-readable form: Apache-2.0, its text referred to on the system.
copyright="$tmp/root/usr/share/doc/ditio-sync/copyright"
cmp -s "$copyright" "$src/packaging/copyright" ||
    check_failed "/usr/share/doc/ditio-sync/copyright is not packaging/copyright"
[ "$(head -n 1 "$copyright")" = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" ] ||
    check_failed "the copyright file does not start with the DEP-5 Format line"
grep -qx 'License: Apache-2.0' "$copyright" || check_failed "the copyright file does not say License: Apache-2.0"
grep -q '/usr/share/common-licenses/Apache-2\.0' "$copyright" ||
    check_failed "the copyright file does not refer to /usr/share/common-licenses/Apache-2.0"
if grep -Eq '^License: ' <(grep -v '^License: Apache-2\.0$' "$copyright"); then
    check_failed "the copyright file names a licence other than Apache-2.0"
fi
if ! out=$("$tmp/root/usr/bin/ditio-sync" --version 2>&1) || [[ "$out" != *"$version"* ]]; then
    check_failed "ditio-sync --version from the package printed '$out', without $version"
fi
if readelf -S "$tmp/root/usr/bin/ditio-sync" 2>/dev/null | grep -q '\.debug_info'; then
    check_failed "/usr/bin/ditio-sync is not stripped"
fi
man="$tmp/root/usr/share/man/man8/ditio-sync.8.gz"
gzip -t "$man" || check_failed "the man page is not a valid gzip file"
grep -q "^\.TH DITIO.*ditio\\\\-sync $version" <(zcat "$man") ||
    check_failed "the man page's .TH line does not carry version $version"
groff_warnings=$(zcat "$man" | groff -man -ww -z -K utf8 2>&1) || check_failed "groff cannot render the man page"
if [ -n "$groff_warnings" ]; then
    echo "$groff_warnings" >&2
    check_failed "groff warns about the man page (above)"
fi
for section in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS CONFIGURATION ENVIRONMENT 'EXIT STATUS' FILES 'SEE ALSO'; do
    grep -qx "\\.SH \"\\?$section\"\\?" <(zcat "$man") || check_failed "the man page has no $section section"
done

# 6. sysusers.d creates a system user and group ditio-sync, no login shell, home /var/lib/ditio-sync;
# tmpfiles.d creates the state directory 0750 for them.
mkdir -p "$tmp/sysroot/etc"
if systemd-sysusers --root="$tmp/sysroot" "$tmp/root/usr/lib/sysusers.d/ditio-sync.conf" >"$tmp/sysusers.log" 2>&1; then
    IFS=: read -r name _ uid gid _ home shell < <(grep '^ditio-sync:' "$tmp/sysroot/etc/passwd" || true)
    [ "${name:-}" = ditio-sync ] || check_failed "sysusers.d created no user ditio-sync"
    [ "${home:-}" = /var/lib/ditio-sync ] || check_failed "the user's home is '${home:-}', not /var/lib/ditio-sync"
    [ "${shell:-}" = /usr/sbin/nologin ] || check_failed "the user's shell is '${shell:-}', not /usr/sbin/nologin"
    [ "${uid:-1000}" -lt 1000 ] || check_failed "uid ${uid:-?} is not a system uid"
    grep -q "^ditio-sync:x:${gid:-none}:" "$tmp/sysroot/etc/group" || check_failed "no group ditio-sync with the user's gid"
else
    cat "$tmp/sysusers.log" >&2
    check_failed "systemd-sysusers rejected usr/lib/sysusers.d/ditio-sync.conf"
fi
grep -Eq '^d[[:space:]]+/var/lib/ditio-sync[[:space:]]+0750[[:space:]]+ditio-sync[[:space:]]+ditio-sync' \
    "$tmp/root/usr/lib/tmpfiles.d/ditio-sync.conf" ||
    check_failed "tmpfiles.d does not create /var/lib/ditio-sync 0750 ditio-sync:ditio-sync"

[ "$failures" -eq 0 ] || fail "$failures check(s) failed"
echo "ok: the package has the expected files, modes, conffiles, Depends, scripts, man page and copyright"
