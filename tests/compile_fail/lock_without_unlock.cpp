// Compile-time contract: a Lock that is not a slab_lock is rejected with the library's message.
// tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin, which must
// compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
struct lock_type
{
  void lock() noexcept {}
};
#else
struct lock_type
{
  void lock() noexcept {}
  void unlock() noexcept {}
};
#endif

void use()
{
  attachable::slab_cache<int, lock_type> cache;
  (void)cache.allocate();
}
