// Compile-time contract: an incomplete T is rejected with the library's message.
// tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin, which must
// compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
struct object;
#else
struct object
{
  int value;
};
#endif

void use()
{
  attachable::slab_cache<object> cache;
  (void)cache.allocate();
}
