// attachable-slab: slab_cache<T, Lock, SlabSize>, fixed-size objects in O(1).
//
// Theory of operation
//
// Glossary
//   slab       a SlabSize block from the alloc hook, aligned to SlabSize, that begins with a
//              slab header and is cut into slots.
//   slot       room for one T (at least 4 bytes, aligned to alignof(T) and 4).
//   master     the first slab of a cache; after its header it carries the master state: the
//              lock, the reference count, the available list and the statistics.
//   slave      every later slab; its header points to the master.
//   hierarchy  a master and its slaves; the cache handles that share it are copies.
//   free list  the free slots of one slab, chained by a 32-bit slot index kept in each.
//   bump index the first never-used slot of a slab; slots are handed out from the free list
//              first, then by bumping, so adding a slab never touches its slots.
//
// A slab (here the master; a slave has no master state)
//
//   base = address & ~(SlabSize - 1)
//   |
//   v
//   +--------------------------+--------------+--------+--------+-----+--------+---------+
//   | header: magic, identity, | master state | slot 0 | slot 1 | ... | slot n | padding |
//   | owner, links, bump, free | (master only)|        |        |     |        |         |
//   | head, live, bitmap       |              |        |        |     |        |         |
//   +--------------------------+--------------+--------+--------+-----+--------+---------+
//   |<--------------------------------- SlabSize ------------------------------------->|
//
// Any object finds its slab header by masking its own address, and the master through the
// header's owner pointer: that is how a slab_box frees itself with no cache handle.
//
// Lock order
//   One lock per hierarchy, in the master state. It protects every header's links, free list,
//   bump index, live count and bitmap, and all master state. It is never nested, and no hook
//   is called while it is held: a slab is detached under the lock and returned after it. The
//   handle's master pointer is published with one compare-and-swap, not under the lock.
//
// Invariants (checked by the tests after every step of the model test)
//   - A slab is on the available list exactly when it has a free slot; empty slaves form its
//     tail, so partial slabs (and the master, which is never returned) are used first.
//   - A slot's bitmap bit is set exactly when the slot is live; bits at or above the bump
//     index are never read.
//   - At most one empty slave is kept, unless reserve() asked for more capacity; the master
//     is never returned while the hierarchy lives.
//   - stats: hook_allocs - hook_frees == slabs, and live_objects == sum of per-slab live.
//   - The hierarchy is returned when handles, live objects and hook calls in flight all
//     reach zero, in whichever order.
#ifndef ATTACHABLE_SLAB_CACHE_HPP
#define ATTACHABLE_SLAB_CACHE_HPP

#include <attachable/config.hpp>
#include <attachable/detail/slab_hierarchy.hpp>
#include <attachable/detail/utility.hpp>
#include <attachable/hooks.hpp>
#include <attachable/lock.hpp>
#include <attachable/result.hpp>
#include <attachable/slab_box.hpp>

#include <atomic>
#include <cstddef>
#include <new>
#include <type_traits>

namespace attachable
{

/// A cache of fixed-size `T` objects carved from SlabSize slabs obtained from the hooks.
/// A handle: copies share one hierarchy through a reference count in the master.
/// Thread safety: with spin_lock (or any real lock), every member function of every handle
/// and every box destruction may run concurrently, except that one handle object must not be
/// assigned to or destroyed while another thread uses it. With no_lock, nothing may overlap.
template <class T, class Lock = spin_lock, std::size_t SlabSize = 4096>
class slab_cache
{
  using hierarchy = detail::slab_hierarchy<T, Lock, SlabSize>;
  using master = typename hierarchy::master;

public:
  using value_type = T;
  using lock_type = Lock;
  using box = slab_box<T, Lock, SlabSize>;

  static constexpr std::size_t slab_size = SlabSize;
  /// Objects a slave slab holds.
  static constexpr std::size_t objects_per_slab = hierarchy::objects_per_slab;
  /// Objects the master slab holds (fewer: it also carries the master state).
  static constexpr std::size_t objects_per_master = hierarchy::objects_per_master;

  /// An empty cache that holds no memory yet: the master is created on first use, so a
  /// cache can be a `constinit` global with no static constructor.
  constexpr slab_cache() noexcept = default;

  /// Creates the master now, so that later failures can only come from growth.
  /// Returns: the cache; out_of_memory or alignment_mismatch from the alloc hook.
  /// Context: calls the alloc hook once.
  [[nodiscard]] static result<slab_cache> create() noexcept
  {
    result<master*> created = hierarchy::create_master();
    if (!created)
    {
      return created.error();
    }
    return slab_cache(*created);
  }

  /// Shares `other`'s hierarchy; a copy of a cache with no master yet is an independent cache.
  /// Context: takes the lock.
  slab_cache(const slab_cache& other) noexcept
      : master_(other.master_.load(std::memory_order_acquire))
  {
    if (master* const m = master_.load(std::memory_order_relaxed))
    {
      hierarchy::retain(m);
    }
  }

  /// Takes `other`'s hierarchy; `other` is left empty and usable.
  slab_cache(slab_cache&& other) noexcept : master_(other.take()) {}

  /// Context: takes the lock of the hierarchy it leaves; may call the free hook.
  slab_cache& operator=(const slab_cache& other) noexcept
  {
    if (this != &other)
    {
      slab_cache copy(other);
      adopt(copy.take());
    }
    return *this;
  }

  /// Context: takes the lock of the hierarchy it leaves; may call the free hook.
  slab_cache& operator=(slab_cache&& other) noexcept
  {
    if (this != &other)
    {
      adopt(other.take());
    }
    return *this;
  }

  /// Drops this handle. The hierarchy goes back to the free hook once no handle and no live
  /// object is left; live boxes keep it alive.
  /// Context: takes the lock; may call the free hook.
  ~slab_cache() { adopt(nullptr); }

  /// Constructs a value-initialised `T` in a free slot.
  /// Returns: its box; out_of_memory or alignment_mismatch when a new slab was needed and the
  /// alloc hook failed; fatal_error if the slab's free list was found corrupted.
  /// Context: takes the lock; calls the alloc hook (without the lock) when every slab is full.
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE result<box> alloc() noexcept(
      std::is_nothrow_default_constructible_v<T>) requires std::is_default_constructible_v<T>
  {
    return emplace();
  }

  /// Constructs `T(args...)` in a free slot. If the constructor throws, the slot is returned
  /// and the exception propagates.
  /// Returns, Context: as for alloc().
  template <class... Args>
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE result<box>
  emplace(Args&&... args) noexcept(std::is_nothrow_constructible_v<T, Args...>)
  {
    slab_error failure; // written on every path that returns null
    void* const slot = allocate_slot(failure);
    if (slot == nullptr) [[unlikely]]
    {
      return failure;
    }
#if ATTACHABLE_HAS_EXCEPTIONS
    if constexpr (!std::is_nothrow_constructible_v<T, Args...>)
    {
      try
      {
        return box(construct(slot, detail::forward<Args>(args)...));
      }
      catch (...)
      {
        hierarchy::free_live_slot(slot);
        throw;
      }
    }
    else
#endif
    {
      return box(construct(slot, detail::forward<Args>(args)...));
    }
  }

  /// Hands out a raw slot of `sizeof(T)` bytes aligned to `alignof(T)`; no constructor runs.
  /// Returns: the slot; errors as for alloc().
  /// Context: as for alloc().
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE result<void*> allocate() noexcept
  {
    slab_error failure; // written on every path that returns null
    if (void* const slot = allocate_slot(failure)) [[likely]]
    {
      return slot;
    }
    return failure;
  }

  /// Returns a raw slot from anywhere, with no cache handle. Destroy the object in it first.
  /// Requires: the SlabSize-aligned block around `pointer` is readable memory (its header is
  /// read to validate the pointer).
  /// Returns: nothing on success; invalid_pointer for null, a pointer inside a slab header or
  /// not on a slot boundary, a never-used slot, or a slab whose magic or owner check fails
  /// (including a slot of a cache with another T, Lock or SlabSize); double_free for a slot
  /// that is already free. A rejected call changes nothing.
  /// Context: any thread; takes the lock; may call the free hook.
  [[nodiscard]] static result<void> deallocate(void* pointer) noexcept
  {
    return hierarchy::deallocate(pointer);
  }

  /// Makes capacity at least `objects`, and keeps it: slabs are never released below that
  /// capacity afterwards, so real-time code can reserve up front and never reach a hook
  /// later. A later call replaces the floor (a smaller value lowers it).
  /// Returns: nothing on success; out_of_memory or alignment_mismatch if the hook ran dry,
  /// in which case the slabs already obtained are kept.
  /// Context: takes the lock; calls the alloc hook (without the lock) once per slab added.
  /// Complexity: O(slabs added).
  [[nodiscard]] result<void> reserve(std::size_t objects) noexcept
  {
    result<master*> m = hierarchy::master_of(master_);
    if (!m)
    {
      return m.error();
    }
    return hierarchy::reserve(*m, objects);
  }

  /// Returns every empty slave above the reserved capacity to the free hook.
  /// Returns: how many slabs were returned; 0 for a cache with no master (no hook is called).
  /// Context: takes the lock; calls the free hook (without the lock) once per slab returned.
  /// Complexity: O(slabs held).
  std::size_t shrink() noexcept
  {
    master* const m = master_.load(std::memory_order_acquire);
    return m != nullptr ? hierarchy::shrink(m) : 0;
  }

  /// A snapshot of the hierarchy's counters; all zero for a cache with no master.
  /// Context: takes the lock; never allocates.
  /// Complexity: O(empty slabs), which it counts.
  [[nodiscard]] slab_stats stats() const noexcept
  {
    master* const m = master_.load(std::memory_order_acquire);
    return m != nullptr ? hierarchy::stats(m) : slab_stats{};
  }

  /// Returns: true if both handles share one hierarchy.
  [[nodiscard]] bool shares_with(const slab_cache& other) const noexcept
  {
    master* const mine = master_.load(std::memory_order_acquire);
    return mine != nullptr && mine == other.master_.load(std::memory_order_acquire);
  }

private:
  explicit slab_cache(master* m) noexcept : master_(m) {}

  // Aggregates take braces where the compiler lacks C++20's parenthesised aggregate init.
  template <class... Args>
  static T* construct(void* slot,
                      Args&&... args) noexcept(std::is_nothrow_constructible_v<T, Args...>)
  {
    if constexpr (std::is_aggregate_v<T> && !std::is_constructible_v<T, Args...>)
    {
      return ::new (slot) T{detail::forward<Args>(args)...};
    }
    else
    {
      return ::new (slot) T(detail::forward<Args>(args)...);
    }
  }

  // Returns: a slot, or null with `failure` set.
  ATTACHABLE_ALWAYS_INLINE void* allocate_slot(slab_error& failure) noexcept
  {
    master* const m = master_.load(std::memory_order_acquire);
    if (m == nullptr) [[unlikely]]
    {
      return allocate_first(failure);
    }
    return hierarchy::allocate(m, failure);
  }

  ATTACHABLE_NOINLINE void* allocate_first(slab_error& failure) noexcept
  {
    result<master*> m = hierarchy::master_of(master_);
    if (!m)
    {
      failure = m.error();
      return nullptr;
    }
    return hierarchy::allocate(*m, failure);
  }

  master* take() noexcept
  {
    master* const m = master_.load(std::memory_order_relaxed);
    master_.store(nullptr, std::memory_order_relaxed);
    return m;
  }

  void adopt(master* incoming) noexcept
  {
    master* const old = master_.load(std::memory_order_relaxed);
    master_.store(incoming, std::memory_order_release);
    if (old != nullptr)
    {
      hierarchy::release_handle(old);
    }
  }

  std::atomic<master*> master_{nullptr};
};

} // namespace attachable

#endif // ATTACHABLE_SLAB_CACHE_HPP
