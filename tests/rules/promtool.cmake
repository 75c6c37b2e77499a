# cmake -DRULES=<rule file> -DTESTS=<promtool unit test file> [-DPROMTOOL=<path>] -P promtool.cmake
# The ctest prometheus_rules: `promtool check rules` (every lint, lint errors fatal) on RULES,
# then `promtool test rules` on TESTS. Fails if either fails, and if promtool is missing.
if(NOT PROMTOOL)
  find_program(PROMTOOL promtool)  # script mode: a plain variable, no cache (CMake 3.20)
endif()
if(NOT PROMTOOL)
  message(FATAL_ERROR "promtool not found: run scripts/setup (Debian package prometheus), "
                      "or pass its path as -DPROMTOOL=...")
endif()
foreach(f ${RULES} ${TESTS})
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "no such file: ${f}")
  endif()
endforeach()

execute_process(COMMAND ${PROMTOOL} check rules --lint=all --lint-fatal ${RULES}
                RESULT_VARIABLE check_result)
execute_process(COMMAND ${PROMTOOL} test rules ${TESTS} RESULT_VARIABLE test_result)
if(NOT check_result EQUAL 0 OR NOT test_result EQUAL 0)
  message(FATAL_ERROR "promtool check rules: exit ${check_result}; "
                      "promtool test rules: exit ${test_result}")
endif()
