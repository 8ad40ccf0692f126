// retain_empty_slabs(n): how many empty slaves a cache keeps instead of giving them back.
// Counted with a recording source on the workload from issue 11: a burst of 10,000 objects
// freed and allocated again, where keeping one empty slave costs a source call per slab and
// per burst, and keeping the burst's slabs costs none.
#include "catch.hpp"
#include "recording_lock.hpp"
#include "recording_source.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace
{

using attachable::slabs_from;
using test_support::recording_lock;
using test_support::recording_source;
using test_support::source_balance;
using test_support::source_counts;

using memory = recording_source<struct retention_tag, 4096>;
using cache_type = attachable::slab_cache<std::uint32_t, recording_lock, 4096, slabs_from<memory>>;

constexpr std::size_t burst = 10'000;
constexpr std::size_t bursts = 10;
// The slaves a burst fills after the master.
constexpr std::size_t burst_slaves =
    (burst - cache_type::objects_per_master + cache_type::objects_per_slab - 1) /
    cache_type::objects_per_slab;
static_assert(burst_slaves >= 3, "the burst must span several slaves for the counts to mean much");

void allocate_burst(cache_type& cache, std::vector<cache_type::box>& boxes)
{
  std::size_t failed = 0;
  for (std::size_t i = 0; i < burst; ++i)
  {
    auto box = cache.emplace(static_cast<std::uint32_t>(i));
    if (box)
    {
      boxes.push_back(std::move(*box));
    }
    else
    {
      ++failed;
    }
  }
  REQUIRE(failed == 0);
}

struct calls
{
  std::size_t allocs = 0;
  std::size_t frees = 0;
};

// Frees the burst and allocates it again `bursts` times.
// Returns: the source calls those bursts made.
calls repeat_bursts(cache_type& cache, std::vector<cache_type::box>& boxes)
{
  const source_counts before = memory::counts();
  for (std::size_t round = 0; round < bursts; ++round)
  {
    boxes.clear();
    allocate_burst(cache, boxes);
  }
  const source_counts after = memory::counts();
  return {after.alloc_calls - before.alloc_calls, after.free_calls - before.free_calls};
}

} // namespace

TEST_CASE("keeping one empty slave costs a source call per slab and burst, both ways",
          "[retention]")
{
  const source_balance<memory> balance;
  cache_type cache;
  std::vector<cache_type::box> boxes;
  allocate_burst(cache, boxes);
  REQUIRE(cache.stats().slabs == 1 + burst_slaves);
  const calls made = repeat_bursts(cache, boxes);
  CHECK(made.allocs == bursts * (burst_slaves - 1));
  CHECK(made.frees == bursts * (burst_slaves - 1));
}

TEST_CASE("keeping as many empty slaves as the burst fills makes a repeated burst call no source",
          "[retention]")
{
  const source_balance<memory> balance;
  cache_type cache;
  cache.retain_empty_slabs(burst_slaves);
  std::vector<cache_type::box> boxes;
  allocate_burst(cache, boxes);
  const calls made = repeat_bursts(cache, boxes);
  CHECK(made.allocs == 0);
  CHECK(made.frees == 0);

  boxes.clear();
  const attachable::slab_stats stats = cache.stats();
  CHECK(stats.slabs == 1 + burst_slaves);
  CHECK(stats.empty_slabs == 1 + burst_slaves); // master included
  CHECK(stats.live_objects == 0);
}

TEST_CASE("keeping no empty slave gives every emptied slave back at once", "[retention]")
{
  const source_balance<memory> balance;
  cache_type cache;
  cache.retain_empty_slabs(0);
  std::vector<cache_type::box> boxes;
  allocate_burst(cache, boxes);
  const calls made = repeat_bursts(cache, boxes);
  CHECK(made.allocs == bursts * burst_slaves);
  CHECK(made.frees == bursts * burst_slaves);
  boxes.clear();
  CHECK(cache.stats().slabs == 1);
  CHECK(cache.shrink() == 0);
}

TEST_CASE("a retention between one and the burst keeps exactly that many", "[retention]")
{
  const source_balance<memory> balance;
  cache_type cache;
  const std::size_t kept = burst_slaves / 2;
  cache.retain_empty_slabs(kept);
  std::vector<cache_type::box> boxes;
  allocate_burst(cache, boxes);
  const calls made = repeat_bursts(cache, boxes);
  CHECK(made.allocs == bursts * (burst_slaves - kept));
  CHECK(made.frees == bursts * (burst_slaves - kept));
  boxes.clear();
  CHECK(cache.stats().slabs == 1 + kept);
}

TEST_CASE("lowering the retention gives nothing back until shrink, which returns every empty "
          "slave",
          "[retention]")
{
  const source_balance<memory> balance;
  cache_type cache;
  cache.retain_empty_slabs(burst_slaves);
  std::vector<cache_type::box> boxes;
  allocate_burst(cache, boxes);
  boxes.clear();
  REQUIRE(cache.stats().slabs == 1 + burst_slaves);

  const std::size_t frees_before = memory::counts().free_calls;
  cache.retain_empty_slabs(1);
  CHECK(memory::counts().free_calls == frees_before); // the setter is O(1) and calls no source
  CHECK(cache.stats().slabs == 1 + burst_slaves);

  CHECK(cache.shrink() == burst_slaves);
  CHECK(memory::counts().free_calls == frees_before + burst_slaves);
  CHECK(cache.stats().slabs == 1);

  // From now on the lower retention applies to each burst.
  allocate_burst(cache, boxes);
  const calls made = repeat_bursts(cache, boxes);
  CHECK(made.allocs == bursts * (burst_slaves - 1));
  CHECK(made.frees == bursts * (burst_slaves - 1));
}

TEST_CASE("raising the retention keeps the slaves that empty from then on", "[retention]")
{
  const source_balance<memory> balance;
  cache_type cache;
  std::vector<cache_type::box> boxes;
  allocate_burst(cache, boxes);
  boxes.clear();
  CHECK(cache.stats().slabs == 2); // one empty slave kept by default
  allocate_burst(cache, boxes);
  cache.retain_empty_slabs(burst_slaves);
  const calls made = repeat_bursts(cache, boxes);
  CHECK(made.allocs == 0);
  CHECK(made.frees == 0);
}

TEST_CASE("the reserve floor wins over a lower retention", "[retention]")
{
  const source_balance<memory> balance;
  cache_type cache;
  const std::size_t reserved_slaves = 3;
  REQUIRE(
      cache.reserve(cache_type::objects_per_master + reserved_slaves * cache_type::objects_per_slab)
          .has_value());
  cache.retain_empty_slabs(0);
  std::vector<cache_type::box> boxes;
  allocate_burst(cache, boxes);
  const calls made = repeat_bursts(cache, boxes);
  CHECK(made.allocs == bursts * (burst_slaves - reserved_slaves));
  CHECK(made.frees == bursts * (burst_slaves - reserved_slaves));

  boxes.clear();
  CHECK(cache.shrink() == 0);
  CHECK(cache.stats().slabs == 1 + reserved_slaves);
  REQUIRE(cache.reserve(0).has_value());
  CHECK(cache.shrink() == reserved_slaves);
  CHECK(cache.stats().slabs == 1);
}

TEST_CASE("setting the retention of a cache with no master creates it, once", "[retention]")
{
  const source_balance<memory> balance;
  cache_type cache;
  cache.retain_empty_slabs(4);
  CHECK(memory::counts().alloc_calls == 1);
  CHECK(cache.stats().slabs == 1);
  cache_type copy = cache;
  copy.retain_empty_slabs(0);
  CHECK(memory::counts().alloc_calls == 1);
  CHECK(copy.shares_with(cache));
}

TEST_CASE("copies share one retention, since it belongs to the hierarchy", "[retention]")
{
  const source_balance<memory> balance;
  cache_type cache;
  cache_type copy = cache; // no master yet: an independent cache
  cache.retain_empty_slabs(burst_slaves);
  copy = cache;
  std::vector<cache_type::box> boxes;
  allocate_burst(copy, boxes);
  const calls made = repeat_bursts(copy, boxes);
  CHECK(made.allocs == 0);
  CHECK(made.frees == 0);
}
