// Double frees through boxes (issue 8, item 2). A box cannot return an error, so a box that
// frees a slot which is already free must change nothing and call
// ATTACHABLE_REPORT_DOUBLE_FREE with the pointer. Before the fix it decremented the slab's live
// count a second time, and an emptied-looking slave went back to the hook under a live object.
//
// This binary is built with tests/support/report_probe.hpp force-included into every
// translation unit (attachable_add_report_test), so the report is recorded instead of
// panicking; each test checks the pointer, that stats() and verify() did not move, and (with
// hook_balance) that the hierarchy still goes back exactly once at the end.
//
// The objects are trivially destructible on purpose: a box runs T's destructor before it
// frees, so with a destructor the second free would first run it on a freed slot, itself a use
// after free that AddressSanitizer or Valgrind reports before the library can. These tests are
// about what the library does with the second free, not about the user's destructor.
#include "catch.hpp"
#include "hook_balance.hpp"
#include "recording_lock.hpp"
#include "test_cpus.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

using attachable::no_lock;
using attachable::per_cpu;
using attachable::per_thread;
using attachable::slab_error;
using attachable::slab_stats;
using attachable::spin_lock;
using test_support::hook_balance;
using test_support::recording_lock;
using test_support::reports;
using test_support::test_cpus;

namespace
{

struct item
{
  std::uint64_t value;
  std::uint64_t check;
};
static_assert(std::is_trivially_destructible_v<item>);

template <class Lock, class... Options>
using item_cache = attachable::slab_cache<item, Lock, 4096, Options...>;

using caches =
    std::tuple<item_cache<spin_lock>, item_cache<no_lock>, item_cache<recording_lock>,
               item_cache<spin_lock, per_thread>, item_cache<spin_lock, per_cpu<test_cpus>>>;

bool same(const slab_stats& a, const slab_stats& b)
{
  return a.slabs == b.slabs && a.empty_slabs == b.empty_slabs && a.live_objects == b.live_objects &&
         a.capacity == b.capacity && a.peak_live_objects == b.peak_live_objects &&
         a.reserved_objects == b.reserved_objects && a.hook_allocs == b.hook_allocs &&
         a.hook_frees == b.hook_frees && a.hook_failures == b.hook_failures &&
         a.cached_objects == b.cached_objects;
}

template <class Cache>
typename Cache::box make(Cache& cache, std::uint64_t value)
{
  auto made = cache.emplace(item{value, ~value});
  REQUIRE(made);
  return std::move(*made);
}

bool intact(const item& object, std::uint64_t value)
{
  return object.value == value && object.check == ~value;
}

// A cache whose master is full, and a slave holding `victim` and one sibling: a second
// decrement of the slave's live count would make it look empty under the sibling.
template <class Cache>
struct slave_pair
{
  explicit slave_pair(Cache& cache)
  {
    for (std::size_t i = 0; i < Cache::objects_per_master; ++i)
    {
      master_fill.push_back(make(cache, i));
    }
    victim = make(cache, 1000);
    sibling = make(cache, 1001);
    REQUIRE(cache.stats().slabs == 2);
  }

  std::vector<typename Cache::box> master_fill;
  typename Cache::box victim;
  typename Cache::box sibling;
};

} // namespace

TEMPLATE_LIST_TEST_CASE("a box whose slot deallocate() already freed reports the pointer and "
                        "changes nothing",
                        "[box][double_free]", caches)
{
  hook_balance balance;
  reports::reset();
  {
    TestType cache;
    slave_pair<TestType> pair(cache);
    item* const pointer = pair.victim.get();
    REQUIRE(TestType::deallocate(pointer));
    const slab_stats after_first = cache.stats();
    REQUIRE(cache.verify());
    CHECK(reports::double_frees() == 0);

    pair.victim.reset(); // the second free, which a box cannot return as an error
    CHECK(reports::double_frees() == 1);
    CHECK(reports::last_double_free() == pointer);
    CHECK(same(cache.stats(), after_first));
    CHECK(cache.verify());
    CHECK(cache.stats().slabs == 2);
    CHECK(intact(*pair.sibling, 1001));
    CHECK(TestType::deallocate(pointer).error() == slab_error::double_free);
  }
  CHECK(reports::double_frees() == 1);
}

TEMPLATE_LIST_TEST_CASE("a pointer adopted twice with from_raw is freed by the first box and "
                        "reported by the second",
                        "[box][double_free]", caches)
{
  hook_balance balance;
  reports::reset();
  {
    TestType cache;
    slave_pair<TestType> pair(cache);
    item* const pointer = pair.victim.release();
    auto first = TestType::box::from_raw(pointer);
    auto second = TestType::box::from_raw(pointer); // the slot is live, so this succeeds too
    REQUIRE(first);
    REQUIRE(second);
    CHECK(cache.stats().live_objects == TestType::objects_per_master + 2);

    first->reset();
    const slab_stats after_first = cache.stats();
    CHECK(after_first.live_objects == TestType::objects_per_master + 1);
    CHECK(reports::double_frees() == 0);

    {
      const typename TestType::box dies = std::move(*second);
    }
    CHECK(reports::double_frees() == 1);
    CHECK(reports::last_double_free() == pointer);
    CHECK(same(cache.stats(), after_first));
    CHECK(cache.verify());
    CHECK(intact(*pair.sibling, 1001));
  }
}

TEMPLATE_LIST_TEST_CASE("a box reset a second time through a copy made with release and "
                        "from_raw is reported by reset, by move-assignment and by its destructor",
                        "[box][double_free]", caches)
{
  hook_balance balance;
  reports::reset();
  {
    TestType cache;
    auto keep = make(cache, 7); // the slab keeps a live object throughout
    std::size_t expected_reports = 0;
    for (int way = 0; way < 3; ++way)
    {
      auto original = make(cache, 8);
      item* const pointer = original.get();
      auto adopted = TestType::box::from_raw(original.release());
      REQUIRE(adopted);
      auto copy = TestType::box::from_raw(pointer);
      REQUIRE(copy);
      adopted->reset();
      const slab_stats after_first = cache.stats();

      if (way == 0)
      {
        copy->reset();
      }
      else if (way == 1)
      {
        *copy = typename TestType::box{};
      }
      else
      {
        const typename TestType::box dies = std::move(*copy);
      }
      ++expected_reports;
      CHECK(reports::double_frees() == static_cast<long>(expected_reports));
      CHECK(reports::last_double_free() == pointer);
      CHECK(same(cache.stats(), after_first));
      CHECK(cache.verify());
      CHECK_FALSE(*copy);
    }
    CHECK(intact(*keep, 7));
    CHECK(cache.stats().live_objects == 1);
  }
}

TEMPLATE_LIST_TEST_CASE("deallocate() of a slot its box already freed returns double_free and "
                        "reports nothing",
                        "[box][double_free]", caches)
{
  hook_balance balance;
  reports::reset();
  TestType cache;
  slave_pair<TestType> pair(cache);
  item* const pointer = pair.victim.get();
  pair.victim.reset();
  const slab_stats before = cache.stats();
  CHECK(TestType::deallocate(pointer).error() == slab_error::double_free);
  CHECK(TestType::box::from_raw(pointer).error() == slab_error::double_free);
  CHECK(reports::double_frees() == 0);
  CHECK(same(cache.stats(), before));
  CHECK(cache.verify());
}

TEST_CASE("a per_cpu box freed on one CPU after deallocate() freed it on another is reported",
          "[box][double_free][per_cpu]")
{
  using cache_type = item_cache<spin_lock, per_cpu<test_cpus>>;
  hook_balance balance;
  reports::reset();
  {
    cache_type cache;
    test_cpus::index = 0;
    auto victim = make(cache, 1);
    auto sibling = make(cache, 2);
    item* const pointer = victim.get();
    test_cpus::index = 1;
    REQUIRE(cache_type::deallocate(pointer)); // parked in CPU 1's cache
    const slab_stats after_first = cache.stats();
    CHECK(after_first.cached_objects != 0);

    test_cpus::index = 2;
    victim.reset();
    CHECK(reports::double_frees() == 1);
    CHECK(reports::last_double_free() == pointer);
    CHECK(same(cache.stats(), after_first));
    CHECK(cache.verify());

    // Draining CPU 1 puts the slot back in its slab once: the next free of it is still refused.
    test_cpus::index = 1;
    cache.drain();
    CHECK(cache_type::deallocate(pointer).error() == slab_error::double_free);
    CHECK(cache.verify());
    CHECK(intact(*sibling, 2));
    test_cpus::index = 0;
  }
  CHECK(reports::double_frees() == 1);
}

TEST_CASE("a per_thread box whose slot another thread freed, and took home when it exited, is "
          "reported",
          "[box][double_free][per_thread]")
{
  using cache_type = item_cache<spin_lock, per_thread>;
  hook_balance balance;
  reports::reset();
  {
    cache_type cache;
    auto victim = make(cache, 1);
    auto sibling = make(cache, 2);
    item* const pointer = victim.get();
    const slab_stats before_thread = cache.stats();
    bool freed = false;
    // The thread parks the slot in its own cache; its exit flushes it back to the slab.
    std::thread([pointer, &freed] { freed = cache_type::deallocate(pointer).has_value(); }).join();
    CHECK(freed);
    const slab_stats after_first = cache.stats();
    CHECK(after_first.live_objects == before_thread.live_objects - 1);
    CHECK(after_first.cached_objects == before_thread.cached_objects); // the thread's went home

    victim.reset();
    CHECK(reports::double_frees() == 1);
    CHECK(reports::last_double_free() == pointer);
    CHECK(same(cache.stats(), after_first));
    CHECK(cache.verify());
    CHECK(intact(*sibling, 2));
  }
  CHECK(reports::double_frees() == 1);
}
