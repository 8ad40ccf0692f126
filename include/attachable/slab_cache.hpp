// attachable-slab: slab_cache<T, Lock, SlabSize, Options...>, fixed-size objects in O(1).
//
// Theory of operation
//
// Glossary
//   slab       a SlabSize block from the cache's slab source, aligned to SlabSize, that begins
//              with a slab header and is cut into slots.
//   slot       room for one T (at least 4 bytes, 8 with per-thread or per-CPU caching; aligned
//              to alignof(T) and 4).
//   master     the first slab of a cache; after its header it carries the master state: the
//              lock, the handle count, the slab list and the counters.
//   slave      every later slab; its header points to the master state.
//   hierarchy  a master and its slaves; the cache handles that share it are copies.
//   free list  the free slots of one slab, chained by a 32-bit slot index kept in each.
//   bump index the first never-used slot of a slab; slots are handed out from the free list
//              first, then by bumping, so adding a slab never touches its slots.
//   cursor     the first slab on the list with a free slot: allocation takes from it.
//
// A slab (here the master; a slave has no master state)
//
//   base = address & ~(SlabSize - 1)
//   |
//   v
//   +---------------------------+-------+--------------+--------+--------+-----+---------+
//   | header: magic, identity,  | prev, | master state | slot 0 | slot 1 | ... | padding |
//   | owner, bump, free head,   | next  | (master only)|        |        |     |         |
//   | live, role, bitmap        |       |              |        |        |     |         |
//   +---------------------------+-------+--------------+--------+--------+-----+---------+
//   |<---------------------------------- SlabSize --------------------------------------->|
//
// Any object finds its slab header by masking its own address, and the master state through
// the header's owner pointer: that is how a slab_box frees itself with no cache handle. The
// layers behind this class, and which may include which, are drawn in docs/design.md.
//
// Lock order
//   One lock per hierarchy, in the master state. It protects every header's list links, free
//   list, bump index, live count and bitmap, and all master state. It is never nested with
//   another hierarchy's lock; a per-CPU cache's lock comes before it. No slab source is called
//   while any of them is held. The handle's master pointer is published with one
//   compare-and-swap (or, on cores without one, under a global instance of Lock).
//
// Invariants (checked by verify(), which the model test and the fuzz target run after every step)
//   - The list holds every slab: full ones, then the cursor and the slabs with free slots, then
//     the empty slaves; the master is never released while the hierarchy lives.
//   - A slot's bitmap bit is set exactly when the slot is taken; no bit is set at or above bump.
//   - Each free list holds exactly the free slots below bump, without a cycle.
//   - At most `retain` (default 1) empty slaves are kept, unless reserve() asked for more.
//   - Counters: taken slots == the sum of live counts; hook_allocs - hook_frees == slabs.
//   - The hierarchy is returned when handles, taken slots, bound threads, slabs in flight and
//     pending source calls all reach zero, in whichever order.
#ifndef ATTACHABLE_SLAB_CACHE_HPP
#define ATTACHABLE_SLAB_CACHE_HPP

#include <attachable/config.hpp>
#include <attachable/detail/atomics.hpp>
#include <attachable/detail/cache_type.hpp>
#include <attachable/detail/utility.hpp>
#include <attachable/lock.hpp>
#include <attachable/options.hpp>
#include <attachable/result.hpp>
#include <attachable/slab_box.hpp>
#include <attachable/slab_stats.hpp>

#include <cstddef>
#include <new>
#include <type_traits>

namespace attachable::inline ATTACHABLE_ABI
{

/// A cache of fixed-size `T` objects carved from SlabSize slabs of the cache's slab source
/// (the two link-time hooks unless an option names another), with optional per-thread or
/// per-CPU caching in front (see <attachable/options.hpp>).
/// A handle: copies share one hierarchy through a count in the master.
/// Thread safety: with spin_lock (or any real lock), every member function of every handle
/// and every box destruction may run concurrently, except that one handle object must not be
/// assigned to or destroyed while another thread uses it. With no_lock, nothing may overlap.
template <class T, class Lock, std::size_t SlabSize, class... Options>
class ATTACHABLE_ABI_TAG slab_cache
{
  using type = detail::cache_type<T, Lock, SlabSize, Options...>;
  using state = typename type::state;
  using core = typename type::core;
  using control = typename type::control;
  using handle = detail::cache_handle<typename type::lock_type>;

public:
  using value_type = T;
  using lock_type = Lock;
  using box = slab_box<T, Lock, SlabSize, Options...>;

  static constexpr std::size_t slab_size = SlabSize;
  /// Objects a slave slab holds.
  static constexpr std::size_t objects_per_slab = type::geometry.objects_per_slab;
  /// Objects the master slab holds (fewer: it also carries the master state).
  static constexpr std::size_t objects_per_master = type::geometry.objects_per_master;

  /// An empty cache that holds no memory yet: the master is created on first use, so a
  /// cache can be a `constinit` global with no static constructor.
  constexpr slab_cache() noexcept = default;

  /// An empty cache with a name, which for_each_cache, format_slabinfo and leak reports show.
  /// `name` must outlive the hierarchy (a string literal does).
  constexpr explicit slab_cache(const char* name) noexcept : handle_{{}, name} {}

  /// Creates the master now, so that later failures can only come from growth.
  /// Returns: the cache; out_of_memory, alignment_mismatch or fatal_error from the source.
  /// Context: calls the slab source once.
  [[nodiscard]] static result<slab_cache> create(const char* name = nullptr) noexcept
  {
    result<state*> created = core::create(type::identity, name);
    if (!created)
    {
      return created.error();
    }
    return slab_cache(*created, name);
  }

  /// Shares `other`'s hierarchy; a copy of a cache with no master yet is an independent cache
  /// with the same name.
  /// Context: takes the lock.
  slab_cache(const slab_cache& other) noexcept
      : handle_{handle::published(other.handle_.master.load_acquire()), other.handle_.name}
  {
    if (state* const m = handle_.master.load_relaxed())
    {
      core::retain(m);
    }
  }

  /// Takes `other`'s hierarchy; `other` is left empty and usable.
  slab_cache(slab_cache&& other) noexcept
      : handle_{handle::published(other.take()), other.handle_.name}
  {
  }

  /// Context: takes the lock of the hierarchy it leaves; may call the slab source.
  slab_cache& operator=(const slab_cache& other) noexcept
  {
    if (this != &other)
    {
      slab_cache copy(other);
      handle_.name = other.handle_.name;
      adopt(copy.take());
    }
    return *this;
  }

  /// Context: takes the lock of the hierarchy it leaves; may call the slab source.
  slab_cache& operator=(slab_cache&& other) noexcept
  {
    if (this != &other)
    {
      handle_.name = other.handle_.name;
      adopt(other.take());
    }
    return *this;
  }

  /// Drops this handle. The hierarchy goes back to its source once no handle, no live object
  /// and (with per_thread) no thread bound to it is left. With per_thread it first gives the
  /// calling thread's cached objects back; the last handle reports objects still live through
  /// ATTACHABLE_REPORT_LEAK.
  /// Context: takes the lock; may call the slab source.
  ~slab_cache() { adopt(nullptr); }

  /// Constructs a value-initialised `T` in a free slot.
  /// Returns: its box; out_of_memory (the source ran dry, or max_slabs was reached),
  /// alignment_mismatch or fatal_error (a refused block from the source, or a corrupted free
  /// list found and dropped).
  /// Context: takes the lock (with caching, only to refill); calls the slab source (without
  /// any lock) when every slab is full.
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE result<box> alloc() noexcept(
      std::is_nothrow_default_constructible_v<T>) requires std::is_default_constructible_v<T>
  {
    return emplace();
  }

  /// Constructs `T(args...)` in a free slot; an aggregate T is initialised with braces, so a
  /// narrowing argument is a compile-time error. If the constructor throws, the slot is
  /// returned and the exception propagates.
  /// Returns, Context: as for alloc().
  template <class... Args>
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE result<box>
  emplace(Args&&... args) noexcept(detail::nothrow_emplaceable<T, Args...>())
  {
    const detail::allocation taken = allocate_slot();
    if (!taken.ok()) [[unlikely]]
    {
      return taken.error();
    }
    void* const slot = taken.slot();
#if ATTACHABLE_HAS_EXCEPTIONS
    if constexpr (!detail::nothrow_emplaceable<T, Args...>())
    {
      try
      {
        return box(construct(slot, detail::forward<Args>(args)...));
      }
      catch (...)
      {
        type::free_owned(slot);
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
    const detail::allocation taken = allocate_slot();
    if (taken.ok()) [[likely]]
    {
      return taken.slot();
    }
    return taken.error();
  }

  /// Returns a raw slot from anywhere, with no cache handle. Destroy the object in it first.
  /// Requires: the SlabSize-aligned block around `pointer` is mapped memory for the whole
  /// call, and if it is a slot of this cache type, its hierarchy is not torn down meanwhile.
  /// Returns: nothing on success; invalid_pointer for null, a pointer inside a slab header or
  /// not on a slot boundary, a never-used slot, or a block that is not a live slab of this
  /// exact cache type (another T, Lock, SlabSize or option list, or a slab that changed hands
  /// during the call); double_free for a slot that is already free, in its slab or in a
  /// per-thread or per-CPU cache. A rejected call changes nothing.
  /// Context: any thread; takes the lock (with caching, only to flush); may call the source.
  [[nodiscard]] static result<void> deallocate(void* pointer) noexcept
  {
    return type::deallocate(pointer);
  }

  /// Takes up to `n` raw slots into `out`, straight from the slabs, growing as needed.
  /// Returns: how many it took; it stops at the first failure (out_of_memory and the like).
  /// Context: as for allocate(); takes the lock once for the slots already free, and a few
  /// times more for each slab it has to add.
  [[nodiscard]] std::size_t allocate_bulk(void** out, std::size_t n) noexcept
  {
    result<state*> m = master();
    return m ? type::raw::allocate_bulk(*m, out, n, typename type::fixed{}, type::links) : 0;
  }

  /// Returns `n` raw slots, each validated like deallocate(). Every valid pointer is freed;
  /// an invalid one (or a second copy of a pointer in the batch) is skipped and changes
  /// nothing; the rest of the batch is still freed.
  /// Returns: nothing, or the error of the first pointer that was rejected.
  /// Context: any thread; takes each hierarchy's lock once per run of pointers into it.
  [[nodiscard]] static result<void> deallocate_bulk(void* const* pointers, std::size_t n) noexcept
  {
    return type::raw::deallocate_bulk(pointers, n, type::identity, typename type::fixed{},
                                      type::links);
  }

  /// Makes capacity at least `objects`, and keeps it: slabs are never released below that
  /// capacity afterwards, so real-time code can reserve up front and never reach the source
  /// later. A later call replaces the floor (a smaller value lowers it). With per_thread or
  /// per_cpu, free objects parked in other threads' or CPUs' caches fill part of that
  /// capacity and this thread cannot reach them: to never reach the source, reserve what the
  /// users hold at most plus what the caches may park (up to 64 objects per thread or CPU).
  /// Returns: nothing on success; out_of_memory (the source ran dry, or max_slabs),
  /// alignment_mismatch, or fatal_error (the source handed out a block that is still a live
  /// slab), in which case the slabs already obtained are kept.
  /// Context: takes the lock; calls the slab source (without it) once per slab added.
  /// Complexity: O(slabs added).
  [[nodiscard]] result<void> reserve(std::size_t objects) noexcept
  {
    result<state*> m = master();
    if (!m)
    {
      return m.error();
    }
    return control::reserve(*m, objects);
  }

  /// Returns every empty slave above the reserved capacity to the source, whatever
  /// retain_empty_slabs() says, after giving back the objects cached by the calling thread
  /// (per_thread) or by every CPU (per_cpu).
  /// Returns: how many slabs went back to the source while it ran, the ones that giving back
  /// the cached objects emptied included (and, if other threads free concurrently, the ones
  /// their frees released); 0 for a cache with no master (no source call).
  /// Context: takes the lock; calls the slab source (without it) once per slab returned.
  /// Complexity: O(empty slaves), plus O(CPUs) with per_cpu.
  std::size_t shrink() noexcept
  {
    state* const m = handle_.master.load_acquire();
    if (m == nullptr)
    {
      return 0;
    }
    // The drain may empty slaves that the retention rule returns at once, so the count is
    // taken from the hierarchy's release counter rather than from the sweep alone.
    const std::size_t before = control::slabs_released(m);
    type::drain(m);
    (void)control::shrink(m);
    return control::slabs_released(m) - before;
  }

  /// Gives the calling thread's (per_thread) or CPU's (per_cpu) cached objects back to their
  /// slabs; with per_thread the thread is also unbound, so the hierarchy no longer waits for it.
  /// Returns: how many objects went back; 0 without caching.
  /// Context: takes the lock once; may call the slab source.
  std::size_t drain() noexcept
  {
    state* const m = handle_.master.load_acquire();
    return m != nullptr ? type::drain(m) : 0;
  }

  /// Sets how many empty slaves the cache keeps instead of returning them (default 1); the
  /// reserve floor still wins. Empty slaves already kept above the new value stay until
  /// shrink(), which returns every empty slave above the reserve, the retained ones too.
  /// Creates the master if the cache has none (if that fails, nothing changes).
  /// Context: takes the lock.
  void retain_empty_slabs(std::size_t slabs) noexcept
  {
    if (result<state*> m = master())
    {
      control::retain_empty_slabs(*m, slabs);
    }
  }

  /// A snapshot of the hierarchy's counters; all zero for a cache with no master.
  /// With caching, live_objects counts what the users own and cached_objects what the
  /// thread or CPU caches hold, read without stopping them (exact when they are idle).
  /// Context: takes the lock; never allocates.
  /// Complexity: O(1); O(threads bound) with per_thread, O(CPUs) with per_cpu.
  [[nodiscard]] slab_stats stats() const noexcept
  {
    state* const m = handle_.master.load_acquire();
    return m != nullptr ? control::stats(m) : slab_stats{};
  }

  /// Checks every structural invariant of the hierarchy (see the top of this file).
  /// Returns: nothing, or fatal_error after naming the first broken invariant through
  /// ATTACHABLE_REPORT_CORRUPTION. Changes nothing.
  /// Context: takes the lock. Complexity: O(slabs + slots).
  [[nodiscard]] result<void> verify() const noexcept
  {
    state* const m = handle_.master.load_acquire();
    return m != nullptr ? type::checker::verify(m) : result<void>{};
  }

  /// Calls `f(T&)` for every object the users own (boxes, raw slots, released objects; not
  /// the free objects parked in caches). For debugging: `f` runs under the lock and must not
  /// call into this cache. With per_thread or per_cpu, a free that parks an object in a cache
  /// takes no lock, so the walk reads the tags of objects other threads may be freeing at that
  /// moment: call it while no other thread uses the cache (a data race otherwise, which
  /// ThreadSanitizer reports), or on a cache without caching.
  /// Context: takes the lock. Complexity: O(slabs x slots).
  template <class F>
  void for_each_live(F&& f) const
  {
    state* const m = handle_.master.load_acquire();
    if (m != nullptr)
    {
      auto visit = [&f](void* slot) { f(*static_cast<T*>(slot)); };
      control::for_each_taken(m, visit);
    }
  }

  /// Returns: true if both handles share one hierarchy.
  [[nodiscard]] bool shares_with(const slab_cache& other) const noexcept
  {
    state* const mine = handle_.master.load_acquire();
    return mine != nullptr && mine == other.handle_.master.load_acquire();
  }

  /// Returns: the name given at construction, or null.
  [[nodiscard]] constexpr const char* name() const noexcept
  {
    return handle_.name;
  }

private:
  slab_cache(state* m, const char* name) noexcept : handle_{handle::published(m), name} {}

  template <class... Args>
  static T* construct(void* slot,
                      Args&&... args) noexcept(detail::nothrow_emplaceable<T, Args...>())
  {
    if constexpr (std::is_aggregate_v<T>)
    {
      static_assert(detail::brace_initialisable<T, Args...>,
                    "attachable::slab_cache::emplace: the arguments must initialise the "
                    "aggregate T with braces, without narrowing, because g++ and clang++ "
                    "disagree on parenthesised aggregate initialisation; convert each argument "
                    "to its member's type.");
      return ::new (slot) T{detail::forward<Args>(args)...};
    }
    else
    {
      return ::new (slot) T(detail::forward<Args>(args)...);
    }
  }

  [[nodiscard]] result<state*> master() noexcept
  {
    if (state* const m = handle_.master.load_acquire()) [[likely]]
    {
      return m;
    }
    return core::master_of(handle_, type::identity);
  }

  // Returns: a slot, or null and why.
  ATTACHABLE_ALWAYS_INLINE detail::allocation allocate_slot() noexcept
  {
    if constexpr (type::caching == detail::caching_kind::none && !type::inline_fast_path)
    {
      return core::allocate_from(handle_, type::identity);
    }
    else if constexpr (type::caching == detail::caching_kind::per_thread)
    {
      return type::allocate_from(handle_);
    }
    else
    {
      state* const m = handle_.master.load_acquire();
      if (m == nullptr) [[unlikely]]
      {
        return allocate_first();
      }
      return type::allocate(m);
    }
  }

  ATTACHABLE_NOINLINE detail::allocation allocate_first() noexcept
  {
    const result<state*> m = master();
    if (!m)
    {
      return detail::allocation{m.error()};
    }
    return type::allocate(*m);
  }

  state* take() noexcept
  {
    state* const m = handle_.master.load_relaxed();
    handle_.master.store_relaxed(nullptr);
    return m;
  }

  void adopt(state* incoming) noexcept
  {
    state* const old = handle_.master.load_relaxed();
    handle_.master.store_release(incoming);
    if (old != nullptr)
    {
      type::drain(old);
      control::release_handle(old);
    }
  }

  handle handle_;
};

} // namespace attachable::inline ATTACHABLE_ABI

#endif // ATTACHABLE_SLAB_CACHE_HPP
