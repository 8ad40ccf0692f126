// Debug mode (ATTACHABLE_SLAB_DEBUG=1): a write after free is reported with the slot's address,
// the allocation that found it fails with fatal_error, and the cache stays usable.
//
// The report macro is the test's own: it records the slot instead of panicking. Both macros
// must be defined before any attachable header is included.
#include <cstddef>

namespace debug_mode
{
inline void* reported_slot = nullptr;
inline std::size_t reports = 0;
inline void record_report(void* slot) noexcept
{
  reported_slot = slot;
  ++reports;
}
} // namespace debug_mode

#define ATTACHABLE_SLAB_DEBUG 1
#define ATTACHABLE_REPORT_WRITE_AFTER_FREE(slot) (debug_mode::record_report(slot))

#include "catch.hpp"
#include "recording_hooks.hpp"

#include <attachable/slab.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

namespace
{

struct sixteen_bytes
{
  std::uint64_t first = 0;
  std::uint64_t second = 0;
};

using cache_type = attachable::slab_cache<sixteen_bytes, attachable::no_lock, 4096>;
using slot_bytes = attachable::detail::cache_type<sixteen_bytes, attachable::no_lock, 4096>;

// Plays the user's bug: writes into a free slot. The sanitizer shims open the slot first, so
// that this test, which is about the cache's own check, also runs under ASan and Valgrind
// (the misuse tests prove that those tools catch the same write on their own).
void write_into_free_slot(void* slot, std::size_t offset, std::uint32_t value)
{
  attachable::detail::tool_open_free_slot(slot, slot_bytes::slot_size);
  std::memcpy(static_cast<std::byte*>(slot) + offset, &value, sizeof value);
  attachable::detail::tool_close_free_slot(slot, slot_bytes::slot_size);
}

void forget_reports()
{
  debug_mode::reported_slot = nullptr;
  debug_mode::reports = 0;
}

} // namespace

TEST_CASE("a write after free is reported with the slot's address and fails the next alloc",
          "[debug]")
{
  forget_reports();
  {
    cache_type cache;
    auto keeper = cache.alloc();
    auto victim = cache.alloc();
    REQUIRE(keeper);
    REQUIRE(victim);
    void* const slot = victim->get();
    victim->reset();

    write_into_free_slot(slot, 8, 0x1234'5678u);

    auto found = cache.alloc();
    REQUIRE_FALSE(found);
    CHECK(found.error() == attachable::slab_error::fatal_error);
    CHECK(debug_mode::reports == 1);
    CHECK(debug_mode::reported_slot == slot);

    SECTION("and the cache stays usable afterwards")
    {
      std::vector<cache_type::box> boxes;
      for (int i = 0; i < 100; ++i)
      {
        auto box = cache.emplace(sixteen_bytes{std::uint64_t(i), 0});
        REQUIRE(box);
        CHECK(box->get() != slot); // the corrupted slot is never handed out again
        boxes.push_back(std::move(*box));
      }
      for (std::size_t i = 0; i < boxes.size(); ++i)
      {
        CHECK(boxes[i]->first == i);
      }
      CHECK(cache.stats().live_objects == boxes.size() + 1);
      CHECK(debug_mode::reports == 1);
    }
  }
  CHECK(test_support::recording_hooks::counts().outstanding == 0);
}

TEST_CASE("a write into the last byte of a free slot is reported too", "[debug]")
{
  forget_reports();
  cache_type cache;
  auto keeper = cache.alloc();
  auto victim = cache.alloc();
  REQUIRE(keeper);
  REQUIRE(victim);
  void* const slot = victim->get();
  victim->reset();

  write_into_free_slot(slot, slot_bytes::slot_size - sizeof(std::uint32_t), 0);

  auto found = cache.alloc();
  REQUIRE_FALSE(found);
  CHECK(found.error() == attachable::slab_error::fatal_error);
  CHECK(debug_mode::reported_slot == slot);
}

TEST_CASE("honest use of a debug-mode cache reports nothing", "[debug]")
{
  forget_reports();
  {
    cache_type cache;
    std::vector<cache_type::box> boxes;
    // Several slabs' worth, freed in an interleaved order and reused, so every reuse checks
    // a pattern left by a free.
    for (int round = 0; round < 3; ++round)
    {
      for (std::size_t i = 0; i < 3 * cache_type::objects_per_slab; ++i)
      {
        auto box = cache.emplace(sixteen_bytes{i, ~i});
        REQUIRE(box);
        boxes.push_back(std::move(*box));
      }
      for (std::size_t i = 0; i < boxes.size(); i += 2)
      {
        boxes[i].reset();
      }
      for (std::size_t i = 1; i < boxes.size(); i += 2)
      {
        CHECK(boxes[i]->second == ~boxes[i]->first);
      }
      boxes.clear();
    }
    CHECK(cache.stats().live_objects == 0);
  }
  CHECK(debug_mode::reports == 0);
  CHECK(test_support::recording_hooks::counts().outstanding == 0);
}
