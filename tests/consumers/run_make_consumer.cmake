# cmake -P script: install ATTACHABLE_BINARY_DIR into CONSUMER_WORK_DIR/prefix, build the plain-Make
# consumer in CONSUMER_SOURCE_DIR with MAKE_PROGRAM, finding the library only through the installed
# attachable-slab.pc, and run it.

cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS CONSUMER_SOURCE_DIR CONSUMER_WORK_DIR CONSUMER_CXX_COMPILER ATTACHABLE_BINARY_DIR
                     MAKE_PROGRAM PKG_CONFIG_PROGRAM)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_make_consumer.cmake: ${var} must be set")
  endif()
endforeach()

set(prefix "${CONSUMER_WORK_DIR}/prefix")
set(build "${CONSUMER_WORK_DIR}/build")
# Stale objects or an old install would let a broken package pass.
file(REMOVE_RECURSE "${CONSUMER_WORK_DIR}")

if(CONSUMER_CONFIG)
  set(config_args --config "${CONSUMER_CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${ATTACHABLE_BINARY_DIR}" --prefix "${prefix}"
                        ${config_args} COMMAND_ERROR_IS_FATAL ANY)

# PKG_CONFIG_LIBDIR replaces pkg-config's default search path, so a copy installed elsewhere on the
# machine cannot stand in for this one.
set(pkg_config_env PKG_CONFIG_LIBDIR=${prefix}/share/pkgconfig PKG_CONFIG_PATH=)
execute_process(
  COMMAND "${CMAKE_COMMAND}" -E env ${pkg_config_env} "${PKG_CONFIG_PROGRAM}" --variable=includedir
          attachable-slab
  OUTPUT_VARIABLE includedir OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
file(REAL_PATH "${includedir}" includedir)
foreach(header IN ITEMS slab.hpp std_allocator.hpp memory_resource.hpp)
  if(NOT EXISTS "${includedir}/attachable/${header}")
    message(FATAL_ERROR "attachable-slab.pc points at '${includedir}', which has no attachable/${header}")
  endif()
endforeach()
string(FIND "${includedir}" "${prefix}/" position)
if(NOT position EQUAL 0)
  message(FATAL_ERROR "attachable-slab.pc points at '${includedir}', not under '${prefix}'")
endif()

execute_process(
  COMMAND "${CMAKE_COMMAND}" -E env ${pkg_config_env} "PKG_CONFIG=${PKG_CONFIG_PROGRAM}"
          "${MAKE_PROGRAM}" -C "${CONSUMER_SOURCE_DIR}" "BUILD_DIR=${build}"
          "CXX=${CONSUMER_CXX_COMPILER}"
  COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${build}/consumer" COMMAND_ERROR_IS_FATAL ANY)
message(STATUS "consumer ran: ${build}/consumer")
