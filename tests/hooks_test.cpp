#include "catch.hpp"
#include "hook_balance.hpp"
#include "recording_hooks.hpp"
#include "recording_lock.hpp"

#include <attachable/hooks.hpp>
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

using attachable::no_lock;
using attachable::slab_cache;
using attachable::slab_error;
using attachable::spin_lock;
using test_support::alloc_fault;
using test_support::hook_balance;
using test_support::recording_hooks;
using test_support::recording_lock;

// The hooks are C functions with exactly these signatures, so they can be written in C.
static_assert(
    std::is_same_v<decltype(&attachable_slab_alloc), void* (*)(std::size_t, std::size_t) noexcept>);
static_assert(std::is_same_v<decltype(&attachable_slab_free),
                             int (*)(void*, std::size_t, std::size_t) noexcept>);
static_assert(std::is_standard_layout_v<attachable::layout> &&
              std::is_trivially_copyable_v<attachable::layout>);

namespace
{

template <class Cache>
std::vector<typename Cache::box> fill_slabs(Cache& cache, std::size_t objects)
{
  std::vector<typename Cache::box> boxes;
  for (std::size_t i = 0; i < objects; ++i)
  {
    auto box = cache.alloc();
    REQUIRE(box);
    boxes.push_back(std::move(box).value());
  }
  return boxes;
}

template <class Cache>
void check_hook_balance(const Cache& cache)
{
  const attachable::slab_stats stats = cache.stats();
  CHECK(stats.hook_allocs - stats.hook_frees == stats.slabs);
}

template <std::size_t SlabSize>
void every_slot_lies_in_a_block_the_hook_handed_out()
{
  hook_balance balance;
  using cache_type = slab_cache<std::uint64_t, no_lock, SlabSize>;
  cache_type cache;
  const std::size_t objects = cache_type::objects_per_master + 3 * cache_type::objects_per_slab;
  auto boxes = fill_slabs(cache, objects);
  for (std::size_t i = 0; i < boxes.size(); ++i)
  {
    *boxes[i] = i; // a slab shorter than SlabSize would make this write out of bounds
    const auto base = reinterpret_cast<std::uintptr_t>(boxes[i].get()) & ~(SlabSize - 1);
    CHECK(recording_hooks::is_outstanding(reinterpret_cast<void*>(base)));
  }
  CHECK(recording_hooks::counts().alloc_calls == 4);
  CHECK(recording_hooks::counts().bad_requests == 0);
}

} // namespace

TEST_CASE("every slab is requested with size and alignment equal to SlabSize", "[hooks]")
{
  every_slot_lies_in_a_block_the_hook_handed_out<256>();
  every_slot_lies_in_a_block_the_hook_handed_out<4096>();
  every_slot_lies_in_a_block_the_hook_handed_out<65536>();
}

TEST_CASE("ATTACHABLE_DEFINE_ALLOCATION_HOOKS forwards success and failure of the free hook",
          "[hooks]")
{
  hook_balance balance;
  void* const first = attachable_slab_alloc(4096, 4096);
  void* const second = attachable_slab_alloc(4096, 4096);
  REQUIRE(first != nullptr);
  REQUIRE(second != nullptr);
  CHECK(attachable_slab_free(first, 4096, 4096) == 0);
  recording_hooks::fail_free_call(1);
  CHECK(attachable_slab_free(second, 4096, 4096) != 0);
}

TEMPLATE_TEST_CASE("create() reports alignment_mismatch and hands misaligned memory straight back",
                   "[hooks]", spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  recording_hooks::fail_alloc_call(1, alloc_fault::misaligned);
  auto cache = slab_cache<int, TestType>::create();
  REQUIRE_FALSE(cache);
  CHECK(cache.error() == slab_error::alignment_mismatch);
  const test_support::hook_counts counts = recording_hooks::counts();
  CHECK(counts.alloc_returned == 1);
  CHECK(counts.free_calls == 1);
  CHECK(balance.outstanding() == 0);
}

TEMPLATE_TEST_CASE("growth onto misaligned memory fails and counts one alloc, one free and one "
                   "failure",
                   "[hooks]", spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = slab_cache<int, TestType>;
  auto created = cache_type::create();
  REQUIRE(created);
  cache_type cache = std::move(created).value();
  auto boxes = fill_slabs(cache, cache_type::objects_per_master);
  const attachable::slab_stats before = cache.stats();

  recording_hooks::fail_alloc_call(1, alloc_fault::misaligned);
  auto failed = cache.alloc();
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == slab_error::alignment_mismatch);

  const attachable::slab_stats after = cache.stats();
  CHECK(after.slabs == before.slabs);
  CHECK(after.capacity == before.capacity);
  CHECK(after.live_objects == before.live_objects);
  CHECK(after.hook_allocs == before.hook_allocs + 1);
  CHECK(after.hook_frees == before.hook_frees + 1);
  CHECK(after.hook_failures == before.hook_failures + 1);
  check_hook_balance(cache);
  CHECK(balance.outstanding() == 1); // the master only: the misaligned block went back

  auto retried = cache.alloc();
  CHECK(retried);
  CHECK(cache.stats().slabs == before.slabs + 1);
  check_hook_balance(cache);
}

TEMPLATE_TEST_CASE("misaligned memory whose free hook also fails counts two failures", "[hooks]",
                   spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = slab_cache<int, TestType>;
  cache_type cache;
  auto boxes = fill_slabs(cache, cache_type::objects_per_master);
  const attachable::slab_stats before = cache.stats();

  recording_hooks::fail_alloc_call(1, alloc_fault::misaligned);
  recording_hooks::fail_free_call(1);
  auto failed = cache.alloc();
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == slab_error::alignment_mismatch);

  const attachable::slab_stats after = cache.stats();
  CHECK(after.hook_failures == before.hook_failures + 2);
  CHECK(after.hook_frees == before.hook_frees + 1);
  check_hook_balance(cache);
}

TEMPLATE_TEST_CASE("an alloc hook that returns null gives out_of_memory and counts a failure",
                   "[hooks]", spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = slab_cache<int, TestType>;

  recording_hooks::fail_alloc_call(1, alloc_fault::null);
  auto no_master = cache_type::create();
  REQUIRE_FALSE(no_master);
  CHECK(no_master.error() == slab_error::out_of_memory);

  cache_type cache;
  recording_hooks::fail_alloc_call(1, alloc_fault::null);
  auto first = cache.alloc();
  REQUIRE_FALSE(first);
  CHECK(first.error() == slab_error::out_of_memory);
  CHECK(cache.stats().slabs == 0); // still no master

  auto boxes = fill_slabs(cache, cache_type::objects_per_master);
  const attachable::slab_stats before = cache.stats();
  recording_hooks::fail_alloc_call(1, alloc_fault::null);
  auto failed = cache.alloc();
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == slab_error::out_of_memory);
  const attachable::slab_stats after = cache.stats();
  CHECK(after.hook_allocs == before.hook_allocs);
  CHECK(after.hook_frees == before.hook_frees);
  CHECK(after.hook_failures == before.hook_failures + 1);
  CHECK(after.slabs == before.slabs);
  check_hook_balance(cache);
}

TEMPLATE_TEST_CASE("a failed free hook is counted and the cache goes on working", "[hooks][cache]",
                   spin_lock, no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = slab_cache<int, TestType>;
  cache_type cache;
  auto boxes = fill_slabs(cache, cache_type::objects_per_master + 2 * cache_type::objects_per_slab);
  REQUIRE(cache.stats().slabs == 3);

  // Empty both slaves: the first is kept, the second goes back to the free hook at once.
  const std::size_t first_slave = cache_type::objects_per_master;
  recording_hooks::fail_free_call(1);
  boxes.erase(boxes.begin() + static_cast<std::ptrdiff_t>(first_slave), boxes.end());
  const attachable::slab_stats stats = cache.stats();
  CHECK(stats.slabs == 2);
  CHECK(stats.hook_frees == 1);
  CHECK(stats.hook_failures == 1);
  CHECK(recording_hooks::counts().free_failed == 1);
  check_hook_balance(cache);

  auto more = fill_slabs(cache, 2 * cache_type::objects_per_slab);
  CHECK(cache.stats().live_objects == boxes.size() + more.size());
  check_hook_balance(cache);
}

TEMPLATE_TEST_CASE("a free hook that fails during shrink is counted", "[hooks][cache]", spin_lock,
                   no_lock, recording_lock)
{
  hook_balance balance;
  using cache_type = slab_cache<int, TestType>;
  cache_type cache;
  REQUIRE(cache.reserve(cache_type::objects_per_master + 2 * cache_type::objects_per_slab));
  REQUIRE(cache.reserve(0));
  recording_hooks::fail_free_call(2);
  CHECK(cache.shrink() == 2);
  const attachable::slab_stats stats = cache.stats();
  CHECK(stats.slabs == 1);
  CHECK(stats.hook_frees == 2);
  CHECK(stats.hook_failures == 1);
  check_hook_balance(cache);
  CHECK(cache.alloc());
}

TEST_CASE("no hook is ever called while the cache's lock is held", "[hooks][lock]")
{
  hook_balance balance;
  const std::size_t locks_before = recording_lock::locks();
  {
    using cache_type = slab_cache<int, recording_lock, 256>;
    cache_type cache;

    SECTION("growth and release")
    {
      auto boxes =
          fill_slabs(cache, cache_type::objects_per_master + 3 * cache_type::objects_per_slab);
      boxes.clear(); // empties three slaves: one is kept, two go back at once
    }
    SECTION("reserve and shrink")
    {
      REQUIRE(cache.reserve(cache_type::objects_per_master + 4 * cache_type::objects_per_slab));
      REQUIRE(cache.reserve(0));
      CHECK(cache.shrink() == 4);
    }
    SECTION("a failed growth")
    {
      auto boxes = fill_slabs(cache, cache_type::objects_per_master);
      recording_hooks::fail_alloc_call(1, alloc_fault::misaligned);
      CHECK_FALSE(cache.alloc());
    }
    SECTION("destruction with live slaves after the last handle")
    {
      auto boxes =
          fill_slabs(cache, cache_type::objects_per_master + 2 * cache_type::objects_per_slab);
      cache_type gone = std::move(cache);
      {
        const cache_type dropped = std::move(gone);
      }
      boxes.clear(); // the last box returns the whole hierarchy
    }
    SECTION("a concurrent first use that loses the race")
    {
      std::vector<std::thread> threads;
      std::vector<typename cache_type::box> boxes(4);
      for (std::size_t t = 0; t < boxes.size(); ++t)
      {
        threads.emplace_back([&cache, &boxes, t] { boxes[t] = std::move(cache.alloc()).value(); });
      }
      for (std::thread& thread : threads)
      {
        thread.join();
      }
    }
  }
  const test_support::hook_counts counts = recording_hooks::counts();
  CHECK(counts.alloc_calls > 0);
  CHECK(counts.free_calls > 0);
  CHECK(counts.called_under_lock == 0);
  CHECK(recording_lock::locks() > locks_before);
  CHECK(recording_lock::locks() == recording_lock::unlocks());
  CHECK(recording_lock::misuses() == 0);
}
