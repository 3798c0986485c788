# expect_exit.cmake - run a command and require a given exit status, for the
# CLI tests that must fail in a precise way (1: mismatch, 2: malformed).
# Usage: cmake -DEXPECT=N -DCMD="prog;arg;..." -P expect_exit.cmake
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT "${rc}" STREQUAL "${EXPECT}")
  message(FATAL_ERROR "exit status ${rc}, expected ${EXPECT}\nstdout: ${out}\nstderr: ${err}")
endif()
if(DEFINED STDERR_MATCH AND NOT err MATCHES "${STDERR_MATCH}")
  message(FATAL_ERROR "stderr does not match '${STDERR_MATCH}': ${err}")
endif()
message(STATUS "exit status ${rc} as expected: ${err}")
