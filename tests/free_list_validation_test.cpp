// The free-list check that is always on: a corrupted link in a free slot (what a user's write
// after free does to the slot's first 4 bytes) gives fatal_error, never a wild write or a live
// slot handed out twice, and the cache stays usable.
#include "catch.hpp"
#include "recording_hooks.hpp"

#include <attachable/slab.hpp>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

namespace
{

struct sixteen_bytes
{
  std::uint64_t first = 0;
  std::uint64_t second = 0;
};

using cache_type = attachable::slab_cache<sixteen_bytes, attachable::no_lock, 4096>;
using hierarchy = attachable::detail::cache_type<sixteen_bytes, attachable::no_lock, 4096>;

// Plays the user's bug: overwrites the free-list link of a free slot. The sanitizer shims open
// the slot first, so that this test of the cache's own check also runs under ASan and Valgrind.
void corrupt_link(void* slot, std::uint32_t index)
{
  attachable::detail::tool_open_free_slot(slot, hierarchy::slot_size);
  std::memcpy(slot, &index, sizeof index);
  attachable::detail::tool_close_free_slot(slot, hierarchy::slot_size);
}

} // namespace

TEST_CASE("a corrupted free-list link gives fatal_error and the cache stays usable", "[validation]")
{
  {
    cache_type cache;
    std::vector<cache_type::box> live;
    for (int i = 0; i < 4; ++i)
    {
      auto box = cache.emplace(sixteen_bytes{std::uint64_t(i), 0});
      REQUIRE(box);
      live.push_back(std::move(*box));
    }
    void* const victim = live[1].get();
    live[1].reset();

    const auto [bad_index, description] =
        GENERATE(table<std::uint32_t, const char*>({{1000, "an index past the bump index"},
                                                    {0xFFFF'FFFEu, "an index far out of range"},
                                                    {0, "the index of a live slot"},
                                                    {3, "the index of another live slot"}}));
    INFO("the link holds " << description);
    corrupt_link(victim, bad_index);

    // The slot itself is still a valid free slot: only the link it holds is bad.
    auto first = cache.alloc();
    REQUIRE(first);
    CHECK(first->get() == victim);

    auto second = cache.alloc();
    REQUIRE_FALSE(second);
    CHECK(second.error() == attachable::slab_error::fatal_error);

    // Usable afterwards, and never a live slot handed out twice.
    std::set<void*> addresses{first->get()};
    for (auto& box : live)
    {
      if (box)
      {
        addresses.insert(box.get());
      }
    }
    const std::size_t before = addresses.size();
    std::vector<cache_type::box> more;
    for (std::size_t i = 0; i < 2 * cache_type::objects_per_slab; ++i)
    {
      auto box = cache.alloc();
      REQUIRE(box);
      addresses.insert(box->get());
      more.push_back(std::move(*box));
    }
    CHECK(addresses.size() == before + more.size());
    CHECK(live[0]->first == 0);
    CHECK(live[3]->first == 3);
    CHECK(cache.stats().live_objects == before + more.size());
  }
  CHECK(test_support::recording_hooks::counts().outstanding == 0);
}
