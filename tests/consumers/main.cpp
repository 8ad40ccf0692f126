// What a user writes first: include the umbrella header, provide the two hooks, allocate; and, on
// a hosted build, put standard containers on slab caches through the two adapter headers.
// Shared by the find_package, add_subdirectory and plain-Make consumer projects.
#include <attachable/memory_resource.hpp>
#include <attachable/slab.hpp>
#include <attachable/std_allocator.hpp>

#include <cstdlib>
#include <list>
#include <memory_resource>
#include <vector>

namespace
{

void* consumer_alloc(attachable::layout request) noexcept
{
  // aligned_alloc wants the size to be a multiple of the alignment.
  const std::size_t size = (request.size + request.align - 1) / request.align * request.align;
  return std::aligned_alloc(request.align, size);
}

attachable::result<void> consumer_free(void* memory, attachable::layout) noexcept
{
  std::free(memory);
  return {};
}

} // namespace

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(consumer_alloc, consumer_free);

int main()
{
  attachable::slab_cache<int> cache;
  auto box = cache.alloc();

  std::list<int, attachable::slab_allocator<int>> list{1, 2, 3};
  attachable::slab_resource resource;
  std::pmr::vector<int> vector({4, 5, 6}, &resource);

  return box.has_value() && list.back() + vector.back() == 9 ? EXIT_SUCCESS : EXIT_FAILURE;
}
