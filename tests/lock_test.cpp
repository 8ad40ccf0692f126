#include "catch.hpp"
#include "hook_balance.hpp"
#include "recording_lock.hpp"

#include <attachable/lock.hpp>
#include <attachable/slab_cache.hpp>

#include <cstddef>
#include <thread>
#include <type_traits>
#include <vector>

using attachable::no_lock;
using attachable::slab_lock;
using attachable::spin_lock;

namespace
{

// A user lock of the kind the lock contract describes: it counts so that tests can see the
// cache take it, and it is a real lock underneath.
struct counting_lock
{
  void lock() noexcept
  {
    inner.lock();
    ++locks;
  }
  void unlock() noexcept
  {
    ++unlocks;
    inner.unlock();
  }

  spin_lock inner;
  static inline std::size_t locks = 0;
  static inline std::size_t unlocks = 0;
};

struct only_lock
{
  void lock() noexcept {}
};

struct only_unlock
{
  void unlock() noexcept {}
};

struct throwing_constructor
{
  throwing_constructor() noexcept(false) {}
  void lock() noexcept {}
  void unlock() noexcept {}
};

struct no_default_constructor
{
  explicit no_default_constructor(int) noexcept {}
  void lock() noexcept {}
  void unlock() noexcept {}
};

struct sixteen_bytes
{
  void lock() noexcept {}
  void unlock() noexcept {}
  unsigned char state[16];
};

struct seventeen_bytes
{
  void lock() noexcept {}
  void unlock() noexcept {}
  unsigned char state[17];
};

} // namespace

static_assert(slab_lock<spin_lock>);
static_assert(slab_lock<no_lock>);
static_assert(slab_lock<counting_lock>, "a user lock is accepted");
static_assert(slab_lock<test_support::recording_lock>);
static_assert(slab_lock<sixteen_bytes>, "16 bytes is the limit, inclusive");

static_assert(!slab_lock<int>, "no lock() or unlock()");
static_assert(!slab_lock<only_lock>, "no unlock()");
static_assert(!slab_lock<only_unlock>, "no lock()");
static_assert(!slab_lock<throwing_constructor>, "a constructor that may throw");
static_assert(!slab_lock<no_default_constructor>, "no default constructor");
static_assert(!slab_lock<seventeen_bytes>, "more than 16 bytes");
static_assert(attachable::max_lock_size == 16);

// A kernel's global cache needs its lock constructed at compile time.
constinit spin_lock global_spin_lock;
constinit no_lock global_no_lock;
static_assert(std::is_nothrow_default_constructible_v<spin_lock>);
static_assert(!std::is_copy_constructible_v<spin_lock> && !std::is_copy_assignable_v<spin_lock>);

// no_lock costs nothing: an empty class takes no bytes in the master state.
static_assert(std::is_empty_v<no_lock>);
static_assert(sizeof(no_lock) == 1);
static_assert(attachable::slab_cache<int, no_lock>::objects_per_master >=
              attachable::slab_cache<int, spin_lock>::objects_per_master);
static_assert(attachable::slab_cache<int, no_lock>::objects_per_master >=
              attachable::slab_cache<int, sixteen_bytes>::objects_per_master);
static_assert(attachable::slab_cache<int, no_lock>::objects_per_slab ==
              attachable::slab_cache<int, spin_lock>::objects_per_slab);

TEST_CASE("a constinit spin_lock starts unlocked", "[lock]")
{
  REQUIRE(global_spin_lock.try_lock());
  global_spin_lock.unlock();
  global_no_lock.lock();
  global_no_lock.unlock();
}

TEST_CASE("try_lock fails while the spin_lock is held and succeeds once it is released", "[lock]")
{
  spin_lock lock;
  REQUIRE(lock.try_lock());
  CHECK_FALSE(lock.try_lock());
  bool other_thread_got_it = true;
  std::thread([&] { other_thread_got_it = lock.try_lock(); }).join();
  CHECK_FALSE(other_thread_got_it);
  lock.unlock();
  CHECK(lock.try_lock());
  lock.unlock();
}

TEST_CASE("spin_lock gives mutual exclusion between threads", "[lock]")
{
  constexpr int threads = 4;
  constexpr long increments = 100000;
  spin_lock lock;
  long counter = 0; // deliberately not atomic: only the lock protects it
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
  {
    workers.emplace_back(
        [&]
        {
          for (long i = 0; i < increments; ++i)
          {
            lock.lock();
            ++counter;
            lock.unlock();
          }
        });
  }
  for (std::thread& worker : workers)
  {
    worker.join();
  }
  CHECK(counter == threads * increments);
}

TEST_CASE("a cache with a user lock takes it around every operation and releases it",
          "[lock][cache]")
{
  test_support::hook_balance balance;
  counting_lock::locks = 0;
  counting_lock::unlocks = 0;
  {
    attachable::slab_cache<int, counting_lock> cache;
    auto box = cache.alloc();
    REQUIRE(box);
    const std::size_t after_alloc = counting_lock::locks;
    CHECK(after_alloc > 0);
    CHECK(counting_lock::unlocks == after_alloc);
    CHECK(cache.stats().live_objects == 1);
    CHECK(counting_lock::locks > after_alloc);
  }
  CHECK(counting_lock::locks == counting_lock::unlocks);
}
