// Compile-time contract: a static_arena with 2^32 - 1 slabs or more is rejected with the library's
// message. tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin, which must
// compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
constexpr std::size_t slab_count = 0xFFFF'FFFF;
#else
constexpr std::size_t slab_count = 4;
#endif

void use()
{
  (void)sizeof(attachable::static_arena<16, slab_count>);
}
