// Semihosting: the debugger (here qemu's -semihosting) services a trap with the operation in
// the first argument register and its argument in the second. Arm and RISC-V share the
// operation numbers; only the trap differs (semihosting_call, defined in each architecture's
// startup.cpp). Only the two calls the self-test needs.
#ifndef ATTACHABLE_EXAMPLES_FIRMWARE_SEMIHOSTING_HPP
#define ATTACHABLE_EXAMPLES_FIRMWARE_SEMIHOSTING_HPP

#include <cstdint>

/// Traps to the debugger with `operation` and `argument`. Returns: the debugger's answer.
extern "C" std::uintptr_t semihosting_call(std::uintptr_t operation, const void* argument) noexcept;

namespace semihosting
{

inline constexpr std::uintptr_t sys_write0 = 0x04;
// SYS_EXIT on a 32-bit core takes only a reason code, and qemu maps every reason but "normal
// exit" to status 1; SYS_EXIT_EXTENDED (semihosting v2) takes a two-word block whose second
// word becomes qemu's own exit status.
inline constexpr std::uintptr_t sys_exit_extended = 0x20;
inline constexpr std::uintptr_t adp_stopped_application_exit = 0x20026;

/// Writes a null-terminated string to the host's stdout.
inline void write(const char* text) noexcept
{
  semihosting_call(sys_write0, text);
}

/// Ends the emulation with `status` as qemu's exit status.
[[noreturn]] inline void exit(std::uint32_t status) noexcept
{
  const std::uintptr_t block[2] = {adp_stopped_application_exit, status};
  semihosting_call(sys_exit_extended, block);
  for (;;)
  {
    // Without a debugger the trap itself faults; never run past it.
  }
}

} // namespace semihosting

#endif // ATTACHABLE_EXAMPLES_FIRMWARE_SEMIHOSTING_HPP
