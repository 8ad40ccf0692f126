// Compile-time contract: per_thread and per_cpu together (two kinds of caching in front of one
// cache) are rejected with the library's message. tests/compile_fail/CMakeLists.txt compiles
// this file twice: as is (the twin, which must compile) and with BREAK_THE_RULE defined (which
// must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>

struct one_cpu
{
  static constexpr std::size_t count = 1;
  static std::size_t current() noexcept { return 0; }
  struct pin
  {
  };
};

#ifdef BREAK_THE_RULE
using cache = attachable::slab_cache<int, attachable::spin_lock, 4096, attachable::per_thread,
                                     attachable::per_cpu<one_cpu>>;
#else
using cache =
    attachable::slab_cache<int, attachable::spin_lock, 4096, attachable::per_cpu<one_cpu>>;
#endif

void use()
{
  cache c;
  (void)c.alloc();
}
