// Short thread stress tests for spin_lock caches: objects cross threads, handles come and go
// while others allocate, and several threads race to create one master. Each test ends by
// proving that every object was destroyed exactly once and every slab went back.
//
// Catch2's assertions are not thread-safe, so worker threads only count what went wrong and
// the main thread asserts after joining them.
#include "catch.hpp"
#include "instance_tracker.hpp"
#include "recording_hooks.hpp"

#include <attachable/slab.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace
{

using test_support::recording_hooks;
using test_support::tracked;

constexpr std::size_t thread_count = 4;

std::uint64_t stamp(std::uint64_t producer, std::uint64_t sequence) noexcept
{
  return (producer << 48) ^ (sequence * 0x9E37'79B9'7F4A'7C15ULL);
}

// What one thread makes and another checks: the tracker proves it is destroyed once, and the
// stamp ties its contents to the thread and sequence number that made it.
struct parcel
{
  parcel(std::uint64_t from, std::uint64_t number) noexcept
      : tracker(stamp(from, number)), producer(from), sequence(number)
  {
  }

  [[nodiscard]] bool intact() const noexcept
  {
    return tracker.alive() && tracker.payload() == stamp(producer, sequence);
  }

  tracked tracker;
  std::uint64_t producer;
  std::uint64_t sequence;
};

using parcel_cache = attachable::slab_cache<parcel, attachable::spin_lock, 4096>;
using parcel_box = parcel_cache::box;

// A plain mutex-protected queue: the hand-off between threads is not what is under test.
template <class Item>
class handoff_queue
{
public:
  void push(Item item)
  {
    const std::lock_guard<std::mutex> guard(mutex_);
    items_.push_back(std::move(item));
  }

  // Moves every queued item into `out` (cleared first).
  void take_all(std::vector<Item>& out)
  {
    out.clear();
    const std::lock_guard<std::mutex> guard(mutex_);
    while (!items_.empty())
    {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
  }

private:
  std::mutex mutex_;
  std::deque<Item> items_;
};

struct raw_slot
{
  void* slot;
  std::uint64_t producer;
  std::uint64_t sequence;
};

// Problems seen on worker threads, asserted on the main thread.
struct problems
{
  std::atomic<std::size_t> failed_allocations{0};
  std::atomic<std::size_t> wrong_contents{0};
  std::atomic<std::size_t> freed_on_own_thread{0};
  std::atomic<std::size_t> rejected_frees{0};
  std::atomic<std::size_t> inconsistent_stats{0};
  std::atomic<std::size_t> unshared_copies{0};
};

void check_stats(const parcel_cache& cache, problems& seen)
{
  const attachable::slab_stats s = cache.stats();
  if (s.hook_allocs - s.hook_frees != s.slabs || s.live_objects > s.capacity ||
      s.live_objects > s.peak_live_objects || s.empty_slabs > s.slabs)
  {
    seen.inconsistent_stats.fetch_add(1, std::memory_order_relaxed);
  }
}

// Baselines for the whole-test checks: the hooks and the instance tracker are global.
struct global_baseline
{
  global_baseline()
  {
    recording_hooks::reset();
    tracked::reset();
    outstanding = recording_hooks::counts().outstanding;
  }
  std::size_t outstanding;
};

} // namespace

TEST_CASE("boxes and raw slots made on one thread are checked and freed on another",
          "[thread][slab_cache]")
{
  const global_baseline baseline;
  constexpr std::size_t per_thread = 20000;
  problems seen;
  std::atomic<std::size_t> boxes_received{0};
  std::atomic<std::size_t> raws_received{0};
  std::atomic<std::size_t> producers_done{0};
  std::vector<handoff_queue<parcel_box>> box_queues(thread_count);
  std::vector<handoff_queue<raw_slot>> raw_queues(thread_count);

  attachable::result<parcel_cache> created = parcel_cache::create();
  REQUIRE(created.has_value());
  parcel_cache shared = std::move(*created);

  auto worker = [&](std::uint64_t self)
  {
    parcel_cache mine(shared); // each thread works on its own clone of one hierarchy
    const std::size_t next = (self + 1) % thread_count;
    std::vector<parcel_box> boxes;
    std::vector<raw_slot> raws;

    auto consume = [&]
    {
      box_queues[self].take_all(boxes);
      for (parcel_box& b : boxes)
      {
        if (!b || !b->intact())
        {
          seen.wrong_contents.fetch_add(1, std::memory_order_relaxed);
        }
        else if (b->producer == self)
        {
          seen.freed_on_own_thread.fetch_add(1, std::memory_order_relaxed);
        }
      }
      boxes_received.fetch_add(boxes.size(), std::memory_order_relaxed);
      boxes.clear(); // destroyed here, on a thread other than the one that made them
      raw_queues[self].take_all(raws);
      for (const raw_slot& r : raws)
      {
        std::uint64_t written = 0;
        std::memcpy(&written, r.slot, sizeof written);
        if (written != stamp(r.producer, r.sequence) || r.producer == self)
        {
          seen.wrong_contents.fetch_add(1, std::memory_order_relaxed);
        }
        if (!parcel_cache::deallocate(r.slot))
        {
          seen.rejected_frees.fetch_add(1, std::memory_order_relaxed);
        }
      }
      raws_received.fetch_add(raws.size(), std::memory_order_relaxed);
    };

    for (std::uint64_t sequence = 0; sequence < per_thread; ++sequence)
    {
      attachable::result<parcel_box> made = mine.emplace(self, sequence);
      if (!made)
      {
        seen.failed_allocations.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      box_queues[next].push(std::move(*made));
      if (sequence % 4 == 0)
      {
        attachable::result<void*> slot = mine.allocate();
        if (!slot)
        {
          seen.failed_allocations.fetch_add(1, std::memory_order_relaxed);
        }
        else
        {
          const std::uint64_t value = stamp(self, sequence);
          std::memcpy(*slot, &value, sizeof value);
          raw_queues[next].push(raw_slot{*slot, self, sequence});
        }
      }
      if (sequence % 64 == 0)
      {
        // Every thread copies the one shared handle at once, and drops the copy again.
        const parcel_cache copy(shared);
        if (!copy.shares_with(mine))
        {
          seen.unshared_copies.fetch_add(1, std::memory_order_relaxed);
        }
        check_stats(copy, seen);
      }
      if (sequence % 256 == 0)
      {
        mine.shrink();
      }
      consume();
    }
    producers_done.fetch_add(1, std::memory_order_release);
    while (true)
    {
      const bool all_done = producers_done.load(std::memory_order_acquire) == thread_count;
      consume();
      if (all_done)
      {
        break;
      }
      std::this_thread::yield();
    }
  };

  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < thread_count; ++t)
  {
    threads.emplace_back(worker, t);
  }
  for (std::thread& t : threads)
  {
    t.join();
  }

  CHECK(seen.failed_allocations == 0);
  CHECK(seen.wrong_contents == 0);
  CHECK(seen.freed_on_own_thread == 0);
  CHECK(seen.rejected_frees == 0);
  CHECK(seen.inconsistent_stats == 0);
  CHECK(seen.unshared_copies == 0);
  CHECK(boxes_received == thread_count * per_thread);
  CHECK(raws_received == thread_count * per_thread / 4);
  CHECK(tracked::constructions() == static_cast<long>(thread_count * per_thread));
  CHECK(tracked::live() == 0);
  CHECK(tracked::bad_destructions() == 0);

  const attachable::slab_stats s = shared.stats();
  CHECK(s.live_objects == 0);
  CHECK(s.peak_live_objects >= 1);
  CHECK(s.hook_allocs - s.hook_frees == s.slabs);
  CHECK(s.capacity ==
        parcel_cache::objects_per_master + (s.slabs - 1) * parcel_cache::objects_per_slab);
  CHECK(recording_hooks::counts().outstanding - baseline.outstanding == s.slabs);
  CHECK(recording_hooks::counts().called_under_lock == 0);

  shared = parcel_cache{};
  CHECK(recording_hooks::counts().outstanding == baseline.outstanding);
  CHECK(recording_hooks::counts().bad_requests == 0);
}

TEST_CASE("handles are copied and dropped on some threads while others allocate, and the "
          "last one out returns every slab",
          "[thread][slab_cache]")
{
  const global_baseline baseline;
  constexpr std::size_t rounds = 150;
  constexpr std::size_t batch = 300;
  problems seen;

  for (std::size_t round = 0; round < rounds; ++round)
  {
    std::optional<parcel_cache> original{std::in_place};
    // First use before the clones are made, so that every clone shares one hierarchy.
    REQUIRE(original->reserve(1).has_value());
    std::atomic<bool> stop_copying{false};
    // Two threads allocate and keep a batch (growing the hierarchy past one slab), then drop
    // their handle before their boxes; two threads copy, assign and drop handles meanwhile.
    auto allocator = [&](parcel_cache mine, std::uint64_t self)
    {
      std::vector<parcel_box> kept;
      for (std::uint64_t sequence = 0; sequence < batch; ++sequence)
      {
        attachable::result<parcel_box> made = mine.emplace(self, sequence);
        if (!made)
        {
          seen.failed_allocations.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        kept.push_back(std::move(*made));
        if (sequence % 2 == 0)
        {
          kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(kept.size() / 2));
        }
      }
      check_stats(mine, seen);
      mine = parcel_cache{}; // boxes may outlive every handle
      for (const parcel_box& b : kept)
      {
        if (!b->intact())
        {
          seen.wrong_contents.fetch_add(1, std::memory_order_relaxed);
        }
      }
    };
    auto copier = [&](parcel_cache mine)
    {
      while (!stop_copying.load(std::memory_order_acquire))
      {
        parcel_cache copy(mine);
        parcel_cache other;
        other = copy;
        if (!other.shares_with(mine))
        {
          seen.unshared_copies.fetch_add(1, std::memory_order_relaxed);
        }
        check_stats(other, seen);
        // Two cores, four threads: let the allocators run rather than spin against them.
        std::this_thread::yield();
      }
    };

    std::vector<std::thread> threads;
    threads.emplace_back(copier, *original);
    threads.emplace_back(copier, *original);
    threads.emplace_back(allocator, *original, 0);
    threads.emplace_back(allocator, *original, 1);
    original.reset(); // the first handle goes away while the others are at work
    threads[2].join();
    threads[3].join();
    stop_copying.store(true, std::memory_order_release);
    threads[0].join();
    threads[1].join();
  }

  CHECK(seen.failed_allocations == 0);
  CHECK(seen.wrong_contents == 0);
  CHECK(seen.inconsistent_stats == 0);
  CHECK(seen.unshared_copies == 0);
  CHECK(tracked::constructions() == static_cast<long>(rounds * 2 * batch));
  CHECK(tracked::live() == 0);
  CHECK(tracked::bad_destructions() == 0);
  CHECK(recording_hooks::counts().outstanding == baseline.outstanding);
  CHECK(recording_hooks::counts().called_under_lock == 0);
}

namespace
{

// A cache as a kernel would declare it: a global with no static constructor and no master
// until the first thread uses it.
constinit parcel_cache global_parcels;

} // namespace

TEST_CASE("threads racing to first use a global cache share exactly one master",
          "[thread][slab_cache]")
{
  const global_baseline baseline;
  constexpr std::size_t rounds = 60;
  constexpr std::size_t per_thread = 100;
  std::size_t extra_masters = 0;

  for (std::size_t round = 0; round < rounds; ++round)
  {
    CAPTURE(round);
    REQUIRE(global_parcels.stats().slabs == 0); // masterless again at the start of each round
    const test_support::hook_counts before = recording_hooks::counts();
    std::atomic<std::size_t> ready{0};
    std::atomic<bool> go{false};
    std::atomic<std::size_t> failures{0};
    std::vector<std::vector<parcel_box>> made(thread_count);
    std::vector<std::thread> threads;
    for (std::uint64_t t = 0; t < thread_count; ++t)
    {
      threads.emplace_back(
          [&, t]
          {
            ready.fetch_add(1, std::memory_order_acq_rel);
            while (!go.load(std::memory_order_acquire))
            {
              std::this_thread::yield();
            }
            for (std::uint64_t sequence = 0; sequence < per_thread; ++sequence)
            {
              attachable::result<parcel_box> b = global_parcels.emplace(t, sequence);
              if (!b)
              {
                failures.fetch_add(1, std::memory_order_relaxed);
                continue;
              }
              made[t].push_back(std::move(*b));
            }
          });
    }
    while (ready.load(std::memory_order_acquire) != thread_count)
    {
      std::this_thread::yield();
    }
    go.store(true, std::memory_order_release);
    for (std::thread& t : threads)
    {
      t.join();
    }

    REQUIRE(failures == 0);
    // Every object counted in the surviving hierarchy means no thread kept a master of its own.
    const attachable::slab_stats s = global_parcels.stats();
    CHECK(s.live_objects == thread_count * per_thread);
    CHECK(s.hook_allocs - s.hook_frees == s.slabs);
    const test_support::hook_counts after = recording_hooks::counts();
    CHECK(after.outstanding - baseline.outstanding == s.slabs);
    // A master created by a thread that lost the race went straight back to the free hook.
    const std::size_t returned_at_once = after.free_calls - before.free_calls;
    CHECK(after.alloc_returned - before.alloc_returned == s.slabs + returned_at_once);
    extra_masters += returned_at_once;
    for (std::size_t t = 0; t < thread_count; ++t)
    {
      for (const parcel_box& b : made[t])
      {
        CHECK((b->intact() && b->producer == t));
      }
    }
    made.clear();
    CHECK(global_parcels.stats().live_objects == 0);
    global_parcels = parcel_cache{}; // drop the global's handle, so the hierarchy goes back
    CHECK(recording_hooks::counts().outstanding == baseline.outstanding);
  }
  INFO("masters created and discarded by losing threads: " << extra_masters);
  CHECK(tracked::live() == 0);
  CHECK(tracked::bad_destructions() == 0);
  CHECK(tracked::constructions() == static_cast<long>(rounds * thread_count * per_thread));
}
