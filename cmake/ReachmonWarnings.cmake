# reachmon_set_warnings(target): the project's warning policy (errors with REACHMON_WERROR=ON,
# which scripts/test sets; users and packagers build with their own flags), plus the sanitizers
# chosen with REACHMON_SANITIZE: "address" (AddressSanitizer and UBSan) or "thread".
function(reachmon_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
     AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 at -O2/-O3 reports impossible overlaps in std::string's operator+ with a literal
    # (GCC bug 105651, fixed in 13): a false positive on every "text" + std::string.
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(REACHMON_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(REACHMON_SANITIZE STREQUAL "address" OR REACHMON_SANITIZE STREQUAL "ON")  # ON: old caches
    # Stop at the first finding: a report that scrolls by in a passing run helps nobody.
    set(flags -fsanitize=address,undefined -fno-sanitize-recover=all)
  elseif(REACHMON_SANITIZE STREQUAL "thread")
    set(flags -fsanitize=thread)
  elseif(REACHMON_SANITIZE)
    message(FATAL_ERROR "REACHMON_SANITIZE must be address, thread or empty")
  endif()
  if(flags)
    target_compile_options(${target} PRIVATE ${flags} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE ${flags})
  endif()
endfunction()
