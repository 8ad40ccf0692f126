// Gives one block back twice: the adapters cannot return an error from deallocate(), so the
// second call must reach ATTACHABLE_PANIC, whose hosted default names the adapter on stderr
// before it traps. Built once with slab_allocator and once, with MISUSE_SLAB_RESOURCE=1, with a
// slab_resource.
#include "misuse_support.hpp"

#include <attachable/memory_resource.hpp>
#include <attachable/std_allocator.hpp>

#include <memory_resource>

int main(int argc, char** argv)
{
#if MISUSE_SLAB_RESOURCE
  attachable::slab_resource resource(std::pmr::null_memory_resource());
  void* const neighbour = resource.allocate(16, 8);
  void* const block = resource.allocate(16, 8);
  resource.deallocate(block, 16, 8);
  if (misuse::wants_misuse(argc, argv))
  {
    resource.deallocate(block, 16, 8);
  }
  resource.deallocate(neighbour, 16, 8);
#else
  attachable::slab_allocator<misuse::object> allocator;
  misuse::object* const neighbour = allocator.allocate(1);
  misuse::object* const object = allocator.allocate(1);
  allocator.deallocate(object, 1);
  if (misuse::wants_misuse(argc, argv))
  {
    allocator.deallocate(object, 1);
  }
  allocator.deallocate(neighbour, 1);
#endif
  std::printf("every block was given back once\n");
  return 0;
}
