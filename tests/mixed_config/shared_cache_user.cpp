// Link-time contract (issue 8, item 5): a cache declared in one unit and defined in another
// must be built with the same settings, or the program fails to link. With BREAK_THE_RULE this
// unit is built in debug mode while shared_cache_definition.cpp is not; without it (the twin)
// both agree and the program links. Both the variable and a function taking the cache must
// then be undefined: the inline namespace changes the function's name, and the ABI tag on
// slab_cache the variable's, whose type the Itanium ABI leaves out of its name.
#ifdef BREAK_THE_RULE
#define ATTACHABLE_SLAB_DEBUG 1
#endif
#include "shared_cache.hpp"

int main()
{
  const bool filled = mixed_config::fill(mixed_config::shared_cache);
  return filled && mixed_config::shared_cache.stats().live_objects == 0 ? 0 : 1;
}
