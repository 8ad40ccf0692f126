// attachable-slab: the shape of a cache, and its descriptor, shared by every cache type that
// has it.
//
// Contract of this layer: everything about a cache's slabs follows from its lock, SlabSize,
// object size and alignment, slab source, caching option and slab limit: the geometry (slot
// size, slots per slab, where the master state and the per-CPU caches go) and the
// cache_descriptor that the mechanism reads. Two cache types of one shape (a struct A and a
// struct B of the same size, say) share one descriptor, so another type costs no read-only
// data; only its identity, a byte, is its own.
#ifndef ATTACHABLE_DETAIL_CACHE_SHAPE_HPP
#define ATTACHABLE_DETAIL_CACHE_SHAPE_HPP

#include <attachable/config.hpp>
#include <attachable/detail/bits.hpp>
#include <attachable/detail/cache_control.hpp>
#include <attachable/detail/cached_area.hpp>
#include <attachable/detail/lifecycle.hpp>
#include <attachable/detail/object_cache.hpp>
#include <attachable/detail/option_list.hpp>
#include <attachable/detail/slab_layout.hpp>

#include <cstddef>
#include <cstdint>

namespace attachable::detail::inline ATTACHABLE_ABI
{

template <class Lock, std::size_t SlabSize, std::size_t ObjectSize, std::size_t ObjectAlign,
          class Source, caching_kind Caching, std::size_t CpuCount, std::size_t MaxSlabs>
struct cache_shape
{
  static constexpr bool tagged = Caching != caching_kind::none;

  // Per-CPU caches take at most a quarter of the master slab, 64 objects each at most.
  static constexpr std::size_t per_cpu_limit = []
  {
    const std::size_t bytes = SlabSize / 4 / (CpuCount != 0 ? CpuCount : 1);
    const std::size_t fits =
        bytes > cpu_items_offset<Lock> ? (bytes - cpu_items_offset<Lock>) / sizeof(void*) : 0;
    return CpuCount == 0 ? 0 : fits < 64 ? fits : 64;
  }();
  static constexpr std::uint32_t cache_limit =
      static_cast<std::uint32_t>(Caching == caching_kind::per_cpu      ? per_cpu_limit
                                 : Caching == caching_kind::per_thread ? 64
                                                                       : 0);
  static constexpr std::uint32_t cache_batch = cache_limit / 2 > 0 ? cache_limit / 2 : 1;
  static constexpr std::size_t cpu_stride =
      CpuCount != 0 ? detail::cpu_stride<Lock>(per_cpu_limit) : 0;
  static constexpr std::size_t cached_area_bytes =
      Caching == caching_kind::none
          ? 0
          : align_up(sizeof(cached_area), alignof(void*)) + CpuCount * cpu_stride;

  static constexpr slab_geometry geometry = compute_geometry(geometry_request{
      SlabSize, ObjectSize, ObjectAlign, tagged ? 2 * sizeof(std::uint32_t) : sizeof(std::uint32_t),
      sizeof(master_state<Lock>), alignof(master_state<Lock>), master_hot_begin,
      master_hot_end<Lock>, cached_area_bytes, alignof(void*)});
  static constexpr std::size_t cpu_caches_offset =
      geometry.cached_area_offset + align_up(sizeof(cached_area), alignof(void*));

  static constexpr cache_descriptor descriptor{
      registry_type{&cache_control<Lock, SlabSize>::describe},
      &Source::allocate_slab,
      &Source::free_slab,
      static_cast<std::uint32_t>(ObjectSize),
      static_cast<std::uint32_t>(geometry.slot_size),
      static_cast<std::uint32_t>(geometry.objects_per_slab),
      static_cast<std::uint32_t>(geometry.objects_per_master),
      static_cast<std::uint32_t>(geometry.slave_slots_offset),
      static_cast<std::uint32_t>(geometry.master_slots_offset),
      static_cast<std::uint32_t>(geometry.links_offset),
      static_cast<std::uint32_t>(geometry.master_state_offset),
      static_cast<std::uint32_t>(geometry.cached_area_offset),
      static_cast<std::uint32_t>(MaxSlabs),
      cache_limit,
      cache_batch,
      static_cast<std::uint32_t>(CpuCount),
      static_cast<std::uint32_t>(cpu_stride),
      Caching,
      tagged ? &object_cache<Lock, SlabSize>::cached_objects : nullptr,
      Caching == caching_kind::per_cpu ? &object_cache<Lock, SlabSize>::drain_all_cpus : nullptr};
};

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_CACHE_SHAPE_HPP
