// slab_cache::verify() (issue 8, item 6) breaks no invariant itself, so this test breaks each
// one on purpose, through the library's detail types as a stray write would, and shows that
// verify() returns fatal_error and names the invariant through ATTACHABLE_REPORT_CORRUPTION
// (recorded by tests/support/report_probe.hpp, force-included into this binary), then passes
// again once the damage is undone. Free slots are opened to ASan and Valgrind for the write
// (tool_open_free_slot), as the library does for its own accesses.
#include "catch.hpp"
#include "hook_balance.hpp"
#include "test_cpus.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

using attachable::per_cpu;
using attachable::per_thread;
using attachable::slab_error;
using attachable::slab_stats;
using attachable::spin_lock;
using test_support::hook_balance;
using test_support::reports;
using test_support::test_cpus;

namespace detail = attachable::detail;

namespace
{

constexpr std::size_t slab_size = 4096;

struct item
{
  std::uint64_t words[4];
};

template <class... Options>
using item_cache = attachable::slab_cache<item, spin_lock, slab_size, Options...>;
using core = detail::hierarchy<spin_lock, slab_size>;
using state = core::state;
using slots = detail::runtime_slots<slab_size>;

detail::slab* slab_of(const void* object)
{
  return detail::slab_of<slab_size>(object);
}

state* state_of(const void* object)
{
  return core::state_of(slab_of(object));
}

bool same(const slab_stats& a, const slab_stats& b)
{
  return a.slabs == b.slabs && a.empty_slabs == b.empty_slabs && a.live_objects == b.live_objects &&
         a.capacity == b.capacity && a.peak_live_objects == b.peak_live_objects &&
         a.hook_allocs == b.hook_allocs && a.hook_frees == b.hook_frees &&
         a.cached_objects == b.cached_objects;
}

// Breaks one invariant, runs verify(), undoes the damage, and checks that verify() caught it
// with a sentence containing `words`, changed nothing, and passes again.
template <class Cache, class Break, class Restore>
void check_caught(const Cache& cache, const char* words, Break&& damage, Restore&& repair)
{
  CAPTURE(words);
  REQUIRE(cache.verify());
  const slab_stats before = cache.stats();
  reports::reset();
  damage();
  const attachable::result<void> verdict = cache.verify();
  repair();
  REQUIRE_FALSE(verdict);
  CHECK(verdict.error() == slab_error::fatal_error);
  CHECK(reports::corruptions() == 1);
  INFO("reported: " << reports::last_corruption());
  CHECK(reports::corruption_says(words));
  CHECK(cache.verify());
  CHECK(same(cache.stats(), before));
}

// A hierarchy with every run of the slab list:
//   head: master (full) -> s1 (the cursor, 3 free slots) -> s2 (2 free slots) -> s3 (empty): tail
struct four_slabs
{
  using cache_type = item_cache<>;
  using box = cache_type::box;
  static constexpr std::size_t per_slab = cache_type::objects_per_slab;

  four_slabs()
  {
    take(cache_type::objects_per_master, master_objects);
    take(per_slab, s1_objects);
    take(per_slab, s2_objects);
    std::vector<box> s3_objects;
    take(per_slab / 2, s3_objects);
    master = slab_of(master_objects[0].get());
    s1 = slab_of(s1_objects[0].get());
    s2 = slab_of(s2_objects[0].get());
    s3 = slab_of(s3_objects[0].get());
    s2_objects[5].reset();
    s2_objects[9].reset();
    s1_objects[3].reset();
    s1_objects[7].reset();
    s1_objects[11].reset();
    s3_objects.clear();
    m = state_of(master);
    links = m->core.descriptor().links_offset;

    REQUIRE(m->core.head == master);
    REQUIRE(next(master) == s1);
    REQUIRE(next(s1) == s2);
    REQUIRE(next(s2) == s3);
    REQUIRE(m->core.tail == s3);
    REQUIRE(m->core.cursor == s1);
    REQUIRE(m->core.empty_slaves == 1);
    REQUIRE(s3->live == 0);
    REQUIRE(cache.verify());
  }

  void take(std::size_t n, std::vector<box>& into)
  {
    for (std::size_t i = 0; i < n; ++i)
    {
      auto made = cache.alloc();
      REQUIRE(made);
      into.push_back(std::move(*made));
    }
  }

  detail::slab_links& links_of(detail::slab* s) const { return detail::links_of(s, links); }
  detail::slab* next(detail::slab* s) const { return links_of(s).next; }

  // A free slot of `s` by its place in the slab's free list (0: the head).
  std::byte* free_slot(detail::slab* s, std::size_t place) const
  {
    const slots g{&m->core.descriptor()};
    std::uint32_t index = s->free_head;
    for (std::size_t i = 0; i < place; ++i)
    {
      std::byte* const slot = detail::slot_at(s, index, g);
      detail::tool_open_free_slot(slot, g.slot_size());
      index = detail::next_free(slot);
      detail::tool_close_free_slot(slot, g.slot_size());
    }
    return detail::slot_at(s, index, g);
  }

  std::uint32_t link_of(std::byte* slot) const
  {
    const std::size_t bytes = m->core.descriptor().slot_size;
    detail::tool_open_free_slot(slot, bytes);
    const std::uint32_t link = detail::next_free(slot);
    detail::tool_close_free_slot(slot, bytes);
    return link;
  }

  void set_link(std::byte* slot, std::uint32_t link) const
  {
    const std::size_t bytes = m->core.descriptor().slot_size;
    detail::tool_open_free_slot(slot, bytes);
    detail::set_next_free(slot, link);
    detail::tool_close_free_slot(slot, bytes);
  }

  cache_type cache;
  std::vector<box> master_objects;
  std::vector<box> s1_objects;
  std::vector<box> s2_objects;
  state* m = nullptr;
  detail::slab* master = nullptr;
  detail::slab* s1 = nullptr;
  detail::slab* s2 = nullptr;
  detail::slab* s3 = nullptr;
  std::size_t links = 0;
};

// Sets `bit` in slab `s`'s bitmap to `set`.
void set_bit(detail::slab* s, std::size_t bit, bool set)
{
  std::uint32_t& word = detail::bitmap_of(s)[bit / detail::bits_per_word];
  const std::uint32_t mask = std::uint32_t{1} << (bit % detail::bits_per_word);
  word = set ? (word | mask) : (word & ~mask);
}

} // namespace

TEST_CASE("verify() passes on a healthy hierarchy and on a cache with no master", "[verify]")
{
  hook_balance balance;
  reports::reset();
  const item_cache<> empty;
  CHECK(empty.verify());
  {
    const four_slabs h;
    CHECK(h.cache.verify());
  }
  CHECK(reports::corruptions() == 0);
}

TEST_CASE("verify() names a broken slab header: magic, identity, owner, role, capacity, slot "
          "offset, bump and live count",
          "[verify]")
{
  hook_balance balance;
  four_slabs h;
  const char* const identity_words = "magic, identity or owner is wrong";
  std::uintptr_t magic = h.s2->magic;
  check_caught(
      h.cache, identity_words, [&] { h.s2->magic = magic ^ 1; }, [&] { h.s2->magic = magic; });
  int stranger = 0;
  const void* const identity = h.s2->identity;
  check_caught(
      h.cache, identity_words, [&] { h.s2->identity = &stranger; },
      [&] { h.s2->identity = identity; });
  void* const owner = h.s3->owner;
  check_caught(
      h.cache, identity_words, [&] { h.s3->owner = &stranger; }, [&] { h.s3->owner = owner; });

  check_caught(
      h.cache, "a slab's role does not match its place",
      [&] { h.s2->role = detail::slab_role::master; },
      [&] { h.s2->role = detail::slab_role::slave; });
  check_caught(
      h.cache, "the master's role does not match its handle count",
      [&] { h.master->role = detail::slab_role::orphaned_master; },
      [&] { h.master->role = detail::slab_role::master; });

  const char* const shape_words = "capacity, slot offset, bump or live count is wrong";
  const std::uint32_t capacity = h.s1->capacity;
  check_caught(
      h.cache, shape_words, [&] { h.s1->capacity = capacity + 1; },
      [&] { h.s1->capacity = capacity; });
  const std::uint32_t offset = h.s1->slots_offset;
  check_caught(
      h.cache, shape_words, [&] { h.s1->slots_offset = offset + 8; },
      [&] { h.s1->slots_offset = offset; });
  const std::uint32_t bump = h.s3->bump;
  check_caught(
      h.cache, shape_words, [&] { h.s3->bump = capacity + 1; }, [&] { h.s3->bump = bump; });
  const std::uint32_t live = h.s1->live;
  check_caught(
      h.cache, shape_words, [&] { h.s1->live = capacity + 1; }, [&] { h.s1->live = live; });
}

TEST_CASE("verify() names a broken slab list: a cycle, a wrong prev link, the runs around the "
          "cursor, an empty slave before the tail and a wrong tail",
          "[verify]")
{
  hook_balance balance;
  four_slabs h;
  check_caught(
      h.cache, "longer than the slab count", [&] { h.links_of(h.s3).next = h.master; },
      [&] { h.links_of(h.s3).next = nullptr; });
  check_caught(
      h.cache, "prev link does not name the slab before it",
      [&] { h.links_of(h.s2).prev = h.master; }, [&] { h.links_of(h.s2).prev = h.s1; });

  const char* const run_words = "a full slab is after the cursor, or a slab before it is not full";
  check_caught(
      h.cache, run_words, [&] { h.s2->full = 1; }, [&] { h.s2->full = 0; });
  check_caught(
      h.cache, run_words, [&] { h.master->full = 0; }, [&] { h.master->full = 1; });

  // The empty slave moves between the two partial slabs, links kept consistent.
  check_caught(
      h.cache, "an empty slave is not in the list's tail run",
      [&]
      {
        detail::unlink(h.m->core, h.s3, h.links);
        detail::link_before(h.m->core, h.s3, h.s2, h.links);
      },
      [&]
      {
        detail::unlink(h.m->core, h.s3, h.links);
        detail::link_before(h.m->core, h.s3, nullptr, h.links);
      });
  check_caught(
      h.cache, "the list's tail is not its last slab", [&] { h.m->core.tail = h.s2; },
      [&] { h.m->core.tail = h.s3; });
}

TEST_CASE("verify() names a broken bitmap and a broken free list", "[verify]")
{
  hook_balance balance;
  four_slabs h;
  // s3 has started over (bump 0): a bit at or above bump must be clear.
  check_caught(
      h.cache, "a bitmap bit is set at or above the bump index", [&] { set_bit(h.s3, 0, true); },
      [&] { set_bit(h.s3, 0, false); });
  // A live slot of s2 whose bit is cleared, and a free one whose bit is set.
  check_caught(
      h.cache, "bitmap does not match its live count", [&] { set_bit(h.s2, 0, false); },
      [&] { set_bit(h.s2, 0, true); });
  check_caught(
      h.cache, "bitmap does not match its live count", [&] { set_bit(h.s2, 5, true); },
      [&] { set_bit(h.s2, 5, false); });

  const char* const link_words = "a free list link is out of range, names a live slot or loops";
  const std::uint32_t head = h.s1->free_head;
  check_caught(
      h.cache, link_words, [&] { h.s1->free_head = h.s1->capacity + 7; },
      [&] { h.s1->free_head = head; });

  std::byte* const first = h.free_slot(h.s1, 0);
  std::byte* const second = h.free_slot(h.s1, 1);
  const std::uint32_t first_link = h.link_of(first);
  const std::uint32_t second_link = h.link_of(second);
  check_caught(
      h.cache, link_words, [&] { h.set_link(first, 0); }, // slot 0 of s1 is live
      [&] { h.set_link(first, first_link); });
  check_caught(
      h.cache, link_words, [&] { h.set_link(second, head); }, // back to the first: a loop
      [&] { h.set_link(second, second_link); });
  check_caught(
      h.cache, link_words, [&] { h.set_link(first, h.s1->capacity); },
      [&] { h.set_link(first, first_link); });
  check_caught(
      h.cache, "a free list does not hold every free slot below bump",
      [&] { h.set_link(first, detail::no_slot); }, [&] { h.set_link(first, first_link); });
}

TEST_CASE("verify() names broken counters: slabs, taken slots, empty slaves and the source "
          "balance",
          "[verify]")
{
  hook_balance balance;
  four_slabs h;
  detail::master_core& c = h.m->core;
  const std::uint32_t slabs = c.slabs;
  check_caught(
      h.cache, "the slab count or the master's place in the list is wrong",
      [&] { c.slabs = slabs + 1; }, [&] { c.slabs = slabs; });
  const std::size_t headroom = c.headroom;
  check_caught(
      h.cache, "the taken-slot counters disagree with the slabs' live counts",
      [&] { c.headroom = headroom + 1; }, [&] { c.headroom = headroom; });
  const std::uint32_t empty = c.empty_slaves;
  check_caught(
      h.cache, "the count of empty slaves is wrong", [&] { c.empty_slaves = empty + 1; },
      [&] { c.empty_slaves = empty; });
  const std::size_t allocs = c.hook_allocs;
  check_caught(
      h.cache, "more slabs are held than the source handed out", [&] { c.hook_allocs = 0; },
      [&] { c.hook_allocs = allocs; });
}

TEST_CASE("verify() names a cursor that is not on the slab list", "[verify]")
{
  hook_balance balance;
  using cache_type = item_cache<>;
  cache_type cache;
  cache_type other;
  std::vector<cache_type::box> objects;
  for (std::size_t i = 0; i < cache_type::objects_per_master; ++i)
  {
    auto made = cache.alloc();
    REQUIRE(made);
    objects.push_back(std::move(*made)); // the master is full: no cursor
  }
  auto stranger = other.alloc();
  REQUIRE(stranger);
  detail::master_core& c = state_of(objects[0].get())->core;
  REQUIRE(c.cursor == nullptr);
  check_caught(
      cache, "the cursor is not on the slab list", [&] { c.cursor = slab_of(stranger->get()); },
      [&] { c.cursor = nullptr; });
}

TEST_CASE("verify() names a free slot whose tag was overwritten in a caching cache", "[verify]")
{
  hook_balance balance;
  using cache_type = item_cache<per_cpu<test_cpus>>;
  cache_type cache;
  auto kept = cache.alloc();
  auto freed = cache.alloc();
  REQUIRE(kept);
  REQUIRE(freed);
  freed->reset();
  cache.drain(); // the CPU's cached objects go back to the slab's free list
  detail::slab* const s = slab_of(kept->get());
  REQUIRE(s->free_head != detail::no_slot);
  const slots g{&state_of(kept->get())->core.descriptor()};
  std::byte* const slot = detail::slot_at(s, s->free_head, g);
  detail::tool_open_free_slot(slot, g.slot_size());
  const std::uint32_t tag = detail::read_tag(slot);
  detail::tool_close_free_slot(slot, g.slot_size());
  const auto write_tag = [&](std::uint32_t value)
  {
    detail::tool_open_free_slot(slot, g.slot_size());
    detail::write_tag(slot, value);
    detail::tool_close_free_slot(slot, g.slot_size());
  };
  check_caught(
      cache, "a free slot's tag was overwritten", [&] { write_tag(tag ^ 0x100); },
      [&] { write_tag(tag); });
}

TEST_CASE("verify() names a per-CPU cache over its limit and more cached objects than taken",
          "[verify]")
{
  hook_balance balance;
  using cache_type = item_cache<per_cpu<test_cpus>>;
  cache_type cache;
  auto kept = cache.alloc();
  REQUIRE(kept);
  state* const m = state_of(kept->get());
  const std::uint32_t limit = m->core.descriptor().cache_limit;
  REQUIRE(cache.stats().live_objects + cache.stats().cached_objects < limit);
  std::uint32_t& count = core::cpu_at(m, 1)->count; // CPU 1 holds nothing
  REQUIRE(count == 0);
  check_caught(
      cache, "a per-CPU cache is over its limit", [&] { count = limit + 1; }, [&] { count = 0; });
  check_caught(
      cache, "more objects are cached than taken from the slabs", [&] { count = limit; },
      [&] { count = 0; });
}

TEST_CASE("verify() names a per-thread cache over its limit", "[verify]")
{
  hook_balance balance;
  using cache_type = item_cache<per_thread>;
  cache_type cache;
  auto kept = cache.alloc(); // binds this thread
  REQUIRE(kept);
  state* const m = state_of(kept->get());
  detail::thread_cache_head* const mine = core::area_of(m)->threads;
  REQUIRE(mine != nullptr);
  const std::uint32_t count = mine->count;
  check_caught(
      cache, "a per-thread cache is bound elsewhere or over its limit",
      [&] { mine->count = m->core.descriptor().cache_limit + 1; }, [&] { mine->count = count; });
}
