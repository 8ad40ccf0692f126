// ARM semihosting: the debugger (here qemu's -semihosting) services a BKPT 0xAB with the
// operation in r0 and its argument in r1. Only the two calls the self-test needs.
#ifndef ATTACHABLE_EXAMPLES_FIRMWARE_SEMIHOSTING_HPP
#define ATTACHABLE_EXAMPLES_FIRMWARE_SEMIHOSTING_HPP

#include <cstdint>

namespace semihosting
{

inline constexpr std::uint32_t sys_write0 = 0x04;
// SYS_EXIT on a 32-bit core takes only a reason code, and qemu maps every reason but "normal
// exit" to status 1; SYS_EXIT_EXTENDED (semihosting v2) takes a two-word block whose second
// word becomes qemu's own exit status.
inline constexpr std::uint32_t sys_exit_extended = 0x20;
inline constexpr std::uint32_t adp_stopped_application_exit = 0x20026;

inline std::uint32_t call(std::uint32_t operation, const void* argument) noexcept
{
  std::uint32_t result;
  __asm__ __volatile__("mov r0, %1\n\t"
                       "mov r1, %2\n\t"
                       "bkpt 0xAB\n\t"
                       "mov %0, r0"
                       : "=r"(result)
                       : "r"(operation), "r"(argument)
                       : "r0", "r1", "memory");
  return result;
}

/// Writes a null-terminated string to the host's stdout.
inline void write(const char* text) noexcept
{
  call(sys_write0, text);
}

/// Ends the emulation with `status` as qemu's exit status.
[[noreturn]] inline void exit(std::uint32_t status) noexcept
{
  const std::uint32_t block[2] = {adp_stopped_application_exit, status};
  call(sys_exit_extended, block);
  for (;;)
  {
    // Without a debugger the BKPT itself faults; never run past it.
  }
}

} // namespace semihosting

#endif // ATTACHABLE_EXAMPLES_FIRMWARE_SEMIHOSTING_HPP
