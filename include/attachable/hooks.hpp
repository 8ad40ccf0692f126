// attachable-slab: the two link-time hooks through which every slab is obtained and returned.
//
// The library declares these functions and never defines them, so a program that uses a
// cache but forgets them fails to link, naming the missing symbol. Define both in exactly one
// translation unit: with ATTACHABLE_DEFINE_ALLOCATION_HOOKS from C++, or by hand in C or
// assembly.
//
// Contract (both hooks):
//   Conventions: `size` and `align` are always equal to the cache's SlabSize, a power of two.
//   Must:        be callable from every context in which a cache is used to allocate or free
//                (threads, and interrupt handlers if objects are freed there).
//   May assume:  the cache's lock is NOT held; calling into another cache is allowed, but not
//                into a cache whose slab is being obtained or returned right now.
//   Must never:  throw, or call back into the same cache.
//
// attachable_slab_alloc
//   Must:        return the start of `size` bytes aligned to `align`, or null when no memory
//                is left. The memory need not be zeroed.
//   On failure:  null makes the operation report slab_error::out_of_memory. Memory that is not
//                aligned to `align` is handed straight back to attachable_slab_free and the
//                operation reports slab_error::alignment_mismatch.
//
// attachable_slab_free
//   Must:        take back a block that attachable_slab_alloc returned, with the same size and
//                alignment, and return 0.
//   On failure:  a non-zero return is counted in slab_stats::hook_failures; the cache forgets
//                the block either way, so a failing free hook leaks, it never corrupts.
#ifndef ATTACHABLE_HOOKS_HPP
#define ATTACHABLE_HOOKS_HPP

#include <attachable/result.hpp>

#include <cstddef>
#include <type_traits>

namespace attachable
{

/// The shape of a slab request: `size` bytes aligned to `align`.
struct layout
{
  std::size_t size;
  std::size_t align;
};

} // namespace attachable

extern "C"
{
  /// Returns: the start of `size` bytes aligned to `align`, or null when no memory is left.
  void* attachable_slab_alloc(std::size_t size, std::size_t align) noexcept;

  /// Takes back a block from attachable_slab_alloc.
  /// Returns: 0 on success, anything else on failure.
  int attachable_slab_free(void* ptr, std::size_t size, std::size_t align) noexcept;
}

/// Defines both hooks in this translation unit by forwarding to
/// `void* alloc_fn(attachable::layout) noexcept` and
/// `attachable::result<void> free_fn(void*, attachable::layout) noexcept`.
/// Use it once per program, at namespace scope.
// NOLINTBEGIN(bugprone-macro-parentheses): the arguments are function names, called as such.
#define ATTACHABLE_DEFINE_ALLOCATION_HOOKS(alloc_fn, free_fn)                                      \
  extern "C" void* attachable_slab_alloc(::std::size_t size, ::std::size_t align) noexcept         \
  {                                                                                                \
    static_assert(::std::is_same_v<decltype(alloc_fn(::attachable::layout{})), void*>,             \
                  "ATTACHABLE_DEFINE_ALLOCATION_HOOKS: the alloc function must return void*, "     \
                  "because the cache stores the slab's address; declare it as "                    \
                  "void* alloc_fn(attachable::layout) noexcept.");                                 \
    static_assert(noexcept(alloc_fn(::attachable::layout{})),                                      \
                  "ATTACHABLE_DEFINE_ALLOCATION_HOOKS: the alloc function must be noexcept, "      \
                  "because a hook may run where exceptions cannot unwind; mark it noexcept.");     \
    return alloc_fn(::attachable::layout{size, align});                                            \
  }                                                                                                \
  extern "C" int attachable_slab_free(void* ptr, ::std::size_t size, ::std::size_t align) noexcept \
  {                                                                                                \
    static_assert(::std::is_same_v<decltype(free_fn(nullptr, ::attachable::layout{})),             \
                                   ::attachable::result<void>>,                                    \
                  "ATTACHABLE_DEFINE_ALLOCATION_HOOKS: the free function must return "             \
                  "attachable::result<void>, because its failure is counted; declare it as "       \
                  "attachable::result<void> free_fn(void*, attachable::layout) noexcept.");        \
    static_assert(noexcept(free_fn(nullptr, ::attachable::layout{})),                              \
                  "ATTACHABLE_DEFINE_ALLOCATION_HOOKS: the free function must be noexcept, "       \
                  "because a hook may run where exceptions cannot unwind; mark it noexcept.");     \
    return free_fn(ptr, ::attachable::layout{size, align}).has_value() ? 0 : 1;                    \
  }                                                                                                \
  static_assert(true, "require a semicolon after ATTACHABLE_DEFINE_ALLOCATION_HOOKS")
// NOLINTEND(bugprone-macro-parentheses)

#endif // ATTACHABLE_HOOKS_HPP
