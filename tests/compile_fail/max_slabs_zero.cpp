// Compile-time contract: max_slabs<0>, a cache that could not even hold its master, is
// rejected with the library's message. tests/compile_fail/CMakeLists.txt compiles this file
// twice: as is (the twin, which must compile) and with BREAK_THE_RULE defined (which must fail
// with the message).
#include <attachable/slab.hpp>

#include <cstddef>

#ifdef BREAK_THE_RULE
constexpr std::size_t limit = 0;
#else
constexpr std::size_t limit = 1;
#endif

void use()
{
  attachable::slab_cache<int, attachable::spin_lock, 4096, attachable::max_slabs<limit>> c;
  (void)c.alloc();
}
