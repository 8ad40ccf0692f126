// A self-test of attachable-slab on a bare core (Cortex-M0, M3, M33, RV32): constinit caches,
// one per lock, share one constinit arena through the two hooks; a box is freed inside a real
// software interrupt handler; a per_cpu cache takes its slabs straight from the same arena
// (slabs_from<arena_slabs<arena>>) and runs on a simulated multi-CPU topology, where the test
// plays each CPU in turn. Results go out through semihosting; the exit status is 0 only if
// every check passed.
//
// board.hpp comes from the architecture's folder (cortex_m/ or riscv/, on the include path):
// it names the interrupt-masking lock and raises the software interrupt. spin_lock needs an
// atomic exchange, so the spin_lock cache exists only on cores that have one (not on
// Cortex-M0 or rv32imc). FIRMWARE_ARENA_SLABS sizes the arena to the board's RAM.
#include "board.hpp"
#include "semihosting.hpp"
#include "startup.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#if defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_1)
#define FIRMWARE_HAS_SPIN_LOCK 1
#else
#define FIRMWARE_HAS_SPIN_LOCK 0
#endif

#ifndef FIRMWARE_ARENA_SLABS
#define FIRMWARE_ARENA_SLABS 12
#endif

namespace
{

constexpr std::size_t slab_size = 1024;
constexpr std::size_t arena_slabs = FIRMWARE_ARENA_SLABS;

using interrupt_lock = board::interrupt_lock;

// A box freed in an interrupt handler can give a slab back from there, so the arena masks
// interrupts too.
constinit attachable::static_arena<slab_size, arena_slabs, interrupt_lock> arena;

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

struct sample
{
  std::uint32_t id = 0;
  std::uint32_t readings[3] = {};
};

template <class Lock>
using sample_cache = attachable::slab_cache<sample, Lock, slab_size>;

// Constant-initialised: no master exists and no hook runs until first use.
constinit sample_cache<interrupt_lock> irq_cache;
#if FIRMWARE_HAS_SPIN_LOCK
constinit sample_cache<attachable::spin_lock> spin_cache;
#endif
constinit sample_cache<attachable::no_lock> plain_cache;
constexpr std::size_t global_caches = 2 + FIRMWARE_HAS_SPIN_LOCK;
static_assert(arena_slabs >= global_caches + 2,
              "the interrupt test needs two slaves beside the global caches' masters");

constinit attachable::slab_box<sample, interrupt_lock, slab_size> irq_box;
// Shared with the handler on one core: volatile is enough, and unlike std::atomic it needs no
// library call on a core without atomic instructions (Clang calls __atomic_load_4 on rv32imc).
volatile std::uint32_t handler_runs = 0;
volatile std::size_t slabs_out_in_handler = 0;

// ---- a simulated multi-CPU topology for the per_cpu cache -------------------------------------
//
// This core is one CPU; the test plays several by changing what current() returns between
// operations, the way a real SMP kernel's CPU number changes when a task migrates. pin masks
// interrupts with the board's lock (PRIMASK on Cortex-M, mstatus.MIE on RISC-V), which is
// what keeps code on its CPU on a real SMP core: nothing can preempt it or, on this CPU, use the
// same per-CPU cache from an interrupt handler while it is pinned.
volatile std::size_t simulated_cpu = 0;
volatile std::uint32_t pin_depth = 0;
volatile std::uint32_t unpinned_current_calls = 0;

struct simulated_cpus
{
  static constexpr std::size_t count = 4;

  // Only meaningful while pinned: outside a pin the caller could move to another CPU before it
  // uses the number, so a call outside one is counted as a bug (like smp_processor_id() with
  // CONFIG_DEBUG_PREEMPT).
  static std::size_t current() noexcept
  {
    if (pin_depth == 0)
    {
      unpinned_current_calls = unpinned_current_calls + 1;
    }
    return simulated_cpu;
  }

  class pin
  {
  public:
    pin() noexcept
    {
      mask_.lock();
      pin_depth = pin_depth + 1;
    }
    pin(const pin&) = delete;
    pin& operator=(const pin&) = delete;
    ~pin()
    {
      pin_depth = pin_depth - 1;
      mask_.unlock();
    }

  private:
    interrupt_lock mask_;
  };
};

// Each CPU's cache and the hierarchy take the interrupt-masking lock, so that an interrupt
// handler may free into the cache; slabs come straight from the arena, with no hook.
using cpu_sample_cache =
    attachable::slab_cache<sample, interrupt_lock, slab_size, attachable::per_cpu<simulated_cpus>,
                           attachable::slabs_from<attachable::arena_slabs<arena>>>;

// Freed by the software interrupt handler, on whichever CPU the test is playing.
constinit cpu_sample_cache::box cpu_irq_box;

std::uint32_t failures = 0;

void print_number(std::size_t value) noexcept
{
  char digits[24];
  char* first = digits + sizeof digits - 1;
  *first = '\0';
  do
  {
    *--first = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  semihosting::write(first);
}

void expect(bool condition, const char* text, int line) noexcept
{
  if (!condition)
  {
    ++failures;
    semihosting::write("FAIL self_test.cpp:");
    print_number(static_cast<std::size_t>(line));
    semihosting::write(": ");
    semihosting::write(text);
    semihosting::write("\n");
  }
}

#define FIRMWARE_EXPECT(condition) expect((condition), #condition, __LINE__)
#define FIRMWARE_FAIL(text) expect(false, text, __LINE__)

void section(const char* name, const char* detail = "") noexcept
{
  semihosting::write("-- ");
  semihosting::write(name);
  semihosting::write(detail);
  semihosting::write("\n");
}

constexpr std::size_t max_slots = arena_slabs * (slab_size / sizeof(sample));
void* slots[max_slots];

template <class Cache>
std::size_t fill_until_out_of_memory(Cache& cache) noexcept
{
  std::size_t count = 0;
  for (;;)
  {
    attachable::result<void*> slot = cache.allocate();
    if (!slot)
    {
      FIRMWARE_EXPECT(slot.error() == attachable::slab_error::out_of_memory);
      return count;
    }
    if (count == max_slots)
    {
      FIRMWARE_FAIL("the cache handed out more slots than the arena holds");
      return count;
    }
    slots[count++] = *slot;
  }
}

// Growth from master to slaves until the arena is dry, frees, reuse, double free, and slaves
// going back to the arena, for one cache. Other caches' masters may hold arena slabs.
template <class Cache>
void grows_frees_and_gives_back(Cache& cache, const char* name, const char* detail = "") noexcept
{
  section(name, detail);
  FIRMWARE_EXPECT(cache.stats().slabs == 0);
  const std::size_t out_before = arena.slabs_out();
  const std::size_t slabs_for_us = arena_slabs - out_before;

  const std::size_t count = fill_until_out_of_memory(cache);
  FIRMWARE_EXPECT(count ==
                  Cache::objects_per_master + (slabs_for_us - 1) * Cache::objects_per_slab);
  FIRMWARE_EXPECT(arena.slabs_out() == arena_slabs);
  FIRMWARE_EXPECT(arena.allocate() == nullptr);
  const attachable::slab_stats full = cache.stats();
  FIRMWARE_EXPECT(full.slabs == slabs_for_us);
  FIRMWARE_EXPECT(full.live_objects == count);
  FIRMWARE_EXPECT(full.hook_failures == 1);

  // With one free slot in the whole cache, the next allocation must reuse it.
  void* const freed = slots[count / 2];
  FIRMWARE_EXPECT(cache.deallocate(freed).has_value());
  attachable::result<void*> again = cache.allocate();
  FIRMWARE_EXPECT(again.has_value() && *again == freed);

  // Checked while the slab still has live objects: once a slab empties, all its slots count
  // as never used and a stale pointer gives invalid_pointer instead.
  FIRMWARE_EXPECT(cache.deallocate(slots[0]).has_value());
  const attachable::result<void> twice = cache.deallocate(slots[0]);
  FIRMWARE_EXPECT(!twice && twice.error() == attachable::slab_error::double_free);
  for (std::size_t i = 1; i < count; ++i)
  {
    FIRMWARE_EXPECT(cache.deallocate(slots[i]).has_value());
  }
  FIRMWARE_EXPECT(cache.stats().live_objects == 0);

  // Emptied slaves went back as they emptied; the master and one spare slave stay.
  FIRMWARE_EXPECT(cache.stats().slabs == 2);
  FIRMWARE_EXPECT(arena.slabs_out() == out_before + 2);
  FIRMWARE_EXPECT(cache.shrink() == 1);
  FIRMWARE_EXPECT(arena.slabs_out() == out_before + 1);

  attachable::result<typename Cache::box> box = cache.alloc();
  FIRMWARE_EXPECT(box.has_value() && (*box)->id == 0);
  FIRMWARE_EXPECT(cache.stats().live_objects == 1);
}

// A box freed inside the software interrupt while thread code uses the same cache under the
// interrupt-masking lock.
void interrupt_handler_frees_a_box() noexcept
{
  section("a box freed in an interrupt handler: ", board::software_interrupt_name);
  using cache_type = sample_cache<interrupt_lock>;
  const std::size_t out_before = arena.slabs_out();
  std::size_t count = 0;
  // Fill the master and one slave, then put one object, the box, in a second slave.
  for (; count < cache_type::objects_per_master + cache_type::objects_per_slab; ++count)
  {
    attachable::result<void*> slot = irq_cache.allocate();
    FIRMWARE_EXPECT(slot.has_value());
    slots[count] = slot.value_or(nullptr);
  }
  attachable::result<cache_type::box> box = irq_cache.emplace(42u);
  FIRMWARE_EXPECT(box.has_value() && (*box)->id == 42);
  if (box)
  {
    irq_box = static_cast<cache_type::box&&>(*box);
  }
  FIRMWARE_EXPECT(irq_cache.stats().slabs == 3);
  // Empty the first slave: the cache keeps it as its one spare.
  for (std::size_t i = cache_type::objects_per_master; i < count; ++i)
  {
    FIRMWARE_EXPECT(irq_cache.deallocate(slots[i]).has_value());
  }
  FIRMWARE_EXPECT(arena.slabs_out() == out_before + 2);

  // While the lock is held, the pended handler must wait.
  interrupt_lock mask;
  mask.lock();
  board::raise_software_interrupt();
  FIRMWARE_EXPECT(handler_runs == 0);
  FIRMWARE_EXPECT(static_cast<bool>(irq_box));
  mask.unlock();
  board::let_pending_interrupts_run();

  FIRMWARE_EXPECT(handler_runs == 1);
  FIRMWARE_EXPECT(!irq_box);
  // The box was alone in the second slave, so the handler gave that slab back to the arena.
  FIRMWARE_EXPECT(slabs_out_in_handler == out_before + 1);
  FIRMWARE_EXPECT(irq_cache.stats().slabs == 2);

  for (std::size_t i = 0; i < cache_type::objects_per_master; ++i)
  {
    FIRMWARE_EXPECT(irq_cache.deallocate(slots[i]).has_value());
  }
  FIRMWARE_EXPECT(irq_cache.stats().live_objects == 0);
  FIRMWARE_EXPECT(irq_cache.shrink() == 1); // the spare slave
  FIRMWARE_EXPECT(arena.slabs_out() == out_before);
}

// Objects allocated on one CPU and freed on others, a double free of an object parked in a
// CPU's cache, a free from an interrupt handler, drains, and everything back in the arena.
void per_cpu_cache_on_simulated_cpus() noexcept
{
  section("per_cpu cache on 4 simulated CPUs, slabs from arena_slabs<arena>");
  using cache_type = cpu_sample_cache;
  const std::size_t out_before = arena.slabs_out();
  {
    cache_type cache;
    FIRMWARE_EXPECT(cache.stats().slabs == 0);
    FIRMWARE_EXPECT(arena.slabs_out() == out_before);

    // CPU 0 allocates enough to fill the master and half a slave.
    simulated_cpu = 0;
    const std::size_t count = cache_type::objects_per_master + cache_type::objects_per_slab / 2;
    for (std::size_t i = 0; i < count; ++i)
    {
      attachable::result<void*> slot = cache.allocate();
      FIRMWARE_EXPECT(slot.has_value());
      slots[i] = slot.value_or(nullptr);
      if (slots[i] != nullptr)
      {
        static_cast<sample*>(slots[i])->id = static_cast<std::uint32_t>(i);
      }
    }
    attachable::slab_stats s = cache.stats();
    FIRMWARE_EXPECT(s.live_objects == count);
    FIRMWARE_EXPECT(s.slabs == 2);
    FIRMWARE_EXPECT(arena.slabs_out() == out_before + 2);

    // CPU 1 frees all of them: every free is a cross-CPU free, parked in CPU 1's cache until
    // it overflows and a batch goes back to the slabs.
    simulated_cpu = 1;
    for (std::size_t i = 0; i < count; ++i)
    {
      FIRMWARE_EXPECT(static_cast<sample*>(slots[i])->id == i);
      FIRMWARE_EXPECT(cache.deallocate(slots[i]).has_value());
    }
    s = cache.stats();
    FIRMWARE_EXPECT(s.live_objects == 0);
    FIRMWARE_EXPECT(s.cached_objects > 0);
    // The newest free is still parked in CPU 1's cache: freeing it again is caught.
    const attachable::result<void> twice = cache.deallocate(slots[count - 1]);
    FIRMWARE_EXPECT(!twice && twice.error() == attachable::slab_error::double_free);
    FIRMWARE_EXPECT(cache.stats().live_objects == 0);

    // CPU 2's cache is empty, so its first allocation refills it from the slabs.
    simulated_cpu = 2;
    attachable::result<cache_type::box> box = cache.emplace(42u);
    FIRMWARE_EXPECT(box.has_value() && (*box)->id == 42);
    FIRMWARE_EXPECT(cache.stats().live_objects == 1);

    // The interrupt handler frees the box on CPU 3; while the test is pinned, it must wait.
    simulated_cpu = 3;
    if (box)
    {
      cpu_irq_box = static_cast<cache_type::box&&>(*box);
    }
    const std::uint32_t runs_before = handler_runs;
    {
      const simulated_cpus::pin pinned;
      board::raise_software_interrupt();
      FIRMWARE_EXPECT(handler_runs == runs_before);
      FIRMWARE_EXPECT(static_cast<bool>(cpu_irq_box));
    }
    board::let_pending_interrupts_run();
    FIRMWARE_EXPECT(handler_runs == runs_before + 1);
    FIRMWARE_EXPECT(!cpu_irq_box);
    FIRMWARE_EXPECT(cache.stats().live_objects == 0);

    // Draining CPU 3 gives back exactly the object its handler freed; CPU 1's drain gives
    // back what it still holds.
    FIRMWARE_EXPECT(cache.drain() == 1);
    simulated_cpu = 1;
    const std::size_t cached_before = cache.stats().cached_objects;
    const std::size_t drained = cache.drain();
    FIRMWARE_EXPECT(drained > 0);
    FIRMWARE_EXPECT(cache.stats().cached_objects == cached_before - drained);

    // shrink() drains every CPU (CPU 0 and 2 still hold refilled objects) and returns the
    // empty slave.
    FIRMWARE_EXPECT(cache.shrink() == 1);
    s = cache.stats();
    FIRMWARE_EXPECT(s.cached_objects == 0);
    FIRMWARE_EXPECT(s.live_objects == 0);
    FIRMWARE_EXPECT(s.slabs == 1);
    FIRMWARE_EXPECT(s.hook_allocs - s.hook_frees == s.slabs);
    FIRMWARE_EXPECT(cache.verify().has_value());
    FIRMWARE_EXPECT(arena.slabs_out() == out_before + 1);
  }
  FIRMWARE_EXPECT(unpinned_current_calls == 0);
  FIRMWARE_EXPECT(pin_depth == 0);
  // The last handle took the master back to the arena.
  FIRMWARE_EXPECT(arena.slabs_out() == out_before);
  simulated_cpu = 0;
}

void a_local_cache_gives_its_master_back() noexcept
{
  section("a local cache gives its master back");
  const std::size_t out_before = arena.slabs_out();
  {
    attachable::slab_cache<std::uint64_t, attachable::no_lock, slab_size> local;
    attachable::result<attachable::slab_box<std::uint64_t, attachable::no_lock, slab_size>> box =
        local.emplace(std::uint64_t{7});
    FIRMWARE_EXPECT(box.has_value() && **box == 7);
    FIRMWARE_EXPECT(arena.slabs_out() == out_before + 1);
  }
  FIRMWARE_EXPECT(arena.slabs_out() == out_before);
}

} // namespace

extern "C" void software_interrupt_handler() noexcept
{
  irq_box.reset();
  cpu_irq_box.reset();
  slabs_out_in_handler = arena.slabs_out();
  handler_runs = handler_runs + 1;
}

int firmware_main() noexcept
{
  semihosting::write("attachable-slab firmware self-test\n");
  section("constinit globals start empty");
  FIRMWARE_EXPECT(arena.slabs_out() == 0);
  FIRMWARE_EXPECT(irq_cache.stats().slabs == 0);
#if FIRMWARE_HAS_SPIN_LOCK
  FIRMWARE_EXPECT(spin_cache.stats().slabs == 0);
#endif
  FIRMWARE_EXPECT(plain_cache.stats().slabs == 0);

  grows_frees_and_gives_back(plain_cache, "no_lock cache");
#if FIRMWARE_HAS_SPIN_LOCK
  grows_frees_and_gives_back(spin_cache, "spin_lock cache");
#endif
  grows_frees_and_gives_back(irq_cache,
                             "cache with an interrupt-masking lock: ", board::interrupt_lock_name);
  interrupt_handler_frees_a_box();
  per_cpu_cache_on_simulated_cpus();
  a_local_cache_gives_its_master_back();
#ifdef FIRMWARE_INJECT_FAILURE
  // Built once this way by the test suite, to prove that a failure reaches qemu's exit status.
  FIRMWARE_FAIL("an injected failure");
#endif
  // The global caches keep their masters until their destructors run.
  FIRMWARE_EXPECT(arena.slabs_out() == global_caches);
  return failures == 0 ? 0 : 1;
}

int firmware_after_destructors() noexcept
{
  section("global caches gave everything back at exit");
  FIRMWARE_EXPECT(arena.slabs_out() == 0);
  semihosting::write(failures == 0 ? "PASS\n" : "FAIL\n");
  return failures == 0 ? 0 : 1;
}
