// Compile-time contract: a slab with 2^32 - 1 slots or more is rejected with the library's message.
// tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin, which must
// compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
constexpr std::size_t slab_size = std::size_t{1} << 35;
#else
constexpr std::size_t slab_size = 65536;
#endif

void use()
{
  attachable::slab_cache<std::uint32_t, attachable::no_lock, slab_size> cache;
  (void)cache.allocate();
}
