// The other half of shared_cache_user.cpp, always built with the default settings; it also
// defines the two hooks so that the only undefined names are the ones the test looks for.
#include "shared_cache.hpp"

#include <cstdlib>

attachable::slab_cache<mixed_config::item> mixed_config::shared_cache;

bool mixed_config::fill(attachable::slab_cache<item>& cache)
{
  auto first = cache.emplace(item{1, ~std::uint64_t{1}});
  auto second = cache.emplace(item{2, ~std::uint64_t{2}});
  return first && second && (*first)->value == 1 && (*second)->value == 2 &&
         cache.stats().live_objects == 2;
}

namespace
{

void* allocate_slab(attachable::layout request) noexcept
{
  return std::aligned_alloc(request.align, request.size);
}

attachable::result<void> free_slab(void* slab, attachable::layout) noexcept
{
  std::free(slab);
  return {};
}

} // namespace

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(allocate_slab, free_slab);
