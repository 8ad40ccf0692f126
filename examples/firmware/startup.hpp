// The contract between startup.cpp and the application it boots.
#ifndef ATTACHABLE_EXAMPLES_FIRMWARE_STARTUP_HPP
#define ATTACHABLE_EXAMPLES_FIRMWARE_STARTUP_HPP

/// The application. Its return value becomes qemu's exit status (0 = success).
int firmware_main() noexcept;

/// Runs after the destructors of global objects, to check what they gave back.
/// Returns: a status that is combined with firmware_main's.
int firmware_after_destructors() noexcept;

/// The PendSV exception handler.
extern "C" void pendsv_handler() noexcept;

#endif // ATTACHABLE_EXAMPLES_FIRMWARE_STARTUP_HPP
