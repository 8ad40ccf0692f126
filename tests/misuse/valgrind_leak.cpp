// Loses the only pointer to a live object, for memcheck: built with ATTACHABLE_VALGRIND=1, so
// the object is a mempool chunk and the leak check must call it "definitely lost" although
// the slab around it is still held by the cache. The honest run frees it first.
#include "misuse_support.hpp"

namespace
{

// In its own frame, so that no register or stack slot of main still holds the address.
[[gnu::noinline]] void allocate_and_drop(misuse::cache& cache, bool leak)
{
  auto box = misuse::checked(cache.emplace(misuse::object{1, 2}), "emplace");
  misuse::object* object = box.release();
  if (!leak)
  {
    object->~object();
    if (!misuse::cache::deallocate(object))
    {
      std::fprintf(stderr, "misuse program: deallocate failed\n");
      std::exit(3);
    }
  }
}

} // namespace

int main(int argc, char** argv)
{
  // Static so that the cache's own slabs stay reachable through it at exit: only the object
  // may show up as lost.
  static misuse::cache cache;
  // A live neighbour that is reachable keeps the slab non-empty in both runs.
  static auto neighbour = misuse::checked(cache.alloc(), "alloc neighbour");
  allocate_and_drop(cache, misuse::wants_misuse(argc, argv));
  std::printf("done\n");
  return 0;
}
