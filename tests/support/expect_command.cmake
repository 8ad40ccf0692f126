# Runs one command and checks how it ended, for tests that need more than CTest's exit-code or
# regular-expression checks alone (a compile must fail AND say why; output must be empty).
#
#   cmake -P expect_command.cmake -- [EXIT zero|nonzero|<n>] [MATCH <regex>]... [EMPTY]
#                                    [TIMEOUT <seconds>] RUN <program> [<arg>...]
#   cmake -P expect_command.cmake -- MISSING <tool> <package>
#
# EXIT defaults to zero. Each MATCH must be found in stdout+stderr; EMPTY requires stdout to be
# empty. MISSING always fails: it stands in for a test whose tool was not found at configure
# time, so that a missing tool shows up as a failure, never as a silent skip.
cmake_minimum_required(VERSION 3.25)

set(expect_exit zero)
set(patterns)
set(require_empty FALSE)
set(timeout 120)
set(command)
set(mode skip)
set(index 0)
while(index LESS CMAKE_ARGC)
  set(argument "${CMAKE_ARGV${index}}")
  math(EXPR index "${index} + 1")
  if(mode STREQUAL "skip")
    if(argument STREQUAL "--")
      set(mode options)
    endif()
    continue()
  endif()
  if(mode STREQUAL "command")
    list(APPEND command "${argument}")
  elseif(argument STREQUAL "EXIT")
    set(expect_exit "${CMAKE_ARGV${index}}")
    math(EXPR index "${index} + 1")
  elseif(argument STREQUAL "MATCH")
    list(APPEND patterns "${CMAKE_ARGV${index}}")
    math(EXPR index "${index} + 1")
  elseif(argument STREQUAL "TIMEOUT")
    set(timeout "${CMAKE_ARGV${index}}")
    math(EXPR index "${index} + 1")
  elseif(argument STREQUAL "EMPTY")
    set(require_empty TRUE)
  elseif(argument STREQUAL "MISSING")
    set(tool "${CMAKE_ARGV${index}}")
    math(EXPR next "${index} + 1")
    set(package "${CMAKE_ARGV${next}}")
    message(FATAL_ERROR "${tool} was not found when the build was configured; install the "
                        "Debian package ${package} (scripts/install-deps.sh does) and configure "
                        "again.")
  elseif(argument STREQUAL "RUN")
    set(mode command)
  endif()
endwhile()

# CMAKE_ARGV also holds cmake's own arguments; ours start after the first "--".
if(NOT command)
  message(FATAL_ERROR "expect_command.cmake: no RUN given")
endif()

execute_process(
  COMMAND ${command}
  RESULT_VARIABLE status
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  TIMEOUT ${timeout})
message("${out}${err}")
list(JOIN command " " shown)

if(expect_exit STREQUAL "zero")
  if(NOT status STREQUAL "0")
    message(FATAL_ERROR "expected success but got '${status}' from: ${shown}")
  endif()
elseif(expect_exit STREQUAL "nonzero")
  if(status STREQUAL "0" OR NOT status MATCHES "^[0-9]+$")
    message(FATAL_ERROR "expected a non-zero exit status but got '${status}' from: ${shown}")
  endif()
elseif(NOT status STREQUAL expect_exit)
  message(FATAL_ERROR "expected exit status ${expect_exit} but got '${status}' from: ${shown}")
endif()

foreach(pattern IN LISTS patterns)
  if(NOT "${out}${err}" MATCHES "${pattern}")
    message(FATAL_ERROR "the output does not match '${pattern}'")
  endif()
endforeach()

if(require_empty AND NOT out STREQUAL "")
  message(FATAL_ERROR "expected no output on stdout from: ${shown}")
endif()
