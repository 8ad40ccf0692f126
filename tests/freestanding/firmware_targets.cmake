# The cores the firmware runs on and how to build a program for each: one table shared by the
# freestanding tests (CMakeLists.txt here) and the measuring scripts (code_size.cmake,
# firmware_table.cmake), which run in script mode (cmake -P). Include it; it defines no target.
#
# Every program is built in two steps, so that what it needs from outside can be read before
# any library is searched:
#   1. compile every source and link them into one relocatable object, <program>.o (-r):
#      `nm -u` on it lists exactly the symbols a library would have to provide;
#   2. link that object with the board's linker script (and, on Cortex-M0 only, libgcc) into
#      <program>.elf.
# Both steps use the same command line as the README's, split in two.

set(attachable_firmware_root "${CMAKE_CURRENT_LIST_DIR}/../..")
cmake_path(NORMAL_PATH attachable_firmware_root)
set(attachable_firmware_dir "${attachable_firmware_root}/examples/firmware")

set(attachable_firmware_targets cortex_m0 cortex_m3 cortex_m33 rv32imac rv32imc)

# attachable_firmware_tools()
# Finds the cross tools. Sets fw_arm_gxx, fw_arm_nm, fw_arm_size, fw_qemu_arm, fw_clangxx,
# fw_ld_lld, fw_llvm_nm, fw_llvm_size, fw_qemu_riscv32 and fw_newlib_cxx (libstdc++'s headers
# from libstdc++-arm-none-eabi-dev) in the caller's scope; a tool not found is <var>-NOTFOUND.
macro(attachable_firmware_tools)
  find_program(fw_arm_gxx arm-none-eabi-g++)
  find_program(fw_arm_nm arm-none-eabi-nm)
  find_program(fw_arm_size arm-none-eabi-size)
  find_program(fw_qemu_arm qemu-system-arm)
  find_program(fw_clangxx NAMES clang++ clang++-14)
  find_program(fw_ld_lld NAMES ld.lld ld.lld-14)
  find_program(fw_llvm_nm NAMES llvm-nm llvm-nm-14)
  find_program(fw_llvm_size NAMES llvm-size llvm-size-14)
  find_program(fw_qemu_riscv32 qemu-system-riscv32)
  file(GLOB fw_newlib_cxx LIST_DIRECTORIES true /usr/include/newlib/c++/*)
  if(fw_newlib_cxx)
    list(GET fw_newlib_cxx 0 fw_newlib_cxx)
  else()
    set(fw_newlib_cxx fw_newlib_cxx-NOTFOUND)
  endif()
endmacro()

# attachable_firmware_target(<target>)
# Describes one core. Sets in the caller's scope:
#   fw_core              the core and board, for people ("Cortex-M3 (lm3s6965evb)")
#   fw_arch              cortex_m or riscv: the folder of examples/firmware with its boot code
#   fw_compiler          the compiler driver
#   fw_compile_flags     target and freestanding flags for step 1
#   fw_link_flags        target flags, linker script and libraries for step 2
#   fw_nm, fw_size       the binutils that read its objects
#   fw_qemu              the qemu command line that runs an image (append the .elf)
#   fw_allowed_undefined a regex of the symbols its program may leave to the linker script
#                        or to libgcc's arithmetic helpers
#   fw_requires          <tool-variable> <Debian package> pairs it needs
# Requires: attachable_firmware_tools() called first.
macro(attachable_firmware_target target)
  set(fw_warning_flags -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow
                       -Wold-style-cast -Wcast-align -Werror)
  set(fw_common_flags -std=c++20 -ffreestanding -fno-exceptions -fno-rtti -nostdlib -Os -g
                      ${fw_warning_flags} -I${attachable_firmware_root}/include)
  # Symbols that only the linker script defines (sections.ld).
  set(fw_allowed_undefined
      "^(__stack_top|__data_start|__data_end|__data_load|__bss_start|__bss_end|__init_array_start|__init_array_end)$")
  set(fw_arena_slabs 12)
  set(fw_probe_arena_slabs 10)
  if("${target}" MATCHES "^cortex_m")
    set(fw_arch cortex_m)
    set(fw_compiler "${fw_arm_gxx}")
    set(fw_nm "${fw_arm_nm}")
    set(fw_size "${fw_arm_size}")
    set(fw_requires fw_arm_gxx gcc-arm-none-eabi fw_arm_nm gcc-arm-none-eabi fw_arm_size
                    gcc-arm-none-eabi fw_qemu_arm qemu-system-arm)
    set(fw_libraries)
    if("${target}" STREQUAL "cortex_m0")
      set(fw_core "Cortex-M0 (microbit, nRF51822)")
      set(fw_cpu -mcpu=cortex-m0 -mthumb)
      set(fw_linker_script nrf51822.ld)
      set(fw_qemu_machine microbit)
      # 16 KiB of RAM: 7 slabs of 1 KiB (an arena aligned to 1 KiB, so up to 1 KiB of padding
      # before it), the self-test's pointer array and a 2 KiB stack. The size probe's arena
      # too, which is built here only with one cache type.
      set(fw_arena_slabs 7)
      set(fw_probe_arena_slabs 7)
      # ARMv6-M has no divide instruction, so every division, the library's slot index
      # included, is a call to libgcc's helpers. They are plain arithmetic, part of the
      # compiler; libgcc's atomic shims stay forbidden (they would not be atomic anyway).
      set(fw_libraries -lgcc)
      string(APPEND fw_allowed_undefined "|^__aeabi_u?idiv(mod)?$")
    elseif("${target}" STREQUAL "cortex_m3")
      set(fw_core "Cortex-M3 (lm3s6965evb)")
      set(fw_cpu -mcpu=cortex-m3 -mthumb)
      set(fw_linker_script lm3s6965.ld)
      set(fw_qemu_machine lm3s6965evb)
    elseif("${target}" STREQUAL "cortex_m33")
      set(fw_core "Cortex-M33 (mps2-an505)")
      set(fw_cpu -mcpu=cortex-m33 -mthumb)
      set(fw_linker_script an505.ld)
      set(fw_qemu_machine mps2-an505)
    else()
      message(FATAL_ERROR "firmware_targets.cmake: no core called ${target}")
    endif()
    set(fw_compile_flags ${fw_cpu} ${fw_common_flags})
    set(fw_link_flags ${fw_cpu} -nostdlib)
    set(fw_qemu "${fw_qemu_arm}" -M ${fw_qemu_machine} -nographic -semihosting -kernel)
  elseif("${target}" MATCHES "^rv32")
    set(fw_arch riscv)
    set(fw_compiler "${fw_clangxx}")
    set(fw_nm "${fw_llvm_nm}")
    set(fw_size "${fw_llvm_size}")
    set(fw_requires fw_clangxx clang fw_ld_lld lld fw_llvm_nm llvm fw_llvm_size llvm
                    fw_newlib_cxx libstdc++-arm-none-eabi-dev fw_qemu_riscv32 qemu-system-misc)
    set(fw_linker_script qemu_virt.ld)
    set(fw_libraries)
    # Debian's riscv64-unknown-elf-g++ ships no C++ headers, so Clang compiles against the
    # freestanding headers of libstdc++-arm-none-eabi-dev. They are target-neutral except
    # bits/c++config.h, whose Arm multilib variants differ only in whether atomic builtins
    # exist: rv32imc takes ARMv6-M's (none), rv32imac ARMv7-M's. No relaxation, so no code
    # relies on gp, which the boot code leaves unset.
    if("${target}" STREQUAL "rv32imac")
      set(fw_core "RV32IMAC (virt)")
      set(fw_cxx_config ${fw_newlib_cxx}/arm-none-eabi/thumb/v7-m/nofp)
    elseif("${target}" STREQUAL "rv32imc")
      set(fw_core "RV32IMC, no atomics (virt)")
      set(fw_cxx_config ${fw_newlib_cxx}/arm-none-eabi/thumb/v6-m/nofp)
    else()
      message(FATAL_ERROR "firmware_targets.cmake: no core called ${target}")
    endif()
    set(fw_cpu --target=riscv32-unknown-elf -march=${target} -mabi=ilp32 -mno-relax)
    set(fw_compile_flags ${fw_cpu} ${fw_common_flags} -nostdinc++ -isystem ${fw_newlib_cxx}
                         -isystem ${fw_cxx_config})
    set(fw_link_flags ${fw_cpu} -nostdlib -fuse-ld=lld)
    set(fw_qemu "${fw_qemu_riscv32}" -M virt -bios none -nographic -semihosting -kernel)
  else()
    message(FATAL_ERROR "firmware_targets.cmake: no core called ${target}")
  endif()
  list(APPEND fw_link_flags -L${attachable_firmware_dir}
       -T${attachable_firmware_dir}/${fw_arch}/${fw_linker_script})
endmacro()

# attachable_firmware_program(<program>)
# The sources, include paths and definitions of one program, for the current fw_arch. Sets
# fw_sources and fw_program_flags. Programs: self_test, self_test_failing (one injected
# failure), size_probe_<n> (n cache types, for code_size.cmake) and hot_pair_probe (for
# firmware_table.cmake).
macro(attachable_firmware_program program)
  set(fw_sources ${attachable_firmware_dir}/runtime.cpp
                 ${attachable_firmware_dir}/${fw_arch}/startup.cpp)
  # The architecture's folder for board.hpp; the firmware folder for the probes under tests/.
  set(fw_program_flags -I${attachable_firmware_dir}/${fw_arch} -I${attachable_firmware_dir})
  if("${program}" STREQUAL "self_test" OR "${program}" STREQUAL "self_test_failing")
    list(APPEND fw_sources ${attachable_firmware_dir}/self_test.cpp)
    list(APPEND fw_program_flags -DFIRMWARE_ARENA_SLABS=${fw_arena_slabs})
    if("${program}" STREQUAL "self_test_failing")
      list(APPEND fw_program_flags -DFIRMWARE_INJECT_FAILURE=1)
    endif()
  elseif("${program}" MATCHES "^size_probe_([0-9]+)$")
    list(APPEND fw_sources ${attachable_firmware_root}/tests/freestanding/size_probe.cpp)
    list(APPEND fw_program_flags -DSIZE_PROBE_CACHE_TYPES=${CMAKE_MATCH_1}
         -DSIZE_PROBE_ARENA_SLABS=${fw_probe_arena_slabs})
  elseif("${program}" STREQUAL "hot_pair_probe")
    list(APPEND fw_sources ${attachable_firmware_root}/tests/freestanding/hot_pair_probe.cpp)
  else()
    message(FATAL_ERROR "firmware_targets.cmake: no program called ${program}")
  endif()
endmacro()

# attachable_firmware_missing_tool(<out-var>)
# Sets <out-var> to "<tool> <package>" for the first tool in fw_requires that was not found,
# or to "" when all were.
function(attachable_firmware_missing_tool out_var)
  set(pairs ${fw_requires})
  while(pairs)
    list(POP_FRONT pairs tool package)
    if(NOT ${tool})
      set(${out_var} "${tool} ${package}" PARENT_SCOPE)
      return()
    endif()
  endwhile()
  set(${out_var} "" PARENT_SCOPE)
endfunction()

# attachable_build_firmware(<target> <program> <output-dir> [STEPS <compile|link>...]
#                           [RESULT <var>])
# Builds <output-dir>/<program>.o (step compile) and <program>.elf from it (step link); see the
# top of this file. STEPS defaults to both. Without RESULT, a failure stops the script with the
# compiler's or linker's output; with it, <var> is set to "" on success or to that output.
function(attachable_build_firmware target program output_dir)
  cmake_parse_arguments(PARSE_ARGV 3 arg "" "RESULT" "STEPS")
  if(NOT arg_STEPS)
    set(arg_STEPS compile link)
  endif()
  attachable_firmware_target(${target})
  attachable_firmware_program(${program})
  attachable_firmware_missing_tool(missing)
  set(object "${output_dir}/${program}.o")
  set(image "${output_dir}/${program}.elf")
  set(error "")
  if(missing)
    string(REPLACE " " ";" missing "${missing}")
    list(GET missing 0 tool)
    list(GET missing 1 package)
    set(error "${tool} was not found; install the Debian package ${package} (scripts/install-deps.sh does).")
  endif()
  if(NOT error AND compile IN_LIST arg_STEPS)
    file(MAKE_DIRECTORY "${output_dir}")
    file(REMOVE "${object}" "${image}")
    execute_process(
      COMMAND "${fw_compiler}" ${fw_compile_flags} ${fw_program_flags} ${fw_sources} -r -o
              "${object}"
      RESULT_VARIABLE status
      OUTPUT_VARIABLE output
      ERROR_VARIABLE output)
    if(NOT status EQUAL 0)
      set(error "compiling ${program} for ${fw_core} failed:\n${output}")
    endif()
  endif()
  if(NOT error AND link IN_LIST arg_STEPS)
    file(REMOVE "${image}")
    execute_process(
      COMMAND "${fw_compiler}" ${fw_link_flags} "${object}" ${fw_libraries} -o "${image}"
      RESULT_VARIABLE status
      OUTPUT_VARIABLE output
      ERROR_VARIABLE output)
    if(NOT status EQUAL 0)
      set(error "linking ${program} for ${fw_core} failed:\n${output}")
    endif()
  endif()
  if(DEFINED arg_RESULT)
    set(${arg_RESULT} "${error}" PARENT_SCOPE)
  elseif(error)
    message(FATAL_ERROR "${error}")
  endif()
endfunction()
