// attachable-slab: slab_box, the owner of one object in a slab_cache.
#ifndef ATTACHABLE_SLAB_BOX_HPP
#define ATTACHABLE_SLAB_BOX_HPP

#include <attachable/config.hpp>
#include <attachable/detail/cache_type.hpp>
#include <attachable/detail/utility.hpp>
#include <attachable/lock.hpp>
#include <attachable/result.hpp>

#include <cstddef>

namespace attachable::inline ATTACHABLE_ABI
{

// Declared here with their defaults, since a box names its cache and a cache its box.
template <class T, class Lock = spin_lock, std::size_t SlabSize = 4096, class... Options>
class ATTACHABLE_ABI_TAG slab_cache;
template <class T, class Lock = spin_lock, std::size_t SlabSize = 4096, class... Options>
class ATTACHABLE_ABI_TAG slab_box;

/// Unique owner of one `T` in a slab of a `slab_cache<T, Lock, SlabSize, Options...>`: exactly
/// one pointer wide. Its death destroys the object and returns the slot, on any thread, without
/// a cache handle: the slot finds its slab by masking its own address. A box may outlive every
/// cache handle; the hierarchy goes back to its source when the last box and handle die.
/// `T`'s destructor must not throw: the box's destructor is noexcept, so an exception from it
/// ends in std::terminate.
template <class T, class Lock, std::size_t SlabSize, class... Options>
class ATTACHABLE_ABI_TAG slab_box
{
  using type = detail::cache_type<T, Lock, SlabSize, Options...>;

public:
  using element_type = T;
  using cache_type = slab_cache<T, Lock, SlabSize, Options...>;

  /// An empty box.
  constexpr slab_box() noexcept = default;

  slab_box(const slab_box&) = delete;            ///< A box is the only owner of its object.
  slab_box& operator=(const slab_box&) = delete; ///< A box is the only owner of its object.

  /// Takes `other`'s object; `other` becomes empty.
  constexpr slab_box(slab_box&& other) noexcept : object_(other.object_)
  {
    other.object_ = nullptr;
  }

  /// Takes `other`'s object, then destroys the object this box held, if any; `other` becomes
  /// empty. Taking first makes `head = std::move(head->next)` safe when the old object owns
  /// `other`.
  /// Context: takes the cache's lock if this box held an object; may call the slab source.
  slab_box& operator=(slab_box&& other) noexcept
  {
    T* const incoming = detail::exchange(other.object_, nullptr);
    destroy(detail::exchange(object_, incoming));
    return *this;
  }

  /// Context: any thread; takes the cache's lock if the box holds an object (with caching,
  /// only to flush); may call the slab source (a slave slab emptied, or the last reference to
  /// the hierarchy gone). A slot that was already freed by another path is left alone and
  /// reported through ATTACHABLE_REPORT_DOUBLE_FREE, as long as it is still free: a slot that
  /// was handed out again meanwhile belongs to its new owner, and this box frees it from under
  /// that owner (no allocator can tell the two apart). With per_thread or per_cpu the check is
  /// the object's tag: if a write after free erased it, the second free parks the slot again,
  /// and it is reported only if its batch goes back to the slab before both copies are handed
  /// out (ASan and Valgrind catch the write itself).
  ATTACHABLE_ALWAYS_INLINE ~slab_box() { reset(); }

  /// Adopts `object`, a live slot of a cache of this exact type that nothing else owns
  /// (typically from release()).
  /// Returns: the box; invalid_pointer for null, a pointer that is not on a slot boundary of a
  /// slab of this cache type, or a never-used slot; double_free for a free slot.
  /// Requires: the SlabSize-aligned block around `object` is mapped memory.
  /// Context: any thread; takes the cache's lock; calls no slab source.
  [[nodiscard]] static result<slab_box> from_raw(T* object) noexcept
  {
    if (const result<void> owned = type::validate_owned(object); !owned)
    {
      return owned.error();
    }
    return slab_box(object);
  }

  [[nodiscard]] constexpr T* get() const noexcept { return object_; }
  /// Requires: the box is not empty.
  [[nodiscard]] constexpr T& operator*() const noexcept { return *object_; }
  /// Requires: the box is not empty.
  [[nodiscard]] constexpr T* operator->() const noexcept { return object_; }
  constexpr explicit operator bool() const noexcept { return object_ != nullptr; }

  /// Destroys the object, if any, and returns its slot; the box becomes empty first, so the
  /// object's destructor may reach this box.
  /// Context: as for the destructor.
  ATTACHABLE_ALWAYS_INLINE void reset() noexcept { destroy(detail::exchange(object_, nullptr)); }

  /// Gives up ownership without destroying the object, which stays live in its slot and
  /// counts in stats().live_objects until from_raw() adopts it again or deallocate() frees it
  /// (after you destroy it).
  /// Returns: the object, or null for an empty box.
  [[nodiscard]] constexpr T* release() noexcept { return detail::exchange(object_, nullptr); }

private:
  friend class slab_cache<T, Lock, SlabSize, Options...>;

  constexpr explicit slab_box(T* object) noexcept : object_(object) {}

  ATTACHABLE_ALWAYS_INLINE static void destroy(T* object) noexcept
  {
    if (object != nullptr)
    {
      object->~T();
      type::free_owned(object);
    }
  }

  T* object_ = nullptr;
};

} // namespace attachable::inline ATTACHABLE_ABI

#endif // ATTACHABLE_SLAB_BOX_HPP
