// The registry under concurrent creation and teardown: four threads make and drop named and
// unnamed caches while a fifth lists them without pause. Whenever the workers stand still, the
// registry holds exactly their live hierarchies, with their names and counters; a hierarchy
// leaves it when it goes back, whichever thread drops it last.
//
// Catch2's assertions are not thread-safe, so other threads only count what went wrong and the
// main thread asserts.
#include "catch.hpp"
#include "hook_balance.hpp"

#include <attachable/registry.hpp>
#include <attachable/slab.hpp>

#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace
{

constexpr std::size_t worker_count = 4;
constexpr std::size_t caches_per_worker = 4;
constexpr std::size_t rounds = 40;

// Object sizes no other cache of this program uses, so unnamed caches can be told apart.
struct named_item
{
  std::uint64_t words[5] = {};
};
struct unnamed_item
{
  unsigned char bytes[88] = {};
};
using named_cache = attachable::slab_cache<named_item, attachable::spin_lock, 1024>;
using unnamed_cache = attachable::slab_cache<unnamed_item, attachable::spin_lock, 1024>;

// String literals, so the registry can show them while the caches live.
constexpr const char* names[worker_count][caches_per_worker] = {
    {"worker0_a", "worker0_b", "worker0_c", "worker0_d"},
    {"worker1_a", "worker1_b", "worker1_c", "worker1_d"},
    {"worker2_a", "worker2_b", "worker2_c", "worker2_d"},
    {"worker3_a", "worker3_b", "worker3_c", "worker3_d"},
};
constexpr const char* sentinel_name = "sentinel";

bool is_worker_name(const char* name)
{
  return std::strncmp(name, "worker", 6) == 0;
}

std::uint64_t mix(std::uint64_t value) noexcept
{
  value += 0x9E37'79B9'7F4A'7C15ULL;
  value = (value ^ (value >> 30)) * 0xBF58'476D'1CE4'E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D0'49BB'1331'11EBULL;
  return value ^ (value >> 31);
}

// What one worker holds in a round: caches (some already dropped while their boxes live) and
// what the registry should say about them.
struct worker_state
{
  std::vector<named_cache> named;
  std::vector<unnamed_cache> unnamed;
  std::vector<named_cache::box> named_boxes;
  std::vector<unnamed_cache::box> unnamed_boxes;
  std::map<std::string, std::size_t> expected_named; // name -> live objects
  std::size_t expected_unnamed = 0;                  // hierarchies
  std::size_t expected_unnamed_live = 0;
  std::size_t failures = 0;
};

void build(worker_state& w, std::size_t worker, std::uint64_t& random)
{
  for (std::size_t k = 0; k < caches_per_worker; ++k)
  {
    const std::size_t objects = 1 + mix(++random) % 60;
    const bool keep_handle = mix(++random) % 3 != 0;
    if (mix(++random) % 2 == 0)
    {
      named_cache cache(names[worker][k]);
      for (std::size_t i = 0; i < objects; ++i)
      {
        auto box = cache.alloc();
        box ? w.named_boxes.push_back(std::move(*box)) : void(++w.failures);
      }
      w.expected_named[names[worker][k]] = objects;
      if (keep_handle)
      {
        w.named.push_back(std::move(cache));
      }
    }
    else
    {
      unnamed_cache cache;
      for (std::size_t i = 0; i < objects; ++i)
      {
        auto box = cache.alloc();
        box ? w.unnamed_boxes.push_back(std::move(*box)) : void(++w.failures);
      }
      ++w.expected_unnamed;
      w.expected_unnamed_live += objects;
      if (keep_handle)
      {
        w.unnamed.push_back(std::move(cache));
      }
    }
  }
}

// Drops everything in an order drawn from `random`: handles first or boxes first.
void tear_down(worker_state& w, std::uint64_t& random)
{
  if (mix(++random) % 2 == 0)
  {
    w.named.clear();
    w.unnamed_boxes.clear();
    w.named_boxes.clear();
    w.unnamed.clear();
  }
  else
  {
    w.named_boxes.clear();
    w.unnamed.clear();
    w.named.clear();
    w.unnamed_boxes.clear();
  }
  w.expected_named.clear();
  w.expected_unnamed = 0;
  w.expected_unnamed_live = 0;
}

// One pass over the registry as a monitoring thread would make it.
// Returns: how many things were wrong with what it saw.
std::size_t check_one_listing(std::vector<attachable::cache_info>& seen)
{
  seen.clear();
  attachable::for_each_cache([&seen](const attachable::cache_info& info) { seen.push_back(info); });
  std::size_t wrong = 0;
  std::size_t sentinels = 0;
  for (const attachable::cache_info& info : seen)
  {
    const attachable::slab_stats& s = info.stats;
    wrong += s.hook_allocs - s.hook_frees == s.slabs ? 0u : 1u;
    wrong += s.live_objects <= s.capacity && s.slabs >= 1 ? 0u : 1u;
    if (std::strcmp(info.name, sentinel_name) == 0)
    {
      ++sentinels;
    }
    else if (is_worker_name(info.name))
    {
      wrong += info.object_size == sizeof(named_item) ? 0u : 1u;
    }
    else if (std::strcmp(info.name, "(unnamed)") == 0)
    {
      wrong += info.object_size == sizeof(unnamed_item) ? 0u : 1u;
    }
    else
    {
      ++wrong;
    }
  }
  wrong += sentinels == 1 ? 0u : 1u;
  return wrong;
}

} // namespace

TEST_CASE("the registry holds exactly the live hierarchies while threads create and drop caches",
          "[registry]")
{
  const test_support::hook_balance balance;
  named_cache sentinel(sentinel_name);
  auto sentinel_box = sentinel.alloc();
  REQUIRE(sentinel_box.has_value());

  std::vector<worker_state> workers(worker_count);
  std::barrier<> phase(static_cast<std::ptrdiff_t>(worker_count + 1));
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> reader_wrong{0};
  std::atomic<std::size_t> reader_passes{0};

  std::thread reader(
      [&]
      {
        std::vector<attachable::cache_info> seen;
        seen.reserve(256);
        std::vector<char> text(4096);
        while (!stop.load(std::memory_order_relaxed))
        {
          reader_wrong += check_one_listing(seen);
          const std::size_t needed = attachable::format_slabinfo(text.data(), text.size());
          reader_wrong += std::strlen(text.data()) <= needed ? 0u : 1u;
          ++reader_passes;
        }
      });

  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < worker_count; ++t)
  {
    threads.emplace_back(
        [&, t]
        {
          std::uint64_t random = mix(0x5AB1'0011 + t);
          for (std::size_t round = 0; round < rounds; ++round)
          {
            build(workers[t], t, random);
            phase.arrive_and_wait(); // the main thread checks the registry
            phase.arrive_and_wait();
            tear_down(workers[t], random);
          }
        });
  }

  std::size_t rounds_checked = 0;
  for (std::size_t round = 0; round < rounds; ++round)
  {
    phase.arrive_and_wait();
    std::map<std::string, std::size_t> expected_named;
    std::size_t expected_unnamed = 0;
    std::size_t expected_unnamed_live = 0;
    for (const worker_state& w : workers)
    {
      expected_named.insert(w.expected_named.begin(), w.expected_named.end());
      expected_unnamed += w.expected_unnamed;
      expected_unnamed_live += w.expected_unnamed_live;
    }
    std::map<std::string, std::size_t> listed_named;
    std::size_t listed_duplicates = 0;
    std::size_t listed_unnamed = 0;
    std::size_t listed_unnamed_live = 0;
    attachable::for_each_cache(
        [&](const attachable::cache_info& info)
        {
          if (is_worker_name(info.name))
          {
            listed_duplicates +=
                listed_named.emplace(info.name, info.stats.live_objects).second ? 0u : 1u;
          }
          else if (info.object_size == sizeof(unnamed_item))
          {
            ++listed_unnamed;
            listed_unnamed_live += info.stats.live_objects;
          }
        });
    phase.arrive_and_wait();

    INFO("round " << round);
    CHECK(listed_duplicates == 0);
    CHECK(listed_named == expected_named);
    CHECK(listed_unnamed == expected_unnamed);
    CHECK(listed_unnamed_live == expected_unnamed_live);
    ++rounds_checked;
  }
  for (std::thread& thread : threads)
  {
    thread.join();
  }
  stop = true;
  reader.join();

  CHECK(rounds_checked == rounds);
  CHECK(reader_wrong == 0);
  CHECK(reader_passes > 0);
  std::size_t failures = 0;
  for (const worker_state& w : workers)
  {
    failures += w.failures;
  }
  CHECK(failures == 0);

  // Every worker hierarchy went back and left the registry; the sentinel is still there.
  std::size_t left_behind = 0;
  std::size_t sentinels = 0;
  attachable::for_each_cache(
      [&](const attachable::cache_info& info)
      {
        left_behind +=
            is_worker_name(info.name) || info.object_size == sizeof(unnamed_item) ? 1u : 0u;
        sentinels += std::strcmp(info.name, sentinel_name) == 0 ? 1u : 0u;
      });
  CHECK(left_behind == 0);
  CHECK(sentinels == 1);
}
