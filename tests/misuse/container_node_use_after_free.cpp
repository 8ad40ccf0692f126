// Reads a std::list element after pop_back() freed its node: AddressSanitizer, or memcheck with
// ATTACHABLE_VALGRIND=1, must report the read, so a container on the adapters is as visible to
// the tools as one on new/delete. Built once with slab_allocator and once, with
// MISUSE_SLAB_RESOURCE=1, with a std::pmr::list on a slab_resource.
#include "misuse_support.hpp"

#include <attachable/memory_resource.hpp>
#include <attachable/std_allocator.hpp>

#include <list>
#include <memory_resource>

int main(int argc, char** argv)
{
#if MISUSE_SLAB_RESOURCE
  attachable::slab_resource resource(std::pmr::null_memory_resource());
  std::pmr::list<misuse::object> list(&resource);
#else
  std::list<misuse::object, attachable::slab_allocator<misuse::object>> list;
#endif
  // A neighbour keeps the slab live, so the freed node stays a free slot of a live slab.
  list.push_back({1, 2});
  list.push_back({7, 8});
  misuse::object* const object = &list.back();
  if (misuse::wants_misuse(argc, argv))
  {
    list.pop_back();
  }
  const std::uint64_t value = misuse::read_word(&object->second);
  std::printf("read a value that is %s\n", value == 8 ? "8" : "not 8");
  return 0;
}
