// attachable-slab: the per_cpu front end, inlined per cache type.
//
// Contract of this layer: allocation and free pin the caller to its CPU (Cpus::pin), take that
// CPU's cache lock (uncontended: only a drain from another CPU ever takes it too) and pop or
// push; a free first reads the object's tag, so a second free is reported at once. Refill runs
// under the CPU's lock and takes the hierarchy's lock once per batch; growth and flushes run
// with neither held and unpinned, so no slab source is ever called under a lock or a pin.
// Once the last handle is gone, frees bypass the CPU caches, which the last handle drained.
#ifndef ATTACHABLE_DETAIL_CPU_CACHE_HPP
#define ATTACHABLE_DETAIL_CPU_CACHE_HPP

#include <attachable/config.hpp>
#include <attachable/detail/cached_area.hpp>
#include <attachable/detail/object_cache.hpp>
#include <attachable/detail/slab_slots.hpp>
#include <attachable/detail/thread_cache.hpp>
#include <attachable/result.hpp>

#include <cstddef>
#include <cstdint>

namespace attachable::detail::inline ATTACHABLE_ABI
{

template <class Type>
struct cpu_caching
{
  using cached = typename Type::cached;
  using core = typename Type::core;
  using state = typename Type::state;
  using lock_type = typename Type::lock_type;
  using cpus = typename Type::topology;
  using cache = cpu_cache<lock_type>;
  static constexpr std::uint32_t limit = Type::cache_limit;

  // This CPU's cache, from constants: no descriptor read on the fast path.
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static cache* cache_of(state* m, std::size_t cpu) noexcept
  {
    return object_at<cache>(core::master_slab(m), Type::cpu_caches_offset + cpu * Type::cpu_stride);
  }
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static void** items_of(cache* c) noexcept
  {
    return object_at<void*>(c, cpu_items_offset<lock_type>);
  }

  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static allocation allocate(state* m) noexcept
  {
    {
      [[maybe_unused]] const typename cpus::pin pinned;
      cache* const c = cache_of(m, cpus::current());
      c->lock.lock();
      const std::uint32_t n = c->count;
      if (n != 0) [[likely]]
      {
        void* const slot = items_of(c)[n - 1];
        set_relaxed(c->count, n - 1);
        c->lock.unlock();
        cached::unpark(slot, Type::slot_size, Type::object_size);
        return allocation{slot};
      }
      void* const slot = refill_and_pop(m, c);
      c->lock.unlock();
      if (slot != nullptr)
      {
        return allocation{slot};
      }
    }
    return core::grow_and_allocate(m);
  }

  // Context: the CPU's lock held. Returns: a slot, or null if the slabs are full.
  [[nodiscard]] ATTACHABLE_NOINLINE static void* refill_and_pop(state* m, cache* c) noexcept
  {
    if (cached::refill(m, items_of(c), c->count, Type::cache_batch) == 0)
    {
      return nullptr;
    }
    const std::uint32_t n = c->count;
    void* const slot = items_of(c)[n - 1];
    set_relaxed(c->count, n - 1);
    cached::unpark(slot, Type::slot_size, Type::object_size);
    return slot;
  }

  ATTACHABLE_ALWAYS_INLINE static void free(void* slot) noexcept
  {
    state* const m = core::state_of(slab_of<Type::slab_size>(slot));
    if (slot_is_free(slot)) [[unlikely]]
    {
      report_double_free(slot);
      return;
    }
    cached::park(slot, Type::slot_size);
    {
      [[maybe_unused]] const typename cpus::pin pinned;
      cache* const c = cache_of(m, cpus::current());
      c->lock.lock();
      const std::uint32_t n = c->count;
      if (n != limit && relaxed(Type::area_of(m)->orphaned) == 0) [[likely]]
      {
        items_of(c)[n] = slot;
        set_relaxed(c->count, n + 1);
        c->lock.unlock();
        return;
      }
      c->lock.unlock();
    }
    free_slow(m, slot);
  }

  // The CPU's cache was full, or no handle is left: flush the oldest batch, or free directly.
  ATTACHABLE_NOINLINE static void free_slow(state* m, void* slot) noexcept
  {
    void* out[limit + 1];
    std::uint32_t n = 0;
    {
      [[maybe_unused]] const typename cpus::pin pinned;
      cache* const c = cache_of(m, cpus::current());
      c->lock.lock();
      if (relaxed(Type::area_of(m)->orphaned) == 0)
      {
        if (c->count == limit)
        {
          n = cached::take_oldest(items_of(c), c->count, Type::cache_batch, out);
        }
        items_of(c)[c->count] = slot;
        set_relaxed(c->count, c->count + 1);
      }
      else
      {
        out[n++] = slot;
      }
      c->lock.unlock();
    }
    if (n != 0)
    {
      cached::put_back(m, out, n);
    }
  }

  // Gives the calling CPU's cached objects back. Returns: how many.
  static std::size_t drain(state* m) noexcept
  {
    std::size_t cpu = 0;
    {
      [[maybe_unused]] const typename cpus::pin pinned;
      cpu = cpus::current();
    }
    return cached::drain_cpu(m, cpu);
  }
};

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_CPU_CACHE_HPP
