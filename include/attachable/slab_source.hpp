// attachable-slab: slab sources, where a cache gets its slabs and gives them back.
//
// Contract for a source (the same as for the two link-time hooks, which global_hooks wraps):
//   Conventions: a source is a type with two static member functions. `request.size` and
//                `request.align` are always equal to the cache's SlabSize, a power of two.
//   Must:        allocate_slab returns the start of `request.size` bytes aligned to
//                `request.align`, or null when no memory is left; free_slab takes back a block
//                that allocate_slab returned. Both must be callable from every context in
//                which the caches they serve allocate or free (threads, interrupt handlers).
//   May assume:  no lock of any cache is held; calling into another cache is allowed, but not
//                into a cache whose slab is being obtained or returned right now.
//   Must never:  throw, call back into the cache it serves, or hand out a block that is still
//                a live slab of some cache.
//   On failure:  null from allocate_slab makes the operation report out_of_memory; memory not
//                aligned to SlabSize goes straight back to free_slab and the operation reports
//                alignment_mismatch; a block that still carries a live slab header is refused
//                (reported through ATTACHABLE_REPORT_CORRUPTION, fatal_error); an error from
//                free_slab is counted in slab_stats::hook_failures and the cache forgets the
//                block either way.
#ifndef ATTACHABLE_SLAB_SOURCE_HPP
#define ATTACHABLE_SLAB_SOURCE_HPP

#include <attachable/hooks.hpp>
#include <attachable/result.hpp>
#include <attachable/static_arena.hpp>

#include <concepts>
#include <cstddef>
#include <type_traits>

namespace attachable
{

/// A type with `static void* allocate_slab(layout) noexcept`.
template <class Source>
concept slab_allocating_source = requires(layout request)
{
  {
    Source::allocate_slab(request)
    } -> std::same_as<void*>;
  requires noexcept(Source::allocate_slab(request));
};

/// A type with `static result<void> free_slab(void*, layout) noexcept`.
template <class Source>
concept slab_freeing_source = requires(void* slab, layout request)
{
  {
    Source::free_slab(slab, request)
    } -> std::same_as<result<void>>;
  requires noexcept(Source::free_slab(slab, request));
};

/// What slabs_from<Source> needs of its Source.
template <class Source>
concept slab_source = slab_allocating_source<Source> && slab_freeing_source<Source>;

/// The source of every cache that names none: the two link-time hooks of <attachable/hooks.hpp>.
/// A program whose caches all name another source never references the hooks and links
/// without them.
struct global_hooks
{
  [[nodiscard]] static void* allocate_slab(layout request) noexcept
  {
    return attachable_slab_alloc(request.size, request.align);
  }
  [[nodiscard]] static result<void> free_slab(void* slab, layout request) noexcept
  {
    if (attachable_slab_free(slab, request.size, request.align) == 0)
    {
      return {};
    }
    return slab_error::invalid_pointer;
  }
};

/// A source that serves a cache straight from `Arena`, a static_arena object with static
/// storage duration: `slab_cache<T, Lock, 1024, slabs_from<arena_slabs<my_arena>>>`.
/// A cache whose SlabSize differs from the arena's is a compile-time error.
template <auto& Arena>
struct arena_slabs
{
  using arena_type = std::remove_cvref_t<decltype(Arena)>;
  /// The only slab size this source serves.
  static constexpr std::size_t slab_size = arena_type::slab_size;

  [[nodiscard]] static void* allocate_slab(layout request) noexcept
  {
    return request.size == slab_size && request.align == slab_size ? Arena.allocate() : nullptr;
  }
  [[nodiscard]] static result<void> free_slab(void* slab, layout) noexcept
  {
    return Arena.deallocate(slab);
  }
};

} // namespace attachable

#endif // ATTACHABLE_SLAB_SOURCE_HPP
