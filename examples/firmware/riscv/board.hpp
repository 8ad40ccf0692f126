// What the self-test needs from qemu's RISC-V virt board: an interrupt-masking lock and a
// software interrupt it can raise (the machine software interrupt, through the CLINT's msip).
#ifndef ATTACHABLE_EXAMPLES_FIRMWARE_RISCV_BOARD_HPP
#define ATTACHABLE_EXAMPLES_FIRMWARE_RISCV_BOARD_HPP

#include "mstatus_lock.hpp"

#include <cstdint>

namespace board
{

using interrupt_lock = mstatus_lock;
inline constexpr const char* interrupt_lock_name = "mstatus.MIE";
inline constexpr const char* software_interrupt_name = "the machine software interrupt";

/// mstatus.MIE and mie.MSIE are both bit 3.
inline constexpr std::uint32_t mstatus_mie = 1u << 3;

/// Hart 0's msip register in the virt board's CLINT.
inline volatile std::uint32_t& msip() noexcept
{
  return *reinterpret_cast<volatile std::uint32_t*>(0x0200'0000u);
}

/// Raises the machine software interrupt; it runs as soon as mstatus.MIE is set.
inline void raise_software_interrupt() noexcept
{
  msip() = 1;
  __asm__ __volatile__("fence" : : : "memory");
}

/// Acknowledges the machine software interrupt, from its handler.
inline void clear_software_interrupt() noexcept
{
  msip() = 0;
  __asm__ __volatile__("fence" : : : "memory");
}

/// Lets a pending interrupt run now that the lock is released: setting mstatus.MIE makes a
/// pending interrupt taken before the next instruction, so nothing is needed.
inline void let_pending_interrupts_run() noexcept {}

} // namespace board

#endif // ATTACHABLE_EXAMPLES_FIRMWARE_RISCV_BOARD_HPP
