// A real lock (it wraps spin_lock) that also records how it is used, so that tests can prove
// the cache pairs every lock() with an unlock() on the same thread, never takes a lock it
// already holds, nests no deeper than it documents, and calls no hook while locked.
#ifndef ATTACHABLE_TESTS_SUPPORT_RECORDING_LOCK_HPP
#define ATTACHABLE_TESTS_SUPPORT_RECORDING_LOCK_HPP

#include <attachable/lock.hpp>

#include <atomic>
#include <cstddef>

namespace test_support
{

class recording_lock
{
public:
  recording_lock() noexcept = default;

  void lock() noexcept
  {
    if (holder_.load(std::memory_order_relaxed) == this_thread())
    {
      misuses_.fetch_add(1,
                         std::memory_order_relaxed); // taken again: a self-deadlock for real locks
    }
    inner_.lock();
    holder_.store(this_thread(), std::memory_order_relaxed);
    const std::size_t depth = ++held_by_this_thread_;
    std::size_t deepest = deepest_.load(std::memory_order_relaxed);
    while (depth > deepest && !deepest_.compare_exchange_weak(deepest, depth))
    {
    }
    locks_.fetch_add(1, std::memory_order_relaxed);
  }

  void unlock() noexcept
  {
    if (holder_.load(std::memory_order_relaxed) != this_thread())
    {
      misuses_.fetch_add(1, std::memory_order_relaxed); // not held, or held by another thread
    }
    holder_.store(nullptr, std::memory_order_relaxed);
    --held_by_this_thread_;
    unlocks_.fetch_add(1, std::memory_order_relaxed);
    inner_.unlock();
  }

  // Recording locks the calling thread holds right now: a hook that sees a non-zero value was
  // called under a cache lock.
  [[nodiscard]] static std::size_t held_by_this_thread() noexcept { return held_by_this_thread_; }
  [[nodiscard]] static std::size_t locks() noexcept { return locks_.load(); }
  [[nodiscard]] static std::size_t unlocks() noexcept { return unlocks_.load(); }
  [[nodiscard]] static std::size_t misuses() noexcept { return misuses_.load(); }
  // The most recording locks one thread held at once since reset_deepest(): 1 for a cache
  // that never nests, 2 for per_cpu (a CPU's cache lock, then the hierarchy's).
  [[nodiscard]] static std::size_t deepest() noexcept { return deepest_.load(); }
  static void reset_deepest() noexcept { deepest_.store(0); }

private:
  [[nodiscard]] static const void* this_thread() noexcept { return &held_by_this_thread_; }

  attachable::spin_lock inner_;
  std::atomic<const void*> holder_{nullptr};

  static inline thread_local std::size_t held_by_this_thread_ = 0;
  static inline std::atomic<std::size_t> locks_{0};
  static inline std::atomic<std::size_t> unlocks_{0};
  static inline std::atomic<std::size_t> misuses_{0};
  static inline std::atomic<std::size_t> deepest_{0};
};

static_assert(attachable::slab_lock<recording_lock>);

} // namespace test_support

#endif // ATTACHABLE_TESTS_SUPPORT_RECORDING_LOCK_HPP
