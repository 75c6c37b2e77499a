# Dependencies of the MinGW cross build. scripts/build-windows prepares REACHMON_WIN_DEPS_PREFIX:
# prometheus-cpp (core) and civetweb cross-compiled from Debian's source packages, plus
# include/{spdlog,fmt,nlohmann,catch2} linked to Debian's header-only libraries. Nothing else
# from /usr/include is visible to the Windows build.
set(REACHMON_WIN_DEPS_PREFIX "" CACHE PATH "Prefix with the Windows builds of the dependencies")
if(NOT REACHMON_WIN_DEPS_PREFIX)
  message(FATAL_ERROR "Set REACHMON_WIN_DEPS_PREFIX (scripts/build-windows does)")
endif()
list(APPEND CMAKE_PREFIX_PATH ${REACHMON_WIN_DEPS_PREFIX})
find_package(prometheus-cpp REQUIRED CONFIG)
find_package(civetweb REQUIRED CONFIG)

function(reachmon_header_only name)
  add_library(${name} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES ${REACHMON_WIN_DEPS_PREFIX}/include/headers)
endfunction()
reachmon_header_only(nlohmann_json::nlohmann_json)
reachmon_header_only(Catch2::Catch2)
reachmon_header_only(spdlog::spdlog)
# Debian's spdlog uses the external fmt; both are used header-only here.
set_property(TARGET spdlog::spdlog PROPERTY INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)
# The static civetweb needs Winsock after it on the link line.
set_property(TARGET civetweb::civetweb APPEND PROPERTY INTERFACE_LINK_LIBRARIES ws2_32)
# Every Windows source sees the same SDK configuration (Windows 10 API level).
add_compile_definitions(WIN32_LEAN_AND_MEAN NOMINMAX _WIN32_WINNT=0x0A00)
