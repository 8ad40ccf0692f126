// Instantiates every class template of the library, with every member function, for a few
// T / Lock / SlabSize combinations, so that the warnings test sees all of the library's code,
// not only what one program happens to call. Compiled with -c only: no hooks are needed.
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

namespace warnings_check
{

struct tiny
{
  char c;
};

struct wide
{
  std::uint64_t words[5];
  double ratio;
};

struct alignas(64) over_aligned
{
  int value;
};

struct needs_arguments
{
  needs_arguments(int a, long b) noexcept : sum(a + b) {}
  long sum;
};

struct aggregate
{
  std::uint16_t first;
  std::uint32_t second;
};

// A lock with state, unlike no_lock and spin_lock.
struct counting_lock
{
  void lock() noexcept { ++depth; }
  void unlock() noexcept { --depth; }
  unsigned depth = 0;
};

} // namespace warnings_check

// Clang 14 instantiates members whose requires-clause is false in an explicit instantiation
// (fixed in Clang 15), so types that rely on such a constraint, like result<slab_box<int>>
// (not copyable) or a cache of a T with no default constructor (no alloc()), are reached
// through use_member_templates() below instead.
namespace attachable
{
template class slab_cache<int>;
template class slab_cache<warnings_check::tiny, no_lock, 256>;
template class slab_cache<warnings_check::wide, spin_lock, 65536>;
template class slab_cache<warnings_check::over_aligned, warnings_check::counting_lock, 4096>;
template class slab_cache<warnings_check::aggregate, warnings_check::counting_lock, 512>;
template class slab_box<int>;
template class slab_box<warnings_check::tiny, no_lock, 256>;
template class slab_box<warnings_check::needs_arguments, no_lock, 1024>;
template struct detail::cache_type<warnings_check::wide, spin_lock, 65536>;
template struct detail::cache_type<warnings_check::tiny, no_lock, 256>;
template class result<int>;
template class result<void*>;
template class result<slab_cache<warnings_check::tiny, no_lock, 256>>;
template class static_arena<4096, 3>;
template class static_arena<64, 100, no_lock>;
template class static_arena<65536, 1, warnings_check::counting_lock>;
} // namespace attachable

namespace warnings_check
{

// The member templates, which explicit instantiation of a class does not reach.
long use_member_templates()
{
  attachable::slab_cache<needs_arguments, attachable::no_lock, 1024> arguments;
  attachable::result<attachable::slab_box<needs_arguments, attachable::no_lock, 1024>> made =
      arguments.emplace(1, 2L);
  attachable::slab_cache<aggregate, counting_lock, 512> aggregates;
  auto braced = aggregates.emplace(std::uint16_t{1}, std::uint32_t{2});
  attachable::slab_cache<int> ints;
  auto from_value = ints.emplace(3);
  const int fallback = attachable::result<int>(attachable::slab_error::double_free).value_or(4);
  auto moved = attachable::result<int>(5).value_or(6L);
  long total = fallback + moved;
  if (made)
  {
    total += (*made)->sum;
  }
  if (braced)
  {
    total += static_cast<long>((*braced)->second);
  }
  if (from_value)
  {
    total += **from_value;
  }
  return total;
}

} // namespace warnings_check
