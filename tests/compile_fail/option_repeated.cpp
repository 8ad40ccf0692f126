// Compile-time contract: an option kind given twice (two max_slabs) is rejected with the
// library's message. tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the
// twin, which must compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#ifdef BREAK_THE_RULE
using cache = attachable::slab_cache<int, attachable::spin_lock, 4096, attachable::max_slabs<4>,
                                     attachable::max_slabs<8>>;
#else
using cache = attachable::slab_cache<int, attachable::spin_lock, 4096, attachable::max_slabs<4>>;
#endif

void use()
{
  cache c;
  (void)c.alloc();
}
