// per_thread and per_cpu<Cpus> caching, one thread at a time, under every lock: what goes into
// a cache and comes back out, what stats() says about it after every step (live_objects is what
// the user owns, cached_objects what is parked), bulk calls, drain, shrink, reserve floors,
// retention, double frees that return an error, and when the slabs go back. Every step ends with
// verify(). The tests that need threads are in caching_lifetime_test.cpp and
// caching_stress_test.cpp; box double frees, which report through a macro, in
// caching_double_free_test.cpp.
#include "catch.hpp"
#include "hook_balance.hpp"
#include "instance_tracker.hpp"
#include "recording_hooks.hpp"
#include "recording_lock.hpp"
#include "test_cpus.hpp"

#include <attachable/slab.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

using attachable::max_slabs;
using attachable::no_lock;
using attachable::per_cpu;
using attachable::per_thread;
using attachable::slab_cache;
using attachable::slab_error;
using attachable::slab_stats;
using attachable::spin_lock;
using test_support::alloc_fault;
using test_support::hook_balance;
using test_support::recording_hooks;
using test_support::recording_lock;

namespace
{

using test_support::on_cpu;
using test_support::test_cpus;

// One lock and one caching option; `cache<T>` is the cache type the tests use.
template <class Lock, class Caching>
struct setup
{
  using lock_type = Lock;
  template <class T, std::size_t SlabSize = 4096, class... More>
  using cache = slab_cache<T, Lock, SlabSize, Caching, More...>;
  static constexpr bool per_cpu = !std::is_same_v<Caching, per_thread>;
  // per_cpu takes a CPU's cache lock, then (to refill) the hierarchy's.
  static constexpr std::size_t lock_depth = per_cpu ? 2 : 1;
};

using thread_spin = setup<spin_lock, per_thread>;
using thread_none = setup<no_lock, per_thread>;
using thread_recording = setup<recording_lock, per_thread>;
using cpu_spin = setup<spin_lock, per_cpu<test_cpus>>;
using cpu_none = setup<no_lock, per_cpu<test_cpus>>;
using cpu_recording = setup<recording_lock, per_cpu<test_cpus>>;

#define EVERY_SETUP thread_spin, thread_none, thread_recording, cpu_spin, cpu_none, cpu_recording
#define CPU_SETUPS cpu_spin, cpu_none, cpu_recording
#define THREAD_SETUPS thread_spin, thread_none, thread_recording

// 16 bytes, so the tag sits inside the object and the user's bytes meet it.
struct item
{
  std::uint64_t id = 0;
  std::uint64_t check = ~std::uint64_t{0};

  [[nodiscard]] bool holds(std::uint64_t expected) const noexcept
  {
    return id == expected && check == ~expected;
  }
};

struct other_item
{
  std::uint64_t words[2] = {};
};

// How many objects a cache of this type parks at most, and how many move at once.
template <class Cache>
struct caching_of;
template <class T, class Lock, std::size_t SlabSize, class... Options>
struct caching_of<slab_cache<T, Lock, SlabSize, Options...>>
{
  using type = attachable::detail::cache_type<T, Lock, SlabSize, Options...>;
  static constexpr std::size_t limit = type::cache_limit;
  static constexpr std::size_t batch = type::cache_batch;
};

// verify() and what every snapshot must satisfy, whatever happened before.
template <class Cache>
slab_stats checked(const Cache& cache)
{
  CHECK(cache.verify().has_value());
  const slab_stats s = cache.stats();
  CHECK(s.hook_allocs - s.hook_frees == s.slabs);
  CHECK(s.empty_slabs <= s.slabs);
  CHECK(s.live_objects + s.cached_objects <= s.capacity);
  CHECK(s.peak_live_objects >= s.live_objects + s.cached_objects);
  CHECK(s.cached_objects <= caching_of<Cache>::limit * test_cpus::count);
  if (s.slabs > 0)
  {
    CHECK(s.capacity == Cache::objects_per_master + (s.slabs - 1) * Cache::objects_per_slab);
  }
  return s;
}

template <class Cache>
void expect_objects(const Cache& cache, std::size_t live, std::size_t cached)
{
  const slab_stats s = checked(cache);
  CHECK(s.live_objects == live);
  CHECK(s.cached_objects == cached);
}

template <class Cache>
typename Cache::box make(Cache& cache, std::uint64_t id)
{
  auto made = cache.emplace(id, ~id);
  REQUIRE(made);
  return std::move(made).value();
}

template <class Cache>
std::vector<typename Cache::box> make_many(Cache& cache, std::size_t count)
{
  std::vector<typename Cache::box> boxes;
  boxes.reserve(count);
  for (std::size_t i = 0; i < count; ++i)
  {
    boxes.push_back(make(cache, i));
  }
  return boxes;
}

template <class Box>
bool all_intact(const std::vector<Box>& boxes)
{
  for (std::size_t i = 0; i < boxes.size(); ++i)
  {
    if (!boxes[i] || !boxes[i]->holds(i))
    {
      return false;
    }
  }
  return true;
}

} // namespace

// ---- what goes into a cache and comes back out ----------------------------------------------

TEMPLATE_TEST_CASE("the first allocation moves one batch into the cache and hands out one of it",
                   "[caching]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  constexpr std::size_t batch = caching_of<cache_type>::batch;
  cache_type cache;
  {
    auto first = cache.alloc();
    REQUIRE(first);
    CHECK((*first)->holds(0));
    expect_objects(cache, 1, batch - 1);
    CHECK(recording_hooks::counts().alloc_calls == 1);

    auto second = make(cache, 7);
    expect_objects(cache, 2, batch - 2);
    auto third = cache.allocate();
    REQUIRE(third);
    expect_objects(cache, 3, batch - 3);
    CHECK(cache.deallocate(*third).has_value());
    expect_objects(cache, 2, batch - 2);
  }
  expect_objects(cache, 0, batch);
}

TEMPLATE_TEST_CASE("a freed object is parked and the next allocation hands the same one back",
                   "[caching]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  constexpr std::size_t batch = caching_of<cache_type>::batch;
  cache_type cache;
  auto keep = make(cache, 1); // the cache is never empty below

  SECTION("through a box")
  {
    auto box = make(cache, 2);
    item* const object = box.get();
    box.reset();
    expect_objects(cache, 1, batch - 1);
    auto again = cache.alloc();
    REQUIRE(again);
    CHECK(again->get() == object);
    CHECK((*again)->holds(0)); // value-initialised, not what the slot held before
    expect_objects(cache, 2, batch - 2);
  }
  SECTION("through deallocate")
  {
    auto raw = cache.allocate();
    REQUIRE(raw);
    CHECK(cache_type::deallocate(*raw).has_value());
    expect_objects(cache, 1, batch - 1);
    auto again = cache.allocate();
    REQUIRE(again);
    CHECK(*again == *raw);
    CHECK(cache_type::deallocate(*again).has_value());
  }
  SECTION("through release and from_raw")
  {
    auto box = make(cache, 3);
    item* const object = box.release();
    expect_objects(cache, 2, batch - 2); // a released object is still the user's
    auto adopted = cache_type::box::from_raw(object);
    REQUIRE(adopted);
    CHECK((*adopted)->holds(3));
    adopted->reset();
    expect_objects(cache, 1, batch - 1);
    auto again = make(cache, 4);
    CHECK(again.get() == object);
  }
  CHECK(keep->holds(1));
}

TEMPLATE_TEST_CASE("an allocation and a free through the cache take no hierarchy lock",
                   "[caching][lock]", thread_recording, cpu_recording)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache;
  auto first = make(cache, 1); // refills the cache
  const std::size_t before = recording_lock::locks();
  for (std::uint64_t round = 0; round < 10; ++round)
  {
    auto box = make(cache, round);
    box.reset();
  }
  // per_thread: nothing; per_cpu: only the CPU's own cache lock, once per call.
  CHECK(recording_lock::locks() - before == (TestType::per_cpu ? 20u : 0u));
}

TEMPLATE_TEST_CASE("live_objects counts exactly what the user owns and cached_objects what is "
                   "parked",
                   "[caching][stats]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  constexpr std::size_t batch = caching_of<cache_type>::batch;
  cache_type cache;
  auto boxes = make_many(cache, 5);
  expect_objects(cache, 5, batch - 5);
  item* const released = boxes[4].release();
  expect_objects(cache, 5, batch - 5);
  auto raw = cache.allocate();
  REQUIRE(raw);
  expect_objects(cache, 6, batch - 6);
  boxes[0].reset();
  boxes[1] = typename cache_type::box{};
  expect_objects(cache, 4, batch - 4);
  released->~item();
  CHECK(cache_type::deallocate(released).has_value());
  CHECK(cache_type::deallocate(*raw).has_value());
  expect_objects(cache, 2, batch - 2);
  std::size_t visited = 0;
  cache.for_each_live(
      [&](item& object)
      {
        ++visited;
        CHECK((object.holds(2) || object.holds(3)));
      });
  CHECK(visited == 2); // for_each_live skips the parked objects
  CHECK(cache.drain() == batch - 2);
  expect_objects(cache, 2, 0);
  CHECK(boxes[2]->holds(2));
  CHECK(boxes[3]->holds(3));
}

TEMPLATE_TEST_CASE("a full cache sends its oldest batch back to the slabs and keeps the newest",
                   "[caching]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  constexpr std::size_t limit = caching_of<cache_type>::limit;
  constexpr std::size_t batch = caching_of<cache_type>::batch;
  cache_type cache;
  auto boxes = make_many(cache, limit + 1);
  const std::size_t parked = cache.stats().cached_objects;
  CHECK(cache.drain() == parked);
  expect_objects(cache, limit + 1, 0);

  std::vector<item*> freed;
  for (std::size_t i = 0; i < boxes.size(); ++i)
  {
    freed.push_back(boxes[i].get());
    boxes[i].reset();
    const std::size_t cached = i + 1 <= limit ? i + 1 : limit - batch + 1;
    expect_objects(cache, limit - i, cached);
  }
  // Last in, first out: the newest objects are still parked, in reverse order of their frees.
  for (std::size_t i = 0; i < limit - batch + 1; ++i)
  {
    boxes[i] = make(cache, i);
    CHECK(boxes[i].get() == freed[freed.size() - 1 - i]);
  }
  expect_objects(cache, limit - batch + 1, 0);
}

TEMPLATE_TEST_CASE("objects from every allocation path survive a round trip through the cache",
                   "[caching]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache;
  const std::size_t objects = cache_type::objects_per_master + 2 * cache_type::objects_per_slab;
  std::vector<std::pair<typename cache_type::box, std::uint64_t>> boxes;
  std::vector<item*> raws;
  std::set<const void*> seen;
  for (std::uint64_t i = 0; i < objects; ++i)
  {
    if (i % 3 == 0)
    {
      auto raw = cache.allocate();
      REQUIRE(raw);
      raws.push_back(::new (*raw) item{i, ~i});
      CHECK(seen.insert(*raw).second);
    }
    else
    {
      boxes.emplace_back(make(cache, i), i);
      CHECK(seen.insert(boxes.back().first.get()).second);
    }
  }
  checked(cache);
  // Free every other box, then fill the holes: no object is handed out twice.
  for (std::size_t i = 0; i < boxes.size(); i += 2)
  {
    seen.erase(boxes[i].first.get());
    boxes[i].first.reset();
  }
  for (std::size_t i = 0; i < boxes.size(); i += 2)
  {
    boxes[i].second = 1'000'000 + i;
    boxes[i].first = make(cache, boxes[i].second);
    CHECK(seen.insert(boxes[i].first.get()).second);
  }
  checked(cache);
  for (std::size_t i = 0; i < raws.size(); ++i)
  {
    CHECK(raws[i]->holds(3 * i));
    CHECK(cache_type::deallocate(raws[i]).has_value());
  }
  for (const auto& [box, id] : boxes)
  {
    CHECK(box->holds(id));
  }
  expect_objects(cache, boxes.size(), checked(cache).cached_objects);
  boxes.clear();
  CHECK(checked(cache).live_objects == 0);
}

// ---- drain, shrink, reserve, retention ------------------------------------------------------

TEMPLATE_TEST_CASE("drain gives the parked objects back, returns how many and the emptied slaves "
                   "follow the retention rule",
                   "[caching][drain]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache;
  auto boxes = make_many(cache, cache_type::objects_per_master + 3 * cache_type::objects_per_slab);
  CHECK(checked(cache).slabs == 4);
  boxes.clear();
  const slab_stats before = checked(cache);
  CHECK(before.live_objects == 0);
  CHECK(before.cached_objects > 0);
  CHECK(cache.drain() == before.cached_objects);
  const slab_stats after = checked(cache);
  CHECK(after.live_objects == 0);
  CHECK(after.cached_objects == 0);
  CHECK(after.slabs == 2); // the master and one empty slave kept
  CHECK(after.empty_slabs == 2);
  CHECK(balance.outstanding() == 2);
  CHECK(cache.drain() == 0);
}

TEMPLATE_TEST_CASE("drain and shrink on a cache with no master call no hook and return zero",
                   "[caching][drain]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  typename TestType::template cache<item> cache;
  CHECK(cache.drain() == 0);
  CHECK(cache.shrink() == 0);
  const slab_stats s = cache.stats();
  CHECK(s.slabs == 0);
  CHECK(s.cached_objects == 0);
  CHECK(cache.verify().has_value());
  CHECK(recording_hooks::counts().alloc_calls == 0);
}

TEMPLATE_TEST_CASE("drain of a cache without caching returns zero", "[caching][drain]", spin_lock,
                   no_lock, recording_lock)
{
  hook_balance balance;
  slab_cache<item, TestType> cache;
  auto box = cache.alloc();
  REQUIRE(box);
  box->reset();
  CHECK(cache.drain() == 0);
  CHECK(cache.stats().cached_objects == 0);
}

TEMPLATE_TEST_CASE("shrink gives the cached objects back first, then every empty slave",
                   "[caching][shrink]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache;
  cache.retain_empty_slabs(8);
  auto boxes = make_many(cache, cache_type::objects_per_master + 3 * cache_type::objects_per_slab);
  boxes.clear();
  CHECK(checked(cache).cached_objects > 0);
  const slab_stats before = checked(cache);
  const std::size_t returned = cache.shrink();
  const slab_stats after = checked(cache);
  CHECK(after.cached_objects == 0);
  CHECK(after.slabs == 1);
  CHECK(returned == 3);
  CHECK(before.slabs - after.slabs == returned);
  CHECK(balance.outstanding() == 1);
}

// With a low retention, giving back the parked objects empties slaves that go back at once,
// before the sweep looks: shrink() still counts them, so that its result is what left.
TEMPLATE_TEST_CASE("shrink counts the slaves that its own drain empties and gives back",
                   "[caching][shrink]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache;
  const std::size_t keep = GENERATE(0u, 1u);
  CAPTURE(keep);
  cache.retain_empty_slabs(keep);
  auto boxes = make_many(cache, cache_type::objects_per_master + 3 * cache_type::objects_per_slab);
  boxes.clear(); // the last objects freed, the slaves' ones, stay parked
  const slab_stats before = checked(cache);
  REQUIRE(before.cached_objects > 0);
  REQUIRE(before.slabs > 1);
  const std::size_t frees = recording_hooks::counts().free_calls;
  const std::size_t returned = cache.shrink();
  const slab_stats after = checked(cache);
  CHECK(after.cached_objects == 0);
  CHECK(after.slabs == 1);
  CHECK(returned == before.slabs - after.slabs);
  CHECK(recording_hooks::counts().free_calls - frees == returned);
  CHECK(cache.shrink() == 0);
}

TEMPLATE_TEST_CASE("a reserve floor holds through frees, drain and shrink with caching",
                   "[caching][reserve]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache;
  const std::size_t floor = cache_type::objects_per_master + 2 * cache_type::objects_per_slab;
  REQUIRE(cache.reserve(floor).has_value());
  CHECK(checked(cache).slabs == 3);
  CHECK(checked(cache).reserved_objects == floor);
  const std::size_t calls = recording_hooks::counts().alloc_calls;
  {
    // Exactly the reserved objects fit: no hook call, whatever the cache parks on the way.
    auto boxes = make_many(cache, floor);
    CHECK(recording_hooks::counts().alloc_calls == calls);
    expect_objects(cache, floor, 0);
    CHECK(all_intact(boxes));
  }
  CHECK(cache.drain() > 0);
  CHECK(cache.shrink() == 0);
  CHECK(checked(cache).slabs == 3);
  REQUIRE(cache.reserve(0).has_value());
  CHECK(cache.shrink() == 2);
  CHECK(checked(cache).slabs == 1);
  CHECK(recording_hooks::counts().free_calls == 2);
}

TEMPLATE_TEST_CASE("retain_empty_slabs decides how many slaves a drain leaves empty",
                   "[caching][retain]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache;
  std::size_t keep = GENERATE(0u, 1u, 2u, 4u);
  CAPTURE(keep);
  cache.retain_empty_slabs(keep);
  {
    auto boxes =
        make_many(cache, cache_type::objects_per_master + 4 * cache_type::objects_per_slab);
    CHECK(checked(cache).slabs == 5);
  }
  (void)cache.drain();
  const slab_stats s = checked(cache);
  CHECK(s.live_objects == 0);
  CHECK(s.slabs == 1 + keep);
  CHECK(s.empty_slabs == 1 + keep);
  CHECK(cache.shrink() == keep);
}

// ---- handles -----------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("dropping a handle gives the calling thread's cached objects back",
                   "[caching][handle]", THREAD_SETUPS)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache;
  auto box = make(cache, 1);
  {
    const cache_type copy = cache; // a copy does not drain
    CHECK(copy.shares_with(cache));
    CHECK(checked(cache).cached_objects > 0);
  }
  expect_objects(cache, 1, 0);
  auto assigned = cache_type{};
  auto other = make(cache, 2); // parks a batch again
  CHECK(checked(cache).cached_objects > 0);
  assigned = cache;
  assigned = cache_type{}; // leaving the hierarchy drains too
  expect_objects(cache, 2, 0);
}

TEMPLATE_TEST_CASE("dropping a handle gives the current CPU's cached objects back, not the others'",
                   "[caching][handle]", CPU_SETUPS)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  constexpr std::size_t batch = caching_of<cache_type>::batch;
  cache_type cache;
  std::vector<typename cache_type::box> boxes;
  {
    const on_cpu cpu(1);
    boxes.push_back(make(cache, 1));
  }
  {
    const on_cpu cpu(2);
    boxes.push_back(make(cache, 2));
  }
  expect_objects(cache, 2, 2 * (batch - 1));
  {
    const on_cpu cpu(1);
    const cache_type copy = cache;
  }
  expect_objects(cache, 2, batch - 1);
}

TEMPLATE_TEST_CASE("each CPU has its own cache and its own objects come back to it",
                   "[caching][per_cpu]", CPU_SETUPS)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  constexpr std::size_t batch = caching_of<cache_type>::batch;
  cache_type cache;
  item* object = nullptr;
  {
    const on_cpu cpu(3);
    auto box = make(cache, 1);
    object = box.get();
  }
  expect_objects(cache, 0, batch);
  {
    const on_cpu cpu(0);
    auto elsewhere = make(cache, 2);
    CHECK(elsewhere.get() != object);
    expect_objects(cache, 1, 2 * batch - 1);
  }
  {
    const on_cpu cpu(3);
    auto again = make(cache, 3);
    CHECK(again.get() == object);
    // freed on CPU 3, where it goes back
  }
  {
    const on_cpu cpu(1);
    CHECK(cache.drain() == 0); // CPU 1 parked nothing
    const on_cpu other(3);
    CHECK(cache.drain() == batch);
  }
  expect_objects(cache, 0, batch); // CPU 0's
}

TEMPLATE_TEST_CASE("an object freed on another CPU is parked there, and a cross-CPU free never "
                   "loses it",
                   "[caching][per_cpu]", CPU_SETUPS)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  constexpr std::size_t limit = caching_of<cache_type>::limit;
  cache_type cache;
  std::vector<typename cache_type::box> boxes;
  {
    const on_cpu cpu(0);
    boxes = make_many(cache, 3 * limit);
    (void)cache.drain();
  }
  for (std::size_t i = 0; i < boxes.size(); ++i)
  {
    const on_cpu cpu(1 + i % 3);
    CHECK(boxes[i]->holds(i));
    boxes[i].reset();
    checked(cache);
  }
  const slab_stats s = checked(cache);
  CHECK(s.live_objects == 0);
  (void)cache.shrink();
  expect_objects(cache, 0, 0);
}

TEMPLATE_TEST_CASE("a thread bound to one hierarchy uses another hierarchy of the same type "
                   "without caching its objects",
                   "[caching][per_thread]", THREAD_SETUPS)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type bound;
  cache_type other;
  auto first = make(bound, 1); // binds this thread to `bound`
  CHECK(checked(bound).cached_objects > 0);
  {
    auto boxes = make_many(other, cache_type::objects_per_master + 2);
    expect_objects(other, boxes.size(), 0);
    CHECK(all_intact(boxes));
    auto raw = other.allocate();
    REQUIRE(raw);
    CHECK(cache_type::deallocate(*raw).has_value());
    expect_objects(other, boxes.size(), 0);
  }
  expect_objects(other, 0, 0);
  CHECK(other.drain() == 0);
  CHECK(checked(other).slabs == 2);
  CHECK(first->holds(1));
}

TEMPLATE_TEST_CASE("two cache types on one thread keep separate caches", "[caching]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using items = typename TestType::template cache<item>;
  using others = typename TestType::template cache<other_item>;
  items a;
  others b;
  auto x = make(a, 1);
  auto y = b.alloc();
  REQUIRE(y);
  const std::size_t parked = checked(b).cached_objects;
  x.reset();
  CHECK(checked(b).cached_objects == parked);
  void* const foreign = y->get();
  CHECK(items::deallocate(foreign).error() == slab_error::invalid_pointer);
  CHECK(a.drain() > 0);
  CHECK(checked(b).cached_objects == parked);
}

// ---- bulk calls
// ----------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("allocate_bulk takes slots straight from the slabs and grows as needed",
                   "[caching][bulk]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache;
  auto first = make(cache, 1);
  const std::size_t parked = checked(cache).cached_objects;
  const std::size_t n = cache_type::objects_per_master + cache_type::objects_per_slab + 3;
  std::vector<void*> slots(n);
  CHECK(cache.allocate_bulk(slots.data(), n) == n);
  expect_objects(cache, n + 1, parked);
  CHECK(checked(cache).slabs == 3);
  std::set<void*> distinct(slots.begin(), slots.end());
  CHECK(distinct.size() == n);
  CHECK(distinct.count(first.get()) == 0);
  for (std::size_t i = 0; i < n; ++i)
  {
    CHECK(reinterpret_cast<std::uintptr_t>(slots[i]) % alignof(item) == 0);
    ::new (slots[i]) item{i, ~i};
  }
  for (std::size_t i = 0; i < n; ++i)
  {
    CHECK(static_cast<item*>(slots[i])->holds(i));
  }
  // Bulk slots are ordinary slots: every free path takes them.
  CHECK(cache_type::deallocate(slots[0]).has_value());
  auto adopted = cache_type::box::from_raw(static_cast<item*>(slots[1]));
  REQUIRE(adopted);
  adopted->reset();
  CHECK(cache_type::deallocate_bulk(slots.data() + 2, n - 2).has_value());
  expect_objects(cache, 1, parked + 2);
  CHECK(cache.allocate_bulk(slots.data(), 0) == 0);
}

TEMPLATE_TEST_CASE("allocate_bulk stops at the first failure and returns how many it got",
                   "[caching][bulk]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  SECTION("the hook fails")
  {
    using cache_type = typename TestType::template cache<item>;
    auto created = cache_type::create();
    REQUIRE(created);
    cache_type& cache = *created;
    const std::size_t n = cache_type::objects_per_master + 10;
    std::vector<void*> slots(n);
    recording_hooks::fail_alloc_call(1);
    const std::size_t got = cache.allocate_bulk(slots.data(), n);
    CHECK(got == cache_type::objects_per_master);
    expect_objects(cache, got, 0);
    CHECK(checked(cache).hook_failures == 1);
    CHECK(cache.allocate_bulk(slots.data() + got, n - got) == n - got);
    expect_objects(cache, n, 0);
    CHECK(cache_type::deallocate_bulk(slots.data(), n).has_value());
    expect_objects(cache, 0, 0);
  }
  SECTION("max_slabs is reached")
  {
    using cache_type = typename TestType::template cache<item, 4096, max_slabs<2>>;
    cache_type cache;
    const std::size_t room = cache_type::objects_per_master + cache_type::objects_per_slab;
    std::vector<void*> slots(room + 5);
    CHECK(cache.allocate_bulk(slots.data(), slots.size()) == room);
    expect_objects(cache, room, 0);
    CHECK(recording_hooks::counts().alloc_calls == 2);
    CHECK(cache_type::deallocate_bulk(slots.data(), room).has_value());
  }
  SECTION("the master cannot be made")
  {
    using cache_type = typename TestType::template cache<item>;
    cache_type cache;
    recording_hooks::fail_every_alloc(alloc_fault::null);
    void* slot = nullptr;
    CHECK(cache.allocate_bulk(&slot, 1) == 0);
    CHECK(cache.stats().slabs == 0);
    recording_hooks::fail_every_alloc(alloc_fault::none);
  }
}

TEMPLATE_TEST_CASE("deallocate_bulk frees every valid pointer, skips the bad ones and reports the "
                   "first error",
                   "[caching][bulk]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  using foreign_type = typename TestType::template cache<other_item>;
  cache_type cache;
  cache_type second; // another hierarchy of the same type: its slots are valid too
  foreign_type foreign;
  auto parked_box = make(cache, 99);
  item* const parked = parked_box.get();
  parked_box.reset(); // now parked in the cache
  auto foreign_box = foreign.alloc();
  REQUIRE(foreign_box);

  std::vector<void*> live(6);
  REQUIRE(cache.allocate_bulk(live.data(), 5) == 5);
  auto other_raw = second.allocate();
  REQUIRE(other_raw);
  live[5] = *other_raw;
  for (std::size_t i = 0; i < live.size(); ++i)
  {
    ::new (live[i]) item{i, ~i};
  }
  const slab_stats before = checked(cache);

  SECTION("a duplicate first, then a bad pointer")
  {
    void* const batch[] = {live[0],
                           live[1],
                           live[0],                         // a second copy: double_free
                           static_cast<char*>(live[2]) + 8, // interior: invalid_pointer
                           live[2],
                           nullptr,
                           parked,             // parked: double_free
                           foreign_box->get(), // another type: invalid
                           live[5],
                           live[3],
                           live[4]};
    const attachable::result<void> outcome =
        cache_type::deallocate_bulk(batch, sizeof batch / sizeof batch[0]);
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error() == slab_error::double_free);
  }
  SECTION("a bad pointer first, then a duplicate")
  {
    void* const batch[] = {live[0], nullptr, live[1], live[2], live[2],
                           live[3], live[5], live[4], parked,  live[0]};
    const attachable::result<void> outcome =
        cache_type::deallocate_bulk(batch, sizeof batch / sizeof batch[0]);
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error() == slab_error::invalid_pointer);
  }
  const slab_stats after = checked(cache);
  CHECK(after.live_objects == before.live_objects - 5);
  CHECK(after.cached_objects == before.cached_objects); // the parked object stayed parked
  CHECK(checked(second).live_objects == 0);
  CHECK((*foreign_box)->words[0] == 0);
  // Everything the batch freed is free: freeing it again is a double free.
  for (std::size_t i = 0; i < 5; ++i)
  {
    CHECK(cache_type::deallocate(live[i]).error() == slab_error::double_free);
  }
  auto again = make(cache, 5);
  CHECK(again.get() == parked);
}

TEMPLATE_TEST_CASE("deallocate_bulk reports a duplicate as double_free even when the first copy "
                   "emptied its slab",
                   "[caching][bulk]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache;
  cache_type second;
  cache.retain_empty_slabs(0); // an emptied slave goes back at once
  std::vector<void*> slots(cache_type::objects_per_master + 1);
  REQUIRE(cache.allocate_bulk(slots.data(), slots.size()) == slots.size());
  void* const alone = slots.back(); // the only object in the slave
  slots.pop_back();
  auto elsewhere = second.allocate();
  REQUIRE(elsewhere);
  CHECK(checked(cache).slabs == 2);
  SECTION("within one hierarchy's run")
  {
    void* const batch[] = {alone, alone};
    const attachable::result<void> outcome = cache_type::deallocate_bulk(batch, 2);
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error() == slab_error::double_free);
    CHECK(cache_type::deallocate(*elsewhere).has_value());
  }
  SECTION("with another hierarchy's pointer in between")
  {
    void* const batch[] = {alone, *elsewhere, alone};
    const attachable::result<void> outcome = cache_type::deallocate_bulk(batch, 3);
    REQUIRE_FALSE(outcome);
    CHECK(outcome.error() == slab_error::double_free);
  }
  CHECK(checked(cache).slabs == 1);
  CHECK(checked(second).live_objects == 0);
  CHECK(cache_type::deallocate_bulk(slots.data(), slots.size()).has_value());
}

// ---- frees that are refused
// ----------------------------------------------------------------------

TEMPLATE_TEST_CASE("deallocate and from_raw of a parked object report double_free and change "
                   "nothing",
                   "[caching][double_free]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache;
  auto keep = make(cache, 1);
  auto box = make(cache, 2);
  item* const object = box.get();

  SECTION("parked in the cache")
  {
    box.reset();
  }
  SECTION("back in its slab")
  {
    box.reset();
    (void)cache.drain();
  }
  SECTION("freed by deallocate")
  {
    item* const raw = box.release();
    raw->~item();
    REQUIRE(cache_type::deallocate(raw).has_value());
  }
  SECTION("freed by deallocate_bulk")
  {
    void* const raw = box.release();
    static_cast<item*>(raw)->~item();
    REQUIRE(cache_type::deallocate_bulk(&raw, 1).has_value());
  }
  const slab_stats before = checked(cache);
  CHECK(cache_type::deallocate(object).error() == slab_error::double_free);
  const auto adopted = cache_type::box::from_raw(object);
  REQUIRE_FALSE(adopted);
  CHECK(adopted.error() == slab_error::double_free);
  void* const again[] = {object};
  CHECK(cache_type::deallocate_bulk(again, 1).error() == slab_error::double_free);
  const slab_stats after = checked(cache);
  CHECK(after.live_objects == before.live_objects);
  CHECK(after.cached_objects == before.cached_objects);
  CHECK(keep->holds(1));
  // The object is handed out once more, and only once.
  std::set<item*> handed;
  std::vector<typename cache_type::box> boxes;
  for (std::size_t i = 0; i < 2 * caching_of<cache_type>::limit; ++i)
  {
    boxes.push_back(make(cache, i));
    CHECK(handed.insert(boxes.back().get()).second);
  }
}

TEMPLATE_TEST_CASE("deallocate and from_raw reject null, interior, header, never-used and foreign "
                   "pointers",
                   "[caching][validation]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  using plain_type = slab_cache<item, typename TestType::lock_type>;
  cache_type cache;
  plain_type plain;
  auto box = make(cache, 1);
  auto plain_box = plain.alloc();
  REQUIRE(plain_box);
  auto* const bytes = reinterpret_cast<unsigned char*>(box.get());
  const auto base = reinterpret_cast<std::uintptr_t>(bytes) & ~(std::uintptr_t{4096} - 1);
  auto* const header = reinterpret_cast<unsigned char*>(base);
  // The master's last slot was never handed out: the cache took one batch from the master.
  using geometry = typename caching_of<cache_type>::type;
  auto* const never_used = header + geometry::geometry.master_slots_offset +
                           (cache_type::objects_per_master - 1) * geometry::slot_size;
  const slab_stats before = checked(cache);
  for (void* bad :
       {static_cast<void*>(nullptr), static_cast<void*>(bytes + 1), static_cast<void*>(bytes + 8),
        static_cast<void*>(header), static_cast<void*>(header + 16), static_cast<void*>(never_used),
        static_cast<void*>(plain_box->get())})
  {
    CHECK(cache_type::deallocate(bad).error() == slab_error::invalid_pointer);
    CHECK(cache_type::box::from_raw(static_cast<item*>(bad)).error() ==
          slab_error::invalid_pointer);
  }
  const slab_stats after = checked(cache);
  CHECK(after.live_objects == before.live_objects);
  CHECK(after.cached_objects == before.cached_objects);
  CHECK(box->holds(1));
}

TEMPLATE_TEST_CASE("a throwing constructor parks its slot and the exception propagates",
                   "[caching]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  struct throws
  {
    explicit throws(bool fail)
    {
      if (fail)
      {
        throw std::runtime_error("refused");
      }
    }
    std::uint64_t words[2] = {1, 2};
  };
  using cache_type = typename TestType::template cache<throws>;
  cache_type cache;
  auto kept = cache.emplace(false);
  REQUIRE(kept);
  const slab_stats before = checked(cache);
  CHECK_THROWS_AS(cache.emplace(true), std::runtime_error);
  const slab_stats after = checked(cache);
  CHECK(after.live_objects == before.live_objects);
  CHECK(after.cached_objects == before.cached_objects);
}

// ---- lifetime, one thread --------------------------------------------------------------------

TEMPLATE_TEST_CASE("a box that outlives every handle returns the hierarchy when it dies",
                   "[caching][lifetime]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  std::vector<typename cache_type::box> boxes;
  {
    cache_type cache;
    boxes = make_many(cache, cache_type::objects_per_master + cache_type::objects_per_slab + 1);
    CHECK(balance.outstanding() == 3);
  }
  CHECK(balance.outstanding() == 3);
  CHECK(all_intact(boxes));
  // Freed on every CPU in turn (per_thread: all on this thread), the last slave's object first.
  boxes.pop_back();
  for (std::size_t i = 0; i < boxes.size(); ++i)
  {
    const on_cpu cpu(i % test_cpus::count);
    boxes[i].reset();
  }
  CHECK(balance.outstanding() == 0);
}

TEMPLATE_TEST_CASE("a cache with parked objects and no live ones goes back with its last handle",
                   "[caching][lifetime]", EVERY_SETUP)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  {
    cache_type cache;
    const cache_type copy = cache;
    {
      auto boxes = make_many(cache, cache_type::objects_per_master + 5);
    }
    CHECK(checked(cache).cached_objects > 0);
    CHECK(balance.outstanding() == 2);
  }
  CHECK(balance.outstanding() == 0);
}

TEMPLATE_TEST_CASE("a cache left with parked objects on several CPUs goes back with its last "
                   "handle",
                   "[caching][lifetime]", CPU_SETUPS)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  {
    cache_type cache;
    for (std::size_t cpu = 0; cpu < test_cpus::count; ++cpu)
    {
      const on_cpu here(cpu);
      auto boxes = make_many(cache, 3);
    }
    CHECK(checked(cache).cached_objects == test_cpus::count * caching_of<cache_type>::batch);
  }
  CHECK(balance.outstanding() == 0);
}

TEMPLATE_TEST_CASE("under max_slabs an allocation may use objects another CPU parked",
                   "[caching][per_cpu]", CPU_SETUPS)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item, 4096, max_slabs<1>>;
  cache_type cache;
  std::vector<typename cache_type::box> boxes;
  {
    const on_cpu cpu(0);
    boxes = make_many(cache, cache_type::objects_per_master);
  }
  {
    const on_cpu cpu(1);
    boxes.pop_back(); // parked on CPU 1
  }
  const on_cpu cpu(2);
  auto again = cache.alloc();
  CHECK(again);
}

// ---- constinit, registry and slab sources ----------------------------------------------------

namespace
{

// constinit proves that a caching cache, like a plain one, needs no constructor at startup.
constinit slab_cache<item, spin_lock, 4096, per_thread> idle_thread_cache{"idle per_thread"};
constinit slab_cache<item, spin_lock, 4096, per_cpu<test_cpus>> idle_cpu_cache{"idle per_cpu"};

constinit attachable::static_arena<4096, 4, no_lock> thread_arena;
constinit attachable::static_arena<4096, 4, no_lock> cpu_arena;

} // namespace

TEST_CASE("a constinit caching cache holds no memory and calls no hook until first use",
          "[caching][lifetime]")
{
  hook_balance balance;
  CHECK(idle_thread_cache.stats().slabs == 0);
  CHECK(idle_cpu_cache.stats().slabs == 0);
  CHECK(idle_thread_cache.drain() == 0);
  CHECK(idle_cpu_cache.shrink() == 0);
  CHECK(recording_hooks::counts().alloc_calls == 0);
  CHECK(std::string(idle_thread_cache.name()) == "idle per_thread");
}

TEMPLATE_TEST_CASE("for_each_cache and format_slabinfo report the parked objects of a caching "
                   "cache",
                   "[caching][registry]", thread_spin, cpu_spin)
{
  hook_balance balance{TestType::lock_depth};
  using cache_type = typename TestType::template cache<item>;
  cache_type cache{"caching under test"};
  auto boxes = make_many(cache, 3);
  const slab_stats s = checked(cache);
  bool seen = false;
  attachable::for_each_cache(
      [&](const attachable::cache_info& info)
      {
        if (std::string(info.name) == "caching under test")
        {
          seen = true;
          CHECK(info.stats.live_objects == 3);
          CHECK(info.stats.cached_objects == s.cached_objects);
        }
      });
  CHECK(seen);
  char table[4096];
  const std::size_t length = attachable::format_slabinfo(table, sizeof table);
  REQUIRE(length < sizeof table);
  const std::string text(table, length);
  const std::size_t row = text.find("caching under test");
  REQUIRE(row != std::string::npos);
  // <live> then <cached>
  const std::string expected_numbers =
      " 3 " + std::string(8 - std::to_string(s.cached_objects).size(), ' ') +
      std::to_string(s.cached_objects);
  CHECK(text.find(expected_numbers, row) != std::string::npos);
}

TEST_CASE("a per_thread cache over a static arena runs dry, reports out_of_memory and gives "
          "every slab back",
          "[caching][source]")
{
  using cache_type = slab_cache<item, no_lock, 4096, per_thread,
                                attachable::slabs_from<attachable::arena_slabs<thread_arena>>>;
  {
    cache_type cache;
    std::vector<cache_type::box> boxes;
    for (;;)
    {
      auto made = cache.alloc();
      if (!made)
      {
        CHECK(made.error() == slab_error::out_of_memory);
        break;
      }
      boxes.push_back(std::move(made).value());
    }
    CHECK(thread_arena.slabs_out() == 4);
    CHECK(boxes.size() == cache_type::objects_per_master + 3 * cache_type::objects_per_slab);
    expect_objects(cache, boxes.size(), 0);
    boxes.clear();
    CHECK(cache.drain() > 0);
    CHECK(cache.shrink() == 1);
    CHECK(thread_arena.slabs_out() == 1);
  }
  CHECK(thread_arena.slabs_out() == 0);
}

TEST_CASE("a per_cpu cache over a static arena hands out every slot, whichever CPU parked it, "
          "before it reports out_of_memory",
          "[caching][source]")
{
  using cache_type = slab_cache<item, no_lock, 4096, per_cpu<test_cpus>,
                                attachable::slabs_from<attachable::arena_slabs<cpu_arena>>>;
  {
    cache_type cache;
    const std::size_t all = cache_type::objects_per_master + 3 * cache_type::objects_per_slab;
    std::vector<cache_type::box> boxes;
    {
      const on_cpu cpu(0);
      boxes = make_many(cache, all);
      CHECK_FALSE(cache.alloc());
    }
    // Park some on every CPU, then take them all back from one.
    for (std::size_t i = 0; i < 40; ++i)
    {
      const on_cpu cpu(i % test_cpus::count);
      boxes.pop_back();
    }
    CHECK(checked(cache).cached_objects == 40);
    {
      const on_cpu cpu(2);
      for (std::size_t i = 0; i < 40; ++i)
      {
        auto made = cache.alloc();
        REQUIRE(made);
        boxes.push_back(std::move(made).value());
      }
      CHECK_FALSE(cache.alloc());
    }
    expect_objects(cache, all, 0);
    CHECK(cpu_arena.slabs_out() == 4);
  }
  CHECK(cpu_arena.slabs_out() == 0);
}
