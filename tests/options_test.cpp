// max_slabs<N>: a cache holds at most N slabs, master included, and growth past the limit
// reports out_of_memory without asking the source. Counted with a recording source, so a
// call that should not happen shows up as a count.
#include "catch.hpp"
#include "recording_lock.hpp"
#include "recording_source.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace
{

using attachable::max_slabs;
using attachable::slab_error;
using attachable::slabs_from;
using test_support::recording_lock;
using test_support::recording_source;
using test_support::source_balance;
using test_support::source_fault;

using memory = recording_source<struct options_tag, 1024>;

template <std::size_t Limit>
using limited_cache = attachable::slab_cache<std::uint64_t, recording_lock, 1024,
                                             slabs_from<memory>, max_slabs<Limit>>;

template <class Cache>
constexpr std::size_t capacity_of(std::size_t slabs)
{
  return Cache::objects_per_master + (slabs - 1) * Cache::objects_per_slab;
}

// Allocates until the cache fails or `most` boxes are out; returns the failure, if any.
template <class Cache>
std::optional<slab_error> fill(Cache& cache, std::vector<typename Cache::box>& boxes,
                               std::size_t most)
{
  while (boxes.size() < most)
  {
    auto box = cache.emplace(std::uint64_t{boxes.size()});
    if (!box)
    {
      return box.error();
    }
    boxes.push_back(std::move(*box));
  }
  return std::nullopt;
}

} // namespace

TEST_CASE("a cache at max_slabs reports out_of_memory without calling its source",
          "[options][max_slabs]")
{
  const source_balance<memory> balance;
  using cache_type = limited_cache<3>;
  cache_type cache;
  std::vector<cache_type::box> boxes;
  REQUIRE_FALSE(fill(cache, boxes, capacity_of<cache_type>(3)).has_value());
  CHECK(memory::counts().alloc_calls == 3);

  for (int attempt = 0; attempt < 3; ++attempt)
  {
    const auto refused = cache.alloc();
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == slab_error::out_of_memory);
    const auto raw = cache.allocate();
    REQUIRE_FALSE(raw.has_value());
    CHECK(raw.error() == slab_error::out_of_memory);
  }
  CHECK(memory::counts().alloc_calls == 3);
  const attachable::slab_stats stats = cache.stats();
  CHECK(stats.slabs == 3);
  CHECK(stats.capacity == capacity_of<cache_type>(3));
  CHECK(stats.live_objects == capacity_of<cache_type>(3));
  CHECK(stats.hook_failures == 0); // the limit is not a source failure

  // A freed slot is handed out again; the limit only stops growth.
  boxes.erase(boxes.begin() + 5);
  auto again = cache.alloc();
  REQUIRE(again.has_value());
  CHECK(memory::counts().alloc_calls == 3);
}

TEST_CASE("a bulk allocation stops at max_slabs with what fitted", "[options][max_slabs]")
{
  const source_balance<memory> balance;
  using cache_type = limited_cache<2>;
  cache_type cache;
  std::vector<void*> slots(capacity_of<cache_type>(2) + 10, nullptr);
  const std::size_t taken = cache.allocate_bulk(slots.data(), slots.size());
  CHECK(taken == capacity_of<cache_type>(2));
  CHECK(memory::counts().alloc_calls == 2);
  CHECK(cache.stats().slabs == 2);
  REQUIRE(cache_type::deallocate_bulk(slots.data(), taken).has_value());
}

TEST_CASE("max_slabs<1> makes a cache that never grows past its master", "[options][max_slabs]")
{
  const source_balance<memory> balance;
  using cache_type = limited_cache<1>;
  cache_type cache;
  std::vector<cache_type::box> boxes;
  const std::optional<slab_error> failure = fill(cache, boxes, cache_type::objects_per_master + 1);
  REQUIRE(failure.has_value());
  CHECK(*failure == slab_error::out_of_memory);
  CHECK(boxes.size() == cache_type::objects_per_master);
  CHECK(memory::counts().alloc_calls == 1);
  CHECK(cache.reserve(cache_type::objects_per_master).has_value());
  CHECK(memory::counts().alloc_calls == 1);
}

TEST_CASE("reserve past max_slabs obtains slabs up to the limit, then reports out_of_memory",
          "[options][max_slabs]")
{
  const source_balance<memory> balance;
  using cache_type = limited_cache<4>;
  cache_type cache;
  const attachable::result<void> reserved = cache.reserve(capacity_of<cache_type>(6));
  REQUIRE_FALSE(reserved.has_value());
  CHECK(reserved.error() == slab_error::out_of_memory);
  CHECK(memory::counts().alloc_calls == 4);
  CHECK(cache.stats().slabs == 4);
  CHECK(cache.stats().capacity == capacity_of<cache_type>(4));

  // Asking again calls the source no more; a reserve that fits succeeds without a call.
  CHECK_FALSE(cache.reserve(capacity_of<cache_type>(5)).has_value());
  CHECK(cache.reserve(capacity_of<cache_type>(4)).has_value());
  CHECK(memory::counts().alloc_calls == 4);

  // Every reserved slot can be used, and the next allocation stops at the limit.
  std::vector<cache_type::box> boxes;
  const std::optional<slab_error> failure = fill(cache, boxes, capacity_of<cache_type>(4) + 1);
  REQUIRE(failure.has_value());
  CHECK(*failure == slab_error::out_of_memory);
  CHECK(boxes.size() == capacity_of<cache_type>(4));
  CHECK(memory::counts().alloc_calls == 4);
}

TEST_CASE("a cache below max_slabs after giving a slab back grows again", "[options][max_slabs]")
{
  const source_balance<memory> balance;
  using cache_type = limited_cache<3>;
  cache_type cache;
  cache.retain_empty_slabs(0);
  std::vector<cache_type::box> boxes;
  REQUIRE_FALSE(fill(cache, boxes, capacity_of<cache_type>(3)).has_value());
  REQUIRE_FALSE(cache.alloc().has_value());
  // Free the last slave's objects: with no retention it goes back at once.
  boxes.resize(capacity_of<cache_type>(2));
  CHECK(cache.stats().slabs == 2);
  CHECK(memory::counts().free_calls == 1);
  REQUIRE_FALSE(fill(cache, boxes, capacity_of<cache_type>(3)).has_value());
  CHECK(memory::counts().alloc_calls == 4);
  CHECK(cache.stats().slabs == 3);
}

TEST_CASE("a source failure under max_slabs does not use up the limit", "[options][max_slabs]")
{
  const source_balance<memory> balance;
  using cache_type = limited_cache<2>;
  cache_type cache;
  std::vector<cache_type::box> boxes;
  REQUIRE_FALSE(fill(cache, boxes, capacity_of<cache_type>(1)).has_value());
  memory::fail_alloc_call(1, source_fault::null);
  const auto refused = cache.alloc();
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error() == slab_error::out_of_memory);
  CHECK(cache.stats().hook_failures == 1);
  REQUIRE_FALSE(fill(cache, boxes, capacity_of<cache_type>(2)).has_value());
  CHECK(cache.stats().slabs == 2);
  CHECK(memory::counts().alloc_calls == 3);
}

TEST_CASE("max_slabs holds with per-thread caching in front", "[options][max_slabs]")
{
  const source_balance<memory> balance;
  using cache_type = attachable::slab_cache<std::uint64_t, recording_lock, 1024, max_slabs<2>,
                                            attachable::per_thread, slabs_from<memory>>;
  {
    cache_type cache;
    std::vector<cache_type::box> boxes;
    const std::optional<slab_error> failure = fill(cache, boxes, capacity_of<cache_type>(2) + 1);
    REQUIRE(failure.has_value());
    CHECK(*failure == slab_error::out_of_memory);
    CHECK(boxes.size() == capacity_of<cache_type>(2));
    CHECK(memory::counts().alloc_calls == 2);
    boxes.clear();
    cache.drain();
  }
}
