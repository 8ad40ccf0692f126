// Hooks for tests: they count every call, check every request, can fail on demand, and
// know which slabs are still out, so a test can prove that everything came back.
//
// Link tests/support/recording_hooks.cpp into a test binary to define the two hooks.
#ifndef ATTACHABLE_TESTS_SUPPORT_RECORDING_HOOKS_HPP
#define ATTACHABLE_TESTS_SUPPORT_RECORDING_HOOKS_HPP

#include <cstddef>
#include <cstdint>

namespace test_support
{

struct hook_counts
{
  std::size_t alloc_calls = 0;       // every call of the alloc hook
  std::size_t alloc_returned = 0;    // calls that returned memory (aligned or not)
  std::size_t free_calls = 0;        // every call of the free hook
  std::size_t free_failed = 0;       // free calls told to report failure
  std::size_t outstanding = 0;       // blocks handed out and not given back
  std::size_t bad_requests = 0;      // size != align, not a power of two, unknown pointer, ...
  std::size_t called_under_lock = 0; // hook calls while a recording_lock was held
};

enum class alloc_fault
{
  none,
  null,       // return null
  misaligned, // return memory that is not aligned to the requested alignment
};

class recording_hooks
{
public:
  // Forgets the counters and any planned failure. Blocks still outstanding stay counted.
  static void reset() noexcept;
  [[nodiscard]] static hook_counts counts() noexcept;

  // The next alloc call number `call_from_now` (1 = the very next) fails with `fault`.
  static void fail_alloc_call(std::size_t call_from_now,
                              alloc_fault fault = alloc_fault::null) noexcept;
  // Every alloc call fails with `fault` from now on, until reset() or fail_every_alloc(none).
  static void fail_every_alloc(alloc_fault fault) noexcept;
  // Alloc calls fail with probability `percent`/100, drawn from `seed`.
  static void fail_alloc_randomly(unsigned percent, std::uint64_t seed) noexcept;
  // Only `slabs` more alloc calls succeed; later ones return null.
  static void limit_allocs(std::size_t slabs) noexcept;
  // The free call number `call_from_now` reports failure (the memory is still released, so
  // that sanitizers see no leak: the cache must have forgotten it either way).
  static void fail_free_call(std::size_t call_from_now) noexcept;

  // True if `pointer` is the start of a block handed out and not yet given back.
  [[nodiscard]] static bool is_outstanding(const void* pointer) noexcept;
};

} // namespace test_support

#endif // ATTACHABLE_TESTS_SUPPORT_RECORDING_HOOKS_HPP
