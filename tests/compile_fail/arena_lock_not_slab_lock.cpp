// Compile-time contract: a static_arena whose Lock is not a slab_lock is rejected with the
// library's message. tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin,
// which must compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
struct lock_type
{
  void lock() {}
  void unlock() {}
  lock_type() noexcept(false) {}
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
  static attachable::static_arena<4096, 2, lock_type> arena;
  (void)arena.allocate();
}
