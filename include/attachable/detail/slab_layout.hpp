// attachable-slab: the layout of a slab, and the geometry of a cache as data.
//
// Contract of this layer: how many slots a slab holds and where every byte of a slab goes, as
// a pure function of (object size and alignment, SlabSize, the master state's size); the slab
// header that every slab starts with; and cache_descriptor, the constant record through which
// the mechanism (compiled once per Lock and SlabSize) learns everything that depends on T.
// Nothing here takes a lock or calls a hook.
//
//   offset 0                       bitmap_offset       links_offset           slots_offset
//   +----------------------------+-------------------+---------------+-----+-------+-------+--
//   | magic, identity, owner,    | one bit per slot, | prev, next    | pad | slot 0| slot 1|
//   | slots_offset, capacity,    | set while live    | (slab list)   |     |       |       |
//   | bump, touched, free_head,  |                   |               |     |       |       |
//   | live, full, role           |                   |               |     |       |       |
//   +----------------------------+-------------------+---------------+-----+-------+-------+--
//
// The master slab carries the master state (and, with per_cpu, the CPU caches) between the
// links and slot 0. The fields every allocation and free touch and the first bits of the
// bitmap share the header's first cache line: 96 slots on 64-bit targets, 192 on 32-bit ones.
#ifndef ATTACHABLE_DETAIL_SLAB_LAYOUT_HPP
#define ATTACHABLE_DETAIL_SLAB_LAYOUT_HPP

#include <attachable/config.hpp>
#include <attachable/detail/atomics.hpp>
#include <attachable/detail/bits.hpp>
#include <attachable/detail/option_list.hpp>
#include <attachable/detail/registry_node.hpp>
#include <attachable/hooks.hpp>
#include <attachable/result.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace attachable::detail::inline ATTACHABLE_ABI
{

// A free-list link that ends the list; never a slot index, since a slab holds fewer slots.
inline constexpr std::uint32_t no_slot = 0xFFFF'FFFFu;

// The line size that slot alignment and the master state's hot fields are laid out for.
inline constexpr std::size_t cache_line = 64;

// Chosen so that zeroed or recycled memory does not look like a live slab header; mixed with
// the header's own address so that a copy of a header elsewhere does not either.
inline constexpr std::uintptr_t slab_magic = static_cast<std::uintptr_t>(0x5AB1'A77A'C4AB'1E5AULL);

// What a slab is to its hierarchy. The master's role records whether a handle is left, so
// that the free path decides with one comparison that an emptied master needs no work.
enum class slab_role : std::uint8_t
{
  slave,
  master,          // at least one slab_cache handle points to the hierarchy
  orphaned_master, // no handle is left; the last free returns the hierarchy
};

// The header at the start of every slab. The fields that pointer validation reads without the
// lock are read and written as atomics (relaxed() and set_relaxed(), see atomics.hpp), so that
// a stale pointer racing the slab's release reads a value, never a torn one; the rest is only
// touched under the hierarchy's lock. The struct itself is trivial, so that formatting a slab
// writes each field once and nothing else.
struct slab
{
  std::uintptr_t magic;       // slab_magic ^ this header's address; 0 once returned
  const void* identity;       // the cache type's identity (see cache_type), the master's in all
  void* owner;                // the hierarchy's master state
  std::uint32_t slots_offset; // bytes from the slab's start to slot 0
  std::uint32_t capacity;     // slots in this slab
  std::uint32_t bump;         // next slot handed out once the free list is empty
  std::uint32_t touched;      // the highest bump before the slab last started over
  std::uint32_t free_head;    // first slot of the free list, or no_slot
  // Slots taken from this slab and not yet given back, plus one for the master while a handle
  // is left: that master never reaches zero, so a free learns "this slab emptied and needs
  // work" from the decrement alone.
  std::uint32_t live;
  std::uint8_t full; // 1 while no slot can be taken (the slab is before the cursor)
  slab_role role;
};

// Returns: the slots taken from `s`, without the master's count for its handles.
[[nodiscard]] inline std::uint32_t taken_slots(const slab* s) noexcept
{
  return s->live - (s->role == slab_role::master ? 1u : 0u);
}

// The slab list's links, after the bitmap.
struct slab_links
{
  slab* prev;
  slab* next;
};

inline constexpr std::size_t bits_per_word = 32;
inline constexpr std::size_t bitmap_offset =
    align_up(offsetof(slab, role) + sizeof(slab_role), alignof(std::uint32_t));

[[nodiscard]] constexpr std::size_t bitmap_words(std::size_t slots) noexcept
{
  return (slots + bits_per_word - 1) / bits_per_word;
}

[[nodiscard]] constexpr std::size_t links_offset_for(std::size_t slots) noexcept
{
  return align_up(bitmap_offset + sizeof(std::uint32_t) * bitmap_words(slots), alignof(slab_links));
}

[[nodiscard]] inline std::uint32_t* bitmap_of(slab* s) noexcept
{
  return object_at<std::uint32_t>(s, bitmap_offset);
}
[[nodiscard]] inline const std::uint32_t* bitmap_of(const slab* s) noexcept
{
  return object_at<std::uint32_t>(s, bitmap_offset);
}

[[nodiscard]] inline slab_links& links_of(slab* s, std::size_t links_offset) noexcept
{
  return *object_at<slab_links>(s, links_offset);
}

template <class T>
[[nodiscard]] inline T relaxed(const T& field) noexcept
{
  return load_relaxed(field);
}

template <class T, class U>
inline void set_relaxed(T& field, U value) noexcept
{
  store_relaxed(field, value);
}

[[nodiscard]] inline std::uintptr_t magic_for(const void* header) noexcept
{
  return slab_magic ^ address_of(header);
}

// Where everything goes in a cache's slabs, computed at compile time from T's size and
// alignment and the master state's size.
struct slab_geometry
{
  std::size_t slot_size = 0;
  std::size_t slot_align = 0;
  std::size_t objects_per_slab = 0;
  std::size_t objects_per_master = 0;
  std::size_t slave_slots_offset = 0;
  std::size_t master_slots_offset = 0;
  std::size_t links_offset = 0;
  std::size_t master_state_offset = 0;
  std::size_t cached_area_offset = 0;
  // What objects_per_master could be if T needed only 4-byte alignment, to tell the user
  // which of size and alignment keeps the master too small.
  std::size_t objects_per_master_unaligned = 0;
};

struct geometry_request
{
  std::size_t slab_size;
  std::size_t object_size;
  std::size_t object_align;
  std::size_t min_slot_size; // 4 for the free-list link, 8 when free slots carry a tag
  std::size_t master_size;   // the master state
  std::size_t master_align;
  std::size_t master_hot_begin; // the master state's bytes kept within one cache line: from
  std::size_t master_hot_end;   // here to there
  std::size_t cached_area_size; // per_cpu caches in the master slab, or per_thread bookkeeping
  std::size_t cached_area_align;
};

[[nodiscard]] constexpr std::size_t header_end_for(std::size_t slots) noexcept
{
  return links_offset_for(slots) + sizeof(slab_links);
}

// Slot 0 goes on a cache-line boundary for slot sizes that are multiples of the line, but only
// where that costs no slot: then no object spans two lines or shares one with its neighbour.
[[nodiscard]] constexpr std::size_t first_slot_offset(std::size_t end_of_header,
                                                      std::size_t slab_size, std::size_t slot_size,
                                                      std::size_t slot_align) noexcept
{
  const std::size_t packed = align_up(end_of_header, slot_align);
  if (slot_size % cache_line != 0 || packed >= slab_size)
  {
    return packed;
  }
  const std::size_t lined = align_up(end_of_header, max_of(cache_line, slot_align));
  const bool same_count =
      lined <= slab_size && (slab_size - lined) / slot_size == (slab_size - packed) / slot_size;
  return same_count ? lined : packed;
}

[[nodiscard]] constexpr std::size_t
master_slots(const geometry_request& r, std::size_t slot_size, std::size_t slot_align,
             std::size_t objects_per_slab, std::size_t* master_state_offset,
             std::size_t* cached_area_offset, std::size_t* slots_offset) noexcept
{
  std::size_t state = align_up(header_end_for(objects_per_slab), r.master_align);
  if ((state + r.master_hot_begin) % cache_line + (r.master_hot_end - r.master_hot_begin) >
      cache_line)
  {
    state = align_up(state + r.master_hot_begin, cache_line) - r.master_hot_begin;
  }
  const std::size_t area = align_up(state + r.master_size, r.cached_area_align);
  const std::size_t first =
      first_slot_offset(area + r.cached_area_size, r.slab_size, slot_size, slot_align);
  *master_state_offset = state;
  *cached_area_offset = area;
  *slots_offset = first;
  return first < r.slab_size ? (r.slab_size - first) / slot_size : 0;
}

[[nodiscard]] constexpr slab_geometry compute_geometry(const geometry_request& r) noexcept
{
  slab_geometry g{};
  g.slot_align = max_of(r.object_align, alignof(std::uint32_t));
  g.slot_size = align_up(max_of(r.object_size, r.min_slot_size), g.slot_align);
  // Each slot costs slot_size bytes plus one bitmap bit: start from that estimate and step
  // down past rounding, a handful of iterations at most.
  std::size_t slots = 0;
  if (r.slab_size > header_end_for(0))
  {
    slots = (r.slab_size - header_end_for(0)) * 8 / (g.slot_size * 8 + 1) + 1;
  }
  while (slots > 0 &&
         align_up(header_end_for(slots), g.slot_align) + slots * g.slot_size > r.slab_size)
  {
    --slots;
  }
  g.objects_per_slab = slots;
  g.links_offset = links_offset_for(slots);
  g.slave_slots_offset =
      first_slot_offset(header_end_for(slots), r.slab_size, g.slot_size, g.slot_align);
  g.objects_per_master = master_slots(r, g.slot_size, g.slot_align, slots, &g.master_state_offset,
                                      &g.cached_area_offset, &g.master_slots_offset);
  // The same master with 4-byte slot alignment, to word the "master too small" message. The
  // size alone would not do: sizeof(T) is a multiple of alignof(T), so it already carries the
  // padding the alignment forces, and the count would come out the same. The data of such a T
  // may be as small as sizeof(T) - alignof(T) + 1 bytes: if that fits twice, blame alignment.
  const std::size_t smallest_data = r.object_size - r.object_align + 1;
  std::size_t unused[3] = {};
  g.objects_per_master_unaligned =
      master_slots(r, align_up(max_of(smallest_data, r.min_slot_size), alignof(std::uint32_t)),
                   alignof(std::uint32_t), slots, &unused[0], &unused[1], &unused[2]);
  return g;
}

// The constant record of one cache type: its geometry, its slab source, its options. One per
// slab_cache<T, Lock, SlabSize, Options...>, in read-only data; the master state points to it
// and the mechanism reads everything that depends on T from it.
struct cache_descriptor
{
  registry_type registry; // first, so that the registry reaches the descriptor through it
  void* (*allocate_slab)(layout) noexcept;
  result<void> (*free_slab)(void*, layout) noexcept;
  std::uint32_t object_size;
  std::uint32_t slot_size;
  std::uint32_t objects_per_slab;
  std::uint32_t objects_per_master;
  std::uint32_t slave_slots_offset;
  std::uint32_t master_slots_offset;
  std::uint32_t links_offset;
  std::uint32_t master_state_offset;
  std::uint32_t cached_area_offset;
  std::uint32_t max_slabs;   // 0: no limit
  std::uint32_t cache_limit; // objects a per-thread or per-CPU cache holds at most
  std::uint32_t cache_batch; // objects moved to or from the slabs at once
  std::uint32_t cpu_count;
  std::uint32_t cpu_stride; // bytes from one CPU's cache to the next
  caching_kind caching;
  // With caching only (null otherwise, so that a program without caching links none of that
  // code): the objects parked in the caches, and draining every CPU's cache (per_cpu).
  // Both take the master state. Context: see object_cache.hpp.
  std::size_t (*count_cached)(void* master) noexcept;
  std::size_t (*drain_every_cpu)(void* master) noexcept;
};

// The identity of one cache type: a mutable object of its own (so that no linker folds two of
// them, as it may fold two equal constants), whose address every slab of the type carries in
// its header, and which leads to the descriptor the type shares with others of its shape.
struct cache_identity
{
  const cache_descriptor* descriptor;
};

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_SLAB_LAYOUT_HPP
