// Compile-time contract: a type after SlabSize that is not an attachable option is rejected
// with the library's message. tests/compile_fail/CMakeLists.txt compiles this file twice: as is
// (the twin, which must compile) and with BREAK_THE_RULE defined (which must fail with the
// message).
#include <attachable/slab.hpp>

struct unbounded
{
};

#ifdef BREAK_THE_RULE
using cache = attachable::slab_cache<int, attachable::spin_lock, 4096, unbounded>;
#else
using cache = attachable::slab_cache<int, attachable::spin_lock, 4096>;
#endif

void use()
{
  cache c;
  (void)c.alloc();
}
