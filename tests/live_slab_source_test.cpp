// A slab source that hands out a block which is still a live slab of some cache (issue 8, item
// 8). The block arrives with a valid header, so before the fix it was formatted over its owner
// and two caches shared slots. It must be refused: the operation reports fatal_error, the
// refusal is named through ATTACHABLE_REPORT_CORRUPTION (recorded by report_probe.hpp, which
// this binary force-includes), the block is neither used nor handed back, the owner is left
// exactly as it was, and the cache goes on with the next good block.
#include "catch.hpp"
#include "hook_balance.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

using attachable::slab_error;
using attachable::slab_stats;
using attachable::spin_lock;
using test_support::hook_balance;
using test_support::reports;

namespace
{

constexpr std::size_t slab_size = 4096;

// Hands out fresh blocks, except that the next call returns `next_live` when it is set. It
// knows which blocks it handed out fresh: a free of any other block is a live slab given back.
class treacherous_source
{
public:
  static inline void* next_live = nullptr;
  static inline std::size_t live_given_back = 0;

  // Fresh blocks handed out and not given back yet.
  [[nodiscard]] static std::size_t fresh_out() noexcept { return fresh_count_; }

  [[nodiscard]] static void* allocate_slab(attachable::layout request) noexcept
  {
    if (next_live != nullptr)
    {
      return std::exchange(next_live, nullptr);
    }
    if (fresh_count_ == max_fresh)
    {
      return nullptr;
    }
    void* const block = std::aligned_alloc(request.align, request.size);
    if (block != nullptr)
    {
      fresh_[fresh_count_++] = block;
    }
    return block;
  }

  [[nodiscard]] static attachable::result<void> free_slab(void* block, attachable::layout) noexcept
  {
    for (std::size_t i = 0; i < fresh_count_; ++i)
    {
      if (fresh_[i] == block)
      {
        fresh_[i] = fresh_[--fresh_count_];
        std::free(block);
        return {};
      }
    }
    ++live_given_back; // never free it: it belongs to its owner
    return {};
  }

private:
  static constexpr std::size_t max_fresh = 16;
  static inline void* fresh_[max_fresh] = {};
  static inline std::size_t fresh_count_ = 0;
};

struct item
{
  std::uint64_t value;
  std::uint64_t check;
};

using victim_cache = attachable::slab_cache<item>; // the recording hooks' slabs
using treacherous_cache =
    attachable::slab_cache<item, spin_lock, slab_size, attachable::slabs_from<treacherous_source>>;

bool same(const slab_stats& a, const slab_stats& b)
{
  return a.slabs == b.slabs && a.live_objects == b.live_objects && a.capacity == b.capacity &&
         a.hook_allocs == b.hook_allocs && a.hook_frees == b.hook_frees &&
         a.hook_failures == b.hook_failures && a.empty_slabs == b.empty_slabs;
}

template <class Cache>
std::vector<typename Cache::box> fill(Cache& cache, std::size_t n, std::uint64_t first)
{
  std::vector<typename Cache::box> boxes;
  for (std::uint64_t i = first; i < first + n; ++i)
  {
    auto made = cache.emplace(item{i, ~i});
    REQUIRE(made);
    boxes.push_back(std::move(*made));
  }
  return boxes;
}

template <class Box>
bool all_intact(const std::vector<Box>& boxes, std::uint64_t first)
{
  for (std::size_t i = 0; i < boxes.size(); ++i)
  {
    if (boxes[i]->value != first + i || boxes[i]->check != ~(first + i))
    {
      return false;
    }
  }
  return true;
}

void* slab_of(const void* object)
{
  return attachable::detail::slab_of<slab_size>(object);
}

} // namespace

TEST_CASE("a cache whose source hands out another cache's live master is refused at creation "
          "and leaves the owner untouched",
          "[source][corruption]")
{
  hook_balance balance;
  reports::reset();
  treacherous_source::live_given_back = 0;
  victim_cache victim;
  const auto victims = fill(victim, victim_cache::objects_per_master + 3, 100);
  const slab_stats before = victim.stats();

  treacherous_source::next_live = slab_of(victims[0].get()); // the victim's master
  const auto created = treacherous_cache::create("treacherous");
  REQUIRE_FALSE(created);
  CHECK(created.error() == slab_error::fatal_error);
  CHECK(reports::corruptions() == 1);
  CHECK(reports::corruption_says("still a live slab"));
  CHECK(treacherous_source::live_given_back == 0);
  CHECK(treacherous_source::fresh_out() == 0);

  CHECK(victim.verify());
  CHECK(same(victim.stats(), before));
  CHECK(all_intact(victims, 100));
}

TEST_CASE("a growing cache refuses a live slave from its source, counts the failure and grows "
          "from the next good block",
          "[source][corruption]")
{
  hook_balance balance;
  reports::reset();
  treacherous_source::live_given_back = 0;
  victim_cache victim;
  auto victims = fill(victim, victim_cache::objects_per_master + 3, 100); // and a slave
  const slab_stats victim_before = victim.stats();
  REQUIRE(victim_before.slabs == 2);
  {
    treacherous_cache cache;
    const auto mine = fill(cache, treacherous_cache::objects_per_master, 500); // master full
    const slab_stats before = cache.stats();

    treacherous_source::next_live = slab_of(victims.back().get()); // the victim's slave
    const auto refused = cache.emplace(item{1, ~std::uint64_t{1}});
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == slab_error::fatal_error);
    CHECK(reports::corruptions() == 1);
    CHECK(reports::corruption_says("still a live slab"));
    const slab_stats after = cache.stats();
    CHECK(after.slabs == before.slabs);
    CHECK(after.hook_allocs == before.hook_allocs);
    CHECK(after.hook_failures == before.hook_failures + 1);
    CHECK(cache.verify());

    // The victim saw nothing; the cache grows from the next, good, block.
    CHECK(victim.verify());
    CHECK(same(victim.stats(), victim_before));
    CHECK(all_intact(victims, 100));
    const auto grown = fill(cache, 3, 900);
    CHECK(cache.stats().slabs == before.slabs + 1);
    CHECK(all_intact(mine, 500));
    CHECK(cache.verify());
  }
  CHECK(treacherous_source::live_given_back == 0);
  CHECK(treacherous_source::fresh_out() == 0);
}

TEST_CASE("a source that hands a cache its own live master back is refused too",
          "[source][corruption]")
{
  hook_balance balance;
  reports::reset();
  treacherous_source::live_given_back = 0;
  {
    treacherous_cache cache;
    const auto mine = fill(cache, treacherous_cache::objects_per_master, 7);
    treacherous_source::next_live = slab_of(mine[0].get());
    void* out[4] = {};
    CHECK(cache.allocate_bulk(out, 4) == 0);
    CHECK(reports::corruptions() == 1);
    CHECK(cache.stats().slabs == 1);
    CHECK(cache.stats().hook_failures == 1);
    CHECK(cache.verify());
    CHECK(all_intact(mine, 7));
    CHECK(cache.reserve(treacherous_cache::objects_per_master + 1)); // the next block is good
    CHECK(cache.stats().slabs == 2);
  }
  CHECK(treacherous_source::live_given_back == 0);
  CHECK(treacherous_source::fresh_out() == 0);
}
