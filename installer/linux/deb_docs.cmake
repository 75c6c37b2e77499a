# CPack pre-build script of the .deb (CPACK_PRE_BUILD_SCRIPTS, cmake/ReachmonPackaging.cmake): runs
# in the staging directory, after the install() rules and before the package is made, so that it
# sees the version cpack builds (also `cpack -R VERSION`). What Debian's policy asks of a package
# and a plain `cmake --install` does not need:
# - /usr/share/doc/reachmon/changelog.gz, a Debian changelog with the package's version (a native
#   package: its version has no Debian revision, so the file is changelog.gz, not
#   changelog.Debian.gz), signed by the maintainer;
# - man pages compressed (gzip -9n: no name or time stamp, so the package is reproducible).
set(root "${CPACK_TEMPORARY_DIRECTORY}${CPACK_PACKAGING_INSTALL_PREFIX}")
set(doc "${root}/share/doc/${CPACK_PACKAGE_NAME}")
if(NOT IS_DIRECTORY "${doc}")
  message(FATAL_ERROR "deb_docs.cmake: no ${doc} in the staging directory")
endif()

file(WRITE "${doc}/changelog"
  "${CPACK_PACKAGE_NAME} (${CPACK_PACKAGE_VERSION}) unstable; urgency=medium\n"
  "\n"
  "  * reachmon ${CPACK_PACKAGE_VERSION}, packaged from its source tree with CPack.\n"
  "    What changed: README.md (\"Upgrading\") in this directory.\n"
  "\n"
  " -- ${CPACK_DEBIAN_PACKAGE_MAINTAINER}  ${CPACK_REACHMON_CHANGELOG_DATE}\n")

file(GLOB_RECURSE manpages "${root}/share/man/*")
list(FILTER manpages EXCLUDE REGEX "\\.gz$")
foreach(file "${doc}/changelog" ${manpages})
  execute_process(COMMAND gzip -9nf "${file}" RESULT_VARIABLE failed)
  if(failed)
    message(FATAL_ERROR "deb_docs.cmake: gzip -9nf ${file} failed")
  endif()
endforeach()
