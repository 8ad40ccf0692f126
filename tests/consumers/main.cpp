// What a user writes first: include the umbrella header, provide the two hooks, allocate.
// Shared by the find_package and add_subdirectory consumer projects.
#include <attachable/slab.hpp>

#include <cstdlib>

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
  return box.has_value() ? EXIT_SUCCESS : EXIT_FAILURE;
}
