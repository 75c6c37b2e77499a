# reachmon_set_warnings(target): the project's warning policy, errors unless REACHMON_WERROR=OFF.
function(reachmon_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion -Wnon-virtual-dtor)
  if(REACHMON_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(REACHMON_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
