# Install rules and the Debian package. Included by the top-level CMakeLists.txt after the ditio-sync
# target. `cpack -G DEB` (or the `package` target) in a build directory packs the ditio-sync binary of
# that build with its unit, config, man page and maintainer scripts (packaging/).
#
# Paths in the package: the binary, man page, docs, sysusers.d and tmpfiles.d under the prefix (/usr);
# the config and the unit at their fixed system paths, /etc/ditio-sync (the binary's default config
# path) and /lib/systemd/system (Debian 12's unit directory). Those two are absolute install
# destinations, which is why CPack installs with DESTDIR (CPACK_SET_DESTDIR); a plain `cmake --install`
# writes them to the live system whatever the prefix (stage with `DESTDIR=/tmp/stage cmake --install`).

set(DITIO_SYNC_SYSTEMD_UNIT_DIR
    "/lib/systemd/system"
    CACHE PATH "Directory of the systemd unit (absolute; CMake cannot rebase pkg-config's systemdsystemunitdir)"
)
set(DITIO_SYNC_PACKAGE_MAINTAINER
    "ditio-sync maintainers <maintainers@ditio-sync.invalid>"
    CACHE STRING "Maintainer field of the Debian package"
)
set(DITIO_SYNC_PACKAGE_RELEASE "1" CACHE STRING "Debian revision of the package (the part after the '-')")

set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE
)
set(_pkg_src "${PROJECT_SOURCE_DIR}/packaging")
set(_pkg_out "${PROJECT_BINARY_DIR}/packaging")

# The man page: the version substituted at configure time (an edit of the source re-runs CMake), gzipped
# at build time. The binary depends on it, so `cmake --build --target ditio-sync` is enough for cpack.
configure_file("${PROJECT_SOURCE_DIR}/docs/ditio-sync.8.in" "${_pkg_out}/ditio-sync.8" @ONLY)
add_custom_command(
    OUTPUT "${_pkg_out}/ditio-sync.8.gz"
    COMMAND gzip -9 -n -f -k "${_pkg_out}/ditio-sync.8"
    DEPENDS "${_pkg_out}/ditio-sync.8"
    COMMENT "Compressing the man page"
    VERBATIM
)
add_custom_target(ditio-sync-man ALL DEPENDS "${_pkg_out}/ditio-sync.8.gz")
add_dependencies(ditio-sync ditio-sync-man)

install(TARGETS ditio-sync RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES "${_pkg_src}/ditio-sync.service" DESTINATION "${DITIO_SYNC_SYSTEMD_UNIT_DIR}")
install(
    FILES "${_pkg_src}/ditio-sync.sysusers"
    DESTINATION lib/sysusers.d
    RENAME ditio-sync.conf
)
install(
    FILES "${_pkg_src}/ditio-sync.tmpfiles"
    DESTINATION lib/tmpfiles.d
    RENAME ditio-sync.conf
)
# The example config is the installed config (a conffile). 0640: it names no secret, but it is the
# service's; postinst gives it to the group ditio-sync, which does not exist when dpkg unpacks it.
install(
    FILES "${PROJECT_SOURCE_DIR}/config/ditio-sync.example.toml"
    DESTINATION /etc/ditio-sync
    RENAME ditio-sync.toml
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
)
install(FILES "${_pkg_out}/ditio-sync.8.gz" DESTINATION "${CMAKE_INSTALL_MANDIR}/man8")
install(FILES "${PROJECT_SOURCE_DIR}/README.md" "${_pkg_src}/copyright" DESTINATION "${CMAKE_INSTALL_DOCDIR}")

# CPack: one Debian package. Any CPACK_* value can be overridden with `cpack -D VAR=VALUE`.
set(CPACK_GENERATOR DEB)
set(CPACK_VERBATIM_VARIABLES ON)
set(CPACK_PACKAGE_NAME ditio-sync)
set(CPACK_PACKAGE_VENDOR "ditio-sync maintainers")
set(CPACK_PACKAGE_CONTACT "${DITIO_SYNC_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
# Apache-2.0. The DEB generator has no licence field (Debian reads it from the installed copyright
# file); generators that show a licence take this one.
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "mirror of a company's Ditio data in SQLite")
# The extended description in the control file: one line per argument, under 80 columns; "." is a
# paragraph break.
string(
    JOIN "\n" CPACK_PACKAGE_DESCRIPTION
    "ditio-sync keeps a local SQLite mirror of a company's Ditio data complete,"
    "correct and fresh: time, machine and absence registrations, payroll lines,"
    "checklists, incidents, images, crew lists, Ditio Flow trips, and the projects,"
    "work orders, users and resources they refer to."
    "."
    "It runs as a hardened systemd service (ditio-sync.service, not started until"
    "configured). Query the database with sqlite3, a BI tool or a script while it"
    "runs."
)
# Absolute destinations (/etc, /lib) must land in the package, not on the build machine.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE "${DITIO_SYNC_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${DITIO_SYNC_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Library dependencies come from dpkg-shlibdeps (dpkg-dev). Besides: TLS verification needs the system
# trust store, and postinst creates the user with systemd-sysusers, or adduser where systemd is absent.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "ca-certificates, systemd | adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "sqlite3, jq")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_pkg_src}/debian/conffiles" "${_pkg_src}/debian/postinst" "${_pkg_src}/debian/prerm"
    "${_pkg_src}/debian/postrm"
)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# `package_source`: the tree without builds and VCS data.
set(CPACK_SOURCE_GENERATOR TXZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\.git/" "/build[^/]*/" "/\\.cache/")
include(CPack)
