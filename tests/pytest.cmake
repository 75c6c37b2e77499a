# reachmon_add_pytest(NAME name FILE test_file.py ARGS options...): one ctest test running one
# pytest module (the process-level tests; options and fixtures in tests/conftest.py), writing
# nothing into the source tree (no bytecode, no .pytest_cache).
include_guard(GLOBAL)

# The interpreter scripts/setup installed python3-pytest for: the python3 first on PATH may be
# another installation (pyenv, a virtualenv) without pytest.
if(NOT REACHMON_PYTEST_PYTHON)
  find_program(REACHMON_PYTHON3_ON_PATH python3)
  mark_as_advanced(REACHMON_PYTHON3_ON_PATH)
  foreach(candidate ${REACHMON_PYTHON3_ON_PATH} /usr/bin/python3)
    execute_process(COMMAND ${candidate} -c "import pytest" RESULT_VARIABLE no_pytest
                    OUTPUT_QUIET ERROR_QUIET)
    if(no_pytest EQUAL 0)
      set(REACHMON_PYTEST_PYTHON ${candidate} CACHE FILEPATH "Python 3 with pytest, for the tests")
      break()
    endif()
  endforeach()
  if(NOT REACHMON_PYTEST_PYTHON)
    message(FATAL_ERROR "no python3 with pytest found: run scripts/setup (python3-pytest)")
  endif()
endif()

function(reachmon_add_pytest)
  cmake_parse_arguments(T "" "NAME;FILE" "ARGS" ${ARGN})
  add_test(NAME ${T_NAME} COMMAND ${REACHMON_PYTEST_PYTHON} -m pytest -p no:cacheprovider -q
           ${CMAKE_CURRENT_SOURCE_DIR}/${T_FILE} ${T_ARGS})
  set_tests_properties(${T_NAME} PROPERTIES ENVIRONMENT PYTHONDONTWRITEBYTECODE=1)
endfunction()
