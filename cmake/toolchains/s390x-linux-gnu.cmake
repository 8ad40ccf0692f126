# Cross-builds for 64-bit IBM Z Linux with Debian's g++-s390x-linux-gnu, and runs the tests under
# qemu-user. s390x is big-endian: this leg proves that nothing in the library depends on byte
# order (bitmaps, free-list links, magic values, identities).
#
#   cmake -S . -B build/s390x -G Ninja --toolchain cmake/toolchains/s390x-linux-gnu.cmake
#   cmake --build build/s390x && ctest --test-dir build/s390x
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR s390x)

set(CMAKE_C_COMPILER s390x-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER s390x-linux-gnu-g++)

# Debian's multiarch cross sysroot; host libraries must never be picked up.
set(CMAKE_FIND_ROOT_PATH /usr/s390x-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest (and Catch2's test discovery) run every test program through qemu.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-s390x -L /usr/s390x-linux-gnu)

# As for aarch64: Debian has no s390x build of Catch2's libraries, so its architecture-independent
# v2 single header stands in for the package.
set(Catch2_DIR
    "${CMAKE_CURRENT_LIST_DIR}/../cross-catch2"
    CACHE PATH "Catch2 built from its single header for the cross target")
