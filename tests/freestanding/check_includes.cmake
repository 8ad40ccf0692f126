# Fails if any header under INCLUDE_DIR includes something other than another header of the
# library or one of the C++20 freestanding headers that ../../../shared/STYLE.md allows.
#
#   cmake -DINCLUDE_DIR=<dir> -P check_includes.cmake
cmake_minimum_required(VERSION 3.25)

set(allowed cstddef cstdint climits limits new type_traits concepts bit atomic version compare)

file(GLOB_RECURSE headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/*.hpp" "${INCLUDE_DIR}/*.h")
if(NOT headers)
  message(FATAL_ERROR "no headers found under ${INCLUDE_DIR}")
endif()

set(violations)
foreach(header IN LISTS headers)
  file(STRINGS "${INCLUDE_DIR}/${header}" lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"]")
      list(APPEND violations "${header}: cannot read '${line}'")
      continue()
    endif()
    set(included "${CMAKE_MATCH_1}")
    if(included MATCHES "^attachable/")
      if(NOT EXISTS "${INCLUDE_DIR}/${included}")
        list(APPEND violations "${header}: includes <${included}>, which is not in ${INCLUDE_DIR}")
      endif()
    elseif(NOT included IN_LIST allowed)
      list(APPEND violations
           "${header}: includes <${included}>, which is not a C++20 freestanding header")
    endif()
  endforeach()
endforeach()

list(LENGTH headers count)
if(violations)
  list(JOIN violations "\n  " report)
  message(FATAL_ERROR "headers may include only <attachable/...> and the freestanding allow-list (${allowed}):\n  ${report}")
endif()
message("${count} headers include only freestanding headers")
