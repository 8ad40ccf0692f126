// attachable-slab: slab_allocator, a standard allocator over process-wide slab caches.
//
// Hosted only: it throws std::bad_alloc and calls ::operator new, as the standard requires of
// an allocator, so <attachable/slab.hpp> does not include it and the freestanding builds do not
// compile it. Include it explicitly.
//
// A node-based container allocates one node at a time; each node type gets its own slab cache,
// created on first use and shared by every container in the process. Arrays (a vector's
// storage, a hash table's buckets) are not slab-shaped and go to ::operator new.
#ifndef ATTACHABLE_STD_ALLOCATOR_HPP
#define ATTACHABLE_STD_ALLOCATOR_HPP

#include <attachable/config.hpp>
#include <attachable/lock.hpp>
#include <attachable/result.hpp>
#include <attachable/slab_cache.hpp>

#include <cstddef>
#include <limits>
#include <new>
#include <type_traits>

namespace attachable
{

/// What slab_allocator and slab_resource throw when a slab cache cannot serve a request:
/// a std::bad_alloc that also says why.
class bad_slab_alloc : public std::bad_alloc
{
public:
  explicit bad_slab_alloc(slab_error error) noexcept : error_(error) {}

  /// Returns: out_of_memory or alignment_mismatch when the alloc hook failed, fatal_error
  /// when a slab's free list was found corrupted (typically a write after free).
  [[nodiscard]] slab_error error() const noexcept { return error_; }

  /// Returns: to_string(error()).
  [[nodiscard]] const char* what() const noexcept override { return to_string(error_); }

private:
  slab_error error_;
};

namespace detail
{

template <class T, class Lock, std::size_t SlabSize, class... Options>
using cache_with_options = slab_cache<T, Lock, SlabSize, Options...>;

// One handle per cache type for the whole program: constinit, so it holds no memory and runs
// no constructor until the first allocation creates its master.
template <class Cache>
inline constinit Cache process_wide_cache{};

[[noreturn]] inline void throw_bad_slab_alloc(slab_error error)
{
#if ATTACHABLE_HAS_EXCEPTIONS
  throw bad_slab_alloc(error);
#else
  (void)error;
  ATTACHABLE_PANIC("attachable: a slab cache could not allocate, and exceptions are off");
  __builtin_unreachable();
#endif
}

// ::operator new with the alignment T needs, for allocations that are not single objects.
inline void* allocate_bytes(std::size_t bytes, std::size_t alignment)
{
  if (alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__)
  {
    return ::operator new (bytes, std::align_val_t{alignment});
  }
  return ::operator new(bytes);
}

inline void deallocate_bytes(void* pointer, std::size_t bytes, std::size_t alignment) noexcept
{
  // Clang before 19 leaves sized deallocation off, and <new> then does not declare it.
#if defined(__cpp_sized_deallocation)
  if (alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__)
  {
    ::operator delete (pointer, bytes, std::align_val_t{alignment});
    return;
  }
  ::operator delete(pointer, bytes);
#else
  (void)bytes;
  if (alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__)
  {
    ::operator delete (pointer, std::align_val_t{alignment});
    return;
  }
  ::operator delete(pointer);
#endif
}

} // namespace detail

/// A standard allocator whose single objects come from slab caches. Each type it is rebound to
/// (a list, map, set or unordered_map node, allocate_shared's control block) has one
/// `slab_cache<U, Lock, SlabSize, Options...>` for the whole program, created on first use;
/// every allocation of n != 1 objects goes to ::operator new with alignof(T).
///
/// Stateless and always equal: containers move, swap and splice between each other freely,
/// and an object may be freed on any thread. Slabs come from the program's two hooks, like any
/// other cache's. A cache keeps its master slab until the program ends (it is a handle at
/// namespace scope); its slabs go back to the free hook when static destructors have run and
/// the last of its objects is freed, in either order, so a global container may be destroyed
/// after the cache handle. Do not allocate from a destructor that runs after main returns.
template <class T, class Lock = spin_lock, std::size_t SlabSize = 4096, class... Options>
class slab_allocator
{
public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using is_always_equal = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;

  template <class U>
  struct rebind
  {
    using other = slab_allocator<U, Lock, SlabSize, Options...>;
  };

  /// The cache that single `T` objects come from.
  using cache_type = detail::cache_with_options<T, Lock, SlabSize, Options...>;

  constexpr slab_allocator() noexcept = default;
  template <class U>
  constexpr slab_allocator(const slab_allocator<U, Lock, SlabSize, Options...>&) noexcept
  {
  }

  /// Memory for `n` objects of type T, uninitialised.
  /// Returns: for n == 1, a slot of the process-wide cache for T; otherwise memory from
  /// ::operator new aligned to alignof(T).
  /// Throws: bad_slab_alloc (a std::bad_alloc) when the cache's alloc hook fails or a slab's
  /// free list is found corrupted; std::bad_array_new_length when n * sizeof(T) overflows;
  /// whatever ::operator new throws.
  /// Context: for n == 1, as slab_cache::allocate(): takes the cache's lock and may call the
  /// alloc hook without it.
  [[nodiscard]] T* allocate(std::size_t n)
  {
    require_slab_sized();
    if constexpr (slab_sized())
    {
      if (n == 1) [[likely]]
      {
        result<void*> slot = detail::process_wide_cache<cache_type>.allocate();
        if (!slot) [[unlikely]]
        {
          detail::throw_bad_slab_alloc(slot.error());
        }
        return static_cast<T*>(*slot);
      }
      if (n > std::numeric_limits<std::size_t>::max() / sizeof(T))
      {
#if ATTACHABLE_HAS_EXCEPTIONS
        throw std::bad_array_new_length();
#else
        ATTACHABLE_PANIC("attachable::slab_allocator: n * sizeof(T) overflows");
#endif
      }
      return static_cast<T*>(detail::allocate_bytes(n * sizeof(T), alignof(T)));
    }
    else
    {
      return nullptr;
    }
  }

  /// Gives back what allocate(n) returned.
  /// Requires: `pointer` came from allocate(n) of an equal allocator (any slab_allocator with
  /// the same Lock, SlabSize and Options, rebound to T), with the same n, and its objects are
  /// destroyed. A slot that is not live (freed twice, or not from this cache) calls
  /// ATTACHABLE_PANIC.
  /// Context: any thread; for n == 1, as slab_cache::deallocate(): takes the cache's lock and
  /// may call the free hook without it.
  void deallocate(T* pointer, std::size_t n) noexcept
  {
    require_slab_sized();
    if constexpr (slab_sized())
    {
      if (n == 1) [[likely]]
      {
        if (!cache_type::deallocate(pointer)) [[unlikely]]
        {
          ATTACHABLE_PANIC("attachable::slab_allocator: deallocate(p, 1) was given a pointer "
                           "that is not a live slot of this allocator's cache (double free, "
                           "or memory from another allocator)");
        }
        return;
      }
      detail::deallocate_bytes(pointer, n * sizeof(T), alignof(T));
    }
  }

private:
  // Checked where T must be complete (a container may name its allocator before its element
  // type is complete), and in a function of its own so that the message appears once.
  static constexpr bool slab_sized() noexcept
  {
    return sizeof(T) <= SlabSize / 4;
  }
  static constexpr void require_slab_sized() noexcept
  {
    static_assert(slab_sized(),
                  "attachable::slab_allocator: T must be at most a quarter of SlabSize, "
                  "because each T comes from a slab that also holds its header and at least "
                  "two objects, and a larger T wastes most of every slab; raise SlabSize "
                  "(e.g. to 65536) or use std::allocator for objects this large.");
  }
};

/// Every slab_allocator of one Lock, SlabSize and Options frees what another allocated.
template <class T, class U, class Lock, std::size_t SlabSize, class... Options>
[[nodiscard]] constexpr bool
operator==(const slab_allocator<T, Lock, SlabSize, Options...>&,
           const slab_allocator<U, Lock, SlabSize, Options...>&) noexcept
{
  return true;
}

} // namespace attachable

#endif // ATTACHABLE_STD_ALLOCATOR_HPP
