# Dependencies of the MinGW cross build. scripts/build-windows prepares REACHMON_WIN_DEPS_PREFIX:
# prometheus-cpp (core), civetweb (with TLS), OpenSSL 3 (static) and libxcrypt (bcrypt only)
# cross-compiled from Debian's source packages, plus include/{spdlog,fmt,nlohmann,catch2,CLI} linked
# to Debian's header-only libraries. Nothing else from /usr/include is visible to the Windows
# build. zlib comes with the toolchain's own libraries (Debian's libz-mingw-w64-dev, MSYS2's
# mingw-w64-x86_64-zlib).
set(REACHMON_WIN_DEPS_PREFIX "" CACHE PATH "Prefix with the Windows builds of the dependencies")
if(NOT REACHMON_WIN_DEPS_PREFIX)
  message(FATAL_ERROR "Set REACHMON_WIN_DEPS_PREFIX (scripts/build-windows does)")
endif()
list(APPEND CMAKE_PREFIX_PATH ${REACHMON_WIN_DEPS_PREFIX})
find_package(prometheus-cpp REQUIRED CONFIG)
find_package(civetweb REQUIRED CONFIG)

function(reachmon_static_lib name file)
  if(NOT EXISTS ${REACHMON_WIN_DEPS_PREFIX}/lib/${file})
    message(FATAL_ERROR "${REACHMON_WIN_DEPS_PREFIX}/lib/${file} is missing: rerun "
                        "scripts/build-windows (it rebuilds an outdated dependency cache)")
  endif()
  add_library(${name} STATIC IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES
    IMPORTED_LOCATION ${REACHMON_WIN_DEPS_PREFIX}/lib/${file}
    INTERFACE_INCLUDE_DIRECTORIES ${REACHMON_WIN_DEPS_PREFIX}/include
    INTERFACE_LINK_LIBRARIES "${ARGN}")
endfunction()
# The same names as FindOpenSSL's on Linux. The static libcrypto needs after it what OpenSSL's
# mingw64 build lists (ws2_32 gdi32 crypt32: sockets, the built-in CAPI engine), plus advapi32
# (CryptGenRandom seeds its RNG) and user32 (its fatal-error message box).
reachmon_static_lib(OpenSSL::Crypto libcrypto.a ws2_32 gdi32 crypt32 advapi32 user32)
reachmon_static_lib(OpenSSL::SSL libssl.a OpenSSL::Crypto)
# libxcrypt: <crypt.h> with crypt_rn/crypt_gensalt_rn for $2b$/$2a$/$2y$ (bcrypt) only; its
# random salt bytes come from BCryptGenRandom. On Linux the top CMakeLists defines the same name
# for -lcrypt.
reachmon_static_lib(reachmon::xcrypt libcrypt.a bcrypt)

# zlib (gzip of /metrics), linked statically like the rest: the MSI ships no zlib1.dll. Found by
# its file name, so the import library beside it (libz.dll.a) is never taken. zlib.h is in the
# toolchain's own include directory, which must not be added with -I (it would come before the
# C++ library's wrappers of the C headers).
find_library(REACHMON_ZLIB_STATIC NAMES libz.a)
find_path(REACHMON_ZLIB_HEADER_DIR zlib.h)
if(NOT REACHMON_ZLIB_STATIC OR NOT REACHMON_ZLIB_HEADER_DIR)
  message(FATAL_ERROR "zlib for MinGW-w64 not found (libz.a, zlib.h): install Debian's "
                      "libz-mingw-w64-dev (scripts/setup does), or MSYS2's mingw-w64-x86_64-zlib")
endif()
add_library(ZLIB::ZLIB STATIC IMPORTED GLOBAL)
set_target_properties(ZLIB::ZLIB PROPERTIES IMPORTED_LOCATION ${REACHMON_ZLIB_STATIC})

function(reachmon_header_only name)
  add_library(${name} INTERFACE IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES ${REACHMON_WIN_DEPS_PREFIX}/include/headers)
endfunction()
reachmon_header_only(nlohmann_json::nlohmann_json)
reachmon_header_only(Catch2::Catch2)
reachmon_header_only(spdlog::spdlog)
reachmon_header_only(CLI11::CLI11)
# Debian's spdlog uses the external fmt; both are used header-only here.
set_property(TARGET spdlog::spdlog PROPERTY INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)
# The static civetweb calls OpenSSL (linked in, not loaded at run time) and Winsock: both go
# after it on the link line.
set_property(TARGET civetweb::civetweb APPEND PROPERTY INTERFACE_LINK_LIBRARIES
  OpenSSL::SSL ws2_32)
# Every Windows source sees the same SDK configuration (Windows 10 API level).
add_compile_definitions(WIN32_LEAN_AND_MEAN NOMINMAX _WIN32_WINNT=0x0A00)
