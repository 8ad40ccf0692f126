# Issue 9's code-size measure: what the library's code costs per cache type in a Cortex-M3
# firmware image (arm-none-eabi-g++ -Os -mcpu=cortex-m3 -mthumb, the firmware's freestanding
# flags), from size_probe.cpp built with 0, 1, 2 and 9 cache types.
#
# Definition: the library code of an N-type image is its .text minus the .text of the 0-type
# image, which has the same boot code, arena and hooks and no cache. So it counts everything
# the caches bring in: the inlined fast paths at each call site and the out-of-line paths.
#
#   cmake -DOUTPUT_DIR=<dir> [-DBUILD=ON] [-DCHECK=<check> -DBASELINE_NINE=<bytes>
#         -DEXTRA_TYPE_LIMIT=<bytes>] -P code_size.cmake
#
# BUILD=ON builds the four images into OUTPUT_DIR first (otherwise they must be there). It
# always prints the numbers; CHECK then enforces one target:
#   extra_type  the second type, of the same size as the first, adds at most EXTRA_TYPE_LIMIT
#               bytes of .text;
#   nine_types  the nine-type image's library code is at most BASELINE_NINE / 3.
cmake_minimum_required(VERSION 3.25)
include("${CMAKE_CURRENT_LIST_DIR}/firmware_targets.cmake")

if(NOT DEFINED OUTPUT_DIR)
  message(FATAL_ERROR "code_size.cmake: OUTPUT_DIR is not set")
endif()

attachable_firmware_tools()
attachable_firmware_target(cortex_m3)
set(type_counts 0 1 2 9)

if(BUILD)
  foreach(types IN LISTS type_counts)
    attachable_build_firmware(cortex_m3 size_probe_${types} "${OUTPUT_DIR}")
  endforeach()
endif()

foreach(types IN LISTS type_counts)
  set(image "${OUTPUT_DIR}/size_probe_${types}.elf")
  execute_process(
    COMMAND "${fw_size}" -A "${image}"
    RESULT_VARIABLE status
    OUTPUT_VARIABLE sections
    ERROR_VARIABLE errors)
  if(NOT status EQUAL 0 OR NOT sections MATCHES "\n\\.text[ \t]+([0-9]+)")
    message(FATAL_ERROR "no .text size for ${image} (${status}): ${errors}")
  endif()
  set(text_${types} ${CMAKE_MATCH_1})
endforeach()

foreach(types IN ITEMS 1 2 9)
  math(EXPR library_${types} "${text_${types}} - ${text_0}")
endforeach()
math(EXPR extra_type "${text_2} - ${text_1}")

message("Cortex-M3, -Os, no_lock, SlabSize 1024 (size_probe.cpp); library code = .text of the "
        "N-type image - .text of the 0-type image (${text_0} bytes)")
message("| cache types | .text | library code |")
message("|---:|---:|---:|")
foreach(types IN ITEMS 1 2 9)
  message("| ${types} | ${text_${types}} | ${library_${types}} |")
endforeach()
message("a second type of the same geometry adds ${extra_type} bytes")

if(NOT DEFINED CHECK)
  return()
elseif(CHECK STREQUAL "extra_type")
  if(NOT DEFINED EXTRA_TYPE_LIMIT)
    message(FATAL_ERROR "code_size.cmake: EXTRA_TYPE_LIMIT is not set")
  endif()
  if(extra_type GREATER EXTRA_TYPE_LIMIT)
    message(FATAL_ERROR "a second cache type of an already used geometry adds ${extra_type} "
                        "bytes of .text; the target is at most ${EXTRA_TYPE_LIMIT}")
  endif()
elseif(CHECK STREQUAL "nine_types")
  if(NOT DEFINED BASELINE_NINE)
    message(FATAL_ERROR "code_size.cmake: BASELINE_NINE is not set")
  endif()
  math(EXPR limit "${BASELINE_NINE} / 3")
  if(library_9 GREATER limit)
    message(FATAL_ERROR "the nine-type image has ${library_9} bytes of library code; the target "
                        "is at most a third of the recorded baseline ${BASELINE_NINE}, ${limit}")
  endif()
else()
  message(FATAL_ERROR "code_size.cmake: unknown CHECK '${CHECK}'")
endif()
