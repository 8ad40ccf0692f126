// Runs N hot alloc+free pairs through the box API of one cache, for callgrind to count.
//
// Usage: budget_driver <no_lock|spin_lock|per_thread> <lone|steady> <pairs>
// per_thread is slab_cache<object, spin_lock, 4096, per_thread>: after the first allocation
// refills the thread's cache, every pair is a pop and a push on it.
// check_budget.cmake runs it under `valgrind --tool=callgrind --toggle-collect=measured_*`,
// so only the measured functions below are counted, at two values of <pairs>; the difference
// divided by the difference in pairs is the cost of one pair, free of setup and of the call.
#include <attachable/slab.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace
{

void* host_alloc(attachable::layout request) noexcept
{
  return std::aligned_alloc(request.align, request.size);
}

attachable::result<void> host_free(void* block, attachable::layout) noexcept
{
  std::free(block);
  return {};
}

// A user-provided constructor that does nothing, so that the count is the allocator's and not
// the zeroing a value-initialised aggregate would add (one compiler removes it as dead stores,
// the other does not).
struct object
{
  object() noexcept {}
  std::uint64_t words[8];
};

using per_thread_cache =
    attachable::slab_cache<object, attachable::spin_lock, 4096, attachable::per_thread>;

// A failed allocation would make the count meaningless, so it ends the run with an error.
template <class Cache>
int run_pairs(Cache& cache, unsigned long pairs) noexcept
{
  for (unsigned long i = 0; i < pairs; ++i)
  {
    auto box = cache.alloc();
    if (!box) [[unlikely]]
    {
      return 1;
    }
    (*box)->words[0] = i;
  }
  return 0;
}

} // namespace

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(host_alloc, host_free);

// Not inlined and not mangled, so that callgrind can toggle collection on their names.
extern "C" __attribute__((noinline)) int
measured_no_lock(attachable::slab_cache<object, attachable::no_lock>& cache, unsigned long pairs)
{
  return run_pairs(cache, pairs);
}

extern "C" __attribute__((noinline)) int
measured_spin_lock(attachable::slab_cache<object, attachable::spin_lock>& cache,
                   unsigned long pairs)
{
  return run_pairs(cache, pairs);
}

extern "C" __attribute__((noinline)) int measured_per_thread(per_thread_cache& cache,
                                                             unsigned long pairs)
{
  return run_pairs(cache, pairs);
}

// Runs the measured loop on a fresh cache. "lone": the pair's object is the only one, so every
// free empties the master (without caching). "steady": one other object stays live, as in a
// cache in real use.
template <class Cache, class Measured>
int run_scenario(const char* scenario, unsigned long pairs, Measured measured)
{
  // The master is created before the measured loop, so its hook call is not counted.
  auto cache = Cache::create();
  if (!cache)
  {
    return 1;
  }
  if (std::strcmp(scenario, "lone") == 0)
  {
    return measured(*cache, pairs);
  }
  if (std::strcmp(scenario, "steady") == 0)
  {
    auto resident = cache->alloc();
    return resident ? measured(*cache, pairs) : 1;
  }
  std::fprintf(stderr, "unknown scenario '%s'\n", scenario);
  return 2;
}

int main(int argc, char** argv)
{
  if (argc != 4)
  {
    std::fprintf(stderr, "usage: %s <no_lock|spin_lock|per_thread> <lone|steady> <pairs>\n",
                 argv[0]);
    return 2;
  }
  const unsigned long pairs = std::strtoul(argv[3], nullptr, 10);
  if (std::strcmp(argv[1], "no_lock") == 0)
  {
    return run_scenario<attachable::slab_cache<object, attachable::no_lock>>(argv[2], pairs,
                                                                             measured_no_lock);
  }
  if (std::strcmp(argv[1], "spin_lock") == 0)
  {
    return run_scenario<attachable::slab_cache<object, attachable::spin_lock>>(argv[2], pairs,
                                                                               measured_spin_lock);
  }
  if (std::strcmp(argv[1], "per_thread") == 0)
  {
    return run_scenario<per_thread_cache>(argv[2], pairs, measured_per_thread);
  }
  std::fprintf(stderr, "unknown lock '%s'\n", argv[1]);
  return 2;
}
