// attachable-slab: allocation, growth and free under a hierarchy's lock, compiled once per
// (Lock, SlabSize) on top of the lifecycle.
//
// Contract of this layer: the locked allocation and free that the plain fast paths inline with
// T's layout as constants (and that the runtime-geometry entry points run with it as data);
// growth by one slab under max_slabs, with the source called outside the lock and counted in
// `pending` meanwhile; a free of a slot that is already free changes nothing and goes to
// ATTACHABLE_REPORT_DOUBLE_FREE.
#ifndef ATTACHABLE_DETAIL_HIERARCHY_HPP
#define ATTACHABLE_DETAIL_HIERARCHY_HPP

#include <attachable/config.hpp>
#include <attachable/detail/lifecycle.hpp>
#include <attachable/detail/slab_layout.hpp>
#include <attachable/detail/slab_list.hpp>
#include <attachable/detail/slab_slots.hpp>
#include <attachable/result.hpp>

#include <cstddef>
#include <cstdint>

namespace attachable::detail::inline ATTACHABLE_ABI
{

template <class Lock, std::size_t SlabSize>
struct hierarchy : lifecycle<Lock, SlabSize>
{
  using base = lifecycle<Lock, SlabSize>;
  using base::links;
  using base::obtain_slab;
  using base::on_emptied;
  using base::state_of;
  using base::unlock_and_settle;
  using typename base::obtained;
  using typename base::slots;
  using typename base::state;

  // ---- allocation and free -----------------------------------------------------------------

  // Context: takes the lock; calls the source (without the lock) when every slab is full.
  // Returns: a slot, or null and why.
  template <class G>
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static allocation
  allocate(state* m, G g, std::size_t links_offset) noexcept
  {
    m->lock.lock();
    const allocation taken = take_counted(m->core, g, links_offset);
    m->lock.unlock();
    if (taken.ok() || taken.error() == slab_error::fatal_error) [[likely]]
    {
      return taken;
    }
    return grow_and_allocate(m);
  }

  // The runtime-geometry allocation, for builds without the inlined fast path.
  [[nodiscard]] ATTACHABLE_NOINLINE static allocation allocate_any(state* m) noexcept
  {
    return allocate(m, slots{&m->core.descriptor()}, links(m));
  }

  // The whole allocation of a plain cache in one call, first use included, for builds without
  // the inlined fast path: each call site then costs a call, whatever the cache's type.
  [[nodiscard]] ATTACHABLE_NOINLINE static allocation
  allocate_from(cache_handle<Lock>& handle, const cache_identity* identity) noexcept
  {
    state* m = handle.master.load_acquire();
    if (m == nullptr) [[unlikely]]
    {
      const result<state*> created = base::publish_new(handle, identity);
      if (!created)
      {
        return allocation{created.error()};
      }
      m = *created;
    }
    return allocate(m, slots{identity->descriptor}, identity->descriptor->links_offset);
  }

  // Reserves room for one more slab under max_slabs. Slabs still on their way back to the
  // source count, so the source never has more than the limit of this cache's blocks out.
  // Returns: false if the cache may not grow. Context: lock held.
  [[nodiscard]] static bool begin_growth(state* m) noexcept
  {
    const std::uint32_t limit = m->core.descriptor().max_slabs;
    if (limit != 0 && m->core.slabs + m->core.pending + m->core.in_flight >= limit)
    {
      return false;
    }
    ++m->core.pending;
    return true;
  }

  // Obtains a slab for growth and formats it as a slave.
  // Returns: the slave, or null with `failure` set. Context: lock NOT held on entry, held on
  // return; `begin_growth` succeeded.
  [[nodiscard]] static slab* obtain_slave(state* m, slab_error& failure) noexcept
  {
    const cache_descriptor& d = m->core.descriptor();
    const obtained outcome = obtain_slab(d);
    m->lock.lock();
    --m->core.pending;
    outcome.apply_to(m->core);
    if (outcome.memory == nullptr)
    {
      failure = outcome.error;
      return nullptr;
    }
    return format_slab<SlabSize>(outcome.memory, relaxed(base::master_slab(m)->identity), m,
                                 d.slave_slots_offset, d.objects_per_slab, slab_role::slave);
  }

  // Context: lock NOT held; takes it; calls the source without it.
  [[nodiscard]] ATTACHABLE_NOINLINE static allocation grow_and_allocate(state* m) noexcept
  {
    const slots g{&m->core.descriptor()};
    m->lock.lock();
    // A slot may have come free since the caller looked.
    allocation taken = take_counted(m->core, g, links(m));
    if (!taken.ok() && taken.error() == slab_error::out_of_memory && begin_growth(m))
    {
      m->lock.unlock();
      slab_error failure = slab_error::out_of_memory;
      slab* const s = obtain_slave(m, failure);
      if (s == nullptr)
      {
        m->lock.unlock();
        return allocation{failure};
      }
      add_grown_slave(m->core, s, links(m));
      taken = take_counted(m->core, g, links(m));
    }
    m->lock.unlock();
    return taken;
  }

  // Frees a slot that a box owned. A slot that is already free changes nothing and goes to
  // ATTACHABLE_REPORT_DOUBLE_FREE. Context: any; takes the lock; may call the source.
  template <class G>
  ATTACHABLE_ALWAYS_INLINE static void free_owned(void* slot, G g,
                                                  std::size_t links_offset) noexcept
  {
    slab* const s = slab_of<SlabSize>(slot);
    state* const m = state_of(s);
    m->lock.lock();
    const put_result result = put_counted(m->core, s, slot, g, links_offset);
    if (result == put_result::kept) [[likely]]
    {
      m->lock.unlock();
      return;
    }
    after_put(m, s, slot, result);
  }

  // The runtime-geometry free, for builds without the inlined fast path.
  ATTACHABLE_NOINLINE static void free_owned_any(void* slot) noexcept
  {
    const state* const m = state_of(slab_of<SlabSize>(slot));
    free_owned(slot, slots{&m->core.descriptor()}, links(m));
  }

  // Context: lock held on entry, NOT held on return.
  ATTACHABLE_NOINLINE static void after_put(state* m, slab* s, void* slot,
                                            put_result result) noexcept
  {
    if (result == put_result::double_free)
    {
      m->lock.unlock();
      ATTACHABLE_REPORT_DOUBLE_FREE(slot);
      return;
    }
    unlock_and_settle(m, on_emptied(m, s));
  }
};

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_HIERARCHY_HPP
