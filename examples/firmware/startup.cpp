// Boot code for a Cortex-M3 with no C library: the vector table, the copy of .data and the
// zeroing of .bss, static initialisation, and the exit path through semihosting.
#include "startup.hpp"
#include "semihosting.hpp"

#include <cstddef>
#include <cstdint>

// Symbols from lm3s6965.ld.
extern "C"
{
  extern std::uint32_t __stack_top;
  extern std::uint32_t __data_start;
  extern std::uint32_t __data_end;
  extern const std::uint32_t __data_load;
  extern std::uint32_t __bss_start;
  extern std::uint32_t __bss_end;
  extern void (*const __init_array_start[])();
  extern void (*const __init_array_end[])();
}

namespace
{

// A global with a non-trivial destructor (a constinit slab_cache, say) still registers that
// destructor at startup: on ARM EABI g++ emits __aeabi_atexit(object, destructor,
// &__dso_handle) from an .init_array function (elsewhere __cxa_atexit, with the first two
// arguments swapped). We implement that ABI entry rather than build with -fno-use-cxa-atexit
// and an atexit stub because it needs no extra flag from users copying this firmware, and we
// really run the destructors at exit, in reverse order, so that the self-test can check that
// the caches gave every slab back to the arena.
struct exit_function
{
  void (*function)(void*);
  void* argument;
};

constexpr std::size_t max_exit_functions = 16;
exit_function exit_functions[max_exit_functions];
std::size_t exit_function_count = 0;

void run_exit_functions() noexcept
{
  while (exit_function_count > 0)
  {
    const exit_function& entry = exit_functions[--exit_function_count];
    entry.function(entry.argument);
  }
}

// The loops below must not become calls to memcpy/memset: with -nostdlib there are none.
[[gnu::optimize("no-tree-loop-distribute-patterns")]] void initialise_memory() noexcept
{
  const std::uint32_t* source = &__data_load;
  for (std::uint32_t* word = &__data_start; word < &__data_end; ++word)
  {
    *word = *source++;
  }
  for (std::uint32_t* word = &__bss_start; word < &__bss_end; ++word)
  {
    *word = 0;
  }
}

[[noreturn]] void fault(const char* what) noexcept
{
  semihosting::write(what);
  semihosting::exit(3);
}

} // namespace

extern "C"
{
  // Only referenced by address, as the identity of this module; its value is never read.
  void* __dso_handle = nullptr;

  int __aeabi_atexit(void* argument, void (*function)(void*), void* /*dso*/) noexcept
  {
    if (exit_function_count == max_exit_functions)
    {
      return -1;
    }
    exit_functions[exit_function_count++] = {function, argument};
    return 0;
  }

  // GCC may call these four for any code, the library's included (it zeroes a stats struct
  // with memset at -Os): its manual requires every freestanding environment to provide them.
  // The attribute stops GCC from turning these very loops back into calls to themselves.
  [[gnu::optimize("no-tree-loop-distribute-patterns")]] void* memset(void* destination, int value,
                                                                     std::size_t size) noexcept
  {
    auto* bytes = static_cast<unsigned char*>(destination);
    while (size-- != 0)
    {
      *bytes++ = static_cast<unsigned char>(value);
    }
    return destination;
  }

  [[gnu::optimize("no-tree-loop-distribute-patterns")]] void*
  memcpy(void* destination, const void* source, std::size_t size) noexcept
  {
    auto* to = static_cast<unsigned char*>(destination);
    const auto* from = static_cast<const unsigned char*>(source);
    while (size-- != 0)
    {
      *to++ = *from++;
    }
    return destination;
  }

  [[gnu::optimize("no-tree-loop-distribute-patterns")]] void*
  memmove(void* destination, const void* source, std::size_t size) noexcept
  {
    auto* to = static_cast<unsigned char*>(destination);
    const auto* from = static_cast<const unsigned char*>(source);
    if (to < from)
    {
      while (size-- != 0)
      {
        *to++ = *from++;
      }
    }
    else
    {
      while (size-- != 0)
      {
        to[size] = from[size];
      }
    }
    return destination;
  }

  int memcmp(const void* left, const void* right, std::size_t size) noexcept
  {
    const auto* a = static_cast<const unsigned char*>(left);
    const auto* b = static_cast<const unsigned char*>(right);
    for (std::size_t i = 0; i < size; ++i)
    {
      if (a[i] != b[i])
      {
        return a[i] < b[i] ? -1 : 1;
      }
    }
    return 0;
  }

  [[noreturn]] void reset_handler() noexcept
  {
    initialise_memory();
    for (auto* init = __init_array_start; init != __init_array_end; ++init)
    {
      (*init)();
    }
    int status = firmware_main();
    run_exit_functions();
    status |= firmware_after_destructors();
    semihosting::exit(static_cast<std::uint32_t>(status));
  }

  void nmi_handler() noexcept
  {
    fault("FAIL: NMI\n");
  }
  void hard_fault_handler() noexcept
  {
    fault("FAIL: hard fault\n");
  }
  void unexpected_handler() noexcept
  {
    fault("FAIL: unexpected exception\n");
  }
}

namespace
{

using handler = void (*)() noexcept;

// The Cortex-M3 system exceptions; no device interrupt is enabled, so none is listed.
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
        nullptr,            // reserved
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
