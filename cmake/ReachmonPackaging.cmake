# `cpack -G DEB` in the Linux build directory builds reachmon_<version>_amd64.deb from the
# install() rules: /usr/sbin/reachmon, the systemd unit, the man page, the JSON Schema, examples
# and docs with the copyright file; installer/linux/deb_docs.cmake adds the changelog and
# compresses the man page. The maintainer scripts in installer/linux/debian create the service
# user, install /etc/reachmon/reachmon.json only when it does not exist, and enable the unit.
# lintian accepts the package (tests/integration/test_deb.py).
set(REACHMON_PACKAGE_VERSION ${PROJECT_VERSION} CACHE STRING "Version written into packages")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME reachmon)
set(CPACK_PACKAGE_VERSION ${REACHMON_PACKAGE_VERSION})
# The identity the project's commits carry; packagers who rebuild set their own.
set(REACHMON_PACKAGE_MAINTAINER
    "Seed 209ff847 maintainers <maintainers@users.noreply.r-seed-209ff847.example>"
    CACHE STRING "Maintainer of the .deb and signer of its changelog: Name <email>")
set(CPACK_PACKAGE_CONTACT ${REACHMON_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${REACHMON_PACKAGE_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "per-source reachability, latency and loss for Prometheus")
set(CPACK_PACKAGE_DESCRIPTION
    "reachmon measures, continuously, whether each target answers from each
source interface of a multi-homed host, how fast and how often not, with
ICMP echo or UDP probes, and serves the results on /metrics for Prometheus
to scrape. It runs as a hardened systemd service without capabilities,
reads one JSON config file, /etc/reachmon/reachmon.json, and reloads it
on SIGHUP or when the file changes.")
# The changelog's date (deb_docs.cmake): honours SOURCE_DATE_EPOCH, for reproducible packages.
string(TIMESTAMP CPACK_REACHMON_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/installer/linux/deb_docs.cmake)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# adduser: the service user. deb-systemd-helper and deb-systemd-invoke come from
# init-system-helpers, an essential package.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/installer/linux/debian/postinst
    ${PROJECT_SOURCE_DIR}/installer/linux/debian/prerm
    ${PROJECT_SOURCE_DIR}/installer/linux/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
