// A short thread stress test for per_thread and per_cpu caching: eight worker slots, each
// running a succession of threads that mix every operation (alloc, emplace, raw and bulk
// calls, frees of other threads' objects taken from a shared queue, handle copies and drops,
// reserve, shrink, drain, stats, verify), then exit holding parked objects while a new thread
// takes the slot. Every object carries its id, checked before it is freed; stats are checked
// while the threads run; at the end every slab must be back with the hooks.
//
// Catch2's assertions are not thread-safe, so the threads only count what went wrong and the
// main thread asserts. ATTACHABLE_STRESS_OPS=<n> changes the operations per thread.
#include "catch.hpp"
#include "hook_balance.hpp"
#include "recording_hooks.hpp"
#include "recording_lock.hpp"

#include <attachable/slab.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

using attachable::per_cpu;
using attachable::per_thread;
using attachable::slab_cache;
using attachable::slab_error;
using attachable::slab_stats;
using attachable::spin_lock;
using test_support::hook_balance;
using test_support::recording_lock;

namespace
{

constexpr std::size_t slot_count = 8;
constexpr std::size_t generations = 3;
constexpr std::size_t default_ops = 2500;

std::size_t ops_per_thread()
{
  const char* text = std::getenv("ATTACHABLE_STRESS_OPS");
  if (text == nullptr || *text == '\0')
  {
    return default_ops;
  }
  const unsigned long long value = std::strtoull(text, nullptr, 0);
  return value != 0 ? static_cast<std::size_t>(value) : default_ops;
}

std::uint64_t mix(std::uint64_t value) noexcept
{
  value += 0x9E37'79B9'7F4A'7C15ULL;
  value = (value ^ (value >> 30)) * 0xBF58'476D'1CE4'E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D0'49BB'1331'11EBULL;
  return value ^ (value >> 31);
}

// Four CPUs; each thread moves between them at will (a migration), and pin holds the CPU's
// mutex, as disabling preemption keeps other threads off it.
struct stress_cpus
{
  static constexpr std::size_t count = 4;
  static inline thread_local std::size_t cpu_of_thread = 0;
  static inline std::mutex cpu_mutex[count];
  [[nodiscard]] static std::size_t current() noexcept { return cpu_of_thread; }
  class pin
  {
  public:
    pin() noexcept : cpu_(cpu_of_thread) { cpu_mutex[cpu_].lock(); }
    pin(const pin&) = delete;
    pin& operator=(const pin&) = delete;
    ~pin() { cpu_mutex[cpu_].unlock(); }

  private:
    std::size_t cpu_;
  };
};

// Every byte but the id is derived from the id, so a slot shared by two owners, or a cache's
// link or tag written into a live object, shows up.
struct payload
{
  payload() noexcept = default;
  explicit payload(std::uint64_t number) noexcept : id(number), check(mix(number)), tail(~number) {}

  [[nodiscard]] bool holds(std::uint64_t number) const noexcept
  {
    return id == number && check == mix(number) && tail == ~number;
  }
  [[nodiscard]] bool blank() const noexcept { return id == 0 && check == 0 && tail == 0; }

  std::uint64_t id = 0;
  std::uint64_t check = 0;
  std::uint64_t tail = 0;
};

struct problems
{
  std::atomic<std::size_t> failed_allocations{0};
  std::atomic<std::size_t> wrong_contents{0};
  std::atomic<std::size_t> rejected_frees{0};
  std::atomic<std::size_t> wrong_bulk_results{0};
  std::atomic<std::size_t> inconsistent_stats{0};
  std::atomic<std::size_t> failed_verifies{0};
  std::atomic<std::size_t> unshared_handles{0};
  std::atomic<std::size_t> operations{0};
};

template <class Cache, bool PerCpu>
class stress_run
{
public:
  using box = typename Cache::box;

  explicit stress_run(std::size_t ops) : ops_(ops) {}

  void run()
  {
    root_.emplace();
    REQUIRE(root_->reserve(64).has_value());
    for (std::size_t generation = 0; generation < generations; ++generation)
    {
      std::array<std::thread, slot_count> threads;
      for (std::size_t slot = 0; slot < slot_count; ++slot)
      {
        const std::uint64_t seed = mix(generation * slot_count + slot + 1);
        threads[slot] = std::thread([this, seed] { work(seed); });
      }
      // The threads of this generation exit (with whatever they parked) before the next one
      // starts; the main thread checks the hierarchy in between.
      for (std::thread& thread : threads)
      {
        thread.join();
      }
      check_quiet();
    }
    finish();
  }

  problems seen;

private:
  struct raw_object
  {
    payload* object;
    std::uint64_t id;
  };
  struct parcel
  {
    box owned;
    raw_object raw{nullptr, 0};
  };

  std::uint64_t next_id() noexcept { return ids_.fetch_add(1, std::memory_order_relaxed); }

  void bad(std::atomic<std::size_t>& counter) noexcept
  {
    counter.fetch_add(1, std::memory_order_relaxed);
  }

  bool check_object(const payload* object, std::uint64_t id)
  {
    if (object == nullptr || !object->holds(id))
    {
      bad(seen.wrong_contents);
      return false;
    }
    return true;
  }

  void free_raw(const raw_object& raw)
  {
    check_object(raw.object, raw.id);
    raw.object->~payload();
    if (!Cache::deallocate(raw.object))
    {
      bad(seen.rejected_frees);
    }
  }

  void free_parcel(parcel& p)
  {
    if (p.owned)
    {
      check_object(p.owned.get(), p.owned->id);
      p.owned.reset();
    }
    else if (p.raw.object != nullptr)
    {
      free_raw(p.raw);
    }
  }

  void hand_over(parcel p)
  {
    const std::lock_guard<std::mutex> guard(queue_mutex_);
    queue_.push_back(std::move(p));
  }

  std::optional<parcel> take_over()
  {
    const std::lock_guard<std::mutex> guard(queue_mutex_);
    if (queue_.empty())
    {
      return std::nullopt;
    }
    parcel p = std::move(queue_.front());
    queue_.pop_front();
    return p;
  }

  void check_stats(const Cache& handle)
  {
    const slab_stats s = handle.stats();
    if (s.hook_allocs - s.hook_frees != s.slabs || s.live_objects + s.cached_objects > s.capacity ||
        s.peak_live_objects < s.live_objects || s.empty_slabs > s.slabs ||
        (s.slabs != 0 &&
         s.capacity != Cache::objects_per_master + (s.slabs - 1) * Cache::objects_per_slab))
    {
      bad(seen.inconsistent_stats);
    }
  }

  void work(std::uint64_t seed)
  {
    std::uint64_t state = seed;
    const auto roll = [&state](std::uint64_t bound) { return mix(state++) % bound; };
    stress_cpus::cpu_of_thread = static_cast<std::size_t>(roll(stress_cpus::count));
    Cache handle = *root_;
    std::vector<box> boxes;
    std::vector<raw_object> raws;
    const std::size_t ops = ops_ / 2 + static_cast<std::size_t>(roll(ops_));
    for (std::size_t op = 0; op < ops; ++op)
    {
      const std::uint64_t choice = roll(100);
      if (choice < 14) // alloc, then write the id
      {
        auto made = handle.alloc();
        if (!made)
        {
          bad(seen.failed_allocations);
          continue;
        }
        if (!(*made)->blank())
        {
          bad(seen.wrong_contents); // alloc value-initialises
        }
        const std::uint64_t id = next_id();
        **made = payload(id);
        boxes.push_back(std::move(made).value());
      }
      else if (choice < 28) // emplace
      {
        auto made = handle.emplace(next_id());
        if (!made)
        {
          bad(seen.failed_allocations);
          continue;
        }
        boxes.push_back(std::move(made).value());
      }
      else if (choice < 34) // raw allocate
      {
        auto slot = handle.allocate();
        if (!slot)
        {
          bad(seen.failed_allocations);
          continue;
        }
        const std::uint64_t id = next_id();
        raws.push_back({::new (*slot) payload(id), id});
      }
      else if (choice < 38) // allocate_bulk
      {
        void* slots[16];
        const std::size_t want = 1 + static_cast<std::size_t>(roll(16));
        const std::size_t got = handle.allocate_bulk(slots, want);
        if (got != want)
        {
          bad(seen.wrong_bulk_results);
        }
        for (std::size_t i = 0; i < got; ++i)
        {
          const std::uint64_t id = next_id();
          raws.push_back({::new (slots[i]) payload(id), id});
        }
      }
      else if (choice < 52) // free one of ours
      {
        if (!boxes.empty())
        {
          const std::size_t at = static_cast<std::size_t>(roll(boxes.size()));
          check_object(boxes[at].get(), boxes[at]->id);
          boxes[at] = std::move(boxes.back());
          boxes.pop_back();
        }
        else if (!raws.empty())
        {
          free_raw(raws.back());
          raws.pop_back();
        }
      }
      else if (choice < 56) // deallocate_bulk, sometimes with a bad pointer in the middle
      {
        void* batch[17];
        std::size_t n = 0;
        const bool with_bad = roll(4) == 0;
        while (n < 12 && !raws.empty())
        {
          check_object(raws.back().object, raws.back().id);
          raws.back().object->~payload();
          batch[n++] = raws.back().object;
          raws.pop_back();
          if (with_bad && n == 3)
          {
            batch[n++] = nullptr;
          }
        }
        const attachable::result<void> outcome = Cache::deallocate_bulk(batch, n);
        const bool bad_inside = with_bad && n > 3;
        if (bad_inside ? (outcome || outcome.error() != slab_error::invalid_pointer) : !outcome)
        {
          bad(seen.wrong_bulk_results);
        }
      }
      else if (choice < 66) // hand one of ours to any thread
      {
        if (!boxes.empty() && roll(2) == 0)
        {
          hand_over(parcel{std::move(boxes.back()), {}});
          boxes.pop_back();
        }
        else if (!raws.empty())
        {
          hand_over(parcel{box{}, raws.back()});
          raws.pop_back();
        }
      }
      else if (choice < 78) // free what another thread handed over
      {
        for (int i = 0; i < 4; ++i)
        {
          std::optional<parcel> p = take_over();
          if (!p)
          {
            break;
          }
          free_parcel(*p);
        }
      }
      else if (choice < 81) // release a box and adopt it again
      {
        if (!boxes.empty())
        {
          payload* const object = boxes.back().release();
          boxes.pop_back();
          auto adopted = Cache::box::from_raw(object);
          if (!adopted)
          {
            bad(seen.rejected_frees);
            continue;
          }
          check_object(adopted->get(), object->id);
          boxes.push_back(std::move(adopted).value());
        }
      }
      else if (choice < 85) // drop this thread's handle and take another copy
      {
        if (roll(2) == 0)
        {
          handle = Cache{};
          handle = *root_;
        }
        else
        {
          Cache copy(*root_);
          handle = std::move(copy);
        }
        if (!handle.shares_with(*root_))
        {
          bad(seen.unshared_handles);
        }
      }
      else if (choice < 87) // migrate to another CPU (per_cpu), nothing for per_thread
      {
        stress_cpus::cpu_of_thread = static_cast<std::size_t>(roll(stress_cpus::count));
      }
      else if (choice < 89)
      {
        if (!handle.reserve(static_cast<std::size_t>(roll(3 * Cache::objects_per_slab))))
        {
          bad(seen.failed_allocations);
        }
      }
      else if (choice < 91)
      {
        (void)handle.shrink();
      }
      else if (choice < 94)
      {
        (void)handle.drain();
      }
      else if (choice < 98)
      {
        check_stats(handle);
      }
      else
      {
        if (!handle.verify())
        {
          bad(seen.failed_verifies);
        }
      }
      seen.operations.fetch_add(1, std::memory_order_relaxed);
    }
    // Exit with parked objects: some of ours go to the queue, the rest are freed here, and the
    // handle goes with the thread.
    for (std::size_t i = 0; i < boxes.size(); i += 2)
    {
      hand_over(parcel{std::move(boxes[i]), {}});
    }
    for (const raw_object& raw : raws)
    {
      hand_over(parcel{box{}, raw});
    }
  }

  // Between generations only the main thread runs: the counts are exact.
  void check_quiet()
  {
    std::size_t queued = 0;
    {
      const std::lock_guard<std::mutex> guard(queue_mutex_);
      queued = queue_.size();
    }
    const slab_stats s = root_->stats();
    CHECK(root_->verify().has_value());
    CHECK(s.live_objects == queued);
    CHECK(s.hook_allocs - s.hook_frees == s.slabs);
    if constexpr (!PerCpu)
    {
      CHECK(s.cached_objects == 0); // every thread that exited gave its cache back
    }
  }

  void finish()
  {
    // The main thread frees what is left, on CPU 0, then the last handle goes.
    while (std::optional<parcel> p = take_over())
    {
      free_parcel(*p);
    }
    const slab_stats s = root_->stats();
    CHECK(s.live_objects == 0);
    CHECK(root_->verify().has_value());
    root_.reset();
  }

  std::size_t ops_;
  std::optional<Cache> root_;
  std::atomic<std::uint64_t> ids_{1};
  std::mutex queue_mutex_;
  std::deque<parcel> queue_;
};

template <class Cache, bool PerCpu>
void run_stress()
{
  hook_balance balance{PerCpu ? 2u : 1u};
  const std::size_t ops = ops_per_thread();
  CAPTURE(ops, slot_count, generations);
  stress_run<Cache, PerCpu> run(ops);
  run.run();
  CHECK(run.seen.operations >= slot_count * generations * (ops / 2));
  CHECK(run.seen.failed_allocations == 0);
  CHECK(run.seen.wrong_contents == 0);
  CHECK(run.seen.rejected_frees == 0);
  CHECK(run.seen.wrong_bulk_results == 0);
  CHECK(run.seen.inconsistent_stats == 0);
  CHECK(run.seen.failed_verifies == 0);
  CHECK(run.seen.unshared_handles == 0);
  CHECK(balance.outstanding() == 0);
}

} // namespace

TEST_CASE("eight threads mixing every operation on a per_thread cache keep every object intact "
          "and return every slab",
          "[caching][stress][thread]")
{
  run_stress<slab_cache<payload, spin_lock, 4096, per_thread>, false>();
}

TEST_CASE("eight threads mixing every operation on a per_cpu cache keep every object intact and "
          "return every slab",
          "[caching][stress][thread]")
{
  run_stress<slab_cache<payload, spin_lock, 4096, per_cpu<stress_cpus>>, true>();
}

TEST_CASE("the per_thread stress run under a recording lock pairs and nests every lock as "
          "documented",
          "[caching][stress][thread]")
{
  run_stress<slab_cache<payload, recording_lock, 1024, per_thread>, false>();
}

TEST_CASE("the per_cpu stress run under a recording lock pairs and nests every lock as "
          "documented",
          "[caching][stress][thread]")
{
  run_stress<slab_cache<payload, recording_lock, 1024, per_cpu<stress_cpus>>, true>();
}
