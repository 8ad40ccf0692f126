// Runs N hot alloc+free pairs through the box API of one cache, for callgrind to count.
//
// Usage: budget_driver <no_lock|spin_lock> <pairs>
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

struct object
{
  std::uint64_t words[8];
};

// A failed allocation would make the count meaningless, so it ends the run with an error.
template <class Lock>
int run_pairs(attachable::slab_cache<object, Lock>& cache, unsigned long pairs) noexcept
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

int main(int argc, char** argv)
{
  if (argc != 3)
  {
    std::fprintf(stderr, "usage: %s <no_lock|spin_lock> <pairs>\n", argv[0]);
    return 2;
  }
  const unsigned long pairs = std::strtoul(argv[2], nullptr, 10);
  // The master is created before the measured loop, so its hook call is not counted.
  if (std::strcmp(argv[1], "no_lock") == 0)
  {
    auto cache = attachable::slab_cache<object, attachable::no_lock>::create();
    return cache ? measured_no_lock(*cache, pairs) : 1;
  }
  if (std::strcmp(argv[1], "spin_lock") == 0)
  {
    auto cache = attachable::slab_cache<object, attachable::spin_lock>::create();
    return cache ? measured_spin_lock(*cache, pairs) : 1;
  }
  std::fprintf(stderr, "unknown lock '%s'\n", argv[1]);
  return 2;
}
