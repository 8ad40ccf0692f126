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
/// kernel's panic or your test harness; the default traps.
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
