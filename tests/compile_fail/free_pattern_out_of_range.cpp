// Compile-time contract: debug mode's fill byte must fit a byte; a larger value is rejected by
// config.hpp with its message rather than truncated. tests/compile_fail/CMakeLists.txt compiles
// this file twice: as is (the twin, which must compile) and with BREAK_THE_RULE defined (which
// must fail with the message).
#define ATTACHABLE_SLAB_DEBUG 1
#ifdef BREAK_THE_RULE
#define ATTACHABLE_FREE_PATTERN 0x1AB
#else
#define ATTACHABLE_FREE_PATTERN 0xAB
#endif
#include <attachable/slab.hpp>

void use()
{
  attachable::slab_cache<int> c;
  (void)c.alloc();
}
