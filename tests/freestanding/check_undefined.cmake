# Fails when an object needs a symbol from a library: runs `nm -u` on the relocatable object of
# a firmware program (all its code linked together, no library searched yet) and rejects every
# undefined symbol that the ALLOWED regex does not match (the linker script's symbols, and on
# Cortex-M0 libgcc's division helpers).
#
#   cmake -DNM=<nm> -DOBJECT=<program.o> -DALLOWED=<regex> -P check_undefined.cmake
cmake_minimum_required(VERSION 3.25)

foreach(required IN ITEMS NM OBJECT ALLOWED)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "check_undefined.cmake: ${required} is not set")
  endif()
endforeach()

execute_process(
  COMMAND "${NM}" -u "${OBJECT}"
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${NM} -u ${OBJECT} failed (${status}):\n${errors}")
endif()

string(REGEX MATCHALL "[^\n]+" lines "${output}")
set(needed)
set(forbidden)
foreach(line IN LISTS lines)
  string(REGEX REPLACE "^[ \t]*U[ \t]+" "" symbol "${line}")
  list(APPEND needed "${symbol}")
  if(NOT symbol MATCHES "${ALLOWED}")
    list(APPEND forbidden "${symbol}")
  endif()
endforeach()

list(JOIN needed " " shown)
message(STATUS "undefined in ${OBJECT}: ${shown}")
if(forbidden)
  list(JOIN forbidden "\n  " forbidden)
  message(FATAL_ERROR "the program needs symbols that only a library could provide:\n  "
                      "${forbidden}\n(allowed: ${ALLOWED})")
endif()
