// attachable-slab: everything about one cache type slab_cache<T, Lock, SlabSize, Options...>:
// its rules, its geometry and descriptor, and the fast paths inlined where it is used.
//
// Contract of this layer: the only code that depends on T. It checks T, Lock, SlabSize and the
// options (each rule its own static_assert with a sentence), computes the slab geometry at
// compile time, and routes allocation and free to the plain locked path, the per-thread or the
// per-CPU front end. With ATTACHABLE_INLINE_FAST_PATH the plain paths are inlined with T's
// layout as constants; without it they are calls into the mechanism shared by every cache of
// the same (Lock, SlabSize).
#ifndef ATTACHABLE_DETAIL_CACHE_TYPE_HPP
#define ATTACHABLE_DETAIL_CACHE_TYPE_HPP

#include <attachable/config.hpp>
#include <attachable/detail/bits.hpp>
#include <attachable/detail/cache_control.hpp>
#include <attachable/detail/cache_shape.hpp>
#include <attachable/detail/cached_area.hpp>
#include <attachable/detail/cpu_cache.hpp>
#include <attachable/detail/hierarchy.hpp>
#include <attachable/detail/object_cache.hpp>
#include <attachable/detail/option_list.hpp>
#include <attachable/detail/raw_pointers.hpp>
#include <attachable/detail/slab_layout.hpp>
#include <attachable/detail/slab_slots.hpp>
#include <attachable/detail/thread_cache.hpp>
#include <attachable/detail/verify.hpp>
#include <attachable/lock.hpp>
#include <attachable/options.hpp>
#include <attachable/result.hpp>
#include <attachable/slab_source.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace attachable::detail::inline ATTACHABLE_ABI
{

// T as slab_cache may store it. The rules have their own messages in cache_type.
template <class T>
concept storable_object = requires
{
  sizeof(T);
}
&&std::is_object_v<T> && !std::is_array_v<T> && !std::is_abstract_v<T> &&
    std::is_destructible_v<T> && std::is_same_v<T, std::remove_cv_t<T>>;

// One distinct, never-merged address per cache type: a slab remembers which cache type made
// it, so that a pointer from a cache of another T, Lock, SlabSize or option list is rejected.
template <class Type>
inline constinit cache_identity identity_of{&Type::shape::descriptor};

// Names both sizes in the diagnostic when an arena source and a cache disagree.
template <std::size_t ArenaSlabSize, std::size_t CacheSlabSize>
struct arena_slab_size_matches_cache
{
  static_assert(ArenaSlabSize == CacheSlabSize,
                "attachable::arena_slabs: the arena's SlabSize (the first number in "
                "arena_slab_size_matches_cache<arena, cache> above) must equal the cache's "
                "SlabSize (the second), because every slab of a cache has the cache's size; "
                "give the cache and the arena the same SlabSize.");
  static constexpr bool value = ArenaSlabSize == CacheSlabSize;
};

template <class Source, std::size_t SlabSize>
[[nodiscard]] constexpr bool source_serves(std::size_t) noexcept
{
  if constexpr (requires { Source::slab_size; })
  {
    return arena_slab_size_matches_cache<Source::slab_size, SlabSize>::value;
  }
  else
  {
    return true;
  }
}

template <class T, class Lock, std::size_t SlabSize, class... Options>
struct cache_type
{
  using options = option_list<Options...>;
  // When a rule is broken, lay out a harmless stand-in so that only the rule's message shows.
  static constexpr bool valid_object = storable_object<T>;
  static constexpr bool valid_lock = slab_lock<Lock>;
  using object_type = std::conditional_t<valid_object, T, std::uint32_t>;
  using lock_type = std::conditional_t<valid_lock, Lock, no_lock>;
  using source = std::conditional_t<slab_source<typename options::source>, typename options::source,
                                    global_hooks>;
  using topology = typename options::topology;

  static_assert(is_power_of_two(SlabSize),
                "attachable::slab_cache: SlabSize must be a power of two, because an object finds "
                "its slab by masking its address; use e.g. 4096 or 65536.");
  static_assert(
      requires { sizeof(T); },
      "attachable::slab_cache: T must be a complete type, because the slot size is "
      "sizeof(T); include T's definition before instantiating the cache.");
  static_assert(std::is_object_v<T> && !std::is_array_v<T>,
                "attachable::slab_cache: T must be a non-array object type, because each slot "
                "holds one object; wrap arrays, references and functions in a struct.");
  static_assert(std::is_same_v<T, std::remove_cv_t<T>>,
                "attachable::slab_cache: T must not be const or volatile, because the cache "
                "writes free-list links into free slots; use the unqualified type.");
  static_assert(!std::is_abstract_v<T>,
                "attachable::slab_cache: T must not be abstract, because the cache constructs T "
                "itself; use a slab_cache of the concrete derived type.");
  static_assert(std::is_destructible_v<T>,
                "attachable::slab_cache: T must be destructible, because slab_box destroys it; "
                "give T a public, non-deleted destructor.");
  static_assert(nothrow_lock_constructible<Lock> && lockable<Lock>,
                "attachable::slab_cache: Lock must satisfy attachable::slab_lock, because the "
                "master constructs and takes it; give it noexcept default construction, lock() "
                "and unlock(), or use spin_lock or no_lock.");
  static_assert(fits_in_slab_header<Lock>,
                "attachable::slab_cache: Lock must be at most 16 bytes, because it lives in the "
                "master slab's header; keep the lock's state small or hold it by pointer.");
  static_assert(ATTACHABLE_HAS_ATOMIC_RMW || !std::is_same_v<Lock, spin_lock>,
                "attachable::slab_cache: spin_lock needs an atomic exchange, which this core "
                "lacks (e.g. Cortex-M0, RV32 without the A extension); use no_lock on one core "
                "or a lock that masks interrupts.");
  static_assert(options::all_options,
                "attachable::slab_cache: every type after SlabSize must be an attachable option "
                "(per_thread, per_cpu<Cpus>, slabs_from<Source> or max_slabs<N>), because the "
                "option list configures the cache; remove or replace the other types.");
  static_assert(options::no_repeats,
                "attachable::slab_cache: each kind of option may be given once, because two "
                "would contradict each other; keep one of per_thread / per_cpu<Cpus>, one "
                "slabs_from<Source> and one max_slabs<N>.");
  static_assert(options::caching_mode != caching_kind::per_cpu || cpu_topology<topology>,
                "attachable::per_cpu: Cpus must provide static constexpr std::size_t count "
                "(at least 1), static std::size_t current() noexcept and a nested "
                "nothrow-constructible RAII type pin, because the cache keeps one object cache "
                "per CPU and pins the caller to its CPU while it uses it.");
  static_assert(options::caching_mode != caching_kind::per_thread || __STDC_HOSTED__,
                "attachable::per_thread: needs thread_local storage and thread exit hooks, "
                "which a freestanding build lacks; use per_cpu<Cpus> in kernels and firmware.");
  static_assert(slab_source<typename options::source>,
                "attachable::slabs_from: Source must satisfy attachable::slab_source, because the "
                "cache gets and returns its slabs through it; give it static void* "
                "allocate_slab(attachable::layout) noexcept and static attachable::result<void> "
                "free_slab(void*, attachable::layout) noexcept.");
  static_assert(source_serves<source, SlabSize>(0), "see the message above");
  static_assert(!options::no_repeats || options::slab_limit != 0 ||
                    options_of_kind<option_kind::slab_limit, Options...> == 0,
                "attachable::max_slabs: the limit must be at least 1, because a cache always "
                "holds its master slab; use max_slabs<1> for a cache that never grows.");
  static_assert(options::slab_limit < 0xFFFF'FFFFu,
                "attachable::max_slabs: the limit must be below 2^32 - 1, because slab counts "
                "are 32-bit; lower it or leave the option out.");

  // ---- the geometry, shared by every cache type of the same shape --------------------------

  static constexpr caching_kind caching = options::caching_mode;
  static constexpr bool tagged = caching != caching_kind::none;
  static constexpr std::size_t slab_size = SlabSize;
  static constexpr std::size_t object_size = sizeof(object_type);
  static constexpr std::size_t cpu_count = []
  {
    if constexpr (caching == caching_kind::per_cpu && cpu_topology<topology>)
    {
      return static_cast<std::size_t>(topology::count);
    }
    else
    {
      return std::size_t{0};
    }
  }();

  using shape = cache_shape<lock_type, SlabSize, sizeof(object_type), alignof(object_type), source,
                            caching, cpu_count, options::slab_limit>;
  static constexpr const slab_geometry& geometry = shape::geometry;
  static constexpr const cache_descriptor& descriptor = shape::descriptor;
  static constexpr std::size_t slot_size = geometry.slot_size;
  static constexpr std::uint32_t cache_limit = shape::cache_limit;
  static constexpr std::uint32_t cache_batch = shape::cache_batch;
  static constexpr std::size_t cpu_stride = shape::cpu_stride;
  static constexpr std::size_t cpu_caches_offset = shape::cpu_caches_offset;
  // Slab headers carry it; the descriptor is shared by every type of one shape.
  static constexpr const cache_identity* identity = &identity_of<cache_type>;

  static_assert(caching != caching_kind::per_cpu || shape::per_cpu_limit >= 2,
                "attachable::per_cpu: a quarter of the master slab must hold a cache of at least "
                "two objects for each of Cpus::count CPUs, because the caches live in the master "
                "slab; raise SlabSize or lower Cpus::count.");
  static_assert(geometry.objects_per_master >= 2 || geometry.objects_per_master_unaligned >= 2 ||
                    !valid_object,
                "attachable::slab_cache: the master slab must hold its header plus at least two "
                "objects of T, because a cache that fills its first slab with one object has no "
                "room to amortise its bookkeeping; raise SlabSize (e.g. to 65536) or shrink T.");
  static_assert(geometry.objects_per_master >= 2 || geometry.objects_per_master_unaligned < 2 ||
                    !valid_object,
                "attachable::slab_cache: T's alignment leaves room for fewer than two objects "
                "in the master slab, because slots are aligned to alignof(T) after the master "
                "state; raise SlabSize or lower T's alignment.");
  static_assert(geometry.objects_per_slab < no_slot,
                "attachable::slab_cache: a slab must hold fewer than 2^32 - 1 objects, because "
                "free slots keep a 32-bit index; lower SlabSize.");
  static_assert(geometry.slave_slots_offset + geometry.objects_per_slab * slot_size <= SlabSize ||
                    !valid_object,
                "attachable::slab_cache: internal layout error; please report it.");

  // ---- the paths -----------------------------------------------------------------------------

  using fixed = fixed_slots<SlabSize, slot_size, object_size, tagged>;
  using core = hierarchy<lock_type, SlabSize>;
  using cached = object_cache<lock_type, SlabSize>;
  using raw = raw_pointers<lock_type, SlabSize>;
  using control = cache_control<lock_type, SlabSize>;
  using checker = verifier<lock_type, SlabSize>;
  using state = typename core::state;
  static constexpr std::size_t links = geometry.links_offset;
  static constexpr bool inline_fast_path = ATTACHABLE_INLINE_FAST_PATH != 0;

  [[nodiscard]] static cached_area* area_of(state* m) noexcept
  {
    return object_at<cached_area>(core::master_slab(m), geometry.cached_area_offset);
  }

  // Returns: a slot, or null and why. Context: see slab_cache::allocate.
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static allocation allocate(state* m) noexcept
  {
    if constexpr (caching == caching_kind::per_thread)
    {
      return thread_caching<cache_type>::allocate(m);
    }
    else if constexpr (caching == caching_kind::per_cpu)
    {
      return cpu_caching<cache_type>::allocate(m);
    }
    else if constexpr (inline_fast_path)
    {
      return core::allocate(m, fixed{}, links);
    }
    else
    {
      return core::allocate_any(m);
    }
  }

  // As allocate(), from a handle whose master may not exist yet (created on the slow path).
  template <class Handle>
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static allocation allocate_from(Handle& handle) noexcept
  {
    static_assert(caching == caching_kind::per_thread, "only the per_thread front end has it");
    return thread_caching<cache_type>::allocate(handle);
  }

  // Frees a slot its box owned. Context: see slab_box::reset.
  ATTACHABLE_ALWAYS_INLINE static void free_owned(void* slot) noexcept
  {
    if constexpr (caching == caching_kind::per_thread)
    {
      thread_caching<cache_type>::free(slot);
    }
    else if constexpr (caching == caching_kind::per_cpu)
    {
      cpu_caching<cache_type>::free(slot);
    }
    else if constexpr (inline_fast_path)
    {
      core::free_owned(slot, fixed{}, links);
    }
    else
    {
      core::free_owned_any(slot);
    }
  }

  // The checks a cached cache makes without any lock: a slot of this type, used, not free.
  [[nodiscard]] static result<void> check_cached(const void* pointer) noexcept
  {
    std::uint32_t index = 0;
    const slab* const s = raw::find_slab(pointer, identity, fixed{}, index);
    if (s == nullptr || index >= used_slots(s))
    {
      return slab_error::invalid_pointer;
    }
    if (slot_is_free(pointer))
    {
      return slab_error::double_free;
    }
    return {};
  }

  [[nodiscard]] static result<void> deallocate(void* pointer) noexcept
  {
    if constexpr (tagged)
    {
      if (const result<void> usable = check_cached(pointer); !usable)
      {
        return usable;
      }
      free_owned(pointer);
      return {};
    }
    else if constexpr (inline_fast_path)
    {
      return raw::deallocate(pointer, identity, fixed{});
    }
    else
    {
      return raw::deallocate_any(pointer, identity);
    }
  }

  [[nodiscard]] static result<void> validate_owned(const void* pointer) noexcept
  {
    return raw::validate_taken(pointer, identity, fixed{});
  }

  // Returns: how many cached objects went back. Context: see slab_cache::drain.
  static std::size_t drain(state* m) noexcept
  {
    if constexpr (caching == caching_kind::per_thread)
    {
      return thread_caching<cache_type>::drain(m);
    }
    else if constexpr (caching == caching_kind::per_cpu)
    {
      return cpu_caching<cache_type>::drain(m);
    }
    else
    {
      (void)m;
      return 0;
    }
  }
};

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_CACHE_TYPE_HPP
