# Fails if any header under INCLUDE_DIR includes something other than another header of the
# library or one of the C++20 freestanding headers that STYLE.md allows; a hosted header
# is accepted only inside an #if on its own opt-in macro (see opt_in below). The hosted-only
# headers (see hosted_only below) are not scanned, and no other header may include them.
#
#   cmake -DINCLUDE_DIR=<dir> -P check_includes.cmake
cmake_minimum_required(VERSION 3.25)

set(allowed cstddef cstdint climits limits new type_traits concepts bit atomic version compare)
# Hosted headers allowed only inside an #if on the opt-in macro that STYLE.md gives them
# ("Valgrind client requests only behind an opt-in macro"), as <header>=<macro>.
# <cstdio> serves only the default ATTACHABLE_PANIC, which writes its sentence to stderr when the
# implementation is hosted; -ffreestanding clears __STDC_HOSTED__.
set(opt_in valgrind/memcheck.h=ATTACHABLE_VALGRIND cstdio=__STDC_HOSTED__)
# The standard-library adapters: an allocator must throw std::bad_alloc and a memory resource
# derives from std::pmr::memory_resource, so these two are hosted by nature. Users include
# them by name; <attachable/slab.hpp> and every freestanding header must not.
set(hosted_only attachable/std_allocator.hpp attachable/memory_resource.hpp)

file(GLOB_RECURSE headers RELATIVE "${INCLUDE_DIR}" "${INCLUDE_DIR}/*.hpp" "${INCLUDE_DIR}/*.h")
if(NOT headers)
  message(FATAL_ERROR "no headers found under ${INCLUDE_DIR}")
endif()

set(violations)
set(scanned 0)
foreach(header IN LISTS headers)
  if(header IN_LIST hosted_only)
    continue()
  endif()
  math(EXPR scanned "${scanned} + 1")
  file(STRINGS "${INCLUDE_DIR}/${header}" lines REGEX "^[ \t]*#")
  # The conditions of the #if blocks around the current line; an #else branch is marked "!".
  set(conditions)
  foreach(line IN LISTS lines)
    if(line MATCHES "^[ \t]*#[ \t]*if(n?def)?[ \t]+(.*)$")
      list(APPEND conditions "${CMAKE_MATCH_2}")
      continue()
    elseif(line MATCHES "^[ \t]*#[ \t]*(else|elif)")
      list(POP_BACK conditions)
      list(APPEND conditions "!")
      continue()
    elseif(line MATCHES "^[ \t]*#[ \t]*endif")
      list(POP_BACK conditions)
      continue()
    elseif(NOT line MATCHES "^[ \t]*#[ \t]*include")
      continue()
    endif()
    if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"]")
      list(APPEND violations "${header}: cannot read '${line}'")
      continue()
    endif()
    set(included "${CMAKE_MATCH_1}")
    if(included IN_LIST hosted_only)
      list(APPEND violations "${header}: includes <${included}>, which is hosted-only")
    elseif(included MATCHES "^attachable/")
      if(NOT EXISTS "${INCLUDE_DIR}/${included}")
        list(APPEND violations "${header}: includes <${included}>, which is not in ${INCLUDE_DIR}")
      endif()
    elseif(NOT included IN_LIST allowed)
      set(guarded FALSE)
      foreach(entry IN LISTS opt_in)
        string(REPLACE "=" ";" entry "${entry}")
        list(GET entry 0 opt_in_header)
        list(GET entry 1 opt_in_macro)
        if(included STREQUAL opt_in_header)
          foreach(condition IN LISTS conditions)
            if(condition MATCHES "^${opt_in_macro}$|defined\\(${opt_in_macro}\\)")
              set(guarded TRUE)
            endif()
          endforeach()
        endif()
      endforeach()
      if(NOT guarded)
        list(APPEND violations
             "${header}: includes <${included}>, which is not a C++20 freestanding header")
      endif()
    endif()
  endforeach()
endforeach()

if(violations)
  list(JOIN violations "\n  " report)
  message(FATAL_ERROR "headers may include only <attachable/...> and the freestanding allow-list (${allowed}):\n  ${report}")
endif()
message("${scanned} headers include only freestanding headers and none of the hosted-only "
        "headers (${hosted_only})")
