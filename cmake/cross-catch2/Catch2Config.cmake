# A stand-in Catch2 package for cross builds (see cmake/toolchains/): Catch2 v2's single header
# is architecture-independent, so Catch2::Catch2WithMain is built here for the target from that
# header instead of linking the host's prebuilt library.
set(Catch2_VERSION 2.13)
find_file(
  ATTACHABLE_CATCH2_SINGLE_HEADER catch.hpp
  PATHS /usr/include/catch2
  NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
if(NOT ATTACHABLE_CATCH2_SINGLE_HEADER)
  message(FATAL_ERROR "The cross build needs Catch2 v2's single header catch2/catch.hpp "
                      "(Debian: catch2); install it.")
endif()

# Only the one header goes on the include path, never the rest of the host's /usr/include.
set(catch2_include "${CMAKE_BINARY_DIR}/cross-catch2/include")
configure_file("${ATTACHABLE_CATCH2_SINGLE_HEADER}" "${catch2_include}/catch2/catch.hpp" COPYONLY)

if(NOT TARGET Catch2::Catch2WithMain)
  add_library(attachable_cross_catch2_main STATIC "${CMAKE_CURRENT_LIST_DIR}/catch2_main.cpp")
  target_include_directories(attachable_cross_catch2_main SYSTEM PUBLIC "${catch2_include}")
  target_compile_features(attachable_cross_catch2_main PUBLIC cxx_std_20)
  add_library(Catch2::Catch2WithMain ALIAS attachable_cross_catch2_main)
endif()

# Catch.cmake (catch_discover_tests) is a script, the same for every architecture.
find_path(
  ATTACHABLE_CATCH2_CMAKE_DIR Catch.cmake
  PATHS /usr/lib/cmake/Catch2 /usr/share/cmake/Catch2
  NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
list(APPEND CMAKE_MODULE_PATH "${ATTACHABLE_CATCH2_CMAKE_DIR}")
set(Catch2_FOUND TRUE)
