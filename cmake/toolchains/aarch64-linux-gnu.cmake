# Cross-builds for 64-bit Arm Linux with Debian's g++-aarch64-linux-gnu, and runs the tests
# under qemu-user, so that spin_lock and the reference counting are exercised with a weakly
# ordered architecture's code generation.
#
#   cmake -S . -B build/aarch64 -G Ninja --toolchain cmake/toolchains/aarch64-linux-gnu.cmake
#   cmake --build build/aarch64 && ctest --test-dir build/aarch64
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Debian's multiarch cross sysroot; host libraries must never be picked up.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest (and Catch2's test discovery) run every test program through qemu.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)

# Debian has no aarch64 build of Catch2's libraries, only the architecture-independent v2
# single header: this package stands in for Catch2 and compiles its main for the target.
set(Catch2_DIR
    "${CMAKE_CURRENT_LIST_DIR}/../cross-catch2"
    CACHE PATH "Catch2 built from its single header for the cross target")
