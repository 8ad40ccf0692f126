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
/// header, so it is opt-in). Off by default: without it, memcheck sees whole slabs as the
/// hook's memory and finds no use after free or leak of a single object. Build the program
/// under test with -DATTACHABLE_VALGRIND=1 to have memcheck check objects one by one.
#ifndef ATTACHABLE_VALGRIND
#define ATTACHABLE_VALGRIND 0
#endif

/// 1 to fill freed slots with ATTACHABLE_FREE_PATTERN and check the pattern when the slot is
/// handed out again, reporting a write after free. Off by default: it costs a pass over the
/// slot on every free and allocation.
#ifndef ATTACHABLE_SLAB_DEBUG
#define ATTACHABLE_SLAB_DEBUG 0
#endif

/// The byte debug mode fills freed slots with. It must be a plain integer literal from 0 to
/// 255, such as 0xAB, without parentheses or arithmetic: it becomes part of the name of the
/// library's inline namespace, so that units built with different patterns never share a slab.
#ifndef ATTACHABLE_FREE_PATTERN
#define ATTACHABLE_FREE_PATTERN 0xDB
#endif

/// The ATTACHABLE_REPORT_* macros below may be called with the cache's lock held (and, with
/// per_cpu, a CPU cache's lock): they may log, count, return or panic, but must not call into
/// the same cache, which would take its lock again.
///
/// Called in debug mode when a freed slot was written after its free, with the slot's
/// address. It may return: the allocation then fails with slab_error::fatal_error and the
/// slab's free list is dropped. The default panics.
#ifndef ATTACHABLE_REPORT_WRITE_AFTER_FREE
#define ATTACHABLE_REPORT_WRITE_AFTER_FREE(slot)                                                   \
  ((void)(slot), ATTACHABLE_PANIC("attachable::slab_cache: a free slot was written after it was "  \
                                  "freed (write after free)"))
#endif

/// Called when a slot is freed a second time on a path that cannot return an error: a box
/// destroyed after its slot was already freed, or a double free found when a per-thread or
/// per-CPU batch goes back to its slabs. It receives the pointer and may return: the second
/// free is then dropped and nothing changes. The default panics.
#ifndef ATTACHABLE_REPORT_DOUBLE_FREE
#define ATTACHABLE_REPORT_DOUBLE_FREE(pointer)                                                     \
  ((void)(pointer), ATTACHABLE_PANIC("attachable::slab_cache: a slot was freed twice (double "     \
                                     "free)"))
#endif

/// Called by slab_cache::verify() with a sentence naming the first broken invariant, and when
/// an alloc hook or slab source hands out a block that is still a live slab. It may return
/// (verify() then returns fatal_error). The default does nothing.
#ifndef ATTACHABLE_REPORT_CORRUPTION
#define ATTACHABLE_REPORT_CORRUPTION(message) ((void)(message))
#endif

/// Called when the last handle of a hierarchy is dropped while `live_objects` of its objects
/// are still owned by someone (boxes, raw slots, released objects). `name` is the cache's name,
/// or "(unnamed)". It may return; the hierarchy still goes back once its last object is freed.
/// The default does nothing, since boxes may legitimately outlive every handle.
#ifndef ATTACHABLE_REPORT_LEAK
#define ATTACHABLE_REPORT_LEAK(name, live_objects) ((void)(name), (void)(live_objects))
#endif

/// 1: the alloc and free fast paths are inlined at the call site with T's layout as constants
/// (fastest). 0: they are calls into the mechanism compiled once per (Lock, SlabSize), so each
/// additional cache type costs only its constructor and destructor calls (smallest). The
/// default follows the optimisation goal: 0 under -Os, 1 otherwise.
#ifndef ATTACHABLE_INLINE_FAST_PATH
#if defined(__OPTIMIZE_SIZE__)
#define ATTACHABLE_INLINE_FAST_PATH 0
#else
#define ATTACHABLE_INLINE_FAST_PATH 1
#endif
#endif

/// 1 where the target has lock-free compare-and-swap and exchange, so that first use of a cache
/// publishes its master with one compare-and-swap and spin_lock works. 0 on cores without
/// atomic read-modify-write (ARMv6-M such as Cortex-M0, RV32 without the A extension): first
/// use then goes through a global instance of the cache's own Lock, and spin_lock is a
/// compile-time error.
#ifndef ATTACHABLE_HAS_ATOMIC_RMW
#if defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_1) && defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_4)
#define ATTACHABLE_HAS_ATOMIC_RMW 1
#else
#define ATTACHABLE_HAS_ATOMIC_RMW 0
#endif
#endif

/// The lock of the process-wide cache registry (for_each_cache, format_slabinfo). It must be
/// the same type in every translation unit. Default: spin_lock where the target has atomic
/// read-modify-write, else no_lock; on a single-core target whose interrupt handlers may drop
/// the last reference to a cache, define it to an interrupt-masking lock.
#ifndef ATTACHABLE_REGISTRY_LOCK
#if ATTACHABLE_HAS_ATOMIC_RMW
#define ATTACHABLE_REGISTRY_LOCK ::attachable::spin_lock
#else
#define ATTACHABLE_REGISTRY_LOCK ::attachable::no_lock
#endif
#endif

#if ATTACHABLE_SLAB_DEBUG != 0 && ATTACHABLE_SLAB_DEBUG != 1
#error "ATTACHABLE_SLAB_DEBUG must be 0 or 1"
#endif
#if ATTACHABLE_ASAN != 0 && ATTACHABLE_ASAN != 1
#error "ATTACHABLE_ASAN must be 0 or 1"
#endif
#if ATTACHABLE_VALGRIND != 0 && ATTACHABLE_VALGRIND != 1
#error "ATTACHABLE_VALGRIND must be 0 or 1"
#endif
#if ATTACHABLE_SLAB_DEBUG && (ATTACHABLE_FREE_PATTERN < 0 || ATTACHABLE_FREE_PATTERN > 255)
#error "ATTACHABLE_FREE_PATTERN must be a plain integer literal from 0 to 255, such as 0xAB"
#endif

// Every setting that changes a slab's layout or protocol names the inline namespace that holds
// the library's types, so translation units built with different settings never share a slab:
// their caches are different types, a pointer from one is invalid_pointer to the other, and a
// cache declared in one and defined in the other fails to link instead of corrupting memory.
#define ATTACHABLE_ABI_PASTE(debug, pattern, asan, valgrind)                                       \
  abi_v0_d##debug##_p##pattern##_a##asan##_v##valgrind
#define ATTACHABLE_ABI_NAME(debug, pattern, asan, valgrind)                                        \
  ATTACHABLE_ABI_PASTE(debug, pattern, asan, valgrind)
#if ATTACHABLE_SLAB_DEBUG
#define ATTACHABLE_ABI                                                                             \
  ATTACHABLE_ABI_NAME(ATTACHABLE_SLAB_DEBUG, ATTACHABLE_FREE_PATTERN, ATTACHABLE_ASAN,             \
                      ATTACHABLE_VALGRIND)
#else
#define ATTACHABLE_ABI                                                                             \
  ATTACHABLE_ABI_NAME(ATTACHABLE_SLAB_DEBUG, none, ATTACHABLE_ASAN, ATTACHABLE_VALGRIND)
#endif

// The same name as an ABI tag on slab_cache and slab_box. The inline namespace changes the
// mangled name of every function that takes or returns a cache, but the Itanium ABI mangles a
// variable's name without its type, so `extern slab_cache<T> cache;` in a unit with other
// settings would still link against the definition; GCC and Clang carry a type's tag into the
// names of variables of that type, so that declaration fails to link as well.
#define ATTACHABLE_STRINGIZE(name) #name
#define ATTACHABLE_ABI_STRING(name) ATTACHABLE_STRINGIZE(name)
#if defined(__GNUC__) || defined(__clang__)
#define ATTACHABLE_ABI_TAG [[gnu::abi_tag(ATTACHABLE_ABI_STRING(ATTACHABLE_ABI))]]
#else
#define ATTACHABLE_ABI_TAG
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
