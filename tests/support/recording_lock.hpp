// A real lock (it wraps spin_lock) that also records how it is used, so that tests can prove
// the cache pairs every lock() with an unlock(), never nests, and calls no hook while locked.
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
    if (held_by_this_thread_ != 0)
    {
      misuses_.fetch_add(1, std::memory_order_relaxed); // nested: a self-deadlock for real locks
    }
    inner_.lock();
    ++held_by_this_thread_;
    locks_.fetch_add(1, std::memory_order_relaxed);
    held_ = true;
  }

  void unlock() noexcept
  {
    if (!held_)
    {
      misuses_.fetch_add(1, std::memory_order_relaxed); // unlock without lock
    }
    held_ = false;
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

private:
  attachable::spin_lock inner_;
  bool held_ = false;

  static inline thread_local std::size_t held_by_this_thread_ = 0;
  static inline std::atomic<std::size_t> locks_{0};
  static inline std::atomic<std::size_t> unlocks_{0};
  static inline std::atomic<std::size_t> misuses_{0};
};

static_assert(attachable::slab_lock<recording_lock>);

} // namespace test_support

#endif // ATTACHABLE_TESTS_SUPPORT_RECORDING_LOCK_HPP
