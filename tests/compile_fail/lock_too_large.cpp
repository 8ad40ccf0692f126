// Compile-time contract: a Lock over 16 bytes is rejected with the library's message.
// tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin, which must
// compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
struct lock_type
{
  void lock() noexcept {}
  void unlock() noexcept {}
  unsigned char state[32] = {};
};
#else
struct lock_type
{
  void lock() noexcept {}
  void unlock() noexcept {}
  unsigned char state[16] = {};
};
#endif

void use()
{
  attachable::slab_cache<int, lock_type> cache;
  (void)cache.allocate();
}
