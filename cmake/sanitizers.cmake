# Sanitizers for our own targets only, from the ATTACHABLE_SANITIZERS cache string (e.g.
# "address,undefined" or "thread"). With the string empty the target carries nothing, so every one
# of our targets can link it unconditionally.
add_library(attachable_sanitizers INTERFACE)

if(ATTACHABLE_SANITIZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "ATTACHABLE_SANITIZERS is supported with GCC and Clang only; "
                        "clear it or use one of those compilers.")
  endif()
  # A sanitizer report must fail the test that triggered it, hence no recovery.
  set(attachable_sanitizer_flags "-fsanitize=${ATTACHABLE_SANITIZERS}" -fno-omit-frame-pointer
                                 -fno-sanitize-recover=all)
  target_compile_options(attachable_sanitizers INTERFACE ${attachable_sanitizer_flags})
  target_link_options(attachable_sanitizers INTERFACE ${attachable_sanitizer_flags})
endif()
