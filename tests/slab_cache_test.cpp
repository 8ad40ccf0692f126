#include "catch.hpp"
#include "hook_balance.hpp"
#include "instance_tracker.hpp"
#include "recording_hooks.hpp"
#include "recording_lock.hpp"

#include <attachable/slab.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

using attachable::no_lock;
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

struct aggregate_int
{
  int value;
};

// Not an aggregate (private member), but its defaulted constructor still lets value
// initialisation zero the member.
class class_int
{
public:
  class_int() = default;
  [[nodiscard]] int value() const noexcept { return value_; }

private:
  int value_;
};

struct point
{
  int x;
  int y;
};

class no_default
{
public:
  explicit no_default(int value) noexcept : value_(value) {}
  [[nodiscard]] int value() const noexcept { return value_; }

private:
  int value_;
};

struct throws_on_demand
{
  explicit throws_on_demand(bool fail)
  {
    if (fail)
    {
      throw std::runtime_error("constructor refused");
    }
  }
  int value = 1;
};

struct alignas(64) over_aligned
{
  unsigned char bytes[24];
};

template <class Lock>
using int_cache = slab_cache<int, Lock>;

std::uintptr_t address(const void* pointer)
{
  return reinterpret_cast<std::uintptr_t>(pointer);
}

template <std::size_t SlabSize>
void* slab_base(const void* pointer)
{
  return reinterpret_cast<void*>(address(pointer) & ~std::uintptr_t{SlabSize - 1});
}

bool same_stats(const slab_stats& a, const slab_stats& b)
{
  return a.slabs == b.slabs && a.empty_slabs == b.empty_slabs && a.live_objects == b.live_objects &&
         a.capacity == b.capacity && a.peak_live_objects == b.peak_live_objects &&
         a.reserved_objects == b.reserved_objects && a.hook_allocs == b.hook_allocs &&
         a.hook_frees == b.hook_frees && a.hook_failures == b.hook_failures;
}

// What every snapshot must satisfy, whatever happened before.
template <class Cache>
slab_stats checked_stats(const Cache& cache)
{
  const slab_stats stats = cache.stats();
  CHECK(stats.hook_allocs - stats.hook_frees == stats.slabs);
  CHECK(stats.empty_slabs <= stats.slabs);
  CHECK(stats.live_objects <= stats.capacity);
  CHECK(stats.peak_live_objects >= stats.live_objects);
  if (stats.slabs > 0)
  {
    CHECK(stats.capacity ==
          Cache::objects_per_master + (stats.slabs - 1) * Cache::objects_per_slab);
  }
  return stats;
}

template <class Cache>
std::vector<typename Cache::box> fill(Cache& cache, std::size_t objects)
{
  std::vector<typename Cache::box> boxes;
  boxes.reserve(objects);
  for (std::size_t i = 0; i < objects; ++i)
  {
    auto box = cache.alloc();
    REQUIRE(box);
    boxes.push_back(std::move(box).value());
  }
  return boxes;
}

// The boxes of `boxes` whose objects lie in the same slab as `probe`, removed from `boxes`.
template <std::size_t SlabSize, class Box>
std::vector<Box> take_slab(std::vector<Box>& boxes, const void* probe)
{
  std::vector<Box> taken;
  for (auto it = boxes.begin(); it != boxes.end();)
  {
    if (slab_base<SlabSize>(it->get()) == slab_base<SlabSize>(probe))
    {
      taken.push_back(std::move(*it));
      it = boxes.erase(it);
    }
    else
    {
      ++it;
    }
  }
  return taken;
}

} // namespace

// ---- layout ----------------------------------------------------------------------------------

template <class T, class Lock, std::size_t SlabSize>
constexpr bool layout_is_consistent()
{
  using cache_type = slab_cache<T, Lock, SlabSize>;
  return cache_type::slab_size == SlabSize && cache_type::objects_per_master >= 2 &&
         cache_type::objects_per_master < cache_type::objects_per_slab &&
         cache_type::objects_per_slab * sizeof(T) < SlabSize &&
         // the header and bitmap cost well under half a slab for small objects
         cache_type::objects_per_slab * std::max(sizeof(T), std::size_t{4}) > SlabSize / 2;
}

static_assert(layout_is_consistent<int, spin_lock, 4096>());
static_assert(layout_is_consistent<char, no_lock, 256>());
static_assert(layout_is_consistent<std::uint64_t, recording_lock, 65536>());
static_assert(layout_is_consistent<over_aligned, spin_lock, 4096>());
static_assert(std::is_same_v<slab_cache<int>, slab_cache<int, spin_lock, 4096>>);
static_assert(std::is_same_v<slab_cache<int>::value_type, int>);
static_assert(std::is_same_v<slab_cache<int, no_lock>::lock_type, no_lock>);
static_assert(std::is_nothrow_copy_constructible_v<slab_cache<int>>);
static_assert(std::is_nothrow_move_constructible_v<slab_cache<int>>);
static_assert(std::is_nothrow_copy_assignable_v<slab_cache<int>>);
static_assert(std::is_nothrow_move_assignable_v<slab_cache<int>>);
static_assert(noexcept(std::declval<slab_cache<int>&>().allocate()));
static_assert(noexcept(std::declval<slab_cache<int>&>().alloc()));
static_assert(noexcept(slab_cache<int>::deallocate(nullptr)));

// alloc() needs a default constructor; emplace does not.
template <class Cache>
concept has_alloc = requires(Cache& cache)
{
  cache.alloc();
};
template <class Cache, class... Args>
concept has_emplace = requires(Cache& cache, Args... args)
{
  cache.emplace(args...);
};
static_assert(!has_alloc<slab_cache<no_default>>);
static_assert(has_emplace<slab_cache<no_default>, int>);
static_assert(has_alloc<slab_cache<int>>);

// A kernel's global cache: constant-initialised, no memory until first use.
constinit slab_cache<int, spin_lock> global_cache;
constinit slab_cache<int, no_lock> global_no_lock_cache;

TEST_CASE("the slot counts match what fills one master and one slave", "[cache]")
{
  hook_balance balance;
  using cache_type = slab_cache<std::uint64_t, no_lock, 4096>;
  cache_type cache;
  auto boxes = fill(cache, cache_type::objects_per_master);
  CHECK(checked_stats(cache).slabs == 1);
  auto slave = fill(cache, cache_type::objects_per_slab);
  CHECK(checked_stats(cache).slabs == 2);
  CHECK(checked_stats(cache).capacity ==
        cache_type::objects_per_master + cache_type::objects_per_slab);
  auto next = fill(cache, 1);
  CHECK(checked_stats(cache).slabs == 3);
}

// ---- construction, copies and moves -----------------------------------------------------------

TEST_CASE("a constinit global cache holds no memory until first use", "[cache]")
{
  hook_balance balance;
  const slab_stats empty = global_cache.stats();
  CHECK(same_stats(empty, slab_stats{}));
  CHECK(global_cache.shrink() == 0);
  CHECK(same_stats(global_no_lock_cache.stats(), slab_stats{}));
  CHECK(global_no_lock_cache.shrink() == 0);
  CHECK(recording_hooks::counts().alloc_calls == 0);
  CHECK(recording_hooks::counts().free_calls == 0);

  {
    auto box = global_cache.alloc();
    REQUIRE(box);
    CHECK(checked_stats(global_cache).slabs == 1);
    CHECK(recording_hooks::counts().alloc_calls == 1);
  }
  global_cache = slab_cache<int, spin_lock>{}; // give the master back for the balance check
  CHECK(same_stats(global_cache.stats(), slab_stats{}));
}

TEMPLATE_TEST_CASE("a default-constructed cache calls no hook for stats or shrink", "[cache]",
                   spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  int_cache<TestType> cache;
  const int_cache<TestType> copy = cache;
  CHECK(same_stats(cache.stats(), slab_stats{}));
  CHECK(cache.shrink() == 0);
  CHECK_FALSE(cache.shares_with(copy));
  CHECK(recording_hooks::counts().alloc_calls == 0);
}

TEMPLATE_TEST_CASE("create() makes the master with one hook call", "[cache]", spin_lock, no_lock,
                   recording_lock)
{
  hook_balance balance;
  auto created = int_cache<TestType>::create();
  REQUIRE(created);
  CHECK(recording_hooks::counts().alloc_calls == 1);
  const slab_stats stats = checked_stats(*created);
  CHECK(stats.slabs == 1);
  CHECK(stats.empty_slabs == 1);
  CHECK(stats.capacity == int_cache<TestType>::objects_per_master);
  CHECK(stats.live_objects == 0);
  CHECK(stats.hook_allocs == 1);
  CHECK(balance.outstanding() == 1);

  recording_hooks::fail_alloc_call(1);
  auto failed = int_cache<TestType>::create();
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == slab_error::out_of_memory);
}

TEMPLATE_TEST_CASE("copies share one hierarchy", "[cache]", spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  int_cache<TestType> original;
  auto box = original.alloc();
  REQUIRE(box);
  int_cache<TestType> copy = original;
  CHECK(copy.shares_with(original));
  auto from_copy = copy.alloc();
  REQUIRE(from_copy);
  CHECK(checked_stats(original).live_objects == 2);
  CHECK(checked_stats(copy).live_objects == 2);
  CHECK(balance.outstanding() == 1);

  int_cache<TestType> assigned;
  assigned = copy;
  CHECK(assigned.shares_with(original));
  CHECK(checked_stats(assigned).live_objects == 2);
}

TEMPLATE_TEST_CASE("copies made before the master exists are independent caches", "[cache]",
                   spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  int_cache<TestType> original;
  int_cache<TestType> copy = original;
  auto a = original.alloc();
  auto b = copy.alloc();
  REQUIRE(a);
  REQUIRE(b);
  CHECK_FALSE(copy.shares_with(original));
  CHECK(checked_stats(original).live_objects == 1);
  CHECK(checked_stats(copy).live_objects == 1);
  CHECK(balance.outstanding() == 2);
}

TEMPLATE_TEST_CASE("a moved-from cache is empty and creates a fresh master on next use", "[cache]",
                   spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  int_cache<TestType> source;
  auto box = source.alloc();
  REQUIRE(box);
  int_cache<TestType> target = std::move(source);
  CHECK(same_stats(source.stats(), slab_stats{}));
  CHECK_FALSE(source.shares_with(target));
  CHECK(checked_stats(target).live_objects == 1);

  auto fresh = source.alloc();
  REQUIRE(fresh);
  CHECK_FALSE(source.shares_with(target));
  CHECK(checked_stats(source).live_objects == 1);
  CHECK(balance.outstanding() == 2);

  int_cache<TestType> move_assigned;
  move_assigned = std::move(target);
  CHECK(same_stats(target.stats(), slab_stats{}));
  CHECK(checked_stats(move_assigned).live_objects == 1);
  CHECK(balance.outstanding() == 2);
}

TEMPLATE_TEST_CASE("assignment gives the old hierarchy back when nothing else holds it", "[cache]",
                   spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  int_cache<TestType> kept;
  REQUIRE(kept.reserve(1));
  int_cache<TestType> target;
  REQUIRE(target.reserve(1));
  REQUIRE(balance.outstanding() == 2);

  SECTION("copy assignment")
  {
    target = kept;
    CHECK(balance.outstanding() == 1);
    CHECK(target.shares_with(kept));
  }
  SECTION("move assignment")
  {
    target = std::move(kept);
    CHECK(balance.outstanding() == 1);
    CHECK(checked_stats(target).slabs == 1);
  }
  SECTION("assignment while a box still lives in the old hierarchy")
  {
    auto box = target.alloc();
    REQUIRE(box);
    target = kept;
    CHECK(balance.outstanding() == 2); // the box keeps it
    box->reset();
    CHECK(balance.outstanding() == 1);
  }
  SECTION("self assignment")
  {
    auto& alias = target;
    target = alias;
    CHECK(balance.outstanding() == 2);
    target = std::move(alias);
    CHECK(balance.outstanding() == 2);
    CHECK(checked_stats(target).slabs == 1);
  }
}

// ---- construction of objects ----------------------------------------------------------------

TEMPLATE_TEST_CASE("alloc value-initialises the object even in a recycled slot", "[cache]",
                   spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  slab_cache<aggregate_int, TestType> aggregates;
  slab_cache<class_int, TestType> classes;
  for (int round = 0; round < 3; ++round)
  {
    // Leave garbage in the slot that the next alloc takes.
    auto keep_a = aggregates.alloc();
    auto keep_c = classes.alloc();
    void* dirty_a = aggregates.allocate().value();
    void* dirty_c = classes.allocate().value();
    std::memset(dirty_a, 0xAB, sizeof(aggregate_int));
    std::memset(dirty_c, 0xCD, sizeof(class_int));
    REQUIRE(decltype(aggregates)::deallocate(dirty_a));
    REQUIRE(decltype(classes)::deallocate(dirty_c));

    auto a = aggregates.alloc();
    auto c = classes.alloc();
    REQUIRE(a);
    REQUIRE(c);
    CHECK(static_cast<void*>(a->get()) == dirty_a);
    CHECK(static_cast<void*>(c->get()) == dirty_c);
    CHECK((*a)->value == 0);
    CHECK((*c)->value() == 0);
  }
}

TEMPLATE_TEST_CASE("emplace constructs the object in place from its arguments", "[cache]",
                   spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  slab_cache<point, TestType> points;
  auto p = points.emplace(3, 4); // an aggregate from a list of members
  REQUIRE(p);
  CHECK((*p)->x == 3);
  CHECK((*p)->y == 4);

  slab_cache<no_default, TestType> values;
  auto v = values.emplace(17);
  REQUIRE(v);
  CHECK((*v)->value() == 17);

  test_support::tracked::reset();
  slab_cache<test_support::tracked, TestType> tracked_objects;
  {
    auto t = tracked_objects.emplace(std::uint64_t{99});
    REQUIRE(t);
    CHECK((*t)->payload() == 99);
    CHECK(test_support::tracked::constructions() == 1); // built in place: no copy, no move
  }
  CHECK(test_support::tracked::destructions() == 1);
}

TEMPLATE_TEST_CASE("a throwing constructor returns the slot and propagates the exception",
                   "[cache]", spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = slab_cache<throws_on_demand, TestType>;
  cache_type cache;
  auto first = cache.emplace(false);
  REQUIRE(first);
  const slab_stats before = checked_stats(cache);

  CHECK_THROWS_AS(static_cast<void>(cache.emplace(true)), std::runtime_error);
  const slab_stats after = checked_stats(cache);
  CHECK(after.live_objects == before.live_objects);
  CHECK(after.slabs == before.slabs);

  // The slot went back: the next object takes it rather than a new one.
  auto second = cache.emplace(false);
  REQUIRE(second);
  CHECK(checked_stats(cache).live_objects == 2);

  // The same when the throwing object needed a new slave.
  std::vector<typename cache_type::box> boxes;
  while (boxes.size() < cache_type::objects_per_master - 2)
  {
    boxes.push_back(cache.emplace(false).value());
  }
  const std::size_t slabs = checked_stats(cache).slabs;
  CHECK_THROWS_AS(static_cast<void>(cache.emplace(true)), std::runtime_error);
  const slab_stats grown = checked_stats(cache);
  CHECK(grown.live_objects == cache_type::objects_per_master);
  CHECK(grown.slabs == slabs + 1); // one empty slave is kept
  CHECK(grown.empty_slabs == 1);
}

TEMPLATE_TEST_CASE("allocate and deallocate hand out and take back raw slots", "[cache]", spin_lock,
                   no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = slab_cache<over_aligned, TestType>;
  cache_type cache;
  auto raw = cache.allocate();
  REQUIRE(raw);
  CHECK(address(*raw) % alignof(over_aligned) == 0);
  CHECK(checked_stats(cache).live_objects == 1);
  std::memset(*raw, 0x11, sizeof(over_aligned));
  CHECK(cache_type::deallocate(*raw));
  CHECK(checked_stats(cache).live_objects == 0);
}

// ---- validation ------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("deallocate rejects every pointer that is not a live slot of this cache type",
                   "[cache]", spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;
  cache_type cache;
  int* const live = static_cast<int*>(cache.allocate().value());
  int* const second = static_cast<int*>(cache.allocate().value());
  auto* const base = static_cast<unsigned char*>(slab_base<4096>(live));

  slab_cache<float, TestType> other_type;
  void* const other_type_slot = other_type.allocate().value();
  using other_lock = std::conditional_t<std::is_same_v<TestType, no_lock>, spin_lock, no_lock>;
  slab_cache<int, other_lock> other_lock_cache;
  void* const other_lock_slot = other_lock_cache.allocate().value();
  slab_cache<int, TestType, 65536> other_size;
  void* const other_size_slot = other_size.allocate().value();
  REQUIRE(address(other_size_slot) - address(slab_base<65536>(other_size_slot)) < 4096);

  alignas(4096) static unsigned char zeros[4096];
  alignas(4096) static unsigned char ones[4096];
  alignas(4096) static unsigned char copy[4096];
  std::memset(zeros, 0x00, sizeof zeros);
  std::memset(ones, 0xFF, sizeof ones);
  // A header that is right, but at the wrong address; free slots are poisoned under ASan, so
  // only the bytes before slot 0 are copied.
  std::memset(copy, 0, sizeof copy);
  const std::ptrdiff_t live_offset = reinterpret_cast<unsigned char*>(live) - base;
  std::memcpy(copy, base, static_cast<std::size_t>(live_offset));

  const slab_stats before = checked_stats(cache);
  const auto rejects = [](void* pointer) { return cache_type::deallocate(pointer).error(); };
  CHECK(rejects(nullptr) == slab_error::invalid_pointer);
  CHECK(rejects(base) == slab_error::invalid_pointer);
  CHECK(rejects(base + 16) == slab_error::invalid_pointer);
  CHECK(rejects(base + live_offset - 4) == slab_error::invalid_pointer); // just before slot 0
  CHECK(rejects(reinterpret_cast<unsigned char*>(live) + 1) == slab_error::invalid_pointer);
  CHECK(rejects(reinterpret_cast<unsigned char*>(live) + 2) == slab_error::invalid_pointer);
  CHECK(rejects(second + 1) == slab_error::invalid_pointer); // never handed out
  CHECK(rejects(second + 100) == slab_error::invalid_pointer);
  CHECK(rejects(base + 4092) == slab_error::invalid_pointer); // past the last slot or unused
  CHECK(rejects(zeros + live_offset) == slab_error::invalid_pointer);
  CHECK(rejects(ones + live_offset) == slab_error::invalid_pointer);
  CHECK(rejects(copy + live_offset) == slab_error::invalid_pointer);
  CHECK(rejects(other_type_slot) == slab_error::invalid_pointer);
  CHECK(rejects(other_lock_slot) == slab_error::invalid_pointer);
  CHECK(rejects(other_size_slot) == slab_error::invalid_pointer);
  CHECK(same_stats(checked_stats(cache), before));
  CHECK(same_stats(checked_stats(other_type), checked_stats(other_type)));
  CHECK(checked_stats(other_type).live_objects == 1);
  CHECK(checked_stats(other_lock_cache).live_objects == 1);
  CHECK(checked_stats(other_size).live_objects == 1);

  // The rejected calls broke nothing: every slot still frees normally.
  CHECK(cache_type::deallocate(live));
  CHECK(cache_type::deallocate(second));
  CHECK(decltype(other_type)::deallocate(other_type_slot));
  CHECK(decltype(other_lock_cache)::deallocate(other_lock_slot));
  CHECK(decltype(other_size)::deallocate(other_size_slot));
}

TEMPLATE_TEST_CASE("deallocate of a slot that is already free gives double_free and changes "
                   "nothing",
                   "[cache]", spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;
  cache_type cache;

  SECTION("in a slab that still has live objects")
  {
    void* const kept = cache.allocate().value();
    void* const freed = cache.allocate().value();
    REQUIRE(cache_type::deallocate(freed));
    const slab_stats before = checked_stats(cache);
    CHECK(cache_type::deallocate(freed).error() == slab_error::double_free);
    CHECK(same_stats(checked_stats(cache), before));
    CHECK(cache_type::deallocate(kept));
  }
  SECTION("in a slab that has become empty")
  {
    void* const freed = cache.allocate().value();
    REQUIRE(cache_type::deallocate(freed));
    const slab_stats before = checked_stats(cache);
    CHECK(cache_type::deallocate(freed).error() == slab_error::double_free);
    CHECK(same_stats(checked_stats(cache), before));
  }
  SECTION("an older free in a slab reused since")
  {
    void* const a = cache.allocate().value();
    void* const b = cache.allocate().value();
    REQUIRE(cache_type::deallocate(a));
    REQUIRE(cache_type::deallocate(b));
    void* const again = cache.allocate().value();
    void* const stale = again == a ? b : a;
    const slab_stats before = checked_stats(cache);
    CHECK(cache_type::deallocate(stale).error() == slab_error::double_free);
    CHECK(same_stats(checked_stats(cache), before));
    CHECK(cache_type::deallocate(again));
  }
}

// ---- growth and reuse ------------------------------------------------------------------------

TEMPLATE_TEST_CASE("a full master grows the cache by a slave", "[cache]", spin_lock, no_lock,
                   recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;
  cache_type cache;
  auto boxes = fill(cache, cache_type::objects_per_master);
  CHECK(checked_stats(cache).slabs == 1);
  CHECK(checked_stats(cache).empty_slabs == 0);
  CHECK(recording_hooks::counts().alloc_calls == 1);

  auto next = cache.alloc();
  REQUIRE(next);
  const slab_stats grown = checked_stats(cache);
  CHECK(grown.slabs == 2);
  CHECK(grown.capacity == cache_type::objects_per_master + cache_type::objects_per_slab);
  CHECK(recording_hooks::counts().alloc_calls == 2);
  CHECK(slab_base<4096>(next->get()) != slab_base<4096>(boxes.front().get()));
}

TEMPLATE_TEST_CASE("a freed slot is handed out again before a new slab is taken", "[cache]",
                   spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;
  cache_type cache;
  auto boxes = fill(cache, cache_type::objects_per_master);
  int* const freed = boxes[boxes.size() / 2].get();
  boxes[boxes.size() / 2].reset();

  auto again = cache.alloc();
  REQUIRE(again);
  CHECK(again->get() == freed);
  CHECK(checked_stats(cache).slabs == 1);
  CHECK(recording_hooks::counts().alloc_calls == 1);
}

template <class T, std::size_t SlabSize>
void slots_are_aligned_and_disjoint()
{
  hook_balance balance;
  using cache_type = slab_cache<T, no_lock, SlabSize>;
  cache_type cache;
  const std::size_t objects = cache_type::objects_per_master + 2 * cache_type::objects_per_slab;
  std::vector<void*> slots;
  for (std::size_t i = 0; i < objects; ++i)
  {
    void* const slot = cache.allocate().value();
    CHECK(address(slot) % alignof(T) == 0);
    CHECK(recording_hooks::is_outstanding(slab_base<SlabSize>(slot)));
    std::memset(slot, static_cast<int>(i & 0xFF), sizeof(T));
    slots.push_back(slot);
  }
  for (std::size_t i = 0; i < objects; ++i)
  {
    const auto* const bytes = static_cast<const unsigned char*>(slots[i]);
    CHECK(std::all_of(bytes, bytes + sizeof(T),
                      [i](unsigned char byte) { return byte == (i & 0xFF); }));
  }
  std::vector<void*> sorted = slots;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 1; i < sorted.size(); ++i)
  {
    CHECK(address(sorted[i]) - address(sorted[i - 1]) >= sizeof(T));
  }
  for (void* slot : slots)
  {
    CHECK(cache_type::deallocate(slot));
  }
}

TEST_CASE("slots of small and over-aligned types are aligned and never overlap", "[cache]")
{
  slots_are_aligned_and_disjoint<char, 256>();
  slots_are_aligned_and_disjoint<char, 4096>();
  slots_are_aligned_and_disjoint<std::uint16_t, 4096>();
  slots_are_aligned_and_disjoint<over_aligned, 4096>();
  slots_are_aligned_and_disjoint<over_aligned, 65536>();
}

// ---- the empty-slave policy ------------------------------------------------------------------

TEMPLATE_TEST_CASE("one empty slave is kept and the next slave to become empty goes back at once",
                   "[cache]", spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;
  cache_type cache;
  auto master_boxes = fill(cache, cache_type::objects_per_master);
  auto first = fill(cache, cache_type::objects_per_slab);
  auto second = fill(cache, cache_type::objects_per_slab);
  REQUIRE(checked_stats(cache).slabs == 3);

  first.clear();
  slab_stats stats = checked_stats(cache);
  CHECK(stats.slabs == 3);
  CHECK(stats.empty_slabs == 1);
  CHECK(stats.hook_frees == 0);

  second.clear();
  stats = checked_stats(cache);
  CHECK(stats.slabs == 2);
  CHECK(stats.empty_slabs == 1);
  CHECK(stats.hook_frees == 1);
  CHECK(recording_hooks::counts().free_calls == 1);

  // The master does not count as the kept empty slab, and is never released.
  master_boxes.clear();
  stats = checked_stats(cache);
  CHECK(stats.slabs == 2);
  CHECK(stats.empty_slabs == 2);
  CHECK(stats.live_objects == 0);
  CHECK(cache.shrink() == 1);
  stats = checked_stats(cache);
  CHECK(stats.slabs == 1);
  CHECK(stats.empty_slabs == 1);
  CHECK(balance.outstanding() == 1);
}

TEMPLATE_TEST_CASE("allocating and freeing at a slab boundary calls no hook after the first",
                   "[cache]", spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;
  cache_type cache;
  auto boxes = fill(cache, cache_type::objects_per_master);
  for (int round = 0; round < 1000; ++round)
  {
    auto box = cache.alloc();
    REQUIRE(box);
  }
  const test_support::hook_counts counts = recording_hooks::counts();
  CHECK(counts.alloc_calls == 2);
  CHECK(counts.free_calls == 0);
  CHECK(checked_stats(cache).slabs == 2);
}

// ---- reserve and shrink ----------------------------------------------------------------------

TEMPLATE_TEST_CASE("reserve makes room up front and no hook runs within it", "[cache]", spin_lock,
                   no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;
  cache_type cache; // no master yet: reserve creates it
  const std::size_t wanted = cache_type::objects_per_master + 2 * cache_type::objects_per_slab + 1;
  REQUIRE(cache.reserve(wanted));
  slab_stats stats = checked_stats(cache);
  CHECK(stats.capacity >= wanted);
  CHECK(stats.slabs == 4);
  CHECK(stats.reserved_objects == wanted);
  const test_support::hook_counts reserved = recording_hooks::counts();
  CHECK(reserved.alloc_calls == 4);

  for (int round = 0; round < 3; ++round)
  {
    auto boxes = fill(cache, wanted);
    boxes.clear();
    CHECK(cache.shrink() == 0);
  }
  const test_support::hook_counts after = recording_hooks::counts();
  CHECK(after.alloc_calls == reserved.alloc_calls);
  CHECK(after.free_calls == reserved.free_calls);
  stats = checked_stats(cache);
  CHECK(stats.slabs == 4);
  CHECK(stats.empty_slabs == 4);
}

TEMPLATE_TEST_CASE("a smaller reserve lowers the floor so shrink can return slabs", "[cache]",
                   spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;
  cache_type cache;
  REQUIRE(cache.reserve(cache_type::objects_per_master + 3 * cache_type::objects_per_slab));
  REQUIRE(checked_stats(cache).slabs == 4);

  REQUIRE(cache.reserve(cache_type::objects_per_master + cache_type::objects_per_slab));
  CHECK(checked_stats(cache).slabs == 4);            // reserve never returns slabs itself
  CHECK(recording_hooks::counts().alloc_calls == 4); // nor asks for any it does not need
  CHECK(cache.shrink() == 2);
  CHECK(checked_stats(cache).slabs == 2);
  CHECK(recording_hooks::counts().free_calls == 2);

  REQUIRE(cache.reserve(0));
  CHECK(cache.shrink() == 1);
  CHECK(cache.shrink() == 0);
  const slab_stats stats = checked_stats(cache);
  CHECK(stats.slabs == 1);
  CHECK(stats.reserved_objects == 0);
}

TEMPLATE_TEST_CASE("reserve keeps the slabs it got when the hook runs dry", "[cache]", spin_lock,
                   no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;
  cache_type cache;
  recording_hooks::limit_allocs(3);
  const auto reserved =
      cache.reserve(cache_type::objects_per_master + 5 * cache_type::objects_per_slab);
  REQUIRE_FALSE(reserved);
  CHECK(reserved.error() == slab_error::out_of_memory);
  const slab_stats stats = checked_stats(cache);
  CHECK(stats.slabs == 3);
  CHECK(stats.hook_failures == 1);
  CHECK(balance.outstanding() == 3);

  SECTION("a masterless cache reports the failure too")
  {
    cache_type empty;
    CHECK(empty.reserve(1).error() == slab_error::out_of_memory);
    CHECK(same_stats(empty.stats(), slab_stats{}));
  }
}

TEMPLATE_TEST_CASE("shrink returns only empty slaves", "[cache]", spin_lock, no_lock,
                   recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;
  cache_type cache;
  auto master_boxes = fill(cache, cache_type::objects_per_master);
  auto slave_boxes = fill(cache, cache_type::objects_per_slab);
  auto partial = fill(cache, 1);
  REQUIRE(cache.reserve(0));
  CHECK(cache.shrink() == 0); // nothing is empty

  master_boxes.clear();
  slave_boxes.clear(); // one empty slave, kept by the policy
  CHECK(checked_stats(cache).slabs == 3);
  CHECK(cache.shrink() == 1);
  const slab_stats stats = checked_stats(cache);
  CHECK(stats.slabs == 2); // the master and the partial slave
  CHECK(stats.live_objects == 1);
  CHECK(partial.front().get() != nullptr);
}

// ---- statistics ------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("stats count every kind of live object, the peak and the hook calls", "[cache]",
                   spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;
  cache_type cache;
  auto box = cache.alloc();
  void* const raw = cache.allocate().value();
  int* const released = cache.alloc().value().release();
  slab_stats stats = checked_stats(cache);
  CHECK(stats.live_objects == 3);
  CHECK(stats.peak_live_objects == 3);
  CHECK(stats.slabs == 1);
  CHECK(stats.empty_slabs == 0);
  CHECK(stats.capacity == cache_type::objects_per_master);
  CHECK(stats.hook_allocs == 1);
  CHECK(stats.hook_frees == 0);
  CHECK(stats.hook_failures == 0);

  auto many = fill(cache, cache_type::objects_per_master);
  many.clear();
  stats = checked_stats(cache);
  CHECK(stats.live_objects == 3);
  CHECK(stats.peak_live_objects == 3 + cache_type::objects_per_master);
  CHECK(stats.slabs == 2);
  CHECK(stats.empty_slabs == 1);
  CHECK(stats.hook_allocs == 2);

  CHECK(cache_type::deallocate(raw));
  CHECK(cache_type::deallocate(released));
  box->reset();
  stats = checked_stats(cache);
  CHECK(stats.live_objects == 0);
  CHECK(stats.empty_slabs == 2);
  CHECK(stats.peak_live_objects == 3 + cache_type::objects_per_master);
}

// ---- lifetime --------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("the hierarchy goes back when the last handle and the last object are gone",
                   "[cache]", spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = int_cache<TestType>;

  SECTION("handle first, then objects")
  {
    std::vector<typename cache_type::box> boxes;
    void* raw = nullptr;
    {
      cache_type cache;
      boxes = fill(cache, cache_type::objects_per_master + cache_type::objects_per_slab + 1);
      raw = cache.allocate().value();
      const cache_type copy = cache;
    }
    CHECK(balance.outstanding() == 3);
    boxes.clear();
    CHECK(balance.outstanding() > 0); // the raw slot still holds it
    CHECK(cache_type::deallocate(raw));
    CHECK(balance.outstanding() == 0);
  }
  SECTION("objects first, then handle")
  {
    cache_type cache;
    {
      auto boxes = fill(cache, cache_type::objects_per_master + cache_type::objects_per_slab + 1);
    }
    CHECK(balance.outstanding() > 0);
    cache = cache_type{};
    CHECK(balance.outstanding() == 0);
  }
}

TEST_CASE("concurrent first use of one cache creates exactly one master", "[cache]")
{
  hook_balance balance;
  using cache_type = slab_cache<std::uint64_t, spin_lock>;
  constexpr std::size_t threads = 4;
  constexpr std::size_t per_thread = 50;
  for (int round = 0; round < 20; ++round)
  {
    cache_type cache;
    std::atomic<std::size_t> ready{0};
    std::atomic<std::size_t> failures{0};
    std::vector<std::vector<cache_type::box>> boxes(threads);
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t)
    {
      workers.emplace_back(
          [&, t]
          {
            ready.fetch_add(1);
            while (ready.load() < threads)
            {
            }
            for (std::size_t i = 0; i < per_thread; ++i)
            {
              auto box = cache.emplace(t * per_thread + i);
              if (!box)
              {
                failures.fetch_add(1); // Catch2 assertions are not thread-safe
                return;
              }
              boxes[t].push_back(std::move(box).value());
            }
          });
    }
    for (std::thread& worker : workers)
    {
      worker.join();
    }
    REQUIRE(failures.load() == 0);
    // Objects in a losing master would be missing from the survivor's count.
    const slab_stats stats = checked_stats(cache);
    CHECK(stats.live_objects == threads * per_thread);
    CHECK(balance.outstanding() == stats.slabs);
    for (std::size_t t = 0; t < threads; ++t)
    {
      for (std::size_t i = 0; i < per_thread; ++i)
      {
        CHECK(*boxes[t][i] == t * per_thread + i);
      }
    }
  }
  CHECK(balance.outstanding() == 0);
}
