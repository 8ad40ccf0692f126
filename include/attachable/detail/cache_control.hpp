// attachable-slab: what a cache handle asks of its hierarchy besides allocation: reserve,
// shrink, retention, statistics, the registry's description, and letting go of a handle.
// Compiled once per (Lock, SlabSize).
//
// Contract of this layer: each operation takes the hierarchy's lock for its bookkeeping and
// calls the source only after dropping it; a shrink or a last handle first drains the per-CPU
// caches it can reach, so their objects can go back.
#ifndef ATTACHABLE_DETAIL_CACHE_CONTROL_HPP
#define ATTACHABLE_DETAIL_CACHE_CONTROL_HPP

#include <attachable/config.hpp>
#include <attachable/detail/hierarchy.hpp>
#include <attachable/detail/object_cache.hpp>
#include <attachable/detail/registry_node.hpp>
#include <attachable/detail/slab_list.hpp>
#include <attachable/result.hpp>
#include <attachable/slab_stats.hpp>

#include <cstddef>
#include <cstdint>

namespace attachable::detail::inline ATTACHABLE_ABI
{

template <class Lock, std::size_t SlabSize>
struct cache_control
{
  using core = hierarchy<Lock, SlabSize>;
  using cached = object_cache<Lock, SlabSize>;
  using state = typename core::state;

  // Context: takes the lock; calls the source (without the lock) until capacity >= objects.
  [[nodiscard]] static result<void> reserve(state* m, std::size_t objects) noexcept
  {
    m->lock.lock();
    m->core.reserved = objects;
    for (;;)
    {
      if (m->core.capacity() >= objects)
      {
        m->lock.unlock();
        return {};
      }
      if (!core::begin_growth(m))
      {
        m->lock.unlock();
        return slab_error::out_of_memory;
      }
      m->lock.unlock();
      slab_error failure = slab_error::out_of_memory;
      slab* const s = core::obtain_slave(m, failure);
      if (s == nullptr)
      {
        m->lock.unlock();
        return failure;
      }
      add_reserved_slave(m->core, s, core::links(m));
    }
  }

  // Returns every empty slave above the reserve, after draining the caches it can reach.
  // Returns: how many slabs went back. Context: takes the lock; calls the source without it.
  // Complexity: O(empty slaves), plus O(CPUs) with per_cpu.
  static std::size_t shrink(state* m) noexcept
  {
    if (const auto drain = m->core.descriptor().drain_every_cpu)
    {
      drain(m);
    }
    const std::size_t links = core::links(m);
    slab* released = nullptr;
    std::size_t count = 0;
    m->lock.lock();
    for (slab* s = m->core.tail; s != nullptr && is_empty_slave(s);)
    {
      slab* const previous = links_of(s, links).prev;
      if (!above_reserve(m->core))
      {
        break;
      }
      detach_slab(m->core, s, links);
      links_of(s, links).next = released;
      released = s;
      ++count;
      s = previous;
    }
    if (released == nullptr)
    {
      m->lock.unlock();
      return 0;
    }
    m->core.in_flight += static_cast<std::uint32_t>(count);
    m->lock.unlock();
    core::finish_release(m, released);
    return count;
  }

  // Returns: how many slabs the hierarchy has detached to give back since it was created (a
  // count that only grows: hook_allocs - slabs).
  // Context: takes the lock.
  [[nodiscard]] static std::size_t slabs_released(state* m) noexcept
  {
    m->lock.lock();
    const std::size_t released = m->core.hook_allocs - m->core.slabs;
    m->lock.unlock();
    return released;
  }

  // Context: takes the lock.
  static void retain_empty_slabs(state* m, std::size_t slabs) noexcept
  {
    const std::uint32_t most = ~std::uint32_t{0};
    m->lock.lock();
    m->core.retain = slabs < most ? static_cast<std::uint32_t>(slabs) : most;
    m->lock.unlock();
  }

  // Context: the lock held.
  [[nodiscard]] static std::size_t cached_count(state* m) noexcept
  {
    const auto count = m->core.descriptor().count_cached;
    return count != nullptr ? count(m) : 0;
  }

  // Context: the lock held.
  [[nodiscard]] static slab_stats snapshot(state* m) noexcept
  {
    const master_core& c = m->core;
    slab_stats s;
    s.slabs = c.slabs;
    s.capacity = c.capacity();
    s.cached_objects = cached_count(m);
    s.live_objects = c.taken() - s.cached_objects;
    s.peak_live_objects = c.peak;
    s.reserved_objects = c.reserved;
    s.hook_allocs = c.hook_allocs;
    s.hook_frees = c.hook_allocs - c.slabs;
    s.hook_failures = c.hook_failures;
    s.empty_slabs = c.empty_slaves;
    if (c.cursor != nullptr && is_empty_slave(c.cursor))
    {
      ++s.empty_slabs;
    }
    if (taken_slots(core::master_slab(m)) == 0)
    {
      ++s.empty_slabs;
    }
    return s;
  }

  // Context: takes the lock. Complexity: O(1), plus O(threads bound) or O(CPUs) with caching.
  [[nodiscard]] static slab_stats stats(state* m) noexcept
  {
    m->lock.lock();
    const slab_stats s = snapshot(m);
    m->lock.unlock();
    return s;
  }

  // The registry's view of one hierarchy. Context: the registry lock held; takes the lock.
  static void describe(const registry_node& node, cache_info& info) noexcept
  {
    state* const m = core::state_of(slab_of<SlabSize>(&node));
    const cache_descriptor& d = m->core.descriptor();
    info.name = m->core.name != nullptr ? m->core.name : "(unnamed)";
    info.object_size = d.object_size;
    info.slab_size = SlabSize;
    info.objects_per_slab = d.objects_per_slab;
    info.objects_per_master = d.objects_per_master;
    info.stats = stats(m);
  }

  // Calls f(slot) for every slot the users own, skipping objects parked in caches.
  // Context: takes the lock; f runs under it. Complexity: O(slabs x slots).
  template <class F>
  static void for_each_taken(state* m, F& f)
  {
    struct unlock_at_exit
    {
      state* m;
      ~unlock_at_exit() { m->lock.unlock(); }
    };
    const cache_descriptor& d = m->core.descriptor();
    const runtime_slots<SlabSize> g{&d};
    m->lock.lock();
    const unlock_at_exit unlock{m};
    for (slab* s = m->core.head; s != nullptr; s = links_of(s, d.links_offset).next)
    {
      const std::uint32_t bump = relaxed(s->bump);
      for (std::uint32_t index = 0; index < bump; ++index)
      {
        void* const slot = slot_at(s, index, g);
        if (is_occupied(s, index) && (d.caching == caching_kind::none || !slot_is_free(slot)))
        {
          f(slot);
        }
      }
    }
  }

  // Drops one handle. The last one drains the per-CPU caches, reports objects still live
  // (ATTACHABLE_REPORT_LEAK), and returns the hierarchy if nothing else holds it.
  // Context: takes the lock; may call the source without it.
  static void release_handle(state* m) noexcept
  {
    // Decided and settled in one critical section: between two, a free of the last object (or
    // a thread's exit flush) could find the hierarchy dead and tear it down under us.
    m->lock.lock();
    if (--m->handles != 0)
    {
      m->lock.unlock();
      return;
    }
    core::master_slab(m)->role = slab_role::orphaned_master;
    --core::master_slab(m)->live; // no handle's count any more, see slab::live
    if (m->core.descriptor().caching == caching_kind::per_cpu)
    {
      // From here on frees bypass the CPU caches, so draining them now drains them for good.
      // The drain holds the hierarchy (pending) while the lock is dropped for it.
      set_relaxed(core::area_of(m)->orphaned, 1);
      ++m->core.pending;
      m->lock.unlock();
      m->core.descriptor().drain_every_cpu(m);
      m->lock.lock();
      --m->core.pending;
    }
    const std::size_t live = m->core.taken() - cached_count(m);
    const char* const name = m->core.name != nullptr ? m->core.name : "(unnamed)";
    core::unlock_and_settle(m, nullptr);
    if (live != 0)
    {
      ATTACHABLE_REPORT_LEAK(name, live);
    }
  }
};

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_CACHE_CONTROL_HPP
