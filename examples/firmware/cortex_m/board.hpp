// What the self-test needs from a Cortex-M: an interrupt-masking lock and a software interrupt
// it can pend (PendSV, which every Cortex-M has).
#ifndef ATTACHABLE_EXAMPLES_FIRMWARE_CORTEX_M_BOARD_HPP
#define ATTACHABLE_EXAMPLES_FIRMWARE_CORTEX_M_BOARD_HPP

#include "primask_lock.hpp"

#include <cstdint>

namespace board
{

using interrupt_lock = primask_lock;
inline constexpr const char* interrupt_lock_name = "PRIMASK";
inline constexpr const char* software_interrupt_name = "PendSV";

/// Pends PendSV; it runs as soon as interrupts are not masked.
inline void raise_software_interrupt() noexcept
{
  auto* const icsr = reinterpret_cast<volatile std::uint32_t*>(0xE000'ED04u);
  *icsr = 1u << 28; // PENDSVSET
  // Make the write reach the NVIC before the next instruction, so that with interrupts unmasked
  // the exception is taken before anything else runs.
  __asm__ __volatile__("dsb\n\tisb" : : : "memory");
}

/// Lets a pended interrupt run now that the lock is released: an MSR to PRIMASK takes effect
/// for the instructions after the next context synchronisation.
inline void let_pending_interrupts_run() noexcept
{
  __asm__ __volatile__("isb" : : : "memory");
}

} // namespace board

#endif // ATTACHABLE_EXAMPLES_FIRMWARE_CORTEX_M_BOARD_HPP
