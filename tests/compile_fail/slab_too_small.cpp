// Compile-time contract: a slab too small for its header plus two objects is rejected with the
// library's message. tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin,
// which must compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
constexpr std::size_t slab_size = 4096;
#else
constexpr std::size_t slab_size = 65536;
#endif

void use()
{
  struct object
  {
    unsigned char bytes[2000];
  };
  attachable::slab_cache<object, attachable::spin_lock, slab_size> cache;
  (void)cache.allocate();
}
