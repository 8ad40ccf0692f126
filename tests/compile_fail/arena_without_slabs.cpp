// Compile-time contract: a static_arena with no slab is rejected with the library's message.
// tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin, which must
// compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
constexpr std::size_t slab_count = 0;
#else
constexpr std::size_t slab_count = 1;
#endif

void use()
{
  static attachable::static_arena<4096, slab_count> arena;
  (void)arena.allocate();
}
