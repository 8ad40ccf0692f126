// Compile-time contract: a SlabSize that is not a power of two is rejected with the library's
// message. tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin, which must
// compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
constexpr std::size_t slab_size = 4000;
#else
constexpr std::size_t slab_size = 4096;
#endif

void use()
{
  attachable::slab_cache<int, attachable::spin_lock, slab_size> cache;
  (void)cache.allocate();
}
