// A box that frees an object which is already free cannot return an error: the cache changes
// nothing and calls ATTACHABLE_REPORT_DOUBLE_FREE(pointer). This binary records the reports
// instead of panicking, so it is an executable of its own with its own hooks (every translation
// unit of a program must see the same macro). It covers every place the first free may have
// left the object: parked in this thread's or CPU's cache, in another CPU's or thread's cache,
// back in its slab, freed by deallocate, and the case the O(1) tag check cannot see (the tag
// overwritten by a write after free), which the flush finds later.
#include <atomic>
#include <cstddef>

namespace double_free_log
{
inline std::atomic<std::size_t> reports{0};
inline std::atomic<void*> last{nullptr};
inline void record(void* pointer) noexcept
{
  last.store(pointer);
  reports.fetch_add(1);
}
} // namespace double_free_log

#define ATTACHABLE_REPORT_DOUBLE_FREE(pointer) (double_free_log::record(pointer))

#include "catch.hpp"
#include "test_cpus.hpp"

#include <attachable/slab.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace
{

// ---- hooks that know which blocks are out ----------------------------------------------------

std::mutex blocks_mutex;
std::unordered_set<void*> blocks;

void* counting_alloc(attachable::layout request) noexcept
{
  void* const block = std::aligned_alloc(request.align, request.size);
  if (block != nullptr)
  {
    const std::lock_guard<std::mutex> guard(blocks_mutex);
    blocks.insert(block);
  }
  return block;
}

attachable::result<void> counting_free(void* block, attachable::layout) noexcept
{
  {
    const std::lock_guard<std::mutex> guard(blocks_mutex);
    if (blocks.erase(block) != 1)
    {
      return attachable::slab_error::invalid_pointer;
    }
  }
  std::free(block);
  return {};
}

std::size_t blocks_out()
{
  const std::lock_guard<std::mutex> guard(blocks_mutex);
  return blocks.size();
}

} // namespace

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(counting_alloc, counting_free);

namespace
{

using attachable::no_lock;
using attachable::per_cpu;
using attachable::per_thread;
using attachable::slab_cache;
using attachable::slab_error;
using attachable::spin_lock;

using test_support::on_cpu;
using test_support::test_cpus;

// 16 bytes: the tag that marks a free slot lies inside the object.
struct item
{
  std::uint64_t id = 0;
  std::uint64_t check = ~std::uint64_t{0};
};

template <class Lock, class... Options>
struct setup
{
  using cache = slab_cache<item, Lock, 4096, Options...>;
  static constexpr bool caching = sizeof...(Options) != 0;
};

using plain_spin = setup<spin_lock>;
using plain_none = setup<no_lock>;
using thread_spin = setup<spin_lock, per_thread>;
using thread_none = setup<no_lock, per_thread>;
using cpu_spin = setup<spin_lock, per_cpu<test_cpus>>;
using cpu_none = setup<no_lock, per_cpu<test_cpus>>;

// Declared first in a test: clears the log, and at the end checks that every slab went back.
class scope
{
public:
  scope() noexcept : start_(blocks_out()) { forget(); }
  scope(const scope&) = delete;
  scope& operator=(const scope&) = delete;
  ~scope() { CHECK(blocks_out() == start_); }

  static void forget() noexcept
  {
    double_free_log::reports = 0;
    double_free_log::last = nullptr;
  }

private:
  std::size_t start_;
};

template <class Cache>
void expect_sound(const Cache& cache, std::size_t live)
{
  CHECK(cache.verify().has_value());
  const attachable::slab_stats s = cache.stats();
  CHECK(s.live_objects == live);
  CHECK(s.hook_allocs - s.hook_frees == s.slabs);
  CHECK(s.live_objects + s.cached_objects <= s.capacity);
}

// After a double free, each object is handed out once at a time: allocate more than any cache
// parks and check no two boxes share an object.
template <class Cache>
void expect_no_object_twice(Cache& cache)
{
  std::vector<typename Cache::box> boxes;
  std::set<item*> seen;
  for (std::size_t i = 0; i < 200; ++i)
  {
    auto made = cache.alloc();
    REQUIRE(made);
    CHECK(seen.insert(made->get()).second);
    boxes.push_back(std::move(made).value());
  }
}

// A second box of an object a box already owns: a user's bug that from_raw cannot see.
template <class Cache>
typename Cache::box second_owner(const typename Cache::box& first)
{
  auto adopted = Cache::box::from_raw(first.get());
  REQUIRE(adopted);
  return std::move(adopted).value();
}

// Plays a write after free over the tag at bytes 4 to 8 of a free slot. The sanitizer shims
// open the slot first, so that the write itself is not what ASan or Valgrind report.
void overwrite_tag(void* slot)
{
  attachable::detail::tool_open_free_slot(slot, sizeof(item));
  const std::uint32_t zero = 0;
  std::memcpy(static_cast<unsigned char*>(slot) + 4, &zero, sizeof zero);
  attachable::detail::tool_close_free_slot(slot, sizeof(item));
}

} // namespace

#define EVERY_SETUP plain_spin, plain_none, thread_spin, thread_none, cpu_spin, cpu_none
#define CACHING_SETUPS thread_spin, thread_none, cpu_spin, cpu_none

TEMPLATE_TEST_CASE("a box freeing an object that is already free reports it and changes nothing",
                   "[double_free][box]", EVERY_SETUP)
{
  const scope checks;
  using cache_type = typename TestType::cache;
  cache_type cache;
  auto keep = cache.alloc();
  REQUIRE(keep);
  auto first = cache.emplace(7u, ~7u);
  REQUIRE(first);
  item* const object = first->get();
  auto second = second_owner<cache_type>(*first);

  SECTION("the first free left it parked in this thread's or CPU's cache")
  {
    first->reset();
  }
  SECTION("the first free left it back in its slab")
  {
    first->reset();
    (void)cache.drain();
  }
  SECTION("deallocate freed it first")
  {
    item* const raw = first->release();
    REQUIRE(cache_type::deallocate(raw).has_value());
  }
  SECTION("deallocate_bulk freed it first")
  {
    void* const raw = first->release();
    REQUIRE(cache_type::deallocate_bulk(&raw, 1).has_value());
  }
  const attachable::slab_stats before = cache.stats();
  CHECK(double_free_log::reports == 0);
  second.reset();
  CHECK(double_free_log::reports == 1);
  CHECK(double_free_log::last == object);
  const attachable::slab_stats after = cache.stats();
  CHECK(after.live_objects == before.live_objects);
  CHECK(after.cached_objects == before.cached_objects);
  expect_sound(cache, 1);
  expect_no_object_twice(cache);
  CHECK(double_free_log::reports == 1);
}

TEMPLATE_TEST_CASE("deallocate and from_raw of a free object return double_free and report "
                   "nothing",
                   "[double_free]", EVERY_SETUP)
{
  const scope checks;
  using cache_type = typename TestType::cache;
  cache_type cache;
  auto box = cache.alloc();
  REQUIRE(box);
  item* const object = box->get();
  box->reset();
  CHECK(cache_type::deallocate(object).error() == slab_error::double_free);
  CHECK(cache_type::box::from_raw(object).error() == slab_error::double_free);
  void* const batch[] = {object};
  CHECK(cache_type::deallocate_bulk(batch, 1).error() == slab_error::double_free);
  CHECK(double_free_log::reports == 0);
  expect_sound(cache, 0);
}

TEMPLATE_TEST_CASE("a box freeing an object parked on another CPU reports it", "[double_free]",
                   cpu_spin, cpu_none)
{
  const scope checks;
  using cache_type = typename TestType::cache;
  cache_type cache;
  auto first = cache.alloc();
  REQUIRE(first);
  item* const object = first->get();
  auto second = second_owner<cache_type>(*first);
  {
    const on_cpu cpu(1);
    first->reset();
  }
  {
    const on_cpu cpu(2);
    second.reset();
  }
  CHECK(double_free_log::reports == 1);
  CHECK(double_free_log::last == object);
  expect_sound(cache, 0);
  for (std::size_t cpu = 0; cpu < test_cpus::count; ++cpu)
  {
    const on_cpu here(cpu);
    expect_no_object_twice(cache);
  }
  CHECK(double_free_log::reports == 1);
}

TEMPLATE_TEST_CASE("a box freeing an object parked in another thread's cache reports it",
                   "[double_free]", thread_spin, cpu_spin)
{
  const scope checks;
  using cache_type = typename TestType::cache;
  cache_type cache;
  auto first = cache.alloc();
  REQUIRE(first);
  item* const object = first->get();
  auto second = second_owner<cache_type>(*first);
  std::size_t reports_on_thread = 0;
  std::thread other(
      [&]
      {
        first->reset(); // parked in the other thread's cache, which stays until it exits
        reports_on_thread = double_free_log::reports;
      });
  other.join();
  second.reset();
  CHECK(reports_on_thread == 0);
  CHECK(double_free_log::reports == 1);
  CHECK(double_free_log::last == object);
  expect_sound(cache, 0);
  expect_no_object_twice(cache);
}

TEMPLATE_TEST_CASE("a double free the tag check cannot see is reported when the batch goes back "
                   "and the object is dropped once",
                   "[double_free]", CACHING_SETUPS)
{
  const scope checks;
  using cache_type = typename TestType::cache;
  cache_type cache;
  auto keep = cache.alloc();
  REQUIRE(keep);
  auto first = cache.alloc();
  REQUIRE(first);
  item* const object = first->get();
  auto second = second_owner<cache_type>(*first);
  first->reset();
  overwrite_tag(object); // the user's write after free erases the mark of a parked object
  second.reset();
  // Without a tool the second free parked it again; ASan and Valgrind know it is free and
  // report at once. Either way the drain settles it: one report, and the slab is consistent.
  (void)cache.drain();
  CHECK(double_free_log::reports == 1);
  CHECK(double_free_log::last == object);
  expect_sound(cache, 1);
  expect_no_object_twice(cache);
}

TEMPLATE_TEST_CASE("after the last handle a box's double free still reports and the last object "
                   "returns the hierarchy once",
                   "[double_free][lifetime]", EVERY_SETUP)
{
  const scope checks;
  using cache_type = typename TestType::cache;
  const std::size_t before = blocks_out();
  typename cache_type::box first;
  typename cache_type::box second;
  typename cache_type::box anchor; // keeps the hierarchy alive past the double free
  {
    cache_type cache;
    auto made = cache.alloc();
    REQUIRE(made);
    first = std::move(made).value();
    second = second_owner<cache_type>(first);
    auto other = cache.alloc();
    REQUIRE(other);
    anchor = std::move(other).value();
  }
  item* const object = first.get();
  first.reset();
  CHECK(double_free_log::reports == 0);
  second.reset();
  CHECK(double_free_log::reports == 1);
  CHECK(double_free_log::last == object);
  CHECK(blocks_out() == before + 1);
  anchor.reset();
  CHECK(blocks_out() == before);
}

// A live object is taken for a free one only if bytes 4 to 7 hold exactly its tag, so the tag
// must never be what live data commonly holds there. The old tag (address ^ a constant) was 0,
// the value of any zero-initialised field, for every slot whose address ended in 0xA77AC4B0: a
// legitimate first free was refused as a double free. This walks every 16-byte-aligned low
// address pattern of the 24 bits the tag uses, under several top bytes.
TEST_CASE("no slot address gives a tag that zero, -1 or a pointer to the slot itself can match",
          "[double_free][tag]")
{
  std::size_t clashes = 0;
  for (const std::uintptr_t high : {std::uintptr_t{0}, std::uintptr_t{0x2000'0000},
                                    std::uintptr_t{0xA500'0000}, std::uintptr_t{0xA700'0000}})
  {
    for (std::uintptr_t low = 0; low < (std::uintptr_t{1} << 24); low += 16)
    {
      const std::uintptr_t address = high | low;
      const auto* const slot = reinterpret_cast<const void*>(address);
      const std::uint32_t tag = attachable::detail::free_tag(slot);
      for (const std::uint32_t held : {tag, tag ^ attachable::detail::cached_tag_bit})
      {
        const auto self = static_cast<std::uint32_t>(address);
        if (held == 0 || held == ~std::uint32_t{0} || held == self || held == self + 16 ||
            held < 0x0100'0000 || held >= 0xFF00'0000)
        {
          ++clashes;
        }
      }
    }
  }
  CHECK(clashes == 0);
  // The address the old tag clashed at.
  CHECK(attachable::detail::free_tag(reinterpret_cast<const void*>(std::uintptr_t{0xA77A'C4B0})) !=
        0);
}

// The same from a user's side: objects whose bytes 4 to 7 hold zero, -1 or their own address's
// low half, as zero-initialised structs, sentinels and intrusive self-links do, are freed as
// usual: by box, deallocate and deallocate_bulk, with no report.
TEMPLATE_TEST_CASE("live objects holding zero, -1 or their own address are freed without a report",
                   "[double_free][tag]", CACHING_SETUPS)
{
  const scope checks;
  using cache_type = typename TestType::cache;
  cache_type cache;
  auto keep = cache.alloc();
  REQUIRE(keep);
  for (const int pattern : {0, 1, 2})
  {
    std::vector<typename cache_type::box> boxes;
    for (std::size_t i = 0; i < 600; ++i)
    {
      auto made = cache.alloc();
      REQUIRE(made);
      item* const object = made->get();
      std::uint32_t word = 0;
      if (pattern == 1)
      {
        word = ~std::uint32_t{0};
      }
      else if (pattern == 2)
      {
        word = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(object));
      }
      std::memcpy(reinterpret_cast<unsigned char*>(object) + 4, &word, sizeof word);
      boxes.push_back(std::move(made).value());
    }
    const std::size_t third = boxes.size() / 3;
    for (std::size_t i = 0; i < third; ++i)
    {
      item* const raw = boxes[i].release();
      CHECK(cache_type::deallocate(raw).has_value());
    }
    for (std::size_t i = third; i < 2 * third; ++i)
    {
      void* const raw = boxes[i].release();
      CHECK(cache_type::deallocate_bulk(&raw, 1).has_value());
    }
    boxes.clear();
    CHECK(double_free_log::reports == 0);
    expect_sound(cache, 1);
  }
}
