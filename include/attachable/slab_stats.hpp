// attachable-slab: slab_stats and cache_info, what a cache reports about itself.
#ifndef ATTACHABLE_SLAB_STATS_HPP
#define ATTACHABLE_SLAB_STATS_HPP

#include <cstddef>

namespace attachable
{

/// A snapshot of one cache hierarchy, taken under its lock.
/// Always `hook_allocs - hook_frees == slabs`.
struct slab_stats
{
  std::size_t slabs = 0;             ///< slabs held, master included
  std::size_t empty_slabs = 0;       ///< slabs with no object taken from them, master included
  std::size_t live_objects = 0;      ///< objects the user owns: boxes, raw slots, released objects
  std::size_t capacity = 0;          ///< slots in all slabs held
  std::size_t peak_live_objects = 0; ///< the most objects ever out of the slabs at once
  std::size_t reserved_objects = 0;  ///< the floor set by the last reserve()
  std::size_t hook_allocs = 0;       ///< slab-source allocations that returned memory
  std::size_t hook_frees = 0;        ///< slab-source frees
  std::size_t hook_failures = 0;     ///< source nulls, misaligned or refused blocks, failed frees
  std::size_t cached_objects = 0;    ///< free objects parked in per-thread or per-CPU caches
};

/// What for_each_cache reports about one live cache hierarchy.
struct cache_info
{
  const char* name = "";              ///< the name given to slab_cache(name), or "(unnamed)"
  std::size_t object_size = 0;        ///< sizeof(T)
  std::size_t slab_size = 0;          ///< SlabSize
  std::size_t objects_per_slab = 0;   ///< slots in a slave slab
  std::size_t objects_per_master = 0; ///< slots in the master slab
  slab_stats stats;                   ///< the cache's counters, as slab_cache::stats() gives them
};

} // namespace attachable

#endif // ATTACHABLE_SLAB_STATS_HPP
