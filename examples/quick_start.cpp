// The README's quick start: hooks over the host heap, one cache, one box.
#include <attachable/slab.hpp>

#include <cstdio>
#include <cstdlib>

// The library never knows where slabs come from: these two functions decide.
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

struct packet
{
  int id = 0;
  char payload[60] = {};
};

// A constinit global: no memory is taken until the first alloc().
constinit attachable::slab_cache<packet> packets;

int main()
{
  attachable::result<attachable::slab_cache<packet>::box> first = packets.alloc();
  if (!first)
  {
    std::printf("alloc failed: %s\n", attachable::to_string(first.error()));
    return 1;
  }
  (*first)->id = 42;

  const attachable::slab_stats stats = packets.stats();
  std::printf("packet %d lives in a %zu-byte slab holding %zu packets; %zu live\n", (*first)->id,
              packets.slab_size, packets.objects_per_master, stats.live_objects);
  return stats.live_objects == 1 ? 0 : 1;
} // the box returns its packet here, then the cache returns its slab
