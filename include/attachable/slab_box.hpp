// attachable-slab: slab_box, the owner of one object in a slab_cache.
#ifndef ATTACHABLE_SLAB_BOX_HPP
#define ATTACHABLE_SLAB_BOX_HPP

#include <attachable/config.hpp>
#include <attachable/detail/slab_hierarchy.hpp>
#include <attachable/detail/utility.hpp>
#include <attachable/lock.hpp>
#include <attachable/result.hpp>

#include <cstddef>

namespace attachable
{

template <class T, class Lock, std::size_t SlabSize>
class slab_cache;

/// Unique owner of one `T` in a slab of a `slab_cache<T, Lock, SlabSize>`: exactly one
/// pointer wide. Its death destroys the object and returns the slot, on any thread, without
/// a cache handle: the slot finds its slab by masking its own address. A box may outlive every
/// cache handle; the hierarchy goes back to the free hook when the last box and handle die.
template <class T, class Lock = spin_lock, std::size_t SlabSize = 4096>
class slab_box
{
  using hierarchy = detail::slab_hierarchy<T, Lock, SlabSize>;

public:
  using element_type = T;
  using cache_type = slab_cache<T, Lock, SlabSize>;

  /// An empty box.
  constexpr slab_box() noexcept = default;

  slab_box(const slab_box&) = delete;            ///< A box is the only owner of its object.
  slab_box& operator=(const slab_box&) = delete; ///< A box is the only owner of its object.

  /// Takes `other`'s object; `other` becomes empty.
  constexpr slab_box(slab_box&& other) noexcept : object_(other.object_)
  {
    other.object_ = nullptr;
  }

  /// Destroys the object this box holds, if any, then takes `other`'s; `other` becomes empty.
  /// Context: takes the cache's lock if this box held an object; may call the free hook.
  slab_box& operator=(slab_box&& other) noexcept
  {
    if (this != &other)
    {
      reset();
      object_ = other.object_;
      other.object_ = nullptr;
    }
    return *this;
  }

  /// Context: any thread; takes the cache's lock if the box holds an object; may call the
  /// free hook (a slave slab emptied, or the last reference to the hierarchy gone).
  ATTACHABLE_ALWAYS_INLINE ~slab_box() { reset(); }

  /// Adopts `object`, a live slot of a cache of this exact type that nothing else owns
  /// (typically from release()).
  /// Returns: the box; invalid_pointer for null, a pointer that is not on a slot boundary of
  /// a slab of this cache type, or a never-used slot; double_free for a free slot.
  /// Requires: the SlabSize-aligned block around `object` is readable memory.
  /// Context: any thread; takes the cache's lock; calls no hook.
  [[nodiscard]] static result<slab_box> from_raw(T* object) noexcept
  {
    if (const result<void> live = hierarchy::validate_live(object); !live)
    {
      return live.error();
    }
    return slab_box(object);
  }

  [[nodiscard]] constexpr T* get() const noexcept { return object_; }
  /// Requires: the box is not empty.
  [[nodiscard]] constexpr T& operator*() const noexcept { return *object_; }
  /// Requires: the box is not empty.
  [[nodiscard]] constexpr T* operator->() const noexcept { return object_; }
  constexpr explicit operator bool() const noexcept { return object_ != nullptr; }

  /// Destroys the object, if any, and returns its slot; the box becomes empty.
  /// Context: as for the destructor.
  ATTACHABLE_ALWAYS_INLINE void reset() noexcept
  {
    if (T* const object = detail::exchange(object_, nullptr))
    {
      object->~T();
      hierarchy::free_live_slot(object);
    }
  }

  /// Gives up ownership without destroying the object, which stays live in its slot and
  /// counts in stats().live_objects until from_raw() adopts it again or deallocate() frees it
  /// (after you destroy it).
  /// Returns: the object, or null for an empty box.
  [[nodiscard]] constexpr T* release() noexcept { return detail::exchange(object_, nullptr); }

private:
  friend class slab_cache<T, Lock, SlabSize>;

  constexpr explicit slab_box(T* object) noexcept : object_(object) {}

  T* object_ = nullptr;
};

} // namespace attachable

#endif // ATTACHABLE_SLAB_BOX_HPP
