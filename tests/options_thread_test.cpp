// max_slabs<N> under threads: four threads grow, empty and shrink one limited cache at once.
// The cache never holds more than N slabs, and its source never has more than N of the
// cache's blocks out at once, in-flight growth and returns included.
//
// Catch2's assertions are not thread-safe, so worker threads only count what went wrong and
// the main thread asserts after joining them.
#include "catch.hpp"
#include "recording_source.hpp"

#include <attachable/slab.hpp>

#include <atomic>
#include <barrier>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace
{

using attachable::slab_error;
using test_support::recording_source;
using test_support::source_balance;

using memory = recording_source<struct options_thread_tag, 1024>;
constexpr std::size_t limit = 4;
constexpr std::size_t thread_count = 4;

struct sample
{
  std::uint64_t owner = 0;
  std::uint64_t sequence = 0;
};

// Every round all threads hold their objects at once (the barrier), so together they ask for
// more than the limit allows and some growth must be refused. Frees are not fenced off: one
// thread's emptied slabs go back while another grows.
template <class Cache>
void hammer(Cache& cache, std::size_t rounds, std::barrier<>& together,
            std::atomic<std::size_t>& wrong, std::atomic<std::size_t>& refused)
{
  const auto owner =
      static_cast<std::uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  std::vector<typename Cache::box> boxes;
  for (std::size_t round = 0; round < rounds; ++round)
  {
    // Each thread alone would need two slabs a round; four together need more than the limit.
    const std::size_t wanted = Cache::objects_per_slab + round % 7 * 10;
    for (std::uint64_t i = 0; i < wanted; ++i)
    {
      auto box = cache.emplace(owner, i);
      if (!box)
      {
        (box.error() == slab_error::out_of_memory ? refused : wrong)++;
        break;
      }
      boxes.push_back(std::move(*box));
    }
    if (cache.stats().slabs > limit)
    {
      ++wrong;
    }
    together.arrive_and_wait();
    for (std::size_t i = 0; i < boxes.size(); ++i)
    {
      if (boxes[i]->owner != owner || boxes[i]->sequence != i)
      {
        ++wrong;
      }
    }
    boxes.clear();
    if (round % 8 == 3)
    {
      cache.shrink();
    }
  }
}

template <class Cache>
void run_limited(Cache& cache, std::size_t rounds)
{
  std::atomic<std::size_t> wrong{0};
  std::atomic<std::size_t> refused{0};
  std::barrier<> together(static_cast<std::ptrdiff_t>(thread_count));
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < thread_count; ++t)
  {
    threads.emplace_back([&] { hammer(cache, rounds, together, wrong, refused); });
  }
  for (std::thread& thread : threads)
  {
    thread.join();
  }
  CHECK(wrong == 0);
  // The limit was reached every round: some growth was refused, each without a source call.
  CHECK(refused >= rounds);
  const test_support::source_counts counts = memory::counts();
  CHECK(counts.peak_outstanding <= limit);
  CHECK(counts.peak_outstanding == limit);
  CHECK(counts.called_under_lock == 0);
  const attachable::slab_stats stats = cache.stats();
  CHECK(stats.slabs <= limit);
  CHECK(stats.hook_failures == 0);
  CHECK(stats.live_objects == 0);
  CHECK(stats.hook_allocs == counts.alloc_returned);
}

} // namespace

TEST_CASE("four threads growing one cache at once never take it past max_slabs",
          "[options][max_slabs]")
{
  const source_balance<memory> balance;
  // Each cache is created first: threads racing to first use a handle would each make a master
  // (the losers give theirs straight back), which is a different test.
  SECTION("keeping one empty slave")
  {
    using cache_type =
        attachable::slab_cache<sample, attachable::spin_lock, 1024, attachable::slabs_from<memory>,
                               attachable::max_slabs<limit>>;
    auto cache = cache_type::create();
    REQUIRE(cache.has_value());
    run_limited(*cache, 400);
  }
  SECTION("returning every emptied slave at once, so that returns race with growth")
  {
    using cache_type =
        attachable::slab_cache<sample, attachable::spin_lock, 1024, attachable::slabs_from<memory>,
                               attachable::max_slabs<limit>>;
    auto cache = cache_type::create();
    REQUIRE(cache.has_value());
    cache->retain_empty_slabs(0);
    run_limited(*cache, 400);
  }
  SECTION("with per-thread caching in front")
  {
    using cache_type =
        attachable::slab_cache<sample, attachable::spin_lock, 1024, attachable::per_thread,
                               attachable::slabs_from<memory>, attachable::max_slabs<limit>>;
    auto cache = cache_type::create();
    REQUIRE(cache.has_value());
    run_limited(*cache, 400);
  }
}

namespace
{

// A source whose free_slab, once armed, stops until the test lets it go: the block it was
// given is then on its way back, neither held by the cache nor returned to the source.
struct gated_memory
{
  static void* allocate_slab(attachable::layout request) noexcept
  {
    return memory::allocate_slab(request);
  }
  static attachable::result<void> free_slab(void* slab, attachable::layout request) noexcept
  {
    std::unique_lock lock(mutex);
    if (armed)
    {
      armed = false;
      in_free = true;
      changed.notify_all();
      changed.wait(lock, [] { return released; });
    }
    lock.unlock();
    return memory::free_slab(slab, request);
  }

  static inline std::mutex mutex;
  static inline std::condition_variable changed;
  static inline bool armed = false;
  static inline bool in_free = false;
  static inline bool released = false;
};

} // namespace

TEST_CASE("a slab on its way back to the source still counts against max_slabs",
          "[options][max_slabs]")
{
  const source_balance<memory> balance;
  using cache_type =
      attachable::slab_cache<sample, attachable::spin_lock, 1024,
                             attachable::slabs_from<gated_memory>, attachable::max_slabs<2>>;
  auto made = cache_type::create();
  REQUIRE(made.has_value());
  cache_type& cache = *made;
  cache.retain_empty_slabs(0);
  std::vector<cache_type::box> master_boxes;
  std::vector<cache_type::box> slave_boxes;
  for (std::size_t i = 0; i < cache_type::objects_per_master + cache_type::objects_per_slab; ++i)
  {
    auto box = cache.emplace(std::uint64_t{1}, std::uint64_t{i});
    REQUIRE(box.has_value());
    (i < cache_type::objects_per_master ? master_boxes : slave_boxes).push_back(std::move(*box));
  }
  REQUIRE(memory::counts().outstanding == 2);

  // Another thread frees the slave's objects: the emptied slave goes back, and stops halfway.
  {
    const std::lock_guard lock(gated_memory::mutex);
    gated_memory::armed = true;
    gated_memory::in_free = false;
    gated_memory::released = false;
  }
  std::thread freeing([&slave_boxes] { slave_boxes.clear(); });
  {
    std::unique_lock lock(gated_memory::mutex);
    gated_memory::changed.wait(lock, [] { return gated_memory::in_free; });
  }
  CHECK(cache.stats().slabs == 1);

  // The cache still has two slabs' worth from its source: growth must be refused, unasked.
  const std::size_t calls_before = memory::counts().alloc_calls;
  const auto refused = cache.emplace(std::uint64_t{2}, std::uint64_t{0});
  const test_support::source_counts during = memory::counts();
  {
    const std::lock_guard lock(gated_memory::mutex);
    gated_memory::released = true;
  }
  gated_memory::changed.notify_all();
  freeing.join();

  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error() == slab_error::out_of_memory);
  CHECK(during.alloc_calls == calls_before);
  CHECK(during.peak_outstanding <= 2);

  // Once the slab is back, the cache may grow again.
  auto grown = cache.emplace(std::uint64_t{2}, std::uint64_t{0});
  REQUIRE(grown.has_value());
  CHECK(cache.stats().slabs == 2);
  CHECK(memory::counts().peak_outstanding <= 2);
}
