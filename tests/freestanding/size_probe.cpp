// The code-size probe of issue 9: one firmware image with SIZE_PROBE_CACHE_TYPES cache types
// (0, 1, 2 or 9) on one lock and one SlabSize. Each type allocates a box, allocates and frees a
// raw slot, and frees the box, so that every path a real user reaches is compiled in. The
// 0-type image has the same boot code, arena and hooks, so the difference in .text between an
// N-type image and it is the code the caches cost (code_size.cmake measures it).
//
// The nine types are distinct, in three sizes (16, 32 and 64 bytes); the first two share one
// size, so the 2-type image adds a type of a geometry already in use.
#include "semihosting.hpp"
#include "startup.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifndef SIZE_PROBE_CACHE_TYPES
#error "define SIZE_PROBE_CACHE_TYPES to 0, 1, 2 or 9"
#endif
static_assert(SIZE_PROBE_CACHE_TYPES == 0 || SIZE_PROBE_CACHE_TYPES == 1 ||
                  SIZE_PROBE_CACHE_TYPES == 2 || SIZE_PROBE_CACHE_TYPES == 9,
              "size_probe.cpp: the probe is measured with 0, 1, 2 or 9 cache types");

namespace
{

constexpr std::size_t slab_size = 1024;
using lock = attachable::no_lock;

// Nine masters and one more: enough for every type. The Cortex-M0 board's 16 KiB of RAM, where
// firmware_table.cmake builds the one-type probe too, takes a smaller arena
// (firmware_targets.cmake sets SIZE_PROBE_ARENA_SLABS); the arena's size changes no code.
#ifndef SIZE_PROBE_ARENA_SLABS
#define SIZE_PROBE_ARENA_SLABS 10
#endif
constinit attachable::static_arena<slab_size, SIZE_PROBE_ARENA_SLABS, lock> arena;

void* arena_alloc(attachable::layout request) noexcept
{
  return request.size == slab_size && request.align == slab_size ? arena.allocate() : nullptr;
}

attachable::result<void> arena_free(void* slab, attachable::layout) noexcept
{
  return arena.deallocate(slab);
}

} // namespace

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(arena_alloc, arena_free);

namespace
{

// Tag makes each instantiation a distinct type; Bytes its size.
template <int Tag, std::size_t Bytes>
struct object
{
  std::uint32_t words[Bytes / 4];
};

template <class T>
constinit attachable::slab_cache<T, lock, slab_size> cache;

// Not inlined, so that each type's code stays in one function that nm can show.
template <class T>
[[gnu::noinline]] bool exercise() noexcept
{
  attachable::result<attachable::slab_box<T, lock, slab_size>> box = cache<T>.alloc();
  if (!box)
  {
    return false;
  }
  (*box)->words[0] = 1;
  attachable::result<void*> raw = cache<T>.allocate();
  return raw.has_value() && cache<T>.deallocate(*raw).has_value();
}

} // namespace

extern "C" void software_interrupt_handler() noexcept {}

int firmware_main() noexcept
{
  int failures = 0;
#if SIZE_PROBE_CACHE_TYPES >= 1
  failures += exercise<object<0, 16>>() ? 0 : 1;
#endif
#if SIZE_PROBE_CACHE_TYPES >= 2
  failures += exercise<object<1, 16>>() ? 0 : 1;
#endif
#if SIZE_PROBE_CACHE_TYPES >= 9
  failures += exercise<object<2, 16>>() ? 0 : 1;
  failures += exercise<object<3, 16>>() ? 0 : 1;
  failures += exercise<object<4, 32>>() ? 0 : 1;
  failures += exercise<object<5, 32>>() ? 0 : 1;
  failures += exercise<object<6, 32>>() ? 0 : 1;
  failures += exercise<object<7, 64>>() ? 0 : 1;
  failures += exercise<object<8, 64>>() ? 0 : 1;
#endif
  return failures;
}

int firmware_after_destructors() noexcept
{
  semihosting::write(arena.slabs_out() == 0 ? "PASS\n" : "FAIL\n");
  return arena.slabs_out() == 0 ? 0 : 1;
}
