// What shared_cache_user.cpp and shared_cache_definition.cpp share: a cache defined in one and
// used in the other, by name and through a function.
#ifndef ATTACHABLE_TESTS_MIXED_CONFIG_SHARED_CACHE_HPP
#define ATTACHABLE_TESTS_MIXED_CONFIG_SHARED_CACHE_HPP

#include "mixed_unit.hpp"

#include <attachable/slab.hpp>

namespace mixed_config
{

extern attachable::slab_cache<item> shared_cache;

// Allocates and frees a few objects. Returns: true if every step succeeded.
bool fill(attachable::slab_cache<item>& cache);

} // namespace mixed_config

#endif // ATTACHABLE_TESTS_MIXED_CONFIG_SHARED_CACHE_HPP
