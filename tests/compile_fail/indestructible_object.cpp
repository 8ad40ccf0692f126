// Compile-time contract: a T with a deleted destructor is rejected with the library's message.
// tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin, which must
// compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
struct object
{
  ~object() = delete;
};
#else
struct object
{
  ~object() = default;
};
#endif

void use()
{
  attachable::slab_cache<object> cache;
  (void)cache.allocate();
}
