// Fault injection: one workload reaches every code path that calls a hook (first use through
// alloc, emplace, allocate, reserve and create; growth through alloc, emplace and allocate;
// reserve; a slave released when a free empties it; shrink; hierarchy destruction; a misaligned
// block handed back). Each test replays it with one hook call failing, for every call the
// workload makes, and shows that the operation that made the call reports the right error,
// that the cache works when the operation is retried, and that every slab came back.
#include "catch.hpp"
#include "recording_hooks.hpp"
#include "recording_lock.hpp"

#include <attachable/slab.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace
{

struct payload
{
  std::uint64_t words[6] = {};
};

using cache_type = attachable::slab_cache<payload, test_support::recording_lock, 4096>;
using box_type = cache_type::box;
constexpr std::size_t per_slab = cache_type::objects_per_slab;
constexpr std::size_t per_master = cache_type::objects_per_master;

using test_support::alloc_fault;
using test_support::recording_hooks;

// A step of the workload; an empty optional is success.
struct step
{
  std::string name;
  std::function<std::optional<attachable::slab_error>()> run;
};

template <class Result>
std::optional<attachable::slab_error> error_of(const Result& outcome)
{
  if (outcome)
  {
    return std::nullopt;
  }
  return outcome.error();
}

// Owns every cache and object of the workload, so that the whole hierarchy dies at the end.
struct workload
{
  cache_type by_alloc, by_emplace, by_allocate, by_reserve;
  std::optional<cache_type> created;
  std::vector<box_type> boxes;
  std::vector<void*> raw;

  std::optional<attachable::slab_error> push(attachable::result<box_type> outcome)
  {
    if (outcome)
    {
      boxes.push_back(std::move(*outcome));
    }
    return error_of(outcome);
  }

  std::optional<attachable::slab_error> push_raw(attachable::result<void*> outcome)
  {
    if (outcome)
    {
      raw.push_back(*outcome);
    }
    return error_of(outcome);
  }

  // Fills `cache` up to exactly `objects` live objects with `make`, one step per object, so a
  // failure is retried right where it happened.
  void fill(std::vector<step>& steps, const std::string& name, std::size_t objects,
            std::function<std::optional<attachable::slab_error>()> make)
  {
    for (std::size_t i = 0; i < objects; ++i)
    {
      steps.push_back({name + " #" + std::to_string(i), make});
    }
  }

  std::vector<step> steps()
  {
    std::vector<step> s;
    s.push_back({"first use through alloc", [this] { return push(by_alloc.alloc()); }});
    s.push_back({"first use through emplace", [this] {
                   return push(by_emplace.emplace(payload{{1, 2, 3, 4, 5, 6}}));
                 }});
    s.push_back(
        {"first use through allocate", [this] { return push_raw(by_allocate.allocate()); }});
    s.push_back({"first use through reserve",
                 [this] { return error_of(by_reserve.reserve(per_master + 2 * per_slab)); }});
    s.push_back({"create",
                 [this]() -> std::optional<attachable::slab_error>
                 {
                   auto outcome = cache_type::create();
                   if (outcome)
                   {
                     created.emplace(std::move(*outcome));
                   }
                   return error_of(outcome);
                 }});
    // Growth: the master is full after per_master - 1 more objects, so the next one grows.
    fill(s, "growth through alloc", per_master + 1, [this] { return push(by_alloc.alloc()); });
    fill(s, "growth through emplace", per_master,
         [this] { return push(by_emplace.emplace(payload{})); });
    fill(s, "growth through allocate", per_master,
         [this] { return push_raw(by_allocate.allocate()); });
    s.push_back({"reserve on a used cache",
                 [this] { return error_of(by_alloc.reserve(per_master + 3 * per_slab)); }});
    s.push_back({"lower the floor", [this] { return error_of(by_alloc.reserve(0)); }});
    s.push_back({"shrink",
                 [this]() -> std::optional<attachable::slab_error>
                 {
                   by_alloc.shrink();
                   return std::nullopt;
                 }});
    // Grow by_alloc to three slaves, then empty two: the second to empty goes back to the
    // free hook from inside the free.
    fill(s, "growth for the release", 2 * per_slab, [this] { return push(by_alloc.alloc()); });
    s.push_back({"slave release on free",
                 [this]() -> std::optional<attachable::slab_error>
                 {
                   for (std::size_t i = 0; i < 2 * per_slab; ++i)
                   {
                     boxes.pop_back();
                   }
                   return std::nullopt;
                 }});
    s.push_back({"free the raw slots",
                 [this]() -> std::optional<attachable::slab_error>
                 {
                   for (void* slot : raw)
                   {
                     if (auto freed = cache_type::deallocate(slot); !freed)
                     {
                       return freed.error();
                     }
                   }
                   raw.clear();
                   return std::nullopt;
                 }});
    return s;
  }
};

// Hook calls made by the steps of one name (a fill's steps share it).
struct calls_made
{
  std::size_t allocs = 0;
  std::size_t frees = 0;
};

// Runs the workload; a failing step must fail with `expected` and then succeed when retried.
// Returns: how many steps failed. Fills `per_step`, if given, with each step's hook calls.
std::size_t run_workload(std::optional<attachable::slab_error> expected,
                         std::map<std::string, calls_made>* per_step = nullptr)
{
  std::size_t failed_steps = 0;
  {
    workload w;
    for (const step& s : w.steps())
    {
      const test_support::hook_counts before = recording_hooks::counts();
      const auto outcome = s.run();
      if (per_step != nullptr)
      {
        const test_support::hook_counts after = recording_hooks::counts();
        calls_made& made = (*per_step)[s.name.substr(0, s.name.find(" #"))];
        made.allocs += after.alloc_calls - before.alloc_calls;
        made.frees += after.free_calls - before.free_calls;
      }
      if (!outcome)
      {
        continue;
      }
      ++failed_steps;
      INFO("step: " << s.name);
      REQUIRE(expected.has_value());
      CHECK(*outcome == *expected);
      CHECK_FALSE(s.run().has_value());
    }
    const test_support::hook_counts before = recording_hooks::counts();
    w = workload{};
    if (per_step != nullptr)
    {
      (*per_step)["hierarchy destruction"].frees =
          recording_hooks::counts().free_calls - before.free_calls;
    }
  }
  return failed_steps;
}

test_support::hook_counts clean_run()
{
  recording_hooks::reset();
  REQUIRE(run_workload(std::nullopt) == 0);
  return recording_hooks::counts();
}

void check_everything_came_back()
{
  const test_support::hook_counts counts = recording_hooks::counts();
  CHECK(counts.outstanding == 0);
  CHECK(counts.free_calls == counts.alloc_returned);
  CHECK(counts.bad_requests == 0);
  CHECK(counts.called_under_lock == 0);
}

} // namespace

TEST_CASE("the workload reaches every hook call site", "[fault]")
{
  recording_hooks::reset();
  std::map<std::string, calls_made> per_step;
  REQUIRE(run_workload(std::nullopt, &per_step) == 0);
  for (const char* name : {"first use through alloc", "first use through emplace",
                           "first use through allocate", "create"})
  {
    INFO(name);
    CHECK(per_step[name].allocs == 1);
  }
  CHECK(per_step["first use through reserve"].allocs == 3);
  for (const char* name : {"growth through alloc", "growth through emplace",
                           "growth through allocate", "reserve on a used cache"})
  {
    INFO(name);
    CHECK(per_step[name].allocs >= 1);
  }
  for (const char* name : {"shrink", "slave release on free", "hierarchy destruction"})
  {
    INFO(name);
    CHECK(per_step[name].frees >= 1);
  }
  const test_support::hook_counts counts = recording_hooks::counts();
  CHECK(counts.free_calls == counts.alloc_calls);
  check_everything_came_back();
}

TEST_CASE("an alloc hook that returns null at any call gives out_of_memory once", "[fault]")
{
  const std::size_t calls = clean_run().alloc_calls;
  for (std::size_t n = 1; n <= calls; ++n)
  {
    INFO("failing alloc call " << n << " of " << calls);
    recording_hooks::reset();
    recording_hooks::fail_alloc_call(n, alloc_fault::null);
    CHECK(run_workload(attachable::slab_error::out_of_memory) == 1);
    CHECK(recording_hooks::counts().alloc_calls == calls + 1);
    check_everything_came_back();
  }
}

TEST_CASE("an alloc hook that returns misaligned memory at any call gives alignment_mismatch "
          "and the block is handed back",
          "[fault]")
{
  const std::size_t calls = clean_run().alloc_calls;
  for (std::size_t n = 1; n <= calls; ++n)
  {
    INFO("misaligning alloc call " << n << " of " << calls);
    recording_hooks::reset();
    recording_hooks::fail_alloc_call(n, alloc_fault::misaligned);
    CHECK(run_workload(attachable::slab_error::alignment_mismatch) == 1);
    CHECK(recording_hooks::counts().alloc_returned == calls + 1);
    check_everything_came_back();
  }
}

TEST_CASE("a free hook that fails at any call is counted and nothing leaks", "[fault]")
{
  const std::size_t calls = clean_run().free_calls;
  for (std::size_t n = 1; n <= calls; ++n)
  {
    INFO("failing free call " << n << " of " << calls);
    recording_hooks::reset();
    recording_hooks::fail_free_call(n);
    CHECK(run_workload(std::nullopt) == 0);
    CHECK(recording_hooks::counts().free_failed == 1);
    check_everything_came_back();
  }
}

TEST_CASE("a failing hand-back of a misaligned block counts two hook failures", "[fault]")
{
  recording_hooks::reset();
  {
    auto cache = cache_type::create();
    REQUIRE(cache);
    std::vector<box_type> boxes;
    for (std::size_t i = 0; i < per_master; ++i)
    {
      auto box = cache->alloc();
      REQUIRE(box);
      boxes.push_back(std::move(*box));
    }
    const std::size_t failures_before = cache->stats().hook_failures;
    recording_hooks::fail_alloc_call(1, alloc_fault::misaligned);
    recording_hooks::fail_free_call(1);
    auto grown = cache->alloc();
    REQUIRE_FALSE(grown);
    CHECK(grown.error() == attachable::slab_error::alignment_mismatch);
    CHECK(cache->stats().hook_failures == failures_before + 2);
    CHECK(recording_hooks::counts().free_failed == 1);
    auto retried = cache->alloc();
    CHECK(retried);
  }
  check_everything_came_back();
}

TEST_CASE("a free hook failure while the cache lives shows in its stats", "[fault]")
{
  recording_hooks::reset();
  {
    cache_type cache;
    REQUIRE(cache.reserve(per_master + per_slab));
    REQUIRE(cache.reserve(0));
    recording_hooks::fail_free_call(1);
    CHECK(cache.shrink() == 1);
    CHECK(cache.stats().hook_failures == 1);
    CHECK(cache.stats().slabs == 1);
    auto box = cache.alloc();
    CHECK(box);
  }
  check_everything_came_back();
}
