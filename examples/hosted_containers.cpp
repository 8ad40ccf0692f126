// Standard containers on slab caches, for the host side of a device: a symbol table in a
// std::map on slab_allocator, and a frame's scratch data in std::pmr containers on a
// slab_resource. Both headers are hosted-only, so they are included by name.
#include <attachable/memory_resource.hpp>
#include <attachable/slab.hpp>
#include <attachable/std_allocator.hpp>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory_resource>
#include <string>
#include <utility>
#include <vector>

// The same two hooks as any other cache: the adapters' slabs come from here too.
void* host_slab_alloc(attachable::layout slab) noexcept
{
  return std::aligned_alloc(slab.align, slab.size);
}

attachable::result<void> host_slab_free(void* slab, attachable::layout) noexcept
{
  std::free(slab);
  return {};
}

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(host_slab_alloc, host_slab_free);

// Every node of every symbol_table in the program comes from one slab cache for the node type.
using symbol_table = std::map<unsigned, unsigned long, std::less<>,
                              attachable::slab_allocator<std::pair<const unsigned, unsigned long>>>;

int main()
{
  symbol_table symbols;
  for (unsigned id = 0; id < 1000; ++id)
  {
    symbols.emplace(id, 0x0800'0000UL + id * 16UL);
  }
  symbol_table moved = std::move(symbols); // always-equal allocators: the nodes just move over
  std::printf("symbol table: %zu symbols, symbol 42 at %#lx\n", moved.size(), moved.at(42));

  // One resource for a frame's scratch data: small blocks from slab size classes, the large
  // vector from the upstream resource (new/delete by default).
  attachable::slab_resource frame;
  std::pmr::vector<std::pmr::string> names(&frame);
  for (int i = 0; i < 100; ++i)
  {
    names.emplace_back("a name that is too long for the small-string buffer #" + std::to_string(i));
  }
  std::pmr::vector<double> samples(4096, 0.5, &frame);
  std::printf("frame: %zu names, the last \"%s\"; %zu samples from the upstream resource\n",
              names.size(), names.back().c_str(), samples.size());

  return moved.at(42) == 0x0800'02A0UL && names.size() == 100 ? 0 : 1;
}
