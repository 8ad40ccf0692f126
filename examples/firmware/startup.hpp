// The contract between the boot code and the application it boots. runtime.cpp holds the
// architecture-neutral part (memory set-up, static constructors and destructors, the C
// functions GCC expects); cortex_m/ and riscv/ hold the reset entry, the exception or trap
// vectors and the semihosting trap of each architecture.
#ifndef ATTACHABLE_EXAMPLES_FIRMWARE_STARTUP_HPP
#define ATTACHABLE_EXAMPLES_FIRMWARE_STARTUP_HPP

/// The application. Its return value becomes qemu's exit status (0 = success).
int firmware_main() noexcept;

/// Runs after the destructors of global objects, to check what they gave back.
/// Returns: a status that is combined with firmware_main's.
int firmware_after_destructors() noexcept;

/// The application's software interrupt handler: PendSV on a Cortex-M, the machine software
/// interrupt on RISC-V. Context: the interrupt, which board::raise_software_interrupt pends.
extern "C" void software_interrupt_handler() noexcept;

/// Runs the program: initialises .data and .bss, runs static constructors, firmware_main, the
/// registered destructors and firmware_after_destructors, then ends qemu with their status.
/// Requires: a stack, and nothing else; called once by the architecture's reset code.
[[noreturn]] void firmware_boot() noexcept;

/// Ends qemu with status 3 after printing `what`; for fault and unexpected trap handlers.
[[noreturn]] void firmware_fault(const char* what) noexcept;

/// Registers `function(argument)` to run at exit, in reverse order of registration: the body of
/// __aeabi_atexit (Arm EABI) and __cxa_atexit (everywhere else), which the compiler calls to
/// register the destructor of each global object.
/// Returns: 0, or -1 when the table is full.
int firmware_register_exit_function(void (*function)(void*), void* argument) noexcept;

#endif // ATTACHABLE_EXAMPLES_FIRMWARE_STARTUP_HPP
