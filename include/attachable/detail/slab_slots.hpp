// attachable-slab: one slab's slots, its bitmap of live slots and its free list.
//
// Contract of this layer: taking a slot from a slab and putting one back, in O(1), with every
// link validated before it is followed and every second free refused; nothing here knows about
// other slabs, the master state or locks (the caller holds the hierarchy's lock).
//
// A slab hands out slots from its free list first, then by bumping `bump`, so that a new slab
// costs nothing per slot. A free slot keeps the index of the next free slot in its first 4
// bytes; in a cache with per-thread or per-CPU caching its next 4 bytes hold a tag (below).
// A slot's bitmap bit is set exactly while the slot is taken. Bits at or above `bump` are
// stale or clear: the word is overwritten when `bump` enters it, and the double-free check
// only reads bits below max(bump, touched), all of which were written since the slab was
// formatted. When a slab empties it starts over in address order (bump = 0); `touched`
// remembers how far it had been used, so a stale free of an old slot is still a double free.
//
// The slot-size policy G is either fixed_slots (T's layout as constants, for the inlined fast
// path) or runtime_slots (read from the cache_descriptor, for the mechanism compiled once per
// geometry); the code below is the same for both.
#ifndef ATTACHABLE_DETAIL_SLAB_SLOTS_HPP
#define ATTACHABLE_DETAIL_SLAB_SLOTS_HPP

#include <attachable/config.hpp>
#include <attachable/detail/bits.hpp>
#include <attachable/detail/sanitizers.hpp>
#include <attachable/detail/slab_layout.hpp>

#include <cstddef>
#include <cstdint>
#include <new>

namespace attachable::detail::inline ATTACHABLE_ABI
{

template <std::size_t SlabSize, std::size_t SlotSize, std::size_t ObjectSize, bool Tagged>
struct fixed_slots
{
  [[nodiscard]] static constexpr std::size_t slab_size() noexcept { return SlabSize; }
  [[nodiscard]] static constexpr std::size_t slot_size() noexcept { return SlotSize; }
  [[nodiscard]] static constexpr std::size_t object_size() noexcept { return ObjectSize; }
  [[nodiscard]] static constexpr bool tagged() noexcept { return Tagged; }
};

template <std::size_t SlabSize>
struct runtime_slots
{
  const cache_descriptor* descriptor;

  [[nodiscard]] static constexpr std::size_t slab_size() noexcept { return SlabSize; }
  [[nodiscard]] std::size_t slot_size() const noexcept { return descriptor->slot_size; }
  [[nodiscard]] std::size_t object_size() const noexcept { return descriptor->object_size; }
  [[nodiscard]] bool tagged() const noexcept { return descriptor->caching != caching_kind::none; }
};

template <std::size_t SlabSize>
[[nodiscard]] inline slab* slab_of(const void* pointer) noexcept
{
  return reinterpret_cast<slab*>(address_of(pointer) & ~(std::uintptr_t{SlabSize} - 1));
}

template <class G>
[[nodiscard]] ATTACHABLE_ALWAYS_INLINE std::byte* slot_at(slab* s, std::size_t index, G g) noexcept
{
  return object_at<std::byte>(s, relaxed(s->slots_offset) + index * g.slot_size());
}

// Requires: `pointer` is on a slot boundary of `s`.
// Returns: the slot's index, below capacity, so it fits a 32-bit free-list link.
template <class G>
[[nodiscard]] ATTACHABLE_ALWAYS_INLINE std::size_t index_of(const slab* s, const void* pointer,
                                                            G g) noexcept
{
  const std::uintptr_t offset = address_of(pointer) & (std::uintptr_t{g.slab_size()} - 1);
  return (offset - relaxed(s->slots_offset)) / g.slot_size();
}

[[nodiscard]] inline bool is_occupied(const slab* s, std::size_t index) noexcept
{
  return (bitmap_of(s)[index / bits_per_word] >> (index % bits_per_word) & 1u) != 0;
}

// Slots at or above this index were never handed out.
[[nodiscard]] inline std::uint32_t used_slots(const slab* s) noexcept
{
  const std::uint32_t bump = relaxed(s->bump);
  const std::uint32_t touched = relaxed(s->touched);
  return bump > touched ? bump : touched;
}

// Every slot is aligned to at least 4. Saying so lets a core with no unaligned access
// (ARMv6-M) copy a slot's link or tag word with one load or store; otherwise GCC calls memcpy.
inline constexpr std::size_t slot_word_alignment = 4;
[[nodiscard]] inline const void* slot_word(const void* slot) noexcept
{
  return __builtin_assume_aligned(slot, slot_word_alignment);
}
[[nodiscard]] inline void* slot_word(void* slot) noexcept
{
  return __builtin_assume_aligned(slot, slot_word_alignment);
}

// A free slot's first word: the next free slot's index. Context: the slot is open to the tools.
[[nodiscard]] inline std::uint32_t next_free(const void* slot) noexcept
{
  std::uint32_t index = 0;
  __builtin_memcpy(&index, slot_word(slot), sizeof index);
  return index;
}

inline void set_next_free(void* slot, std::uint32_t index) noexcept
{
  __builtin_memcpy(slot_word(slot), &index, sizeof index);
}

// In a cache with per-thread or per-CPU caching, every free slot carries a tag in its second
// 4 bytes, derived from its own address: `free_tag` while it is in its slab's free list, and
// `free_tag ^ 1` while it is parked in a per-thread or per-CPU cache. A free reads the tag of
// the object it is given, a line it is about to touch anyway, so a second free is caught in
// O(1) without the slab's bitmap; allocation clears the tag.
//
// A live object whose bytes 4 to 7 equal its tag is refused as a double free, so the tag must
// not be a value that live data often holds. Its top byte is 0xA5, never the 0x00 or 0xFF of a
// small or negative integer (so never zero), and its low 24 bits are the complement of the
// slot's address, so never equal to the address of the slot itself (a 32-bit self-pointer).
[[nodiscard]] inline std::uint32_t free_tag(const void* slot) noexcept
{
  return (static_cast<std::uint32_t>(address_of(slot)) & 0x00FF'FFFFu) ^ 0xA5FF'FFFFu;
}
inline constexpr std::uint32_t cached_tag_bit = 1;
inline constexpr std::size_t tag_offset = sizeof(std::uint32_t);

[[nodiscard]] inline std::uint32_t read_tag(const void* slot) noexcept
{
  std::uint32_t tag = 0;
  __builtin_memcpy(&tag, slot_word(static_cast<const std::byte*>(slot) + tag_offset), sizeof tag);
  return tag;
}
inline void write_tag(void* slot, std::uint32_t tag) noexcept
{
  __builtin_memcpy(slot_word(static_cast<std::byte*>(slot) + tag_offset), &tag, sizeof tag);
}
// Returns: true if the slot's tag says it is free (in its slab or in a cache).
[[nodiscard]] inline bool tag_says_free(const void* slot) noexcept
{
  return (read_tag(slot) ^ free_tag(slot)) <= cached_tag_bit;
}

// The bytes at the start of a free slot that hold the cache's own data, never the pattern.
template <class G>
[[nodiscard]] constexpr std::size_t link_bytes(G g) noexcept
{
  return g.tagged() ? tag_offset + sizeof(std::uint32_t) : sizeof(std::uint32_t);
}

// Debug mode: a freed slot is filled with the pattern after its link, and checked on reuse.
template <class G>
inline void fill_free_pattern(void* slot, G g) noexcept
{
  if constexpr (ATTACHABLE_SLAB_DEBUG)
  {
    auto* bytes = static_cast<unsigned char*>(slot);
    for (std::size_t i = link_bytes(g); i < g.slot_size(); ++i)
    {
      bytes[i] = static_cast<unsigned char>(ATTACHABLE_FREE_PATTERN);
    }
  }
  (void)slot;
  (void)g;
}

template <class G>
[[nodiscard]] inline bool free_pattern_intact(const void* slot, G g) noexcept
{
  if constexpr (ATTACHABLE_SLAB_DEBUG)
  {
    const auto* bytes = static_cast<const unsigned char*>(slot);
    for (std::size_t i = link_bytes(g); i < g.slot_size(); ++i)
    {
      if (bytes[i] != static_cast<unsigned char>(ATTACHABLE_FREE_PATTERN))
      {
        return false;
      }
    }
  }
  (void)slot;
  (void)g;
  return true;
}

// Lays out an empty slab over `memory`. The bitmap is not cleared: bits at or above `bump`
// are not trusted (see the top of this file), which keeps adding a slab O(1) whatever its size.
template <std::size_t SlabSize>
inline slab* format_slab(void* memory, const void* identity, void* owner, std::size_t slots_offset,
                         std::size_t capacity, slab_role role) noexcept
{
  slab* s = ::new (memory) slab; // trivial: writes nothing
  set_relaxed(s->identity, identity);
  set_relaxed(s->owner, owner);
  set_relaxed(s->slots_offset, slots_offset);
  set_relaxed(s->capacity, capacity);
  set_relaxed(s->bump, 0u);
  set_relaxed(s->touched, 0u);
  s->free_head = no_slot;
  s->live = 0;
  s->full = 0;
  s->role = role;
  tool_slab_formatted(s, static_cast<std::byte*>(memory) + slots_offset, SlabSize - slots_offset);
  // Last, so that a racing validation never sees a valid magic over half-written fields.
  store_release(s->magic, magic_for(s));
  return s;
}

// Requires: the slab is empty. Its slots are handed out in address order again.
inline void start_over(slab* s) noexcept
{
  set_relaxed(s->touched, used_slots(s));
  s->free_head = no_slot;
  set_relaxed(s->bump, 0u);
}

[[nodiscard]] inline bool has_free_slot(const slab* s) noexcept
{
  return s->free_head != no_slot || relaxed(s->bump) < relaxed(s->capacity);
}

// What take_slot found.
enum class take_result
{
  taken,     // the slot is the caller's and the slab has more
  now_full,  // the slot is the caller's and was the slab's last free one
  corrupted, // the free list was found corrupted: nothing taken
};

// Takes a slot from `s`, which has a free slot.
// Returns: the slot (with `result` taken or now_full); null with `result` corrupted if the free
// list was found corrupted (a write after free), with nothing taken: the caller then drops the
// list (drop_free_list) and reports fatal_error.
template <class G>
[[nodiscard]] ATTACHABLE_ALWAYS_INLINE void* take_slot(slab* s, G g, take_result& result) noexcept
{
  std::uint32_t index = s->free_head;
  const std::uint32_t bump = relaxed(s->bump);
  std::uint32_t* const bits = bitmap_of(s);
  std::byte* slot = nullptr;
  // One unsigned comparison both finds an empty free list (no_slot is above every index) and
  // validates a link before use: following a corrupted link would hand out a live slot or
  // write outside the slab.
  if (index < bump) [[likely]]
  {
    std::uint32_t word = bits[index / bits_per_word];
    if (test_and_set_bit(word, index)) [[unlikely]]
    {
      result = take_result::corrupted; // the link names a live slot
      return nullptr;
    }
    slot = slot_at(s, index, g);
    tool_open_free_slot(slot, g.slot_size());
    if (!free_pattern_intact(slot, g)) [[unlikely]]
    {
      tool_close_free_slot(slot, g.slot_size());
      ATTACHABLE_REPORT_WRITE_AFTER_FREE(static_cast<void*>(slot));
      result = take_result::corrupted;
      return nullptr;
    }
    const std::uint32_t next = next_free(slot);
    tool_close_free_slot(slot, g.slot_size());
    s->free_head = next;
    bits[index / bits_per_word] = word;
    ++s->live;
    result = next == no_slot && bump == relaxed(s->capacity) ? take_result::now_full
                                                             : take_result::taken;
  }
  else
  {
    if (index != no_slot) [[unlikely]]
    {
      result = take_result::corrupted;
      return nullptr;
    }
    index = bump;
    set_relaxed(s->bump, bump + 1);
    std::uint32_t& word = bits[index / bits_per_word];
    const std::uint32_t bit = std::uint32_t{1} << (index % bits_per_word);
    // The word is stale when the bump index enters it, so it is overwritten then.
    word = index % bits_per_word == 0 ? bit : (word | bit);
    slot = slot_at(s, index, g);
    ++s->live;
    result = bump + 1 == relaxed(s->capacity) ? take_result::now_full : take_result::taken;
  }
  if (g.tagged())
  {
    // A slot leaves the slab untagged, or a later free would take it for a free slot.
    tool_open_free_slot(slot, link_bytes(g));
    write_tag(slot, 0);
    tool_close_free_slot(slot, link_bytes(g));
  }
  tool_slot_allocated(s, slot, g.object_size());
  ATTACHABLE_ASSUME(slot != nullptr);
  return slot;
}

enum class put_result
{
  kept,        // the slab still has taken slots
  emptied,     // the slab has no taken slot left
  double_free, // the slot was already free; nothing changed
};

// Puts back a slot of `s` that is on a slot boundary below used_slots(s), leaving its live
// count to the caller (put_counted), which checks the slab's other state first.
// Returns: false, changing nothing, if the slot was already free.
template <class G>
[[nodiscard]] ATTACHABLE_ALWAYS_INLINE bool put_slot(slab* s, void* slot, G g) noexcept
{
  const std::size_t index = index_of(s, slot, g);
  std::uint32_t* const word = bitmap_of(s) + index / bits_per_word;
  std::uint32_t bits = *word;
  if (!test_and_clear_bit(bits, static_cast<std::uint32_t>(index))) [[unlikely]]
  {
    return false;
  }
  *word = bits;
  tool_open_free_slot(slot, g.slot_size());
  set_next_free(slot, s->free_head);
  if (g.tagged())
  {
    write_tag(slot, free_tag(slot));
  }
  fill_free_pattern(slot, g);
  tool_slot_freed(s, slot, g.slot_size());
  tool_close_free_slot(slot, g.slot_size());
  s->free_head = static_cast<std::uint32_t>(index);
  return true;
}

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_SLAB_SLOTS_HPP
