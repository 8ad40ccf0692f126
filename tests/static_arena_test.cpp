#include "catch.hpp"
#include "recording_lock.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace
{

using small_arena = attachable::static_arena<256, 5>;

// constinit proves the arena is constant-initialised: no constructor runs before main.
constinit small_arena shared_arena;
constinit attachable::static_arena<4096, 3, attachable::no_lock> no_lock_arena;
constinit attachable::static_arena<64, 70, test_support::recording_lock> recorded_arena;

std::uintptr_t address(const void* pointer)
{
  return reinterpret_cast<std::uintptr_t>(pointer);
}

template <class Arena>
void give_back_everything(Arena& arena, void* const* slabs, std::size_t count)
{
  for (std::size_t i = 0; i < count; ++i)
  {
    REQUIRE(arena.deallocate(slabs[i]).has_value());
  }
  REQUIRE(arena.slabs_out() == 0);
}

} // namespace

static_assert(std::is_trivially_destructible_v<small_arena>,
              "a global arena must need no destructor registration");
static_assert(alignof(small_arena) == 256);

TEST_CASE("an arena hands out every slab once, aligned and inside itself, then null",
          "[static_arena]")
{
  void* slabs[small_arena::slab_count] = {};
  for (void*& slab : slabs)
  {
    slab = shared_arena.allocate();
    REQUIRE(slab != nullptr);
    CHECK(address(slab) % small_arena::slab_size == 0);
    CHECK(shared_arena.owns(slab));
  }
  CHECK(shared_arena.slabs_out() == small_arena::slab_count);
  CHECK(shared_arena.allocate() == nullptr);
  CHECK(shared_arena.allocate() == nullptr);
  for (std::size_t i = 0; i < small_arena::slab_count; ++i)
  {
    for (std::size_t j = i + 1; j < small_arena::slab_count; ++j)
    {
      const std::uintptr_t distance = address(slabs[i]) > address(slabs[j])
                                          ? address(slabs[i]) - address(slabs[j])
                                          : address(slabs[j]) - address(slabs[i]);
      CHECK(distance >= small_arena::slab_size);
    }
  }
  give_back_everything(shared_arena, slabs, small_arena::slab_count);
}

TEST_CASE("a slab given back is handed out again, the most recently freed first", "[static_arena]")
{
  void* first = shared_arena.allocate();
  void* second = shared_arena.allocate();
  void* third = shared_arena.allocate();
  REQUIRE(third != nullptr);
  REQUIRE(shared_arena.deallocate(first).has_value());
  REQUIRE(shared_arena.deallocate(third).has_value());
  CHECK(shared_arena.slabs_out() == 1);
  CHECK(shared_arena.allocate() == third);
  CHECK(shared_arena.allocate() == first);
  void* rest[] = {first, second, third};
  give_back_everything(shared_arena, rest, 3);
}

TEST_CASE("an exhausted arena serves again after one slab comes back", "[static_arena]")
{
  void* slabs[small_arena::slab_count] = {};
  for (void*& slab : slabs)
  {
    slab = shared_arena.allocate();
  }
  REQUIRE(shared_arena.allocate() == nullptr);
  REQUIRE(shared_arena.deallocate(slabs[2]).has_value());
  void* again = shared_arena.allocate();
  CHECK(again == slabs[2]);
  CHECK(shared_arena.allocate() == nullptr);
  give_back_everything(shared_arena, slabs, small_arena::slab_count);
}

TEST_CASE("deallocate rejects null, foreign and interior pointers and changes nothing",
          "[static_arena]")
{
  void* slab = shared_arena.allocate();
  REQUIRE(slab != nullptr);
  alignas(256) static std::byte foreign[256];
  auto* bytes = static_cast<std::byte*>(slab);

  const attachable::result<void> null_result = shared_arena.deallocate(nullptr);
  const attachable::result<void> foreign_result = shared_arena.deallocate(foreign);
  const attachable::result<void> interior_result = shared_arena.deallocate(bytes + 8);
  const attachable::result<void> past_end_result =
      shared_arena.deallocate(bytes + small_arena::slab_size * small_arena::slab_count);
  const attachable::result<void> other_arena_result = no_lock_arena.deallocate(slab);

  REQUIRE_FALSE(null_result.has_value());
  CHECK(null_result.error() == attachable::slab_error::invalid_pointer);
  REQUIRE_FALSE(foreign_result.has_value());
  CHECK(foreign_result.error() == attachable::slab_error::invalid_pointer);
  REQUIRE_FALSE(interior_result.has_value());
  CHECK(interior_result.error() == attachable::slab_error::invalid_pointer);
  REQUIRE_FALSE(past_end_result.has_value());
  CHECK(past_end_result.error() == attachable::slab_error::invalid_pointer);
  REQUIRE_FALSE(other_arena_result.has_value());
  CHECK(other_arena_result.error() == attachable::slab_error::invalid_pointer);
  CHECK_FALSE(shared_arena.owns(foreign));
  CHECK(shared_arena.slabs_out() == 1);
  give_back_everything(shared_arena, &slab, 1);
}

TEST_CASE("a slab freed twice, or never handed out, reports double_free", "[static_arena]")
{
  static constinit small_arena fresh;
  void* first = fresh.allocate();
  void* second = fresh.allocate();
  REQUIRE(second != nullptr);
  REQUIRE(fresh.deallocate(second).has_value());

  const attachable::result<void> twice = fresh.deallocate(second);
  REQUIRE_FALSE(twice.has_value());
  CHECK(twice.error() == attachable::slab_error::double_free);

  // A fresh arena hands slabs out in address order, so the last one was never handed out.
  REQUIRE(address(second) == address(first) + small_arena::slab_size);
  void* never = static_cast<std::byte*>(first) + small_arena::slab_size * 4;
  REQUIRE(fresh.owns(never));
  const attachable::result<void> unused = fresh.deallocate(never);
  REQUIRE_FALSE(unused.has_value());
  CHECK(unused.error() == attachable::slab_error::double_free);

  // Neither rejected call pushed a slab on the free stack: the one freed slab comes back
  // first, then the untouched ones in order, and the arena still has exactly four left.
  CHECK(fresh.slabs_out() == 1);
  CHECK(fresh.allocate() == second);
  void* rest[small_arena::slab_count] = {first, second};
  for (std::size_t i = 2; i < small_arena::slab_count; ++i)
  {
    rest[i] = fresh.allocate();
    CHECK(address(rest[i]) == address(first) + i * small_arena::slab_size);
  }
  CHECK(fresh.allocate() == nullptr);
  give_back_everything(fresh, rest, small_arena::slab_count);
}

TEST_CASE("an arena with more slabs than one bitmap word tracks each slab", "[static_arena]")
{
  using arena_type = decltype(recorded_arena);
  const std::size_t locks_before = test_support::recording_lock::locks();
  void* slabs[arena_type::slab_count] = {};
  for (void*& slab : slabs)
  {
    slab = recorded_arena.allocate();
    REQUIRE(slab != nullptr);
  }
  CHECK(recorded_arena.allocate() == nullptr);
  // Free every other slab, including ones in the second and third bitmap words.
  for (std::size_t i = 0; i < arena_type::slab_count; i += 2)
  {
    REQUIRE(recorded_arena.deallocate(slabs[i]).has_value());
  }
  for (std::size_t i = 0; i < arena_type::slab_count; ++i)
  {
    const attachable::result<void> again = recorded_arena.deallocate(slabs[i]);
    if (i % 2 == 0)
    {
      REQUIRE_FALSE(again.has_value());
      CHECK(again.error() == attachable::slab_error::double_free);
    }
    else
    {
      CHECK(again.has_value());
    }
  }
  CHECK(recorded_arena.slabs_out() == 0);
  CHECK(test_support::recording_lock::misuses() == 0);
  CHECK(test_support::recording_lock::locks() == test_support::recording_lock::unlocks());
  CHECK(test_support::recording_lock::locks() > locks_before);
}

static_assert(std::is_trivially_copyable_v<attachable::arena_stats>);
static_assert(attachable::arena_stats{}.slabs_in_use == 0 &&
                  attachable::arena_stats{}.peak_slabs_in_use == 0 &&
                  attachable::arena_stats{}.failed_allocations == 0,
              "arena_stats must be usable in constant expressions, zero by default");

TEST_CASE("a fresh arena's statistics are all zero", "[static_arena]")
{
  static constinit small_arena fresh;
  const attachable::arena_stats stats = fresh.stats();
  CHECK(stats.slabs_in_use == 0);
  CHECK(stats.peak_slabs_in_use == 0);
  CHECK(stats.failed_allocations == 0);
}

TEST_CASE("an arena counts the slabs in use, keeps their peak, and counts every null allocate",
          "[static_arena]")
{
  static constinit small_arena arena;
  void* slabs[small_arena::slab_count] = {};
  slabs[0] = arena.allocate();
  slabs[1] = arena.allocate();
  slabs[2] = arena.allocate();
  REQUIRE(slabs[2] != nullptr);
  attachable::arena_stats stats = arena.stats();
  CHECK(stats.slabs_in_use == 3);
  CHECK(stats.peak_slabs_in_use == 3);
  CHECK(stats.failed_allocations == 0);

  // Giving slabs back lowers the count but never the peak, and taking one again below the
  // peak does not raise it.
  REQUIRE(arena.deallocate(slabs[1]).has_value());
  REQUIRE(arena.deallocate(slabs[0]).has_value());
  slabs[0] = arena.allocate();
  stats = arena.stats();
  CHECK(stats.slabs_in_use == 2);
  CHECK(stats.peak_slabs_in_use == 3);

  slabs[1] = arena.allocate();
  slabs[3] = arena.allocate();
  slabs[4] = arena.allocate();
  REQUIRE(slabs[4] != nullptr);
  CHECK(arena.allocate() == nullptr);
  CHECK(arena.allocate() == nullptr);
  stats = arena.stats();
  CHECK(stats.slabs_in_use == small_arena::slab_count);
  CHECK(stats.peak_slabs_in_use == small_arena::slab_count);
  CHECK(stats.failed_allocations == 2);

  // Rejected deallocations change nothing.
  REQUIRE_FALSE(arena.deallocate(nullptr).has_value());
  REQUIRE(arena.deallocate(slabs[4]).has_value());
  REQUIRE_FALSE(arena.deallocate(slabs[4]).has_value());
  stats = arena.stats();
  CHECK(stats.slabs_in_use == small_arena::slab_count - 1);
  CHECK(stats.failed_allocations == 2);
  CHECK(stats.slabs_in_use == arena.slabs_out());

  // A successful allocate after failures does not reset the failure count.
  slabs[4] = arena.allocate();
  REQUIRE(slabs[4] != nullptr);
  CHECK(arena.stats().failed_allocations == 2);
  give_back_everything(arena, slabs, small_arena::slab_count);
  stats = arena.stats();
  CHECK(stats.slabs_in_use == 0);
  CHECK(stats.peak_slabs_in_use == small_arena::slab_count);
  CHECK(stats.failed_allocations == 2);
}

TEST_CASE("an arena takes its statistics under its lock, once per call", "[static_arena]")
{
  static constinit attachable::static_arena<64, 4, test_support::recording_lock> arena;
  void* slab = arena.allocate();
  REQUIRE(slab != nullptr);
  const std::size_t locks_before = test_support::recording_lock::locks();
  const attachable::arena_stats stats = arena.stats();
  CHECK(test_support::recording_lock::locks() == locks_before + 1);
  CHECK(test_support::recording_lock::locks() == test_support::recording_lock::unlocks());
  CHECK(test_support::recording_lock::misuses() == 0);
  CHECK(stats.slabs_in_use == 1);
  give_back_everything(arena, &slab, 1);
}

TEST_CASE("an arena of more slabs than one bitmap word keeps its peak exact", "[static_arena]")
{
  using arena_type = attachable::static_arena<64, 70, attachable::no_lock>;
  static constinit arena_type wide;
  void* slabs[arena_type::slab_count] = {};
  for (std::size_t round = 0; round < 3; ++round)
  {
    // Each round takes one slab more than the last, gives all back, and fails once.
    const std::size_t count = arena_type::slab_count - 2 + round;
    for (std::size_t i = 0; i < count; ++i)
    {
      slabs[i] = wide.allocate();
      REQUIRE(slabs[i] != nullptr);
    }
    CHECK(wide.stats().peak_slabs_in_use == count);
    if (count == arena_type::slab_count)
    {
      CHECK(wide.allocate() == nullptr);
    }
    give_back_everything(wide, slabs, count);
  }
  const attachable::arena_stats after = wide.stats();
  CHECK(after.peak_slabs_in_use == arena_type::slab_count);
  CHECK(after.failed_allocations == 1u);
  CHECK(after.slabs_in_use == 0);
}
