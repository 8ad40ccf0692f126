# Runs a misuse program and passes only if the tool caught it: the exit status must be
# EXPECTED_EXIT (or, with EXPECTED_EXIT "nonzero", anything but 0) AND the output must match
# EXPECTED_REGEX. CTest alone cannot ask for both: PASS_REGULAR_EXPRESSION ignores the exit
# status, and WILL_FAIL would invert the regex match as well.
#
# cmake -DCOMMAND=<program;args...> -DEXPECTED_EXIT=<n|nonzero> -DEXPECTED_REGEX=<re>
#       -P expect_report.cmake
foreach(variable IN ITEMS COMMAND EXPECTED_EXIT EXPECTED_REGEX)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "expect_report.cmake: -D${variable}=... is required")
  endif()
endforeach()

execute_process(
  COMMAND ${COMMAND}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)
message("${output}")

if(EXPECTED_EXIT STREQUAL "nonzero")
  set(exit_ok FALSE)
  if(NOT status STREQUAL "0")
    set(exit_ok TRUE)
  endif()
else()
  set(exit_ok FALSE)
  if(status STREQUAL "${EXPECTED_EXIT}")
    set(exit_ok TRUE)
  endif()
endif()

if(NOT exit_ok)
  message(FATAL_ERROR "expected exit status ${EXPECTED_EXIT}, got '${status}'")
endif()
if(NOT output MATCHES "${EXPECTED_REGEX}")
  message(FATAL_ERROR "the output does not match '${EXPECTED_REGEX}'")
endif()
