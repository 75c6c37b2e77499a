# `cpack -G DEB` in the Linux build directory builds reachmon_<version>_amd64.deb from the
# install() rules: /usr/sbin/reachmon, the systemd unit, examples and docs. The maintainer scripts
# in installer/linux/debian create the service user and install /etc/reachmon/reachmon.json only
# when it does not exist.
set(REACHMON_PACKAGE_VERSION ${PROJECT_VERSION} CACHE STRING "Version written into packages")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME reachmon)
set(CPACK_PACKAGE_VERSION ${REACHMON_PACKAGE_VERSION})
set(CPACK_PACKAGE_CONTACT "reachmon maintainers <reachmon@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "per-source reachability, latency and loss for Prometheus")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/installer/linux/debian/postinst
    ${PROJECT_SOURCE_DIR}/installer/linux/debian/prerm
    ${PROJECT_SOURCE_DIR}/installer/linux/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
include(CPack)
