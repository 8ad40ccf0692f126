# Builds the firmware for every core of firmware_targets.cmake, measures it and prints the
# README's firmware table as markdown (scripts/firmware-table.sh runs it).
#
#   cmake -DOUTPUT_DIR=<dir> -P firmware_table.cmake
#
# Columns, all at -Os:
#   flash, RAM      text + data and data + bss of the self-test image (examples/firmware);
#   one cache type  .text of size_probe.cpp with one cache type minus .text with none: all the
#                   code one cache type brings (a box alloc and free, a raw slot alloc and
#                   free, first use, growth, giving slabs back), as issue 9's size test counts;
#   hot pair code   the size of measured_pairs in hot_pair_probe.cpp: a loop around one box
#                   alloc and free with whatever the compiler inlined into it;
#   instructions    executed per hot no_lock alloc+free pair, counted by qemu: run with
#                   -singlestep (one instruction per translation block) and -d exec,nochain,
#                   qemu logs one line per executed instruction, naming its function; the lines
#                   between the probe's first and second measure_mark (100 pairs) are
#                   subtracted from those between the third and fourth (200 pairs).
# A core whose program does not build gets a row saying so, with the first error line.
cmake_minimum_required(VERSION 3.25)
include("${CMAKE_CURRENT_LIST_DIR}/firmware_targets.cmake")

if(NOT DEFINED OUTPUT_DIR)
  message(FATAL_ERROR "firmware_table.cmake: OUTPUT_DIR is not set")
endif()
set(hot_pairs 100)

attachable_firmware_tools()

# section_sizes(<size-tool> <image> <prefix>): sets <prefix>_text, _data, _bss (Berkeley format).
function(section_sizes size_tool image prefix)
  execute_process(
    COMMAND "${size_tool}" "${image}"
    RESULT_VARIABLE status
    OUTPUT_VARIABLE output
    ERROR_VARIABLE errors)
  if(NOT status EQUAL 0 OR NOT output MATCHES "\n[ \t]*([0-9]+)[ \t]+([0-9]+)[ \t]+([0-9]+)")
    message(FATAL_ERROR "cannot read the sizes of ${image}: ${errors}")
  endif()
  set(${prefix}_text ${CMAKE_MATCH_1} PARENT_SCOPE)
  set(${prefix}_data ${CMAKE_MATCH_2} PARENT_SCOPE)
  set(${prefix}_bss ${CMAKE_MATCH_3} PARENT_SCOPE)
endfunction()

# symbol_size(<nm-tool> <image> <symbol> <out-var>): the size of one symbol, in bytes.
function(symbol_size nm_tool image symbol out_var)
  execute_process(
    COMMAND "${nm_tool}" -S "${image}"
    RESULT_VARIABLE status
    OUTPUT_VARIABLE output
    ERROR_VARIABLE errors)
  if(NOT status EQUAL 0 OR NOT output MATCHES "[0-9a-f]+ ([0-9a-f]+) [Tt] ${symbol}\n")
    message(FATAL_ERROR "no size for ${symbol} in ${image}: ${errors}")
  endif()
  math(EXPR size "0x${CMAKE_MATCH_1}")
  set(${out_var} ${size} PARENT_SCOPE)
endfunction()

# hot_pair_instructions(<image> <out-var>): see the top of this file. Requires fw_qemu.
function(hot_pair_instructions image out_var)
  set(log "${image}.exec.log")
  file(REMOVE "${log}")
  execute_process(
    COMMAND ${fw_qemu} "${image}" -singlestep -d exec,nochain -D "${log}"
    RESULT_VARIABLE status
    OUTPUT_VARIABLE output
    ERROR_VARIABLE output
    TIMEOUT 300)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "hot_pair_probe failed under qemu (${status}):\n${output}")
  endif()
  file(STRINGS "${log}" lines REGEX "^Trace ")
  set(marks 0)
  set(first 0)
  set(second 0)
  foreach(line IN LISTS lines)
    if(line MATCHES " measure_mark$")
      math(EXPR marks "${marks} + 1")
    elseif(marks EQUAL 1)
      math(EXPR first "${first} + 1")
    elseif(marks EQUAL 3)
      math(EXPR second "${second} + 1")
    endif()
  endforeach()
  if(NOT marks EQUAL 4)
    message(FATAL_ERROR "expected 4 measure_mark lines in ${log}, found ${marks}")
  endif()
  math(EXPR per_pair "(${second} - ${first} + ${hot_pairs} / 2) / ${hot_pairs}")
  set(${out_var} ${per_pair} PARENT_SCOPE)
endfunction()

# thousands(<number> <out-var>): 15260 -> 15,260, as the README writes numbers.
function(thousands number out_var)
  if(number GREATER_EQUAL 1000)
    math(EXPR high "${number} / 1000")
    math(EXPR low "${number} % 1000")
    string(LENGTH "${low}" digits)
    if(digits EQUAL 1)
      set(low "00${low}")
    elseif(digits EQUAL 2)
      set(low "0${low}")
    endif()
    set(number "${high},${low}")
  endif()
  set(${out_var} "${number}" PARENT_SCOPE)
endfunction()

set(rows)
foreach(target IN LISTS attachable_firmware_targets)
  attachable_firmware_target(${target})
  set(dir "${OUTPUT_DIR}/${target}")
  set(failed "")
  foreach(program IN ITEMS self_test size_probe_0 size_probe_1 hot_pair_probe)
    attachable_build_firmware(${target} ${program} "${dir}" RESULT error)
    if(error)
      string(REGEX MATCH "(undefined (reference to|symbol:)[^\n]*|error:[^\n]*)" first_error
                   "${error}")
      if(NOT first_error)
        string(REGEX MATCH "^[^\n]*" first_error "${error}")
      endif()
      string(REPLACE "|" "\\|" first_error "${first_error}")
      set(failed "${program} does not build: ${first_error}")
      break()
    endif()
  endforeach()
  if(failed)
    list(APPEND rows "| ${fw_core} | ${failed} | | | | |")
    message(STATUS "${target}: ${failed}")
    continue()
  endif()

  section_sizes("${fw_size}" "${dir}/self_test.elf" image)
  math(EXPR flash "${image_text} + ${image_data}")
  math(EXPR ram "${image_data} + ${image_bss}")
  section_sizes("${fw_size}" "${dir}/size_probe_0.elf" none)
  section_sizes("${fw_size}" "${dir}/size_probe_1.elf" one)
  math(EXPR one_type "${one_text} - ${none_text}")
  symbol_size("${fw_nm}" "${dir}/hot_pair_probe.elf" measured_pairs pair_code)
  hot_pair_instructions("${dir}/hot_pair_probe.elf" instructions)
  foreach(number IN ITEMS flash ram one_type pair_code)
    thousands(${${number}} ${number})
  endforeach()
  list(APPEND rows
       "| ${fw_core} | ${flash} | ${ram} | ${one_type} | ${pair_code} | ${instructions} |")
  message(STATUS "${target}: measured")
endforeach()

execute_process(COMMAND "${fw_arm_gxx}" -dumpfullversion OUTPUT_VARIABLE gcc_version
                OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND "${fw_clangxx}" -dumpversion OUTPUT_VARIABLE clang_version
                OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND "${fw_qemu_arm}" --version OUTPUT_VARIABLE qemu_version)
string(REGEX MATCH "version ([0-9.]+)" qemu_version "${qemu_version}")

message("")
message("Arm: arm-none-eabi-g++ ${gcc_version}; RISC-V: clang++ ${clang_version} with ld.lld; "
        "qemu ${CMAKE_MATCH_1}; all -Os. Bytes, except the last column.")
message("")
message("| core (qemu board) | flash | RAM | one cache type's code | hot pair code "
        "| instructions per hot no_lock pair |")
message("|---|---:|---:|---:|---:|---:|")
foreach(row IN LISTS rows)
  message("${row}")
endforeach()
