// A slab_lock for a single-hart RISC-V in machine mode: it clears mstatus.MIE, so a cache and
// the arena behind it can be used from thread code and from interrupt handlers alike.
#ifndef ATTACHABLE_EXAMPLES_FIRMWARE_RISCV_MSTATUS_LOCK_HPP
#define ATTACHABLE_EXAMPLES_FIRMWARE_RISCV_MSTATUS_LOCK_HPP

#include <attachable/lock.hpp>

#include <cstdint>

class mstatus_lock
{
public:
  constexpr mstatus_lock() noexcept = default;
  mstatus_lock(const mstatus_lock&) = delete; ///< A lock guards one place; it is never copied.
  mstatus_lock& operator=(const mstatus_lock&) = delete; ///< A lock guards one place.

  void lock() noexcept
  {
    std::uint32_t previous;
    // One instruction reads the old mstatus and clears MIE, so no interrupt can slip between.
    __asm__ __volatile__("csrrci %0, mstatus, 8" : "=r"(previous) : : "memory");
    // Written only once interrupts are masked, so no handler can see a half-taken lock; a
    // handler that takes the lock itself runs to completion before this context resumes.
    saved_ = previous & mie;
  }

  // Sets MIE again only if the caller had it set, so that the lock also works in code that
  // already runs with interrupts off.
  void unlock() noexcept { __asm__ __volatile__("csrs mstatus, %0" : : "r"(saved_) : "memory"); }

private:
  static constexpr std::uint32_t mie = 1u << 3;
  std::uint32_t saved_ = 0;
};

static_assert(attachable::slab_lock<mstatus_lock>);

#endif // ATTACHABLE_EXAMPLES_FIRMWARE_RISCV_MSTATUS_LOCK_HPP
