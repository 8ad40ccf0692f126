// The architecture-neutral half of the boot code for a bare core with no C library: the copy of
// .data and the zeroing of .bss, static initialisation, the destructors at exit, the exit path
// through semihosting, and the four memory functions GCC and Clang expect.
#include "semihosting.hpp"
#include "startup.hpp"

#include <cstddef>
#include <cstdint>

// Symbols from sections.ld.
extern "C"
{
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
// destructor at startup, from an .init_array function, through __aeabi_atexit on Arm EABI and
// __cxa_atexit elsewhere (the architecture folders define those two entries). We implement
// that ABI rather than build with -fno-use-cxa-atexit and an atexit stub because it needs no
// extra flag from users copying this firmware, and we really run the destructors at exit, in
// reverse order, so that the self-test can check that the caches gave every slab back.
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

// The loops below must not become calls to memcpy/memset: inside those functions that would be
// endless recursion, and initialise_memory runs before anything is set up. GCC and Clang spell
// the request differently.
#if defined(__clang__)
#define FIRMWARE_NO_LOOP_PATTERNS [[clang::no_builtin]]
#else
#define FIRMWARE_NO_LOOP_PATTERNS [[gnu::optimize("no-tree-loop-distribute-patterns")]]
#endif

FIRMWARE_NO_LOOP_PATTERNS void initialise_memory() noexcept
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

} // namespace

int firmware_register_exit_function(void (*function)(void*), void* argument) noexcept
{
  if (exit_function_count == max_exit_functions)
  {
    return -1;
  }
  exit_functions[exit_function_count++] = {function, argument};
  return 0;
}

void firmware_fault(const char* what) noexcept
{
  semihosting::write(what);
  semihosting::exit(3);
}

void firmware_boot() noexcept
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

extern "C"
{
  // Only referenced by address, as the identity of this module; its value is never read.
  void* __dso_handle = nullptr;

  // GCC and Clang may call these four for any code, the library's included (GCC zeroes a stats
  // struct with memset at -Os): both compilers require every freestanding environment to
  // provide them.
  FIRMWARE_NO_LOOP_PATTERNS void* memset(void* destination, int value, std::size_t size) noexcept
  {
    auto* bytes = static_cast<unsigned char*>(destination);
    while (size-- != 0)
    {
      *bytes++ = static_cast<unsigned char>(value);
    }
    return destination;
  }

  FIRMWARE_NO_LOOP_PATTERNS void* memcpy(void* destination, const void* source,
                                         std::size_t size) noexcept
  {
    auto* to = static_cast<unsigned char*>(destination);
    const auto* from = static_cast<const unsigned char*>(source);
    while (size-- != 0)
    {
      *to++ = *from++;
    }
    return destination;
  }

  FIRMWARE_NO_LOOP_PATTERNS void* memmove(void* destination, const void* source,
                                          std::size_t size) noexcept
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
}
