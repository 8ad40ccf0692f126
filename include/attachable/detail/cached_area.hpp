// attachable-slab: the layout of per-thread and per-CPU object caches.
//
// Contract of this layer: where cached objects are kept, nothing more (the behaviour is in
// object_cache.hpp). A cache of free objects is a count and an array of pointers: allocation
// pops, free pushes, and a batch moves to or from the slabs under the hierarchy's lock when
// the array runs empty or full.
//
// - per_thread: one thread_cache per thread and cache type, in thread-local storage, bound to
//   one hierarchy at a time and registered in that hierarchy's list, which keeps the hierarchy
//   alive until the thread unbinds (exit, drain(), or dropping a handle).
// - per_cpu: Cpus::count cpu_caches inside the master slab, after the master state, each with
//   its own instance of the cache's Lock, so that any CPU can drain any other's.
#ifndef ATTACHABLE_DETAIL_CACHED_AREA_HPP
#define ATTACHABLE_DETAIL_CACHED_AREA_HPP

#include <attachable/config.hpp>
#include <attachable/detail/bits.hpp>

#include <cstddef>
#include <cstdint>

namespace attachable::detail::inline ATTACHABLE_ABI
{

// The start of every per-thread cache; `limit` item pointers follow.
struct thread_cache_head
{
  void* bound = nullptr;             // the master state cached for; read by this thread only
  thread_cache_head* next = nullptr; // in the bound hierarchy's list (its lock)
  std::uint32_t count = 0;           // items held; written by this thread, read by stats()
};

template <std::size_t Limit>
struct thread_cache
{
  thread_cache_head head;
  void* items[Limit];
};

[[nodiscard]] inline void** items_of(thread_cache_head* head) noexcept
{
  return object_at<void*>(head, align_up(sizeof(thread_cache_head), alignof(void*)));
}

// In the master slab after the master state, for caches with per-thread or per-CPU caching.
struct cached_area
{
  thread_cache_head* threads = nullptr; // per_thread: the threads bound to this hierarchy
  std::uint8_t orphaned = 0;            // per_cpu: no handle is left, frees bypass the caches
};

// One CPU's cache; `limit` item pointers follow at cpu_items_offset<Lock>.
template <class Lock>
struct cpu_cache
{
  [[no_unique_address]] Lock lock{};
  std::uint32_t count = 0;
};

template <class Lock>
inline constexpr std::size_t cpu_items_offset = align_up(sizeof(cpu_cache<Lock>), alignof(void*));

template <class Lock>
[[nodiscard]] constexpr std::size_t cpu_stride(std::size_t limit) noexcept
{
  return align_up(cpu_items_offset<Lock> + limit * sizeof(void*),
                  max_of(alignof(cpu_cache<Lock>), alignof(void*)));
}

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_CACHED_AREA_HPP
