// attachable-slab: tell AddressSanitizer and Valgrind which slots are live.
//
// A pool allocator blinds these tools: to them a free slot is still valid heap. These shims
// poison free and never-used slots, so a use after free or an overflow into the next slot is
// reported where it happens. Each is a no-op unless its tool is present or asked for.
#ifndef ATTACHABLE_DETAIL_SANITIZERS_HPP
#define ATTACHABLE_DETAIL_SANITIZERS_HPP

#include <attachable/config.hpp>

#include <cstddef>

#if ATTACHABLE_ASAN
// Declared here so that no hosted sanitizer header is needed; the ASan runtime defines them.
extern "C" void __asan_poison_memory_region(void const volatile* address, std::size_t size);
extern "C" void __asan_unpoison_memory_region(void const volatile* address, std::size_t size);
#endif

#if ATTACHABLE_VALGRIND
#include <valgrind/memcheck.h>
#endif

namespace attachable::detail
{

// A slab has just been formatted: its slots are not addressable until handed out.
inline void tool_slab_formatted(void* slab, void* slots, std::size_t bytes) noexcept
{
#if ATTACHABLE_ASAN
  __asan_poison_memory_region(slots, bytes);
#endif
#if ATTACHABLE_VALGRIND
  VALGRIND_CREATE_MEMPOOL(slab, 0, 0);
  VALGRIND_MAKE_MEM_NOACCESS(slots, bytes);
#endif
  (void)slab;
  (void)slots;
  (void)bytes;
}

// A slab goes back to the free hook: the hook owns every byte again.
inline void tool_slab_returned(void* slab, std::size_t bytes) noexcept
{
#if ATTACHABLE_ASAN
  __asan_unpoison_memory_region(slab, bytes);
#endif
#if ATTACHABLE_VALGRIND
  VALGRIND_DESTROY_MEMPOOL(slab);
  VALGRIND_MAKE_MEM_UNDEFINED(slab, bytes);
#endif
  (void)slab;
  (void)bytes;
}

// A slot is handed out: `object_bytes` become usable, the slot's padding stays poisoned.
inline void tool_slot_allocated(void* slab, void* slot, std::size_t object_bytes) noexcept
{
#if ATTACHABLE_ASAN
  __asan_unpoison_memory_region(slot, object_bytes);
#endif
#if ATTACHABLE_VALGRIND
  VALGRIND_MEMPOOL_ALLOC(slab, slot, object_bytes);
#endif
  (void)slab;
  (void)slot;
  (void)object_bytes;
}

// A slot is free again (its free-list link already written).
inline void tool_slot_freed(void* slab, void* slot, std::size_t slot_bytes) noexcept
{
#if ATTACHABLE_ASAN
  __asan_poison_memory_region(slot, slot_bytes);
#endif
#if ATTACHABLE_VALGRIND
  VALGRIND_MEMPOOL_FREE(slab, slot);
#endif
  (void)slab;
  (void)slot;
  (void)slot_bytes;
}

// The cache itself reads or writes a free slot (its link, its debug pattern): open it for
// that access only, then close it again.
inline void tool_open_free_slot(void* slot, std::size_t bytes) noexcept
{
#if ATTACHABLE_ASAN
  __asan_unpoison_memory_region(slot, bytes);
#endif
#if ATTACHABLE_VALGRIND
  VALGRIND_MAKE_MEM_DEFINED(slot, bytes);
#endif
  (void)slot;
  (void)bytes;
}

inline void tool_close_free_slot(void* slot, std::size_t bytes) noexcept
{
#if ATTACHABLE_ASAN
  __asan_poison_memory_region(slot, bytes);
#endif
#if ATTACHABLE_VALGRIND
  VALGRIND_MAKE_MEM_NOACCESS(slot, bytes);
#endif
  (void)slot;
  (void)bytes;
}

} // namespace attachable::detail

#endif // ATTACHABLE_DETAIL_SANITIZERS_HPP
