// Compile-time contract: emplace() on an aggregate T initialises it with braces, so an argument
// that narrows is refused with the library's message by g++ and clang++ alike (before, g++
// truncated it silently through parenthesised aggregate initialisation and clang++ failed with
// its own error). tests/compile_fail/CMakeLists.txt compiles this file twice with each compiler:
// as is (the twin, which must compile) and with BREAK_THE_RULE defined (which must fail with
// the message).
#include <attachable/slab.hpp>

#include <cstdint>

struct reading
{
  std::uint16_t sensor;
  std::uint32_t value;
};

void use()
{
  attachable::slab_cache<reading> cache;
#ifdef BREAK_THE_RULE
  const int sensor = 70000; // does not fit std::uint16_t
  (void)cache.emplace(sensor, std::uint32_t{5});
#else
  const std::uint16_t sensor = 7;
  (void)cache.emplace(sensor, std::uint32_t{5});
#endif
}
