# Builds one firmware program for one core, for a test that must fail (with the compiler's or
# linker's words) when the build fails, rather than stop the whole build.
#
#   cmake -DTARGET=<core> -DPROGRAM=<program> -DOUTPUT_DIR=<dir> [-DSTEP=compile|link]
#         -P build_firmware.cmake
#
# Cores and programs are those of firmware_targets.cmake; without STEP, both steps run.
cmake_minimum_required(VERSION 3.25)
include("${CMAKE_CURRENT_LIST_DIR}/firmware_targets.cmake")

foreach(required IN ITEMS TARGET PROGRAM OUTPUT_DIR)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "build_firmware.cmake: ${required} is not set")
  endif()
endforeach()

attachable_firmware_tools()
if(DEFINED STEP)
  attachable_build_firmware(${TARGET} ${PROGRAM} "${OUTPUT_DIR}" STEPS ${STEP})
else()
  attachable_build_firmware(${TARGET} ${PROGRAM} "${OUTPUT_DIR}")
endif()
message(STATUS "${PROGRAM} for ${TARGET}: done")
