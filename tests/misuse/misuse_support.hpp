// What every misuse program shares: hooks over aligned_alloc, a 16-byte object, and the
// convention that `<program> misuse` commits the bug while `<program>` alone does the honest
// version of the same accesses, which must run clean.
//
// Include it from exactly one translation unit per program: it defines the two hooks.
#ifndef ATTACHABLE_TESTS_MISUSE_MISUSE_SUPPORT_HPP
#define ATTACHABLE_TESTS_MISUSE_MISUSE_SUPPORT_HPP

#include <attachable/slab.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace misuse
{

// 16 bytes with no padding, so that the byte at offset sizeof(object) is the next slot's first.
struct object
{
  std::uint64_t first = 0;
  std::uint64_t second = 0;
};
static_assert(sizeof(object) == 16);

using cache = attachable::slab_cache<object, attachable::no_lock, 4096>;
static_assert(cache::objects_per_master >= 3, "the programs need three neighbouring slots");

inline void* alloc_slab(attachable::layout request) noexcept
{
  return std::aligned_alloc(request.align, request.size);
}

inline attachable::result<void> free_slab(void* slab, attachable::layout) noexcept
{
  std::free(slab);
  return {};
}

// Exits with a message (and status 3, which no tool uses) when a step that cannot fail did.
template <class Result>
auto&& checked(Result&& outcome, const char* step)
{
  if (!outcome)
  {
    std::fprintf(stderr, "misuse program: %s failed\n", step);
    std::exit(3);
  }
  return static_cast<Result&&>(outcome).value();
}

inline bool wants_misuse(int argc, char** argv)
{
  return argc > 1 && std::strcmp(argv[1], "misuse") == 0;
}

// Reads and writes through volatile so the compiler keeps the access the tool must see.
inline std::uint64_t read_word(const void* address)
{
  return *static_cast<const volatile std::uint64_t*>(address);
}

inline void write_word(void* address, std::uint64_t value)
{
  *static_cast<volatile std::uint64_t*>(address) = value;
}

} // namespace misuse

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(misuse::alloc_slab, misuse::free_slab);

#endif // ATTACHABLE_TESTS_MISUSE_MISUSE_SUPPORT_HPP
