// Reads the value of an error: on a hosted build the default ATTACHABLE_PANIC must write its
// sentence to stderr before it traps, so that a crash says why.
#include "misuse_support.hpp"

int main(int argc, char** argv)
{
  const attachable::result<int> outcome =
      misuse::wants_misuse(argc, argv)
          ? attachable::result<int>(attachable::slab_error::out_of_memory)
          : attachable::result<int>(7);
  std::printf("value %d\n", outcome.value());
  return 0;
}
