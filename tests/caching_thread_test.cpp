// per_thread and per_cpu caching across threads: lifetime (nothing leaks once every handle is
// gone, every object is freed and, with per_thread, every thread that touched the cache has
// exited, in any order) and batching (frees of another thread's objects take one lock per
// batch, not one per object). Counting hooks prove every slab came back.
//
// Each thread below is a worker that runs the steps the test hands it, one at a time, so that
// the test chooses the exact order of handle drops, frees and thread exits. Catch2's assertions
// are not thread-safe, so steps only record what they see and the main thread asserts.
#include "catch.hpp"
#include "hook_balance.hpp"
#include "recording_hooks.hpp"
#include "recording_lock.hpp"

#include <attachable/slab.hpp>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using attachable::per_cpu;
using attachable::per_thread;
using attachable::slab_cache;
using attachable::slab_stats;
using attachable::spin_lock;
using test_support::hook_balance;
using test_support::recording_hooks;
using test_support::recording_lock;

namespace
{

// Four CPUs. A thread says which one it runs on (cpu_of_thread); pin holds that CPU's mutex,
// as disabling preemption would keep other threads off the CPU.
struct thread_cpus
{
  static constexpr std::size_t count = 4;
  static inline thread_local std::size_t cpu_of_thread = 0;
  static inline std::mutex cpu_mutex[count];
  [[nodiscard]] static std::size_t current() noexcept { return cpu_of_thread; }
  class pin
  {
  public:
    pin() noexcept : cpu_(cpu_of_thread) { cpu_mutex[cpu_].lock(); }
    pin(const pin&) = delete;
    pin& operator=(const pin&) = delete;
    ~pin() { cpu_mutex[cpu_].unlock(); }

  private:
    std::size_t cpu_;
  };
};
static_assert(attachable::cpu_topology<thread_cpus>);

struct item
{
  std::uint64_t id = 0;
  std::uint64_t check = ~std::uint64_t{0};
  [[nodiscard]] bool holds(std::uint64_t expected) const noexcept
  {
    return id == expected && check == ~expected;
  }
};

// A thread that runs the steps it is given, each to completion before run() returns.
class worker
{
public:
  explicit worker(std::size_t cpu = 0) : thread_([this, cpu] { loop(cpu); }) {}
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;
  ~worker()
  {
    if (thread_.joinable())
    {
      exit();
    }
  }

  void run(std::function<void()> step)
  {
    std::unique_lock<std::mutex> lock(mutex_);
    step_ = std::move(step);
    changed_.notify_all();
    changed_.wait(lock, [this] { return !step_; });
  }

  // The thread returns and is joined: its thread-local caches are flushed by then.
  void exit()
  {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      changed_.notify_all();
    }
    thread_.join();
  }

  [[nodiscard]] bool running() const noexcept { return thread_.joinable(); }

private:
  void loop(std::size_t cpu)
  {
    thread_cpus::cpu_of_thread = cpu;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;)
    {
      changed_.wait(lock, [this] { return static_cast<bool>(step_) || stop_; });
      if (!step_)
      {
        return;
      }
      lock.unlock();
      step_();
      lock.lock();
      step_ = nullptr;
      changed_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::function<void()> step_;
  bool stop_ = false;
  std::thread thread_;
};

template <class Cache>
typename Cache::box make(Cache& cache, std::uint64_t id)
{
  auto made = cache.emplace(id, ~id);
  return made ? std::move(made).value() : typename Cache::box{};
}

template <class Cache>
bool sound(const Cache& cache)
{
  const slab_stats s = cache.stats();
  return cache.verify().has_value() && s.hook_allocs - s.hook_frees == s.slabs &&
         s.live_objects + s.cached_objects <= s.capacity;
}

using thread_cache = slab_cache<item, spin_lock, 4096, per_thread>;
using thread_cache_recording = slab_cache<item, recording_lock, 4096, per_thread>;
using cpu_cache = slab_cache<item, spin_lock, 4096, per_cpu<thread_cpus>>;
using cpu_cache_recording = slab_cache<item, recording_lock, 4096, per_cpu<thread_cpus>>;

template <class Cache>
constexpr bool is_per_cpu = false;
template <>
constexpr bool is_per_cpu<cpu_cache> = true;
template <>
constexpr bool is_per_cpu<cpu_cache_recording> = true;

template <class Cache>
constexpr std::size_t lock_depth = is_per_cpu<Cache> ? 2 : 1;

} // namespace

// ---- lifetime ----------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("threads that exit with parked objects give them back, and the last handle "
                   "returns every slab",
                   "[caching][lifetime][thread]", thread_cache, thread_cache_recording, cpu_cache,
                   cpu_cache_recording)
{
  hook_balance balance{lock_depth<TestType>};
  std::optional<TestType> cache{std::in_place};
  std::vector<typename TestType::box> handed_back;
  std::mutex handed_mutex;
  {
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; ++t)
    {
      threads.emplace_back(
          [&, t]
          {
            thread_cpus::cpu_of_thread = t;
            std::vector<typename TestType::box> boxes;
            for (std::uint64_t i = 0; i < 300; ++i)
            {
              boxes.push_back(make(*cache, t * 1000 + i));
            }
            // Free most of them here (they stay parked), hand the rest to the main thread.
            const std::lock_guard<std::mutex> guard(handed_mutex);
            for (std::size_t i = 0; i < boxes.size(); i += 7)
            {
              handed_back.push_back(std::move(boxes[i]));
            }
          });
    }
    for (std::thread& thread : threads)
    {
      thread.join();
    }
  }
  const slab_stats after_threads = cache->stats();
  CHECK(sound(*cache));
  CHECK(after_threads.live_objects == handed_back.size());
  if constexpr (!is_per_cpu<TestType>)
  {
    CHECK(after_threads.cached_objects == 0); // every thread that exited flushed its cache
  }
  else
  {
    CHECK(after_threads.cached_objects > 0); // the CPUs keep theirs
  }
  for (const auto& box : handed_back)
  {
    CHECK(box);
    CHECK(((box->id % 1000) % 7 == 0 && box->holds(box->id)));
  }
  handed_back.clear();
  CHECK(cache->stats().live_objects == 0);
  cache.reset();
  CHECK(balance.outstanding() == 0);
}

TEMPLATE_TEST_CASE("a thread that only frees parks what it frees and gives it back when it exits",
                   "[caching][lifetime][thread]", thread_cache, thread_cache_recording)
{
  hook_balance balance{lock_depth<TestType>};
  constexpr std::size_t objects = 100;
  TestType cache;
  std::vector<typename TestType::box> boxes;
  for (std::uint64_t i = 0; i < objects; ++i)
  {
    boxes.push_back(make(cache, i));
  }
  (void)cache.drain();
  worker consumer;
  bool intact = true;
  consumer.run(
      [&]
      {
        for (std::uint64_t i = 0; i < objects; ++i)
        {
          intact = intact && boxes[i]->holds(i);
          boxes[i].reset();
        }
      });
  CHECK(intact);
  const slab_stats parked = cache.stats();
  CHECK(parked.live_objects == 0);
  // 64 fill the cache, every later free past a full one sends the oldest 32 back: 100 frees
  // leave 36 parked.
  CHECK(parked.cached_objects == 36);
  CHECK(sound(cache));
  consumer.exit();
  const slab_stats gone = cache.stats();
  CHECK(gone.cached_objects == 0);
  CHECK(gone.live_objects == 0);
  CHECK(sound(cache));
}

TEMPLATE_TEST_CASE("the last handle dropped while threads still hold parked objects: the last "
                   "thread to exit returns the hierarchy",
                   "[caching][lifetime][thread]", thread_cache, thread_cache_recording)
{
  hook_balance balance{lock_depth<TestType>};
  std::optional<TestType> cache{std::in_place};
  std::array<worker, 3> workers;
  for (worker& w : workers)
  {
    w.run(
        [&]
        {
          std::vector<typename TestType::box> boxes;
          for (std::uint64_t i = 0; i < 200; ++i)
          {
            boxes.push_back(make(*cache, i));
          }
        });
  }
  CHECK(cache->stats().cached_objects > 0);
  cache.reset();
  CHECK(balance.outstanding() > 0); // three bound threads keep it
  workers[1].exit();
  workers[0].exit();
  CHECK(balance.outstanding() > 0);
  workers[2].exit();
  CHECK(balance.outstanding() == 0);
}

// The four events of one object's life that can come in any order: the last handle dropped
// (main thread), the object freed by a consumer thread that did not make it, the producer
// thread's exit and the consumer's exit. Every order in which the consumer frees before it
// exits must end with every slab back.
TEMPLATE_TEST_CASE("the hierarchy goes back after the last handle, the last free and the last "
                   "thread exit, in every order",
                   "[caching][lifetime][thread]", thread_cache, cpu_cache)
{
  enum event
  {
    drop_handle,
    consumer_frees,
    producer_exits,
    consumer_exits,
  };
  std::array<int, 4> order{drop_handle, consumer_frees, producer_exits, consumer_exits};
  do
  {
    const auto position = [&order](int e)
    { return std::find(order.begin(), order.end(), e) - order.begin(); };
    if (position(consumer_frees) > position(consumer_exits))
    {
      continue;
    }
    CAPTURE(order[0], order[1], order[2], order[3]);
    hook_balance balance;
    std::optional<TestType> cache{std::in_place};
    worker producer(1);
    worker consumer(2);
    typename TestType::box object;
    std::vector<typename TestType::box> others;
    producer.run(
        [&]
        {
          object = make(*cache, 42);
          // Enough to need a slave, most freed again so the producer has parked objects.
          for (std::uint64_t i = 0; i < TestType::objects_per_master + 40; ++i)
          {
            others.push_back(make(*cache, i));
          }
          others.resize(10);
        });
    others.clear(); // the main thread frees some too
    REQUIRE(object);
    for (int e : order)
    {
      switch (e)
      {
      case drop_handle:
        CHECK(sound(*cache));
        cache.reset();
        break;
      case consumer_frees:
      {
        bool intact = false;
        consumer.run(
            [&]
            {
              intact = object->holds(42);
              object.reset();
            });
        CHECK(intact);
        break;
      }
      case producer_exits:
        producer.exit();
        break;
      case consumer_exits:
        consumer.exit();
        break;
      }
      if (cache)
      {
        CHECK(sound(*cache));
      }
    }
    CHECK(balance.outstanding() == 0);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEMPLATE_TEST_CASE("a per_cpu hierarchy goes back with its last handle while every CPU holds "
                   "parked objects, and later frees bypass the caches",
                   "[caching][lifetime][thread]", cpu_cache, cpu_cache_recording)
{
  hook_balance balance{lock_depth<TestType>};
  std::optional<TestType> cache{std::in_place};
  std::array<worker, thread_cpus::count> cpus{worker(0), worker(1), worker(2), worker(3)};
  std::array<std::vector<typename TestType::box>, thread_cpus::count> kept;
  for (std::size_t cpu = 0; cpu < cpus.size(); ++cpu)
  {
    cpus[cpu].run(
        [&, cpu]
        {
          for (std::uint64_t i = 0; i < 150; ++i)
          {
            kept[cpu].push_back(make(*cache, cpu * 1000 + i));
          }
          kept[cpu].resize(20); // the rest is parked on this CPU or back in the slabs
        });
  }
  CHECK(cache->stats().cached_objects > 0);
  CHECK(cache->stats().live_objects == 4 * 20);
  cache.reset();
  CHECK(balance.outstanding() > 0); // the live objects hold it
  // Each CPU frees another CPU's objects: nothing is parked any more.
  for (std::size_t cpu = 0; cpu < cpus.size(); ++cpu)
  {
    bool intact = true;
    cpus[cpu].run(
        [&, cpu]
        {
          auto& theirs = kept[(cpu + 1) % cpus.size()];
          for (auto& box : theirs)
          {
            intact = intact && box->holds(box->id);
            box.reset();
          }
        });
    CHECK(intact);
  }
  CHECK(balance.outstanding() == 0);
}

TEMPLATE_TEST_CASE("the last handle and other threads' frees race and every slab comes back",
                   "[caching][lifetime][thread]", thread_cache, cpu_cache)
{
  for (int round = 0; round < 20; ++round)
  {
    hook_balance balance;
    std::optional<TestType> cache{std::in_place};
    std::array<std::vector<typename TestType::box>, 3> boxes;
    for (std::size_t t = 0; t < boxes.size(); ++t)
    {
      for (std::uint64_t i = 0; i < 100; ++i)
      {
        boxes[t].push_back(make(*cache, i));
      }
    }
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < boxes.size(); ++t)
    {
      threads.emplace_back(
          [&boxes, t]
          {
            thread_cpus::cpu_of_thread = t + 1;
            boxes[t].clear(); // binds (per_thread) or not, depending on who wins the race
          });
    }
    cache.reset();
    for (std::thread& thread : threads)
    {
      thread.join();
    }
    CHECK(balance.outstanding() == 0);
  }
}

// Boxes kept in a thread_local container are freed by its destructor, which may run after the
// cache's own exit flush (thread-local destructors run in reverse order of construction). A
// function's thread_local, since g++ 12 never destroys a thread_local variable template.
template <class Cache, int Tag>
std::vector<typename Cache::box>& kept_until_exit()
{
  thread_local std::vector<typename Cache::box> kept;
  return kept;
}

TEMPLATE_TEST_CASE("boxes in a thread_local container destroyed after the thread's exit flush go "
                   "straight back to their slabs",
                   "[caching][lifetime][thread]", thread_cache, thread_cache_recording)
{
  hook_balance balance{lock_depth<TestType>};
  {
    TestType cache;
    std::thread owner(
        [&cache]
        {
          auto& kept = kept_until_exit<TestType, 1>(); // constructed before the cache is touched
          for (std::uint64_t i = 0; i < 100; ++i)
          {
            kept.push_back(make(cache, i));
          }
        });
    owner.join();
    CHECK(cache.stats().live_objects == 0);
    CHECK(cache.stats().cached_objects == 0);
    CHECK(sound(cache));
    // A new thread may reuse the exited thread's thread-local memory.
    std::thread next([&cache] { auto box = make(cache, 1); });
    next.join();
    CHECK(sound(cache));
    CHECK(cache.stats().cached_objects == 0);
  }
  CHECK(balance.outstanding() == 0);
}

TEMPLATE_TEST_CASE("a thread that never used the cache frees boxes from a thread_local container "
                   "as it exits and gives everything back",
                   "[caching][lifetime][thread]", thread_cache, thread_cache_recording)
{
  hook_balance balance{lock_depth<TestType>};
  {
    TestType cache;
    std::vector<typename TestType::box> boxes;
    for (std::uint64_t i = 0; i < 100; ++i)
    {
      boxes.push_back(make(cache, i));
    }
    (void)cache.drain();
    std::thread receiver(
        [&boxes]
        {
          auto& kept = kept_until_exit<TestType, 2>();
          for (auto& box : boxes)
          {
            kept.push_back(std::move(box));
          }
        });
    receiver.join();
    CHECK(cache.stats().live_objects == 0);
    CHECK(cache.stats().cached_objects == 0);
    CHECK(sound(cache));
  }
  CHECK(balance.outstanding() == 0);
}

// ---- what shrink and drain reach ----------------------------------------------------------------

TEST_CASE("shrink and drain on one thread leave another thread's parked objects where they are",
          "[caching][shrink][thread]")
{
  hook_balance balance;
  thread_cache cache;
  cache.retain_empty_slabs(0);
  worker other;
  std::size_t parked_there = 0;
  other.run(
      [&]
      {
        std::vector<thread_cache::box> boxes;
        for (std::uint64_t i = 0; i < thread_cache::objects_per_master + 50; ++i)
        {
          boxes.push_back(make(cache, i));
        }
      });
  parked_there = cache.stats().cached_objects;
  CHECK(parked_there > 0);
  {
    auto mine = make(cache, 1); // this thread parks a batch of its own
    CHECK(cache.stats().cached_objects > parked_there);
  }
  (void)cache.shrink();
  CHECK(cache.stats().cached_objects == parked_there); // only this thread's went back
  CHECK(cache.drain() == 0);
  CHECK(sound(cache));
  other.run([&] { (void)cache.drain(); });
  CHECK(cache.stats().cached_objects == 0);
  CHECK(cache.shrink() == 0); // retain 0: the drain already returned the emptied slave
  CHECK(cache.stats().slabs == 1);
}

TEST_CASE("shrink from one CPU takes back what every CPU parked; drain only the caller's",
          "[caching][shrink][thread]")
{
  hook_balance balance;
  cpu_cache cache;
  std::array<worker, thread_cpus::count> cpus{worker(0), worker(1), worker(2), worker(3)};
  for (std::size_t cpu = 0; cpu < cpus.size(); ++cpu)
  {
    cpus[cpu].run(
        [&]
        {
          std::vector<cpu_cache::box> boxes;
          for (std::uint64_t i = 0; i < 100; ++i)
          {
            boxes.push_back(make(cache, i));
          }
        });
  }
  const std::size_t parked = cache.stats().cached_objects;
  CHECK(parked > 0);
  std::size_t drained = 0;
  cpus[1].run([&] { drained = cache.drain(); });
  CHECK(drained > 0);
  CHECK(cache.stats().cached_objects == parked - drained);
  cpus[3].run([&] { (void)cache.shrink(); });
  CHECK(cache.stats().cached_objects == 0);
  CHECK(cache.stats().slabs == 1);
  CHECK(sound(cache));
}

// ---- cross-thread frees are batched ------------------------------------------------------------

TEST_CASE("frees of another thread's objects through a per_thread cache take one lock per batch",
          "[caching][batch][thread]")
{
  hook_balance balance;
  constexpr std::size_t objects = 4096;
  constexpr std::size_t batch =
      attachable::detail::cache_type<item, recording_lock, 4096, per_thread>::cache_batch;
  thread_cache_recording cache;
  // Slabs that empty are kept, so that every lock counted below is a batch moving, not a slab
  // going back to the source (which takes the lock once more after the source call).
  cache.retain_empty_slabs(objects);
  std::vector<thread_cache_recording::box> boxes(objects);
  worker producer;
  producer.run(
      [&]
      {
        for (std::uint64_t i = 0; i < objects; ++i)
        {
          boxes[i] = make(cache, i);
        }
      });
  producer.exit();
  worker consumer;
  std::size_t locks = 0;
  consumer.run(
      [&]
      {
        const std::size_t before = recording_lock::locks();
        for (auto& box : boxes)
        {
          box.reset();
        }
        locks = recording_lock::locks() - before;
      });
  CAPTURE(objects, batch, locks);
  CHECK(cache.stats().live_objects == 0);
  // One to bind the consumer's cache, then one flush per batch once it is full.
  CHECK(locks <= objects / batch + 2);
  CHECK(locks >= 1);
  consumer.exit();
  CHECK(cache.stats().cached_objects == 0);
}

namespace
{

// A spin_lock that counts acquisitions per instance, so that a test can tell a CPU's cache lock
// from the hierarchy's.
class tallied_lock
{
public:
  tallied_lock() noexcept = default;
  void lock() noexcept
  {
    inner_.lock();
    const std::lock_guard<std::mutex> guard(tally_mutex);
    ++tally[this];
  }
  void unlock() noexcept { inner_.unlock(); }

  static std::map<const void*, std::size_t> take_tally()
  {
    const std::lock_guard<std::mutex> guard(tally_mutex);
    return std::exchange(tally, {});
  }

private:
  static inline std::mutex tally_mutex;
  static inline std::map<const void*, std::size_t> tally;
  spin_lock inner_;
};
static_assert(attachable::slab_lock<tallied_lock>);

} // namespace

TEST_CASE("frees on one CPU of objects made on another take that CPU's own lock each and the "
          "hierarchy's lock once per batch",
          "[caching][batch][thread]")
{
  hook_balance balance;
  using cache_type = slab_cache<item, tallied_lock, 4096, per_cpu<thread_cpus>>;
  constexpr std::size_t objects = 4096;
  constexpr std::size_t batch =
      attachable::detail::cache_type<item, tallied_lock, 4096, per_cpu<thread_cpus>>::cache_batch;
  cache_type cache;
  cache.retain_empty_slabs(objects); // see above: count batches, not slabs going back
  std::vector<cache_type::box> boxes(objects);
  worker producer(0);
  producer.run(
      [&]
      {
        for (std::uint64_t i = 0; i < objects; ++i)
        {
          boxes[i] = make(cache, i);
        }
      });
  worker consumer(1);
  std::map<const void*, std::size_t> tally;
  consumer.run(
      [&]
      {
        (void)tallied_lock::take_tally();
        for (auto& box : boxes)
        {
          box.reset();
        }
        tally = tallied_lock::take_tally();
      });
  std::vector<std::size_t> counts;
  for (const auto& [lock, taken] : tally)
  {
    counts.push_back(taken);
  }
  std::sort(counts.begin(), counts.end());
  CAPTURE(objects, batch, counts);
  REQUIRE(counts.size() == 2); // CPU 1's cache lock and the hierarchy's
  // The CPU's own lock once per free, and once more for each free that sends a batch back.
  CHECK(counts[1] >= objects);
  CHECK(counts[1] <= objects + objects / batch + 1);
  CHECK(counts[0] <= objects / batch + 1);
  CHECK(cache.stats().live_objects == 0);
}
