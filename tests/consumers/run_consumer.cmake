# cmake -P script: configure, build and run one consumer project in CONSUMER_WORK_DIR.
#
# With ATTACHABLE_BINARY_DIR set, first installs that build of the library into
# CONSUMER_WORK_DIR/prefix and makes the consumer find it there (the find_package story); with
# ATTACHABLE_SOURCE_DIR set, hands the source tree to the consumer (the add_subdirectory story).

cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS CONSUMER_SOURCE_DIR CONSUMER_WORK_DIR CONSUMER_GENERATOR CONSUMER_CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: ${var} must be set")
  endif()
endforeach()

set(prefix "${CONSUMER_WORK_DIR}/prefix")
set(build "${CONSUMER_WORK_DIR}/build")
# Stale caches or an old install would let a broken package pass.
file(REMOVE_RECURSE "${CONSUMER_WORK_DIR}")

set(configure_args -G "${CONSUMER_GENERATOR}" -D "CMAKE_CXX_COMPILER=${CONSUMER_CXX_COMPILER}")
if(CONSUMER_MAKE_PROGRAM)
  list(APPEND configure_args -D "CMAKE_MAKE_PROGRAM=${CONSUMER_MAKE_PROGRAM}")
endif()
if(CONSUMER_CONFIG)
  list(APPEND configure_args -D "CMAKE_BUILD_TYPE=${CONSUMER_CONFIG}")
  set(config_args --config "${CONSUMER_CONFIG}")
endif()

if(ATTACHABLE_BINARY_DIR)
  execute_process(COMMAND "${CMAKE_COMMAND}" --install "${ATTACHABLE_BINARY_DIR}" --prefix
                          "${prefix}" ${config_args} COMMAND_ERROR_IS_FATAL ANY)
  # Search only the fresh prefix, so a copy installed elsewhere on the machine cannot stand in.
  list(APPEND configure_args -D "CMAKE_PREFIX_PATH=${prefix}" -D CMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
       -D CMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
endif()
if(ATTACHABLE_SOURCE_DIR)
  list(APPEND configure_args -D "ATTACHABLE_SOURCE_DIR=${ATTACHABLE_SOURCE_DIR}")
endif()

execute_process(COMMAND "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${build}"
                        ${configure_args} COMMAND_ERROR_IS_FATAL ANY)

if(ATTACHABLE_BINARY_DIR)
  file(STRINGS "${build}/CMakeCache.txt" found_dir REGEX "^attachable-slab_DIR:")
  string(REGEX REPLACE "^[^=]*=" "" found_dir "${found_dir}")
  string(FIND "${found_dir}" "${prefix}/" position)
  if(NOT position EQUAL 0)
    message(FATAL_ERROR "the consumer found attachable-slab in '${found_dir}', not under '${prefix}'")
  endif()
endif()

execute_process(COMMAND "${CMAKE_COMMAND}" --build "${build}" ${config_args}
                COMMAND_ERROR_IS_FATAL ANY)

# Multi-config generators put the program in a per-configuration folder.
find_program(
  consumer_program consumer
  PATHS "${build}" "${build}/${CONSUMER_CONFIG}"
  NO_DEFAULT_PATH NO_CACHE REQUIRED)
execute_process(COMMAND "${consumer_program}" COMMAND_ERROR_IS_FATAL ANY)
message(STATUS "consumer ran: ${consumer_program}")
