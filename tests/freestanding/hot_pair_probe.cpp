// The hot-pair probe: one no_lock cache with a resident object, and a loop of alloc+free pairs
// through the box API, as tests/instruction_budget measures on x86-64. firmware_table.cmake
// runs it under qemu, logging every executed instruction, and counts the instructions between
// the first and second call of measure_mark (pairs) and between the third and fourth (twice as
// many): their difference divided by `pairs` is one pair, free of set-up and of the calls.
#include "semihosting.hpp"
#include "startup.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

namespace
{

constexpr std::size_t slab_size = 1024;
using lock = attachable::no_lock;

constinit attachable::static_arena<slab_size, 2, lock> arena;

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

// As in budget_driver.cpp: a constructor that does nothing, so that the count is the
// allocator's and not the zeroing of a value-initialised aggregate.
struct object
{
  object() noexcept {}
  std::uint32_t words[16];
};

constinit attachable::slab_cache<object, lock, slab_size> cache;

constexpr unsigned pairs = 100;

} // namespace

// Not inlined and not mangled, so that the instruction log names them.
extern "C" [[gnu::noinline]] int measured_pairs(unsigned count) noexcept
{
  for (unsigned i = 0; i < count; ++i)
  {
    attachable::result<attachable::slab_box<object, lock, slab_size>> box = cache.alloc();
    if (!box) [[unlikely]]
    {
      return 1;
    }
    (*box)->words[0] = i;
  }
  return 0;
}

extern "C" [[gnu::noinline]] void measure_mark() noexcept
{
  __asm__ __volatile__("" : : : "memory");
}

extern "C" void software_interrupt_handler() noexcept {}

int firmware_main() noexcept
{
  // The resident object creates the master before anything is counted, and keeps the pair's
  // slab from emptying on every free ("steady" in the instruction budget test).
  attachable::result<attachable::slab_box<object, lock, slab_size>> resident = cache.alloc();
  if (!resident)
  {
    return 1;
  }
  int status = 0;
  measure_mark();
  status |= measured_pairs(pairs);
  measure_mark();
  measure_mark();
  status |= measured_pairs(2 * pairs);
  measure_mark();
  return status;
}

int firmware_after_destructors() noexcept
{
  semihosting::write(arena.slabs_out() == 0 ? "PASS\n" : "FAIL\n");
  return arena.slabs_out() == 0 ? 0 : 1;
}
