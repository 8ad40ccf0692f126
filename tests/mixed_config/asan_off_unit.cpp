// A unit of mixed_config_test: see mixed_unit.hpp for what the unit's settings are.
#undef ATTACHABLE_SLAB_DEBUG
#define ATTACHABLE_SLAB_DEBUG 0
#undef ATTACHABLE_VALGRIND
#define ATTACHABLE_VALGRIND 0
#undef ATTACHABLE_ASAN
#define ATTACHABLE_ASAN 0

#include "unit_impl.hpp"

const mixed_config::unit mixed_config::asan_off_unit = make_unit("asan_off");
