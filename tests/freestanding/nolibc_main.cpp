// An x86-64 Linux program with no C or C++ library at all: its own _start, raw system calls
// for write and exit, and the library running on a static_arena, through the two hooks and
// through an arena source for a per_cpu cache on a simulated topology of four CPUs.
// Built with -ffreestanding -nostdlib -static -fno-exceptions -fno-rtti; exits 0 on success.
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

namespace
{

long system_call(long number, long first, long second, long third) noexcept
{
  long result;
  __asm__ __volatile__("syscall"
                       : "=a"(result)
                       : "a"(number), "D"(first), "S"(second), "d"(third)
                       : "rcx", "r11", "memory");
  return result;
}

constexpr long sys_write = 1;
constexpr long sys_exit_group = 231;

void print(const char* text) noexcept
{
  std::size_t length = 0;
  while (text[length] != '\0')
  {
    ++length;
  }
  system_call(sys_write, 1, reinterpret_cast<long>(text), static_cast<long>(length));
}

constexpr std::size_t slab_size = 4096;
constexpr std::size_t arena_slabs = 8;
constinit attachable::static_arena<slab_size, arena_slabs> arena;

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

struct node
{
  node* next = nullptr;
  std::uint64_t key = 0;
  std::uint64_t payload[2] = {};
};

int failures = 0;

void expect(bool condition, const char* text) noexcept
{
  if (!condition)
  {
    ++failures;
    print("FAIL: ");
    print(text);
    print("\n");
  }
}

#define NOLIBC_EXPECT(condition) expect((condition), #condition)

using node_cache = attachable::slab_cache<node, attachable::spin_lock, slab_size>;

constexpr std::size_t max_nodes = arena_slabs * (slab_size / sizeof(node));
void* slots[max_nodes];

// Four CPUs played in turn by one thread: the program sets what current() returns between
// operations, as a migration would. Without a kernel there is nothing to disable, so pin only
// counts its depth, like preempt_count, and current() counts the calls made outside one.
std::size_t simulated_cpu = 0;
std::size_t pin_depth = 0;
std::size_t unpinned_current_calls = 0;

struct simulated_cpus
{
  static constexpr std::size_t count = 4;
  static std::size_t current() noexcept
  {
    unpinned_current_calls += pin_depth == 0 ? 1 : 0;
    return simulated_cpu;
  }
  struct pin
  {
    pin() noexcept { ++pin_depth; }
    pin(const pin&) = delete;
    pin& operator=(const pin&) = delete;
    ~pin() { --pin_depth; }
  };
};

using cpu_node_cache =
    attachable::slab_cache<node, attachable::spin_lock, slab_size,
                           attachable::per_cpu<simulated_cpus>,
                           attachable::slabs_from<attachable::arena_slabs<arena>>>;

// Objects allocated on CPU 0 and freed on CPU 1, a double free of an object parked in CPU 1's
// cache, drains, and the master back in the arena when the cache goes.
void per_cpu_cache_on_simulated_cpus() noexcept
{
  const std::size_t out_before = arena.slabs_out();
  {
    cpu_node_cache cache;
    simulated_cpu = 0;
    const std::size_t count = cpu_node_cache::objects_per_master + 10;
    for (std::size_t i = 0; i < count; ++i)
    {
      attachable::result<void*> slot = cache.allocate();
      NOLIBC_EXPECT(slot.has_value());
      slots[i] = slot.value_or(nullptr);
      if (slots[i] != nullptr)
      {
        static_cast<node*>(slots[i])->key = i;
      }
    }
    NOLIBC_EXPECT(cache.stats().live_objects == count);
    NOLIBC_EXPECT(arena.slabs_out() == out_before + 2);

    simulated_cpu = 1;
    for (std::size_t i = 0; i < count; ++i)
    {
      NOLIBC_EXPECT(static_cast<node*>(slots[i])->key == i);
      NOLIBC_EXPECT(cache.deallocate(slots[i]).has_value());
    }
    NOLIBC_EXPECT(cache.stats().live_objects == 0);
    NOLIBC_EXPECT(cache.stats().cached_objects > 0);
    const attachable::result<void> twice = cache.deallocate(slots[count - 1]);
    NOLIBC_EXPECT(!twice && twice.error() == attachable::slab_error::double_free);

    // CPU 2 starts empty and refills; CPU 1 drains what it still holds.
    simulated_cpu = 2;
    attachable::result<cpu_node_cache::box> box = cache.emplace(nullptr, std::uint64_t{9});
    NOLIBC_EXPECT(box.has_value() && (*box)->key == 9);
    simulated_cpu = 1;
    NOLIBC_EXPECT(cache.drain() > 0);
    box->reset();
    NOLIBC_EXPECT(cache.shrink() == 1);
    const attachable::slab_stats s = cache.stats();
    NOLIBC_EXPECT(s.live_objects == 0 && s.cached_objects == 0 && s.slabs == 1);
    NOLIBC_EXPECT(cache.verify().has_value());
  }
  NOLIBC_EXPECT(unpinned_current_calls == 0);
  NOLIBC_EXPECT(pin_depth == 0);
  NOLIBC_EXPECT(arena.slabs_out() == out_before);
}

int run() noexcept
{
  {
    node_cache cache;
    std::size_t count = 0;
    for (;;)
    {
      attachable::result<void*> slot = cache.allocate();
      if (!slot)
      {
        NOLIBC_EXPECT(slot.error() == attachable::slab_error::out_of_memory);
        break;
      }
      NOLIBC_EXPECT(count < max_nodes);
      if (count == max_nodes)
      {
        break;
      }
      slots[count++] = *slot;
    }
    NOLIBC_EXPECT(count == node_cache::objects_per_master +
                               (arena_slabs - 1) * node_cache::objects_per_slab);
    NOLIBC_EXPECT(arena.slabs_out() == arena_slabs);
    for (std::size_t i = 0; i < count; ++i)
    {
      NOLIBC_EXPECT(cache.deallocate(slots[i]).has_value());
    }
    NOLIBC_EXPECT(cache.shrink() == 1);
    NOLIBC_EXPECT(arena.slabs_out() == 1);

    // A linked list of boxes, built and torn down, with values checked on the way.
    attachable::result<node_cache::box> head = cache.emplace(nullptr, std::uint64_t{1});
    NOLIBC_EXPECT(head.has_value());
    attachable::result<node_cache::box> second = cache.emplace(head->get(), std::uint64_t{2});
    NOLIBC_EXPECT(second.has_value() && (*second)->next->key == 1);
    NOLIBC_EXPECT(cache.stats().live_objects == 2);
  }
  // The cache and both boxes are gone: the master went back to the arena.
  NOLIBC_EXPECT(arena.slabs_out() == 0);
  per_cpu_cache_on_simulated_cpus();
  print(failures == 0 ? "PASS\n" : "FAIL\n");
  return failures == 0 ? 0 : 1;
}

} // namespace

// GCC turns byte loops into calls to memset/memcpy unless told not to; LLVM never does so
// inside functions with those names.
#if defined(__clang__)
#define NOLIBC_NO_LOOP_TO_CALL
#else
#define NOLIBC_NO_LOOP_TO_CALL [[gnu::optimize("no-tree-loop-distribute-patterns")]]
#endif

extern "C"
{
  // The compiler may emit calls to these for any code, the library's included (GCC's manual
  // requires every freestanding environment to provide memset, memcpy, memmove and memcmp);
  // this program needs only the first two.
  NOLIBC_NO_LOOP_TO_CALL void* memset(void* destination, int value, std::size_t size) noexcept
  {
    auto* bytes = static_cast<unsigned char*>(destination);
    while (size-- != 0)
    {
      *bytes++ = static_cast<unsigned char>(value);
    }
    return destination;
  }

  NOLIBC_NO_LOOP_TO_CALL void* memcpy(void* destination, const void* source,
                                      std::size_t size) noexcept
  {
    auto* to = static_cast<unsigned char*>(destination);
    const auto* from = static_cast<const unsigned char*>(source);
    while (size-- != 0)
    {
      *to++ = *from++;
    }
    return destination;
  }

  [[noreturn]] void nolibc_start() noexcept
  {
    system_call(sys_exit_group, run(), 0, 0);
    __builtin_unreachable();
  }
}

// The kernel enters here with the stack 16-byte aligned and no return address; the call
// pushes one, which is the alignment the System V ABI expects at a function's entry.
__asm__(".text\n"
        ".globl _start\n"
        ".type _start, @function\n"
        "_start:\n"
        "  xorl %ebp, %ebp\n"
        "  andq $-16, %rsp\n"
        "  call nolibc_start\n"
        "  hlt\n");
