// Writes just past the end of an object, into the next slot after that slot was freed: ASan
// must report a use-after-poison. The honest run writes the object's own last word instead.
#include "misuse_support.hpp"

#include <cstddef>

int main(int argc, char** argv)
{
  misuse::cache cache;
  auto box = misuse::checked(cache.alloc(), "alloc");
  auto next = misuse::checked(cache.alloc(), "alloc next");
  auto* const bytes = reinterpret_cast<std::byte*>(box.get());
  if (bytes + sizeof(misuse::object) != reinterpret_cast<std::byte*>(next.get()))
  {
    std::fprintf(stderr, "misuse program: the two slots are not neighbours\n");
    return 3;
  }
  next.reset();
  const std::size_t offset = misuse::wants_misuse(argc, argv)
                                 ? sizeof(misuse::object)
                                 : sizeof(misuse::object) - sizeof(std::uint64_t);
  misuse::write_word(bytes + offset, 42);
  std::printf("wrote at offset %zu\n", offset);
  return 0;
}
