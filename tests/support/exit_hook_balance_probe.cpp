// Proves that exit_hook_balance.cpp can fail: run with "leak", this program keeps one object of a
// process-wide slab_allocator cache, so its master slab is still out at exit and the check must
// end the process with status 1; run alone, it frees the object and must exit 0.
#include <attachable/std_allocator.hpp>

#include <cstring>

int main(int argc, char** argv)
{
  attachable::slab_allocator<long> longs;
  long* const kept = longs.allocate(1);
  *kept = 42;
  if (argc < 2 || std::strcmp(argv[1], "leak") != 0)
  {
    longs.deallocate(kept, 1);
  }
  return 0;
}
