// Compile-time contract: when T's alignment, not its size, leaves the master slab room for
// fewer than two objects, the message says so (a one-byte flag aligned to 2048 fills a 4096-byte
// master alone, and "shrink T" would not help). tests/compile_fail/CMakeLists.txt compiles this
// file twice: as is (the twin, which must compile) and with BREAK_THE_RULE defined (which must
// fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>

#ifdef BREAK_THE_RULE
constexpr std::size_t alignment = 2048;
#else
constexpr std::size_t alignment = 64;
#endif

struct alignas(alignment) flag
{
  bool set;
};

void use()
{
  attachable::slab_cache<flag, attachable::spin_lock, 4096> cache;
  (void)cache.allocate();
}
