// attachable-slab: tell AddressSanitizer and Valgrind which slots are live, and ask them
// whether memory may be read.
//
// A pool allocator blinds these tools: to them a free slot is still valid heap. These shims
// poison free and never-used slots, so a use after free or an overflow into the next slot is
// reported where it happens. Each is a no-op unless its tool is present or asked for.
//
// The library also reads memory it does not know to be its own: the header of the block around
// a pointer passed to deallocate() or from_raw(), and a block fresh from a slab source. That is
// the library's validation, not the user's bug, so those reads first ask the tool whether the
// bytes are addressable and defined, and treat "no" as "not a slab".
#ifndef ATTACHABLE_DETAIL_SANITIZERS_HPP
#define ATTACHABLE_DETAIL_SANITIZERS_HPP

#include <attachable/config.hpp>

#include <cstddef>

#if ATTACHABLE_ASAN
// Declared here so that no hosted sanitizer header is needed; the ASan runtime defines them.
extern "C" void __asan_poison_memory_region(void const volatile* address, std::size_t size);
extern "C" void __asan_unpoison_memory_region(void const volatile* address, std::size_t size);
extern "C" void* __asan_region_is_poisoned(void* begin, std::size_t size);
#endif

#if ATTACHABLE_VALGRIND
#include <valgrind/memcheck.h>
#endif

namespace attachable::detail::inline ATTACHABLE_ABI
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

// A slab goes back to its source: the source owns every byte again.
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

// The cache itself reads or writes a free slot (its link, its tag, its debug pattern): open it
// for that access only, then close it again.
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

// Returns: false if a tool knows that reading `bytes` at `address` would touch memory that is
// not addressable or not initialised; true otherwise (always, without tools).
[[nodiscard]] inline bool tool_may_read(const void* address, std::size_t bytes) noexcept
{
#if ATTACHABLE_ASAN
  if (__asan_region_is_poisoned(const_cast<void*>(address), bytes) != nullptr)
  {
    return false;
  }
#endif
#if ATTACHABLE_VALGRIND
  unsigned char validity[32] = {};
  if (bytes > sizeof validity)
  {
    bytes = sizeof validity;
  }
  switch (VALGRIND_GET_VBITS(address, validity, bytes))
  {
  case 1:
    for (std::size_t i = 0; i < bytes; ++i)
    {
      if (validity[i] != 0)
      {
        return false;
      }
    }
    break;
  case 0: // not running under Valgrind
    break;
  default: // not addressable
    return false;
  }
#endif
  (void)address;
  (void)bytes;
  return true;
}

// What a tool knows about a slot: with ASan or Valgrind the library poisons every slot that is
// not in the user's hands, so a poisoned slot is free (in its slab or in a per-thread or
// per-CPU cache). Without a tool, nothing is known and the caller reads the slot's tag.
enum class tool_slot_state
{
  unknown,
  free,
  in_use,
};

[[nodiscard]] inline tool_slot_state tool_slot_state_of(const void* slot) noexcept
{
#if ATTACHABLE_ASAN
  return __asan_region_is_poisoned(const_cast<void*>(slot), 1) != nullptr ? tool_slot_state::free
                                                                          : tool_slot_state::in_use;
#elif ATTACHABLE_VALGRIND
  unsigned char validity[1] = {};
  switch (VALGRIND_GET_VBITS(slot, validity, 1))
  {
  case 0:
    return tool_slot_state::unknown;
  case 1:
    return tool_slot_state::in_use;
  default:
    return tool_slot_state::free;
  }
#else
  (void)slot;
  return tool_slot_state::unknown;
#endif
}

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_SANITIZERS_HPP
