// Reads an object after its box died, for memcheck: built with ATTACHABLE_VALGRIND=1, so the
// freed slot is a freed mempool chunk and the read must be an "Invalid read".
#include "misuse_support.hpp"

int main(int argc, char** argv)
{
  misuse::cache cache;
  // A neighbour keeps the slab non-empty, so the freed slot stays a free slot of a live slab.
  auto neighbour = misuse::checked(cache.alloc(), "alloc neighbour");
  auto box = misuse::checked(cache.emplace(misuse::object{7, 8}), "emplace");
  misuse::object* const object = box.get();
  if (misuse::wants_misuse(argc, argv))
  {
    box.reset();
  }
  const std::uint64_t value = misuse::read_word(&object->second);
  std::printf("read a value that is %s\n", value == 8 ? "8" : "not 8");
  return 0;
}
