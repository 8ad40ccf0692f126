// The RISC-V half of the boot code, for an RV32 core in machine mode on qemu's virt board: the
// reset entry, the trap vector, the C++ ABI's atexit entry and the semihosting trap.
#include "../startup.hpp"
#include "../semihosting.hpp"
#include "board.hpp"

#include <cstdint>

// The reset entry must come first in the image: with -bios none, qemu's virt board jumps to
// the start of RAM. Relaxation is off so that no instruction depends on gp, which nothing sets.
__asm__(".section .text.start, \"ax\", @progbits\n"
        ".option push\n"
        ".option norelax\n"
        ".globl _start\n"
        "_start:\n"
        "  la sp, __stack_top\n"
        "  j riscv_reset\n"
        ".option pop\n");

// Direct-mode trap entry (mtvec needs 4-byte alignment): saves the registers a C++ function may
// clobber, handles the trap, restores them and returns with mret. 16 words keep sp 16-byte
// aligned as the ABI requires.
__asm__(".section .text.trap, \"ax\", @progbits\n"
        ".balign 4\n"
        ".globl riscv_trap_entry\n"
        "riscv_trap_entry:\n"
        "  addi sp, sp, -64\n"
        "  sw ra, 0(sp)\n"
        "  sw t0, 4(sp)\n"
        "  sw t1, 8(sp)\n"
        "  sw t2, 12(sp)\n"
        "  sw a0, 16(sp)\n"
        "  sw a1, 20(sp)\n"
        "  sw a2, 24(sp)\n"
        "  sw a3, 28(sp)\n"
        "  sw a4, 32(sp)\n"
        "  sw a5, 36(sp)\n"
        "  sw a6, 40(sp)\n"
        "  sw a7, 44(sp)\n"
        "  sw t3, 48(sp)\n"
        "  sw t4, 52(sp)\n"
        "  sw t5, 56(sp)\n"
        "  sw t6, 60(sp)\n"
        "  call riscv_trap\n"
        "  lw ra, 0(sp)\n"
        "  lw t0, 4(sp)\n"
        "  lw t1, 8(sp)\n"
        "  lw t2, 12(sp)\n"
        "  lw a0, 16(sp)\n"
        "  lw a1, 20(sp)\n"
        "  lw a2, 24(sp)\n"
        "  lw a3, 28(sp)\n"
        "  lw a4, 32(sp)\n"
        "  lw a5, 36(sp)\n"
        "  lw a6, 40(sp)\n"
        "  lw a7, 44(sp)\n"
        "  lw t3, 48(sp)\n"
        "  lw t4, 52(sp)\n"
        "  lw t5, 56(sp)\n"
        "  lw t6, 60(sp)\n"
        "  addi sp, sp, 64\n"
        "  mret\n");

// The semihosting trap is an ebreak between two marker instructions, all three uncompressed
// and on one page, so the sequence gets a 16-byte aligned function of its own rather than
// being inlined into code that may be compressed.
__asm__(".section .text.semihosting, \"ax\", @progbits\n"
        ".balign 16\n"
        ".option push\n"
        ".option norvc\n"
        ".globl semihosting_call\n"
        "semihosting_call:\n"
        "  slli zero, zero, 0x1f\n"
        "  ebreak\n"
        "  srai zero, zero, 7\n"
        "  ret\n"
        ".option pop\n");

extern "C"
{
  void riscv_trap_entry();

  void riscv_trap() noexcept
  {
    std::uint32_t cause;
    __asm__ __volatile__("csrr %0, mcause" : "=r"(cause));
    constexpr std::uint32_t machine_software_interrupt = (1u << 31) | 3u;
    if (cause != machine_software_interrupt)
    {
      firmware_fault("FAIL: unexpected trap\n");
    }
    board::clear_software_interrupt();
    software_interrupt_handler();
  }

  [[noreturn]] void riscv_reset() noexcept
  {
    __asm__ __volatile__("csrw mtvec, %0" : : "r"(&riscv_trap_entry));
    // Like a Cortex-M out of reset: interrupts enabled, with the software interrupt unmasked.
    __asm__ __volatile__("csrs mie, %0\n\t"
                         "csrs mstatus, %0"
                         :
                         : "r"(board::mstatus_mie)
                         : "memory");
    firmware_boot();
  }

  // The C++ ABI's registration of a global's destructor.
  int __cxa_atexit(void (*function)(void*), void* argument, void* /*dso*/) noexcept
  {
    return firmware_register_exit_function(function, argument);
  }
}
