# Warnings for our own tests, examples and benchmarks. The target is never linked by
# attachable_slab and never exported, so users do not inherit our warning policy.
add_library(attachable_warnings INTERFACE)

if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(
    attachable_warnings
    INTERFACE -Wall
              -Wextra
              -Wpedantic
              -Wconversion
              -Wsign-conversion
              -Wshadow
              -Wold-style-cast
              -Wcast-align
              $<$<BOOL:${ATTACHABLE_WERROR}>:-Werror>)
endif()
