// Compile-time contract: a static_arena whose SlabSize is not a power of two is rejected with the
// library's message. tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin,
// which must compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
constexpr std::size_t slab_size = 3000;
#else
constexpr std::size_t slab_size = 4096;
#endif

void use()
{
  static attachable::static_arena<slab_size, 2> arena;
  (void)arena.allocate();
}
