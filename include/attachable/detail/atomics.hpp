// attachable-slab: the few word-sized atomic accesses the library makes, on every core.
//
// Where the core has atomic read-modify-write (ATTACHABLE_HAS_ATOMIC_RMW), these are the
// compilers' __atomic builtins on the object itself (what std::atomic_ref does, without making
// the compiler take the object's address: a thread-local counter stays one instruction), which
// ThreadSanitizer sees. Where it has none (Cortex-M0,
// RV32 without the A extension), compilers turn even a std::atomic load into a library call;
// there an aligned word is read and written whole by one instruction anyway, so a volatile
// access plus a fence for ordering does the same job without a library.
#ifndef ATTACHABLE_DETAIL_ATOMICS_HPP
#define ATTACHABLE_DETAIL_ATOMICS_HPP

#include <attachable/config.hpp>

#include <atomic>

namespace attachable::detail
{

template <class T>
[[nodiscard]] inline T load_relaxed(const T& field) noexcept
{
#if ATTACHABLE_HAS_ATOMIC_RMW
  return __atomic_load_n(&field, __ATOMIC_RELAXED);
#else
  return *static_cast<const volatile T*>(&field);
#endif
}

template <class T, class U>
inline void store_relaxed(T& field, U value) noexcept
{
#if ATTACHABLE_HAS_ATOMIC_RMW
  __atomic_store_n(&field, static_cast<T>(value), __ATOMIC_RELAXED);
#else
  *static_cast<volatile T*>(&field) = static_cast<T>(value);
#endif
}

template <class T>
[[nodiscard]] inline T load_acquire(const T& field) noexcept
{
#if ATTACHABLE_HAS_ATOMIC_RMW
  return __atomic_load_n(&field, __ATOMIC_ACQUIRE);
#else
  const T value = *static_cast<const volatile T*>(&field);
  std::atomic_thread_fence(std::memory_order_acquire);
  return value;
#endif
}

template <class T, class U>
inline void store_release(T& field, U value) noexcept
{
#if ATTACHABLE_HAS_ATOMIC_RMW
  __atomic_store_n(&field, static_cast<T>(value), __ATOMIC_RELEASE);
#else
  std::atomic_thread_fence(std::memory_order_release);
  *static_cast<volatile T*>(&field) = static_cast<T>(value);
#endif
}

// A pointer that one thread publishes and others read: a cache handle's master.
template <class T>
class published_pointer
{
public:
  constexpr published_pointer() noexcept = default;
  constexpr explicit published_pointer(T* value) noexcept : value_(value) {}
  published_pointer(const published_pointer&) = delete;
  published_pointer& operator=(const published_pointer&) = delete;

  [[nodiscard]] T* load_acquire() const noexcept { return detail::load_acquire(value_); }
  [[nodiscard]] T* load_relaxed() const noexcept { return detail::load_relaxed(value_); }
  void store_release(T* value) noexcept { detail::store_release(value_, value); }
  void store_relaxed(T* value) noexcept { detail::store_relaxed(value_, value); }

#if ATTACHABLE_HAS_ATOMIC_RMW
  // Returns: true if the pointer was null and now is `desired`; otherwise what it is.
  [[nodiscard]] bool publish_if_null(T* desired, T*& current) noexcept
  {
    current = nullptr;
    return __atomic_compare_exchange_n(&value_, &current, desired, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
  }
#endif

private:
  T* value_ = nullptr;
};

} // namespace attachable::detail

#endif // ATTACHABLE_DETAIL_ATOMICS_HPP
