// for_each_live visits exactly the objects the users own: boxes, raw slots and released
// objects, never a free slot nor an object parked in a per-thread or per-CPU cache. A seeded
// random run compares what it visits with a model (a map from address to contents) after
// every step.
//
// ATTACHABLE_MODEL_SEED=<n> replays a run; a failing run prints its seed.
// ATTACHABLE_MODEL_OPS=<n> scales the run down (the valgrind leg sets it), as for model_test.
#include "catch.hpp"
#include "hook_balance.hpp"
#include "model_support.hpp"

#include <attachable/slab.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace
{

using test_support::environment_nonzero;
using test_support::random_source;

constexpr std::uint64_t default_seed = 0xF0E4'C41F'11E5'2024ULL;
// model_test's default operation count; this run takes a hundredth of it, since every step
// walks every slot.
constexpr std::uint64_t default_ops = 1'000'000;
constexpr std::uint64_t ops_divisor = 100;
constexpr std::size_t min_steps = 1000;

struct item
{
  std::uint64_t id = 0;
  std::uint64_t check = 0; // ~id, so a slot reused under a live object shows
};

// The CPU a thread plays, for per_cpu caches in a hosted test.
thread_local std::size_t current_cpu = 0;
struct two_cpus
{
  static constexpr std::size_t count = 2;
  static std::size_t current() noexcept { return current_cpu; }
  struct pin
  {
  };
};

using plain_cache = attachable::slab_cache<item, attachable::spin_lock, 1024>;
using no_lock_cache = attachable::slab_cache<item, attachable::no_lock, 4096>;
using thread_cached_cache =
    attachable::slab_cache<item, attachable::spin_lock, 1024, attachable::per_thread>;
using cpu_cached_cache =
    attachable::slab_cache<item, attachable::spin_lock, 1024, attachable::per_cpu<two_cpus>>;

enum class step
{
  alloc_box,
  allocate_raw,
  drop_box,
  deallocate_raw,
  release_box,
  adopt_released,
  shrink,
  drain,
  switch_cpu,
};

template <class Cache>
class model_run
{
public:
  explicit model_run(std::uint64_t seed) : random_(seed) {}

  // Returns: the number of steps after which for_each_live disagreed with the model (0: none).
  std::size_t run(std::size_t steps)
  {
    for (std::size_t i = 1; i <= steps; ++i)
    {
      apply(pick());
      if (!matches())
      {
        return i;
      }
    }
    return 0;
  }

  void clear()
  {
    boxes_.clear();
    for (void* raw : raws_)
    {
      static_cast<item*>(raw)->~item();
      (void)Cache::deallocate(raw);
    }
    raws_.clear();
    for (item* released : released_)
    {
      auto box = Cache::box::from_raw(released);
      (void)box;
    }
    released_.clear();
    model_.clear();
    cache_.drain();
  }

  [[nodiscard]] std::size_t steps_of(step s) const { return counts_.count(s) ? counts_.at(s) : 0; }
  [[nodiscard]] std::size_t most_live() const { return most_live_; }
  [[nodiscard]] std::size_t most_parked() const { return most_parked_; }

private:
  step pick()
  {
    // Grow towards a few hundred live objects, then hover there.
    const std::size_t roll = random_.below(100);
    const bool growing = model_.size() < 300;
    if (roll < (growing ? 35u : 20u))
    {
      return step::alloc_box;
    }
    if (roll < (growing ? 45u : 30u))
    {
      return step::allocate_raw;
    }
    if (roll < 62)
    {
      return step::drop_box;
    }
    if (roll < 75)
    {
      return step::deallocate_raw;
    }
    if (roll < 85)
    {
      return step::release_box;
    }
    if (roll < 93)
    {
      return step::adopt_released;
    }
    if (roll < 95)
    {
      return step::shrink;
    }
    if (roll < 97)
    {
      return step::drain;
    }
    return step::switch_cpu;
  }

  void apply(step s)
  {
    ++counts_[s];
    switch (s)
    {
    case step::alloc_box:
    {
      const std::uint64_t id = next_id_++;
      auto box = cache_.emplace(id, ~id);
      if (box)
      {
        model_[box->get()] = id;
        boxes_.push_back(std::move(*box));
      }
      break;
    }
    case step::allocate_raw:
    {
      auto raw = cache_.allocate();
      if (raw)
      {
        const std::uint64_t id = next_id_++;
        ::new (*raw) item{id, ~id};
        model_[*raw] = id;
        raws_.push_back(*raw);
      }
      break;
    }
    case step::drop_box:
      if (!boxes_.empty())
      {
        const std::size_t at = random_.below(boxes_.size());
        model_.erase(boxes_[at].get());
        boxes_[at] = std::move(boxes_.back());
        boxes_.pop_back();
      }
      break;
    case step::deallocate_raw:
      if (!raws_.empty())
      {
        const std::size_t at = random_.below(raws_.size());
        void* const raw = raws_[at];
        static_cast<item*>(raw)->~item();
        model_.erase(raw);
        raws_[at] = raws_.back();
        raws_.pop_back();
        failures_ += Cache::deallocate(raw) ? 0u : 1u;
      }
      break;
    case step::release_box:
      if (!boxes_.empty())
      {
        const std::size_t at = random_.below(boxes_.size());
        released_.push_back(boxes_[at].release()); // still live, owned by no box
        boxes_[at] = std::move(boxes_.back());
        boxes_.pop_back();
      }
      break;
    case step::adopt_released:
      if (!released_.empty())
      {
        const std::size_t at = random_.below(released_.size());
        item* const object = released_[at];
        released_[at] = released_.back();
        released_.pop_back();
        model_.erase(object);
        auto box = Cache::box::from_raw(object);
        failures_ += box ? 0u : 1u;
      }
      break;
    case step::shrink:
      cache_.shrink();
      break;
    case step::drain:
      cache_.drain();
      break;
    case step::switch_cpu:
      current_cpu = 1 - current_cpu;
      break;
    }
    if (model_.size() > most_live_)
    {
      most_live_ = model_.size();
    }
    const std::size_t parked = cache_.stats().cached_objects;
    if (parked > most_parked_)
    {
      most_parked_ = parked;
    }
  }

  bool matches()
  {
    std::size_t visited = 0;
    std::size_t wrong = 0;
    cache_.for_each_live(
        [&](item& object)
        {
          ++visited;
          const auto found = model_.find(&object);
          wrong += found != model_.end() && found->second == object.id && object.check == ~object.id
                       ? 0u
                       : 1u;
        });
    return failures_ == 0 && wrong == 0 && visited == model_.size() &&
           cache_.stats().live_objects == model_.size();
  }

  random_source random_;
  Cache cache_;
  std::vector<typename Cache::box> boxes_;
  std::vector<void*> raws_;
  std::vector<item*> released_;
  std::map<const void*, std::uint64_t> model_; // every object the users own: address -> id
  std::map<step, std::size_t> counts_;
  std::uint64_t next_id_ = 1;
  std::size_t failures_ = 0;
  std::size_t most_live_ = 0;
  std::size_t most_parked_ = 0;
};

} // namespace

TEMPLATE_TEST_CASE("for_each_live visits exactly the objects the users own, after every step of "
                   "a seeded random run",
                   "[for_each_live]", plain_cache, no_lock_cache, thread_cached_cache,
                   cpu_cached_cache)
{
  const test_support::hook_balance balance;
  const std::uint64_t seed = environment_nonzero("ATTACHABLE_MODEL_SEED", default_seed);
  const std::uint64_t ops = environment_nonzero("ATTACHABLE_MODEL_OPS", default_ops);
  // At least enough steps to reach a few dozen live objects, however far the run is scaled down.
  const std::size_t steps = std::max(min_steps, static_cast<std::size_t>(ops / ops_divisor));
  INFO("replay with ATTACHABLE_MODEL_SEED=" << seed << " ATTACHABLE_MODEL_OPS=" << ops);
  current_cpu = 0;
  model_run<TestType> run(seed);
  const std::size_t failed_at = run.run(steps);
  CHECK(failed_at == 0);
  if (failed_at == 0)
  {
    // The run reached the states it is meant to cover.
    CHECK(run.most_live() >= 50);
    CHECK(run.steps_of(step::release_box) > 0);
    CHECK(run.steps_of(step::allocate_raw) > 0);
    if constexpr (!std::is_same_v<TestType, plain_cache> &&
                  !std::is_same_v<TestType, no_lock_cache>)
    {
      CHECK(run.most_parked() > 0);
    }
  }
  run.clear();
  current_cpu = 0;
}

TEST_CASE("for_each_live on a cache with no master visits nothing and creates nothing",
          "[for_each_live]")
{
  const test_support::hook_balance balance;
  plain_cache cache;
  std::size_t visited = 0;
  cache.for_each_live([&visited](item&) { ++visited; });
  CHECK(visited == 0);
  CHECK(test_support::recording_hooks::counts().alloc_calls == 0);
}

TEST_CASE("for_each_live hands out references through which a debugger may change objects",
          "[for_each_live]")
{
  const test_support::hook_balance balance;
  plain_cache cache;
  std::vector<plain_cache::box> boxes;
  for (std::uint64_t i = 0; i < 100; ++i)
  {
    auto box = cache.emplace(i, std::uint64_t{0});
    REQUIRE(box.has_value());
    boxes.push_back(std::move(*box));
  }
  cache.for_each_live([](item& object) { object.check = object.id * 2; });
  for (const plain_cache::box& box : boxes)
  {
    CHECK(box->check == box->id * 2);
  }
}

TEST_CASE("for_each_live skips the objects parked in another thread's cache", "[for_each_live]")
{
  const test_support::hook_balance balance;
  thread_cached_cache cache;
  std::vector<thread_cached_cache::box> mine;
  for (std::uint64_t i = 0; i < 10; ++i)
  {
    auto box = cache.emplace(i, ~i);
    REQUIRE(box.has_value());
    mine.push_back(std::move(*box));
  }
  std::atomic<int> stage{0};
  std::atomic<std::size_t> worker_failures{0};
  std::thread worker(
      [&]
      {
        std::vector<thread_cached_cache::box> boxes;
        for (std::uint64_t i = 100; i < 150; ++i)
        {
          auto box = cache.emplace(i, ~i);
          box ? boxes.push_back(std::move(*box)) : void(++worker_failures);
        }
        boxes.resize(20); // 30 parked in this thread's cache
        stage = 1;
        while (stage.load() != 2)
        {
          std::this_thread::yield();
        }
      }); // exits: its cache goes back
  while (stage.load() != 1)
  {
    std::this_thread::yield();
  }
  std::size_t visited = 0;
  std::size_t parked_seen = 0;
  cache.for_each_live(
      [&](item& object)
      {
        ++visited;
        parked_seen += object.id >= 120 ? 1u : 0u; // the worker's boxes 100..119 stay live
      });
  const attachable::slab_stats during = cache.stats();
  stage = 2;
  worker.join();

  CHECK(worker_failures == 0);
  CHECK(visited == 30);
  CHECK(parked_seen == 0);
  CHECK(during.live_objects == 30);
  CHECK(during.cached_objects >= 30);
  std::size_t after = 0;
  cache.for_each_live([&after](item&) { ++after; });
  CHECK(after == 10);
  mine.clear();
  cache.drain();
}
