// attachable-slab: the lifecycle of a hierarchy, compiled once per (Lock, SlabSize).
//
// Contract of this layer: the master state and its lock; obtaining slabs from the cache's
// source and giving them back (never under the lock); creating, publishing and tearing down a
// hierarchy; applying the empty-slab policy and returning released slabs; the handle count.
// Everything that depends on T comes in as data (cache_descriptor), so every cache type of one
// geometry shares this code.
//
// Lock order: one lock per hierarchy, never nested with another hierarchy's; with per_cpu a
// CPU cache's lock is taken before the hierarchy's. No source call runs under any of them: a
// slab is detached under the lock (counted in `in_flight`) and returned after it, and growth
// is counted in `pending` while the source runs.
#ifndef ATTACHABLE_DETAIL_LIFECYCLE_HPP
#define ATTACHABLE_DETAIL_LIFECYCLE_HPP

#include <attachable/config.hpp>
#include <attachable/detail/atomics.hpp>
#include <attachable/detail/cached_area.hpp>
#include <attachable/detail/registry_node.hpp>
#include <attachable/detail/sanitizers.hpp>
#include <attachable/detail/slab_layout.hpp>
#include <attachable/detail/slab_list.hpp>
#include <attachable/detail/slab_slots.hpp>
#include <attachable/lock.hpp>
#include <attachable/result.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace attachable::detail::inline ATTACHABLE_ABI
{

// The master state, right after the master slab's header: the core first (so that the core's
// address is the state's), its hot fields last, then the lock, in one cache line.
template <class Lock>
struct master_state
{
  master_core core{};
  [[no_unique_address]] Lock lock{};
  std::uint32_t handles = 1; // slab_cache handles that point here
};

// The bytes of the master state that every allocation and free touch: from the core's cursor
// to the end of the lock, mirroring the layout above (a test checks it against a real master).
inline constexpr std::size_t master_hot_begin = offsetof(master_core, cursor);
template <class Lock>
inline constexpr std::size_t master_hot_end = std::is_empty_v<Lock>
                                                  ? sizeof(master_core)
                                                  : align_up(sizeof(master_core), alignof(Lock)) +
                                                        sizeof(Lock);

// What a slab_cache object holds: its hierarchy's master, published on first use, and the name
// it gives a master it creates.
template <class Lock>
struct cache_handle
{
  using pointer = published_pointer<master_state<Lock>>;

  [[nodiscard]] static constexpr pointer published(master_state<Lock>* m) noexcept
  {
    return pointer(m);
  }

  pointer master;
  const char* name = nullptr;
};

// The lock that orders first use where no compare-and-swap exists: one per Lock type.
template <class Lock>
inline Lock first_use_lock{};

template <class Lock, std::size_t SlabSize>
struct lifecycle
{
  using state = master_state<Lock>;
  using slots = runtime_slots<SlabSize>;
  static constexpr layout slab_request{SlabSize, SlabSize};

  [[nodiscard]] static state* state_of(const slab* s) noexcept
  {
    return static_cast<state*>(relaxed(s->owner));
  }
  [[nodiscard]] static slab* master_slab(const state* m) noexcept { return slab_of<SlabSize>(m); }
  [[nodiscard]] static std::size_t links(const state* m) noexcept
  {
    return m->core.descriptor().links_offset;
  }
  [[nodiscard]] static cached_area* area_of(state* m) noexcept
  {
    return object_at<cached_area>(master_slab(m), m->core.descriptor().cached_area_offset);
  }
  [[nodiscard]] static cpu_cache<Lock>* cpu_at(state* m, std::size_t cpu) noexcept
  {
    const cache_descriptor& d = m->core.descriptor();
    return object_at<cpu_cache<Lock>>(area_of(m), align_up(sizeof(cached_area), alignof(void*)) +
                                                      cpu * d.cpu_stride);
  }

  // ---- the slab source (lock NOT held) -----------------------------------------------------

  // What one source call did, applied to the counters under the lock afterwards.
  struct obtained
  {
    void* memory = nullptr;
    slab_error error = slab_error::out_of_memory;
    std::uint32_t allocs = 0;
    std::uint32_t failures = 0;

    void apply_to(master_core& m) const noexcept
    {
      m.hook_allocs += allocs;
      m.hook_failures += failures;
    }
  };

  [[nodiscard]] static bool is_live_slab(const void* block) noexcept
  {
    const auto* s = static_cast<const slab*>(block);
    return tool_may_read(&s->magic, sizeof s->magic) && relaxed(s->magic) == magic_for(s);
  }

  [[nodiscard]] static obtained obtain_slab(const cache_descriptor& d) noexcept
  {
    obtained outcome;
    void* const memory = d.allocate_slab(slab_request);
    if (memory == nullptr)
    {
      outcome.failures = 1;
      return outcome;
    }
    if ((address_of(memory) & (SlabSize - 1)) != 0)
    {
      // Never keep a block we cannot mask back to: hand it straight back. It counts as an
      // alloc and a free, so the balance of allocs, frees and slabs holds.
      outcome.allocs = 1;
      outcome.failures = d.free_slab(memory, slab_request) ? 1 : 2;
      outcome.error = slab_error::alignment_mismatch;
      return outcome;
    }
    if (is_live_slab(memory))
    {
      // Someone's slab: using it would make two caches share slots, and giving it back would
      // free it under its owner. Neither: refuse it and say so.
      ATTACHABLE_REPORT_CORRUPTION("attachable::slab_cache: the slab source handed out a block "
                                   "that is still a live slab; it was refused");
      outcome.failures = 1;
      outcome.error = slab_error::fatal_error;
      return outcome;
    }
    outcome.allocs = 1;
    outcome.memory = memory;
    return outcome;
  }

  // Returns: true if the source took the slab back.
  static bool return_slab(const cache_descriptor& d, slab* s) noexcept
  {
    // A stale pointer into this block must no longer pass validation.
    store_release(s->magic, std::uintptr_t{0});
    tool_slab_returned(s, SlabSize);
    return d.free_slab(s, slab_request).has_value();
  }

  // ---- creation and teardown ---------------------------------------------------------------

  // Context: lock NOT held; calls the source once; registers the hierarchy.
  [[nodiscard]] static result<state*> create(const cache_identity* identity,
                                             const char* name) noexcept
  {
    const cache_descriptor& d = *identity->descriptor;
    const obtained outcome = obtain_slab(d);
    if (outcome.memory == nullptr)
    {
      return outcome.error;
    }
    auto* const bytes = static_cast<std::byte*>(outcome.memory);
    state* const m = ::new (bytes + d.master_state_offset) state{};
    m->core.node.type = &d.registry;
    m->core.name = name;
    if (d.caching != caching_kind::none)
    {
      ::new (bytes + d.cached_area_offset) cached_area{};
    }
    if (d.caching == caching_kind::per_cpu)
    {
      for (std::size_t cpu = 0; cpu < d.cpu_count; ++cpu)
      {
        ::new (cpu_at(m, cpu)) cpu_cache<Lock>{};
      }
    }
    slab* const s = format_slab<SlabSize>(bytes, identity, m, d.master_slots_offset,
                                          d.objects_per_master, slab_role::master);
    s->live = 1; // the handle's count, see slab::live
    link_before(m->core, s, nullptr, d.links_offset);
    m->core.cursor = s;
    m->core.slabs = 1;
    outcome.apply_to(m->core);
    register_node(m->core.node);
    return m;
  }

  // Gives every slab back. Context: no other reference to the hierarchy exists, so no lock.
  static void destroy(state* m) noexcept
  {
    unregister_node(m->core.node);
    const cache_descriptor& d = m->core.descriptor();
    slab* const master_block = master_slab(m);
    for (slab* s = m->core.head; s != nullptr;)
    {
      slab* const next = links_of(s, d.links_offset).next;
      if (s != master_block)
      {
        return_slab(d, s);
      }
      s = next;
    }
    if (d.caching == caching_kind::per_cpu)
    {
      for (std::size_t cpu = 0; cpu < d.cpu_count; ++cpu)
      {
        cpu_at(m, cpu)->~cpu_cache<Lock>();
      }
    }
    m->~state();
    return_slab(d, master_block);
  }

  [[nodiscard]] static bool is_dead(state* m) noexcept
  {
    const master_core& c = m->core;
    if (c.taken() != 0 || m->handles != 0 || c.in_flight != 0 || c.pending != 0)
    {
      return false;
    }
    return c.descriptor().caching != caching_kind::per_thread || area_of(m)->threads == nullptr;
  }

  // Returns: the master `handle` points to, creating and publishing one if it has none.
  // Context: as for publish_new, below.
  [[nodiscard]] ATTACHABLE_NOINLINE static result<state*>
  master_of(cache_handle<Lock>& handle, const cache_identity* identity) noexcept
  {
    if (state* const m = handle.master.load_acquire())
    {
      return m;
    }
    return publish_new(handle, identity);
  }

  // Returns: the master `handle` points to, creating and publishing one if it has none.
  // Context: calls the source when it creates; concurrent first users race to publish, and a
  // loser gives its fresh master straight back, so exactly one master survives.
  [[nodiscard]] ATTACHABLE_NOINLINE static result<state*>
  publish_new(cache_handle<Lock>& handle, const cache_identity* identity) noexcept
  {
    result<state*> created = create(identity, handle.name);
    if (!created)
    {
      return created;
    }
    state* expected = nullptr;
#if ATTACHABLE_HAS_ATOMIC_RMW
    const bool won = handle.master.publish_if_null(*created, expected);
#else
    // No compare-and-swap on this core: the cache's own kind of lock orders first use.
    first_use_lock<Lock>.lock();
    expected = handle.master.load_acquire();
    const bool won = expected == nullptr;
    if (won)
    {
      handle.master.store_release(*created);
    }
    first_use_lock<Lock>.unlock();
#endif
    if (won)
    {
      return created;
    }
    destroy(*created);
    return expected;
  }

  // ---- releasing slabs (lock held on entry where stated) -----------------------------------

  // Applies the empty-slab policy to `s`, a slave or orphaned master that has just emptied.
  // Returns: a slave to give back after unlocking (already detached), or null.
  // Context: lock held.
  [[nodiscard]] static slab* on_emptied(state* m, slab* s) noexcept
  {
    if constexpr (!ATTACHABLE_SLAB_DEBUG)
    {
      // Start over in address order, so that refilling the slab streams through memory
      // whatever order the frees came in. Debug mode keeps the free list instead, so that
      // every reuse checks the free pattern.
      start_over(s);
    }
    if (s->role != slab_role::slave)
    {
      return nullptr;
    }
    slab* const released = slave_emptied(m->core, s, links(m));
    if (released != nullptr)
    {
      ++m->core.in_flight;
    }
    return released;
  }

  // Gives back a chain of detached slabs (linked through their `next` link), then lets the
  // hierarchy go if nothing holds it any more.
  // Context: lock NOT held; calls the source once per slab.
  static void finish_release(state* m, slab* released) noexcept
  {
    const cache_descriptor& d = m->core.descriptor();
    std::uint32_t returned = 0;
    std::uint32_t failures = 0;
    while (released != nullptr)
    {
      slab* const next = links_of(released, d.links_offset).next;
      failures += return_slab(d, released) ? 0u : 1u;
      ++returned;
      released = next;
    }
    m->lock.lock();
    m->core.in_flight -= returned;
    m->core.hook_failures += failures;
    const bool dead = is_dead(m);
    m->lock.unlock();
    if (dead)
    {
      destroy(m);
    }
  }

  // Drops the lock, then gives back `released` (a chain, or null) and the whole hierarchy if
  // nothing holds it any more.
  // Context: lock held on entry, NOT held on return.
  static void unlock_and_settle(state* m, slab* released) noexcept
  {
    const bool dead = released == nullptr && is_dead(m);
    m->lock.unlock();
    if (released != nullptr)
    {
      finish_release(m, released);
    }
    else if (dead)
    {
      destroy(m);
    }
  }

  // ---- handles -----------------------------------------------------------------------------

  // Context: takes the lock.
  static void retain(state* m) noexcept
  {
    m->lock.lock();
    if (m->handles++ == 0)
    {
      master_slab(m)->role = slab_role::master;
      ++master_slab(m)->live; // the handles' count, see slab::live
    }
    m->lock.unlock();
  }
};

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_LIFECYCLE_HPP
