// attachable-slab: the slab_lock concept and the two locks that ship with the library.
//
// Contract for a user lock (for example one that masks interrupts):
//   Must:        be nothrow default-constructible, have lock() and unlock(), and fit in 16
//                bytes, because it lives inside the master slab's header.
//   May assume:  lock() and unlock() are called in pairs by the same thread or context, and a
//                holder never takes the same instance again. A cache holds one lock at a time,
//                except that per_cpu takes a CPU's cache lock and then, to refill, the
//                hierarchy's: two instances, always in that order. No hook runs under either.
//                So a lock that masks interrupts must restore the state lock() found, not
//                enable interrupts unconditionally.
//   Must never:  throw, or fail to return from lock() once the holder has called unlock().
//   Prefer:      a constexpr default constructor, so that a cache's master needs no runtime
//                initialisation beyond storing the lock's value.
#ifndef ATTACHABLE_LOCK_HPP
#define ATTACHABLE_LOCK_HPP

#include <atomic>
#include <concepts>
#include <cstddef>
#include <type_traits>

namespace attachable
{

/// The most bytes a lock may take in the master slab's header.
inline constexpr std::size_t max_lock_size = 16;

/// A type the cache can default-construct without failing.
template <class Lock>
concept nothrow_lock_constructible = std::is_nothrow_default_constructible_v<Lock>;

/// A type with lock() and unlock().
template <class Lock>
concept lockable = requires(Lock& lock)
{
  lock.lock();
  lock.unlock();
};

/// A type small enough to live in the master slab's header.
template <class Lock>
concept fits_in_slab_header = sizeof(Lock) <= max_lock_size;

/// What slab_cache needs of its Lock parameter.
template <class Lock>
concept slab_lock = nothrow_lock_constructible<Lock> && lockable<Lock> && fits_in_slab_header<Lock>;

/// A lock that costs nothing: no bytes in the master's header, no instructions.
/// Context: for single-core code where the user guarantees that a cache is never used from
/// two contexts at once (for example only from one thread, or with interrupts already off).
struct no_lock
{
  constexpr void lock() noexcept {}
  constexpr void unlock() noexcept {}
};

/// A test-and-test-and-set spin lock with a CPU pause hint, for threads on one or more cores.
/// Context: threads. Do not use it for a cache that an interrupt handler also uses on the
/// same core: the handler would spin forever on a lock its own core holds; use a lock that
/// masks interrupts instead.
class spin_lock
{
public:
  constexpr spin_lock() noexcept = default;
  spin_lock(const spin_lock&) = delete;            ///< A lock guards one place; it is never copied.
  spin_lock& operator=(const spin_lock&) = delete; ///< A lock guards one place.

  void lock() noexcept
  {
    // Spin on a plain load so that waiting cores share the cache line instead of bouncing it
    // with a write each round.
    while (locked_.exchange(true, std::memory_order_acquire))
    {
      while (locked_.load(std::memory_order_relaxed))
      {
        pause();
      }
    }
  }

  /// Returns: true if the lock was free and is now held by the caller.
  [[nodiscard]] bool try_lock() noexcept
  {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }

  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
  static void pause() noexcept
  {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && (__ARM_ARCH >= 7 || defined(__ARM_ARCH_6K__)))
    __asm__ __volatile__("yield");
#elif defined(__riscv)
    __asm__ __volatile__(".insn i 0x0F, 0, x0, x0, 0x010"); // pause (Zihintpause)
#endif
  }

  std::atomic<bool> locked_{false};
};

} // namespace attachable

#endif // ATTACHABLE_LOCK_HPP
