// Compile-time contract: a cache whose SlabSize differs from its arena source's is rejected
// with a message naming both sizes. tests/compile_fail/CMakeLists.txt compiles this file twice:
// as is (the twin, which must compile) and with BREAK_THE_RULE defined (which must fail with
// the message and both numbers).
#include <attachable/slab.hpp>

#include <cstddef>

#ifdef BREAK_THE_RULE
constexpr std::size_t cache_slab_size = 4096;
#else
constexpr std::size_t cache_slab_size = 1024;
#endif

constinit attachable::static_arena<1024, 8> region;

using cache = attachable::slab_cache<int, attachable::spin_lock, cache_slab_size,
                                     attachable::slabs_from<attachable::arena_slabs<region>>>;

void use()
{
  cache c;
  (void)c.alloc();
}
