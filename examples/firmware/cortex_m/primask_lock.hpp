// A slab_lock for a single-core Cortex-M: it masks every configurable interrupt, so a cache
// and the arena behind it can be used from thread code and from interrupt handlers alike.
#ifndef ATTACHABLE_EXAMPLES_FIRMWARE_PRIMASK_LOCK_HPP
#define ATTACHABLE_EXAMPLES_FIRMWARE_PRIMASK_LOCK_HPP

#include <attachable/lock.hpp>

#include <cstdint>

class primask_lock
{
public:
  constexpr primask_lock() noexcept = default;
  primask_lock(const primask_lock&) = delete; ///< A lock guards one place; it is never copied.
  primask_lock& operator=(const primask_lock&) = delete; ///< A lock guards one place.

  void lock() noexcept
  {
    std::uint32_t previous;
    __asm__ __volatile__("mrs %0, primask\n\t"
                         "cpsid i"
                         : "=r"(previous)
                         :
                         : "memory");
    // Written only once interrupts are masked, so no handler can see a half-taken lock; a
    // handler that takes the lock itself runs to completion before this context resumes.
    saved_ = previous;
  }

  // Restores the caller's mask instead of enabling interrupts, so that the lock also works
  // in code that already runs with interrupts off.
  void unlock() noexcept { __asm__ __volatile__("msr primask, %0" : : "r"(saved_) : "memory"); }

private:
  std::uint32_t saved_ = 0;
};

static_assert(attachable::slab_lock<primask_lock>);

#endif // ATTACHABLE_EXAMPLES_FIRMWARE_PRIMASK_LOCK_HPP
