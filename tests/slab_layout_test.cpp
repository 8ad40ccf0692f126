// The layout promises of docs/design.md, checked against real slabs: the master state's hot
// fields share one cache line, the constants that mirror its layout match the compiler's, and
// slots of line-multiple sizes start on a line boundary where that costs no slot.
#include "catch.hpp"
#include "hook_balance.hpp"
#include "recording_lock.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

namespace
{

using attachable::no_lock;
using attachable::spin_lock;
namespace detail = attachable::detail;

template <std::size_t Bytes, std::size_t Align = 8>
struct alignas(Align) object
{
  unsigned char bytes[Bytes];
};

// A lock as large as a lock may be, to push the hot fields as far as they go.
struct sixteen_byte_lock
{
  void lock() noexcept { inner.lock(); }
  void unlock() noexcept { inner.unlock(); }
  spin_lock inner;
  unsigned char padding[15] = {};
};
static_assert(sizeof(sixteen_byte_lock) == attachable::max_lock_size);

std::uintptr_t address(const void* p)
{
  return reinterpret_cast<std::uintptr_t>(p);
}

// Returns: the master state of the hierarchy that `slot` (a slot of the master) belongs to.
template <class Lock, std::size_t SlabSize>
detail::master_state<Lock>* master_of(void* slot)
{
  auto* header = reinterpret_cast<detail::slab*>(address(slot) & ~(std::uintptr_t{SlabSize} - 1));
  return static_cast<detail::master_state<Lock>*>(header->owner);
}

template <class T, class Lock, std::size_t SlabSize>
void check_master_hot_line()
{
  const test_support::hook_balance balance;
  auto cache = attachable::slab_cache<T, Lock, SlabSize>::create();
  REQUIRE(cache);
  attachable::result<void*> slot = cache->allocate();
  REQUIRE(slot);
  detail::master_state<Lock>* const m = master_of<Lock, SlabSize>(*slot);
  const std::uintptr_t state = address(m);
  const std::uintptr_t first = address(&m->core.cursor);
  const std::uintptr_t peak_end = address(&m->core.peak) + sizeof m->core.peak;
  // An empty lock (no_lock) takes no byte and may sit anywhere in the state.
  const std::uintptr_t lock_end =
      std::is_empty_v<Lock> ? peak_end : address(&m->lock) + sizeof(Lock);
  const std::uintptr_t last = (lock_end > peak_end ? lock_end : peak_end) - 1;
  INFO("state at " << (state % SlabSize) << ", hot bytes " << (first - state) << " to "
                   << (last - state));
  CHECK(first - state == detail::master_hot_begin);
  CHECK(last + 1 - state <= detail::master_hot_end<Lock>);
  CHECK(first / detail::cache_line == last / detail::cache_line);
  CHECK(address(&m->core.headroom) / detail::cache_line == first / detail::cache_line);
  CHECK(address(&m->core.peak) / detail::cache_line == first / detail::cache_line);
  CHECK(cache->deallocate(*slot));
}

} // namespace

TEST_CASE("the master state's hot fields and its lock share one cache line", "[layout]")
{
  check_master_hot_line<object<64>, spin_lock, 4096>();
  check_master_hot_line<object<64>, no_lock, 4096>();
  check_master_hot_line<object<16>, spin_lock, 4096>();
  check_master_hot_line<object<4, 4>, spin_lock, 4096>();
  check_master_hot_line<object<24>, sixteen_byte_lock, 4096>();
  check_master_hot_line<object<64>, sixteen_byte_lock, 65536>();
  check_master_hot_line<object<256>, test_support::recording_lock, 4096>();
  check_master_hot_line<object<40, 64>, no_lock, 1024>();
}

TEST_CASE("slots of line-multiple sizes start on a line boundary when it costs no slot", "[layout]")
{
  using line = detail::cache_type<object<64>, spin_lock, 4096>;
  using quarter = detail::cache_type<object<256>, spin_lock, 4096>;
  STATIC_REQUIRE(line::geometry.slave_slots_offset % detail::cache_line == 0);
  STATIC_REQUIRE(line::geometry.master_slots_offset % detail::cache_line == 0);
  STATIC_REQUIRE(quarter::geometry.slave_slots_offset % detail::cache_line == 0);
  // The counts the previous layout had: 62 per slave and 61 in the master (95.3%).
  STATIC_REQUIRE(line::geometry.objects_per_slab == 62);
  STATIC_REQUIRE(line::geometry.objects_per_master == 61);
  STATIC_REQUIRE(quarter::geometry.objects_per_slab == 15);

  // 48-byte slots are not a multiple of the line: packed right after the header.
  using packed = detail::cache_type<object<48>, spin_lock, 4096>;
  STATIC_REQUIRE(packed::geometry.slave_slots_offset ==
                 detail::align_up(detail::header_end_for(packed::geometry.objects_per_slab), 8));
}

TEST_CASE("every slab's header keeps magic and identity at the same offsets", "[layout]")
{
  STATIC_REQUIRE(offsetof(detail::slab, magic) == 0);
  STATIC_REQUIRE(offsetof(detail::slab, identity) == sizeof(std::uintptr_t));
}
