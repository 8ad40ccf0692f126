// attachable-slab: moving objects between per-thread or per-CPU caches and the slabs, in
// batches, compiled once per (Lock, SlabSize).
//
// Contract of this layer: an object enters a cache tagged and, for the tools, freed; it leaves
// untagged and allocated. Refill moves up to a batch of free slots from the slabs into a cache
// under one acquisition of the hierarchy's lock and never grows; flush moves a batch back under
// one acquisition, and is where a double free that slipped past the tag check is found: a slot
// whose bitmap bit is already clear goes to ATTACHABLE_REPORT_DOUBLE_FREE and is dropped. A
// cache's count is written under the hierarchy's lock whenever objects cross, so that stats()
// sees taken and cached objects agree. No source call runs under any lock.
#ifndef ATTACHABLE_DETAIL_OBJECT_CACHE_HPP
#define ATTACHABLE_DETAIL_OBJECT_CACHE_HPP

#include <attachable/config.hpp>
#include <attachable/detail/cached_area.hpp>
#include <attachable/detail/hierarchy.hpp>
#include <attachable/detail/sanitizers.hpp>
#include <attachable/detail/slab_list.hpp>
#include <attachable/detail/slab_slots.hpp>

#include <cstddef>
#include <cstdint>

namespace attachable::detail::inline ATTACHABLE_ABI
{

// Returns: true if `slot`, a slot of a live slab below used_slots, is free (in its slab or in a
// cache). The tools know exactly; without them the tag says it.
[[nodiscard]] inline bool slot_is_free(const void* slot) noexcept
{
  switch (tool_slot_state_of(slot))
  {
  case tool_slot_state::free:
    return true;
  case tool_slot_state::in_use:
    return false;
  case tool_slot_state::unknown:
    break;
  }
  return tag_says_free(slot);
}

template <class Lock, std::size_t SlabSize>
struct object_cache
{
  using core = hierarchy<Lock, SlabSize>;
  using state = typename core::state;
  using slots = runtime_slots<SlabSize>;

  // ---- one object in or out ----------------------------------------------------------------

  // A slot the user gave up enters a cache: tagged, and free to the tools.
  ATTACHABLE_ALWAYS_INLINE static void park(void* slot, std::size_t slot_size) noexcept
  {
    tool_open_free_slot(slot, slot_size);
    write_tag(slot, free_tag(slot) ^ cached_tag_bit);
    tool_slot_freed(slab_of<SlabSize>(slot), slot, slot_size);
    tool_close_free_slot(slot, slot_size);
  }

  // A slot leaves a cache (or a slab, on a path that bypasses the caches) for the user.
  ATTACHABLE_ALWAYS_INLINE static void unpark(void* slot, std::size_t slot_size,
                                              std::size_t object_size) noexcept
  {
    tool_open_free_slot(slot, slot_size);
    write_tag(slot, 0);
    tool_close_free_slot(slot, slot_size);
    tool_slot_allocated(slab_of<SlabSize>(slot), slot, object_size);
  }

  // ---- batches (each takes the hierarchy's lock once) --------------------------------------

  // Moves up to `want` free slots from the slabs into items[count...], without growing.
  // Returns: how many it moved. Context: takes the hierarchy's lock; the cache is the caller's.
  static std::uint32_t refill(state* m, void** items, std::uint32_t& count,
                              std::uint32_t want) noexcept
  {
    const cache_descriptor& d = m->core.descriptor();
    std::uint32_t moved = 0;
    m->lock.lock();
    while (moved < want)
    {
      void* const slot = take_counted(m->core, slots{&d}, d.links_offset).slot();
      if (slot == nullptr)
      {
        break;
      }
      park(slot, d.slot_size);
      items[count + moved++] = slot;
    }
    set_relaxed(count, count + moved);
    m->lock.unlock();
    return moved;
  }

  // Puts parked items[0, n) back into their slabs; `count` becomes `remaining` first. Emptied
  // slaves are chained into `released` for the caller to return after unlocking. Context: the
  // hierarchy's lock held.
  static void put_back_locked(state* m, void* const* items, std::uint32_t n, std::uint32_t& count,
                              std::uint32_t remaining, slab*& released) noexcept
  {
    const cache_descriptor& d = m->core.descriptor();
    set_relaxed(count, remaining);
    for (std::uint32_t i = 0; i < n; ++i)
    {
      void* const slot = items[i];
      slab* const s = slab_of<SlabSize>(slot);
      tool_slot_allocated(s, slot, d.object_size); // put_slot frees it for the tools again
      const put_result result = put_counted(m->core, s, slot, slots{&d}, d.links_offset);
      if (result == put_result::double_free) [[unlikely]]
      {
        tool_slot_freed(s, slot, d.slot_size);
        ATTACHABLE_REPORT_DOUBLE_FREE(slot);
      }
      else if (result == put_result::emptied)
      {
        if (slab* const gone = core::on_emptied(m, s))
        {
          links_of(gone, d.links_offset).next = released;
          released = gone;
        }
      }
    }
  }

  // Puts items[0, n) back, then returns emptied slaves or the hierarchy.
  // Context: takes the hierarchy's lock; may call the source without it.
  static void flush(state* m, void* const* items, std::uint32_t n, std::uint32_t& count,
                    std::uint32_t remaining) noexcept
  {
    slab* released = nullptr;
    m->lock.lock();
    put_back_locked(m, items, n, count, remaining, released);
    core::unlock_and_settle(m, released);
  }

  static constexpr std::uint32_t max_limit = 64;

  // Takes the oldest `batch` objects out of a full cache into `out` and keeps the newest.
  // Context: the cache is the caller's (its thread, or its CPU with that CPU's lock held).
  static std::uint32_t take_oldest(void** items, std::uint32_t& count, std::uint32_t batch,
                                   void** out) noexcept
  {
    const std::uint32_t n = batch < count ? batch : count;
    const std::uint32_t kept = count - n;
    for (std::uint32_t i = 0; i < n; ++i)
    {
      out[i] = items[i];
    }
    for (std::uint32_t i = 0; i < kept; ++i)
    {
      items[i] = items[i + n];
    }
    set_relaxed(count, kept);
    return n;
  }

  // Puts objects that no cache holds any more back into their slabs.
  // Context: no lock held; takes the hierarchy's lock; may call the source without it.
  static void put_back(state* m, void* const* items, std::uint32_t n) noexcept
  {
    std::uint32_t none = 0;
    flush(m, items, n, none, 0);
  }

  // ---- per-thread binding ------------------------------------------------------------------

  // Binds `cache`, bound to nothing, to `m` and registers it: from now on it keeps the
  // hierarchy alive until unbind. A hierarchy with no handle left is not bound: nothing could
  // unbind the thread but its exit, so the last box would no longer return the hierarchy.
  // Returns: whether it bound. Context: takes the hierarchy's lock.
  static bool bind(state* m, thread_cache_head* cache) noexcept
  {
    m->lock.lock();
    const bool bound = m->handles != 0;
    if (bound)
    {
      cached_area* const area = core::area_of(m);
      cache->next = area->threads;
      area->threads = cache;
      cache->bound = m;
    }
    m->lock.unlock();
    return bound;
  }

  // Gives every cached object back, unregisters `cache` and lets the hierarchy go if nothing
  // else holds it. Returns: how many objects went back.
  // Context: the calling thread owns `cache`; takes the hierarchy's lock; may call the source.
  static std::size_t unbind(thread_cache_head* cache) noexcept
  {
    auto* const m = static_cast<state*>(cache->bound);
    if (m == nullptr)
    {
      return 0;
    }
    const std::uint32_t n = cache->count;
    slab* released = nullptr;
    m->lock.lock();
    put_back_locked(m, items_of(cache), n, cache->count, 0, released);
    for (thread_cache_head** link = &core::area_of(m)->threads; *link != nullptr;
         link = &(*link)->next)
    {
      if (*link == cache)
      {
        *link = cache->next;
        break;
      }
    }
    cache->next = nullptr;
    cache->bound = nullptr;
    core::unlock_and_settle(m, released);
    return n;
  }

  // ---- per-CPU caches ----------------------------------------------------------------------

  // Gives every object cached by `cpu` back. Returns: how many.
  // Context: any CPU; takes that CPU's cache lock, then (without it) the hierarchy's lock.
  static std::size_t drain_cpu(state* m, std::size_t cpu) noexcept
  {
    cpu_cache<Lock>* const cache = core::cpu_at(m, cpu);
    void* out[max_limit];
    cache->lock.lock();
    const std::uint32_t n = take_oldest(cpu_items(cache), cache->count, max_limit, out);
    cache->lock.unlock();
    if (n != 0)
    {
      put_back(m, out, n);
    }
    return n;
  }

  static std::size_t drain_all_cpus(state* m) noexcept
  {
    std::size_t drained = 0;
    for (std::size_t cpu = 0; cpu < m->core.descriptor().cpu_count; ++cpu)
    {
      drained += drain_cpu(m, cpu);
    }
    return drained;
  }

  [[nodiscard]] static void** cpu_items(cpu_cache<Lock>* cache) noexcept
  {
    return object_at<void*>(cache, cpu_items_offset<Lock>);
  }

  // ---- counting ----------------------------------------------------------------------------

  // Objects parked in the hierarchy's caches, read without their owners' cooperation: exact
  // when no cache is changing, never more than the slots taken.
  // Context: the hierarchy's lock held. Complexity: O(threads bound) or O(CPUs).
  [[nodiscard]] static std::size_t cached_objects(state* m) noexcept
  {
    const cache_descriptor& d = m->core.descriptor();
    std::size_t cached = 0;
    if (d.caching == caching_kind::per_thread)
    {
      for (const thread_cache_head* t = core::area_of(m)->threads; t != nullptr; t = t->next)
      {
        cached += relaxed(t->count);
      }
    }
    else if (d.caching == caching_kind::per_cpu)
    {
      for (std::size_t cpu = 0; cpu < d.cpu_count; ++cpu)
      {
        cached += relaxed(core::cpu_at(m, cpu)->count);
      }
    }
    const std::size_t taken = m->core.taken();
    return cached < taken ? cached : taken;
  }
};

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_OBJECT_CACHE_HPP
