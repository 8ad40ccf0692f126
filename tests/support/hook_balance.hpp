// A scope guard for one test: it clears the recording hooks' counters and planned faults when
// the test starts and, when the test ends, checks that every slab obtained during the test was
// given back and that no hook was misused, so a leak fails the test that caused it.
//
// Declare it first in a test, so that it is destroyed after every cache and box of the test.
// It also checks how deep recording locks nested: 1 (never) unless the test allows more, as a
// per_cpu cache must (a CPU's cache lock, then the hierarchy's).
#ifndef ATTACHABLE_TESTS_SUPPORT_HOOK_BALANCE_HPP
#define ATTACHABLE_TESTS_SUPPORT_HOOK_BALANCE_HPP

#include "catch.hpp"
#include "recording_hooks.hpp"
#include "recording_lock.hpp"

#include <cstddef>

namespace test_support
{

class hook_balance
{
public:
  explicit hook_balance(std::size_t max_lock_depth = 1) noexcept : max_lock_depth_(max_lock_depth)
  {
    recording_hooks::reset();
    recording_lock::reset_deepest();
    start_ = recording_hooks::counts().outstanding;
  }
  hook_balance(const hook_balance&) = delete;
  hook_balance& operator=(const hook_balance&) = delete;

  ~hook_balance()
  {
    const hook_counts end = recording_hooks::counts();
    // A planned fault the test did not use up must not leak into the next test.
    recording_hooks::reset();
    CHECK(end.outstanding == start_);
    CHECK(end.bad_requests == 0);
    CHECK(end.called_under_lock == 0);
    CHECK(recording_lock::misuses() == 0);
    CHECK(recording_lock::locks() == recording_lock::unlocks());
    CHECK(recording_lock::deepest() <= max_lock_depth_);
  }

  // Blocks the hooks handed out during this test and did not get back yet.
  [[nodiscard]] std::size_t outstanding() const noexcept
  {
    return recording_hooks::counts().outstanding - start_;
  }

private:
  std::size_t max_lock_depth_;
  std::size_t start_ = 0;
};

} // namespace test_support

#endif // ATTACHABLE_TESTS_SUPPORT_HOOK_BALANCE_HPP
