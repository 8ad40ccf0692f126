// Link into a test binary whose caches live for the whole process (slab_allocator's): such a
// cache keeps its master slab until its handle dies among the static destructors, so no single
// test can see every slab come back. This check runs after those destructors and ends the
// process with status 1, naming the count, if any slab from the recording hooks is still out
// or any hook request was malformed.
//
// Why it runs last: a destructor function runs from the loader's finalisation, which the C
// library registers with atexit before any static constructor runs, and atexit handlers and
// static destructors run in the reverse order of their registration.
#include "recording_hooks.hpp"

#include <cstdio>
#include <cstdlib>

namespace
{

[[gnu::destructor]] void every_slab_came_back_by_exit()
{
  const test_support::hook_counts counts = test_support::recording_hooks::counts();
  if (counts.outstanding != 0 || counts.bad_requests != 0)
  {
    std::fprintf(stderr,
                 "exit hook balance: %zu slabs were not given back to the free hook by the end of "
                 "the program, and %zu hook requests were malformed\n",
                 counts.outstanding, counts.bad_requests);
    std::_Exit(1);
  }
}

} // namespace
