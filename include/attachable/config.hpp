// attachable-slab: configuration macros, version and feature detection.
//
// Every macro follows one order: the value the user defined before including any
// attachable header wins, then what the compiler tells us, then the default.
#ifndef ATTACHABLE_CONFIG_HPP
#define ATTACHABLE_CONFIG_HPP

#define ATTACHABLE_VERSION_MAJOR 0
#define ATTACHABLE_VERSION_MINOR 1
#define ATTACHABLE_VERSION_PATCH 0

/// Called on a contract violation that cannot be reported as a value, such as
/// `result::value()` on an error. It receives a `const char*` sentence and must not
/// return. Define it before including any attachable header to route it to your
/// kernel's panic or your test harness. The default traps; on a hosted implementation
/// (__STDC_HOSTED__, which -ffreestanding clears) it first writes the sentence to stderr.
#ifndef ATTACHABLE_PANIC
#if __STDC_HOSTED__
#if __has_include(<cstdio>)
#include <cstdio>
#define ATTACHABLE_PANIC(message)                                                                  \
  ((void)::std::fprintf(stderr, "attachable panic: %s\n", (message)), __builtin_trap())
#endif
#endif
#endif
#ifndef ATTACHABLE_PANIC
#define ATTACHABLE_PANIC(message) ((void)(message), __builtin_trap())
#endif

// Exceptions are only ever propagated from the user's constructors, never thrown here.
#ifndef ATTACHABLE_HAS_EXCEPTIONS
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define ATTACHABLE_HAS_EXCEPTIONS 1
#else
#define ATTACHABLE_HAS_EXCEPTIONS 0
#endif
#endif

/// 1 when compiled under AddressSanitizer: free slots are poisoned. Detected; define it to 0
/// to opt out.
#ifndef ATTACHABLE_ASAN
#if defined(__SANITIZE_ADDRESS__)
#define ATTACHABLE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATTACHABLE_ASAN 1
#endif
#endif
#endif
#ifndef ATTACHABLE_ASAN
#define ATTACHABLE_ASAN 0
#endif

/// 1 to tell Valgrind's memcheck about every slot (needs <valgrind/memcheck.h>, a hosted
/// header, so it is opt-in). Off by default.
#ifndef ATTACHABLE_VALGRIND
#define ATTACHABLE_VALGRIND 0
#endif

/// 1 to fill freed slots with ATTACHABLE_FREE_PATTERN and check the pattern when the slot is
/// handed out again, reporting a write after free. Off by default: it costs a pass over the
/// slot on every free and allocation.
#ifndef ATTACHABLE_SLAB_DEBUG
#define ATTACHABLE_SLAB_DEBUG 0
#endif

#ifndef ATTACHABLE_FREE_PATTERN
#define ATTACHABLE_FREE_PATTERN 0xDB
#endif

/// Called in debug mode when a freed slot was written after its free, with the slot's
/// address. It may return: the allocation then fails with slab_error::fatal_error and the
/// slab's free list is dropped. The default panics.
#ifndef ATTACHABLE_REPORT_WRITE_AFTER_FREE
#define ATTACHABLE_REPORT_WRITE_AFTER_FREE(slot)                                                   \
  ((void)(slot), ATTACHABLE_PANIC("attachable::slab_cache: a free slot was written after it was "  \
                                  "freed (write after free)"))
#endif

// Tells the optimiser a fact it cannot prove, such as a slot address never being null.
#if defined(__clang__)
#define ATTACHABLE_ASSUME(condition) __builtin_assume(condition)
#elif defined(__GNUC__)
#define ATTACHABLE_ASSUME(condition)                                                               \
  do                                                                                               \
  {                                                                                                \
    if (!(condition))                                                                              \
    {                                                                                              \
      __builtin_unreachable();                                                                     \
    }                                                                                              \
  } while (false)
#else
#define ATTACHABLE_ASSUME(condition) ((void)0)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define ATTACHABLE_LIKELY(x) __builtin_expect(!!(x), 1)
#define ATTACHABLE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ATTACHABLE_NOINLINE __attribute__((noinline))
#define ATTACHABLE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ATTACHABLE_LIKELY(x) (x)
#define ATTACHABLE_UNLIKELY(x) (x)
#define ATTACHABLE_NOINLINE
#define ATTACHABLE_ALWAYS_INLINE inline
#endif

#endif // ATTACHABLE_CONFIG_HPP
