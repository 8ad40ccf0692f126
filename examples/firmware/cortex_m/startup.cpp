// The Cortex-M half of the boot code: the vector table, the reset and fault handlers, the Arm
// EABI's atexit entry and the semihosting trap. The same file serves ARMv6-M (Cortex-M0),
// ARMv7-M (Cortex-M3) and ARMv8-M mainline (Cortex-M33, secure state): their system
// exceptions sit at the same places, and the ones an architecture lacks are never raised.
#include "../startup.hpp"
#include "../semihosting.hpp"

#include <cstdint>

// From sections.ld.
extern "C" std::uint32_t __stack_top;

extern "C"
{
  std::uintptr_t semihosting_call(std::uintptr_t operation, const void* argument) noexcept
  {
    std::uintptr_t result;
    __asm__ __volatile__("mov r0, %1\n\t"
                         "mov r1, %2\n\t"
                         "bkpt 0xAB\n\t"
                         "mov %0, r0"
                         : "=r"(result)
                         : "r"(operation), "r"(argument)
                         : "r0", "r1", "memory");
    return result;
  }

  // On Arm EABI g++ registers the destructor of a global as __aeabi_atexit(object, destructor,
  // &__dso_handle), the first two arguments swapped against __cxa_atexit.
  int __aeabi_atexit(void* argument, void (*function)(void*), void* /*dso*/) noexcept
  {
    return firmware_register_exit_function(function, argument);
  }

  [[noreturn]] void reset_handler() noexcept
  {
    firmware_boot();
  }

  void nmi_handler() noexcept
  {
    firmware_fault("FAIL: NMI\n");
  }
  void hard_fault_handler() noexcept
  {
    firmware_fault("FAIL: hard fault\n");
  }
  void unexpected_handler() noexcept
  {
    firmware_fault("FAIL: unexpected exception\n");
  }
  void pendsv_handler() noexcept
  {
    software_interrupt_handler();
  }
}

namespace
{

using handler = void (*)() noexcept;

// The system exceptions; no device interrupt is enabled, so none is listed. MemManage,
// BusFault, UsageFault and DebugMonitor are reserved on ARMv6-M; SecureFault (ARMv8-M's slot
// 7) is left empty because this firmware never leaves the secure state.
struct vector_table
{
  const void* initial_stack;
  handler entries[15];
};

[[gnu::section(".vectors"), gnu::used]] const vector_table vectors = {
    &__stack_top,
    {
        reset_handler,      // Reset
        nmi_handler,        // NMI
        hard_fault_handler, // HardFault
        unexpected_handler, // MemManage
        unexpected_handler, // BusFault
        unexpected_handler, // UsageFault
        nullptr,            // reserved (SecureFault on ARMv8-M)
        nullptr,            // reserved
        nullptr,            // reserved
        nullptr,            // reserved
        unexpected_handler, // SVCall
        unexpected_handler, // DebugMonitor
        nullptr,            // reserved
        pendsv_handler,     // PendSV
        unexpected_handler, // SysTick
    },
};

} // namespace
