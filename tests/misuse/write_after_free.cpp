// Writes to an object after its box died: ASan must report a use-after-poison.
#include "misuse_support.hpp"

int main(int argc, char** argv)
{
  misuse::cache cache;
  // A neighbour keeps the slab non-empty, so the freed slot stays a free slot of a live slab.
  auto neighbour = misuse::checked(cache.alloc(), "alloc neighbour");
  auto box = misuse::checked(cache.alloc(), "alloc");
  misuse::object* const object = box.get();
  if (misuse::wants_misuse(argc, argv))
  {
    box.reset();
  }
  misuse::write_word(&object->second, 42);
  std::printf("wrote\n");
  return 0;
}
