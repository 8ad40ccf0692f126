// ATTACHABLE_REPORT_LEAK is redefined here, before any attachable header, to record its calls.
// This file is a program of its own without the recording hooks (see CMakeLists.txt): every
// translation unit of a program must see the same macro, and its caches take their slabs from
// a header-only recording source.
#include <cstddef>
#include <string>

namespace leak_probe
{

inline int calls = 0;
inline std::string last_name;
inline std::size_t last_live = 0;

inline void report(const char* name, std::size_t live) noexcept
{
  ++calls;
  last_name = name;
  last_live = live;
}

} // namespace leak_probe

#define ATTACHABLE_REPORT_LEAK(name, live_objects) ::leak_probe::report(name, live_objects)

#include "catch.hpp"
#include "recording_lock.hpp"
#include "recording_source.hpp"

#include <attachable/slab.hpp>

#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

namespace
{

using attachable::slabs_from;
using test_support::recording_source;
using test_support::source_balance;

using memory = recording_source<struct leak_tag, 1024>;

struct job
{
  std::uint32_t id = 0;
  std::uint32_t state = 0;
};
using job_cache = attachable::slab_cache<job, attachable::spin_lock, 1024, slabs_from<memory>>;

// Starts each test with no report seen.
struct leak_calls
{
  leak_calls() noexcept
  {
    leak_probe::calls = 0;
    leak_probe::last_name.clear();
    leak_probe::last_live = 0;
  }
};

struct two_cpus
{
  static constexpr std::size_t count = 2;
  static std::size_t current() noexcept { return 0; }
  struct pin
  {
  };
};

} // namespace

TEST_CASE("dropping the last handle while objects live reports once, with the name and count",
          "[leak]")
{
  const source_balance<memory> balance;
  const leak_calls reset;
  std::vector<job_cache::box> boxes;
  {
    job_cache jobs("jobs");
    for (std::uint32_t i = 0; i < 150; ++i)
    {
      auto box = jobs.emplace(i, 0u);
      REQUIRE(box.has_value());
      boxes.push_back(std::move(*box));
    }
    boxes.resize(120);
    CHECK(leak_probe::calls == 0);
  }
  CHECK(leak_probe::calls == 1);
  CHECK(leak_probe::last_name == "jobs");
  CHECK(leak_probe::last_live == 120);

  // The boxes still work, and the hierarchy goes back once the last one is freed, unreported.
  for (std::size_t i = 0; i < boxes.size(); ++i)
  {
    CHECK(boxes[i]->id == i);
  }
  CHECK(memory::counts().outstanding >= 1);
  boxes.clear();
  CHECK(memory::counts().outstanding == 0);
  CHECK(leak_probe::calls == 1);
}

TEST_CASE("a cache whose objects are all freed before its last handle reports nothing", "[leak]")
{
  const source_balance<memory> balance;
  const leak_calls reset;
  {
    job_cache jobs("tidy");
    std::vector<job_cache::box> boxes;
    for (std::uint32_t i = 0; i < 300; ++i)
    {
      auto box = jobs.emplace(i, 1u);
      REQUIRE(box.has_value());
      boxes.push_back(std::move(*box));
    }
    void* raw = *jobs.allocate();
    REQUIRE(job_cache::deallocate(raw).has_value());
    boxes.clear();
  }
  CHECK(leak_probe::calls == 0);
  CHECK(memory::counts().outstanding == 0);
}

TEST_CASE("a cache that never allocated reports nothing, used or not", "[leak]")
{
  const source_balance<memory> balance;
  const leak_calls reset;
  {
    job_cache unused("unused");
    auto made = job_cache::create("created");
    REQUIRE(made.has_value());
  }
  CHECK(leak_probe::calls == 0);
}

TEST_CASE("only the last of several copies reports, whichever it is", "[leak]")
{
  const source_balance<memory> balance;
  const leak_calls reset;
  std::optional<job_cache> original(std::in_place, "copied");
  auto box = original->alloc();
  REQUIRE(box.has_value());
  std::optional<job_cache> copy(std::in_place, *original);
  std::optional<job_cache> another(std::in_place, *copy);
  job_cache moved_from = *another;
  job_cache moved_to = std::move(moved_from);

  original.reset();
  copy.reset();
  {
    const job_cache empty = std::move(moved_from); // a moved-from handle holds nothing
  }
  another.reset();
  CHECK(leak_probe::calls == 0);
  {
    const job_cache last = std::move(moved_to);
  }
  CHECK(leak_probe::calls == 1);
  CHECK(leak_probe::last_name == "copied");
  CHECK(leak_probe::last_live == 1);
  box->reset();
  CHECK(leak_probe::calls == 1);
}

TEST_CASE("assigning over the last handle of a hierarchy reports that hierarchy", "[leak]")
{
  const source_balance<memory> balance;
  const leak_calls reset;
  job_cache first("first");
  job_cache second("second");
  auto kept = first.alloc();
  auto other = second.alloc();
  REQUIRE(kept.has_value());
  REQUIRE(other.has_value());
  first = second;
  CHECK(leak_probe::calls == 1);
  CHECK(leak_probe::last_name == "first");
  CHECK(leak_probe::last_live == 1);
  first = job_cache("third");
  second = job_cache("fourth");
  CHECK(leak_probe::calls == 2);
  CHECK(leak_probe::last_name == "second");
}

TEST_CASE("raw slots and released objects count as live in the report; an unnamed cache says so",
          "[leak]")
{
  const source_balance<memory> balance;
  const leak_calls reset;
  void* raw = nullptr;
  job* released = nullptr;
  {
    job_cache jobs;
    auto slot = jobs.allocate();
    REQUIRE(slot.has_value());
    raw = *slot;
    auto box = jobs.emplace(7u, 7u);
    REQUIRE(box.has_value());
    released = box->release();
    auto dropped = jobs.alloc();
    REQUIRE(dropped.has_value());
  }
  CHECK(leak_probe::calls == 1);
  CHECK(leak_probe::last_name == "(unnamed)");
  CHECK(leak_probe::last_live == 2);

  CHECK(released->id == 7);
  auto adopted = job_cache::box::from_raw(released);
  REQUIRE(adopted.has_value());
  adopted->reset();
  REQUIRE(job_cache::deallocate(raw).has_value());
  CHECK(memory::counts().outstanding == 0);
  CHECK(leak_probe::calls == 1);
}

TEST_CASE("objects parked in per-thread or per-CPU caches are not reported as leaks", "[leak]")
{
  const source_balance<memory> balance;
  const leak_calls reset;
  {
    attachable::slab_cache<job, attachable::spin_lock, 1024, attachable::per_thread,
                           slabs_from<memory>>
        jobs("per thread");
    std::vector<decltype(jobs)::box> boxes;
    for (std::uint32_t i = 0; i < 20; ++i)
    {
      auto box = jobs.emplace(i, 0u);
      REQUIRE(box.has_value());
      boxes.push_back(std::move(*box));
    }
    boxes.clear(); // parked in this thread's cache, not live
    REQUIRE(jobs.stats().cached_objects > 0);
  }
  {
    attachable::slab_cache<job, attachable::spin_lock, 1024, attachable::per_cpu<two_cpus>,
                           slabs_from<memory>>
        jobs("per cpu");
    std::vector<decltype(jobs)::box> boxes;
    for (std::uint32_t i = 0; i < 20; ++i)
    {
      auto box = jobs.emplace(i, 0u);
      REQUIRE(box.has_value());
      boxes.push_back(std::move(*box));
    }
    boxes.clear();
    REQUIRE(jobs.stats().cached_objects > 0);
  }
  CHECK(leak_probe::calls == 0);

  // With one object really out, the per-thread cache reports exactly that one.
  std::optional<attachable::slab_cache<job, attachable::spin_lock, 1024, attachable::per_thread,
                                       slabs_from<memory>>::box>
      survivor;
  {
    attachable::slab_cache<job, attachable::spin_lock, 1024, attachable::per_thread,
                           slabs_from<memory>>
        jobs("per thread, one out");
    auto box = jobs.alloc();
    auto parked = jobs.alloc();
    REQUIRE(box.has_value());
    REQUIRE(parked.has_value());
    survivor.emplace(std::move(*box));
  }
  CHECK(leak_probe::calls == 1);
  CHECK(leak_probe::last_name == "per thread, one out");
  CHECK(leak_probe::last_live == 1);
  // Freed with no handle left, the last object goes straight to its slab, not into this
  // thread's cache, and the hierarchy goes back at once.
  survivor.reset();
  CHECK(memory::counts().outstanding == 0);
}

TEST_CASE("a last handle dropped on another thread reports there, once", "[leak]")
{
  const source_balance<memory> balance;
  const leak_calls reset;
  std::optional<job_cache> jobs(std::in_place, "handed over");
  auto box = jobs->alloc();
  REQUIRE(box.has_value());
  std::thread other([handle = std::move(*jobs)]() mutable
                    { job_cache dropped = std::move(handle); });
  other.join();
  jobs.reset(); // moved from: holds nothing
  CHECK(leak_probe::calls == 1);
  CHECK(leak_probe::last_name == "handed over");
  CHECK(leak_probe::last_live == 1);
}
