// attachable-slab: the slab list of a hierarchy, its counters, and the empty-slab policy.
//
// Contract of this layer: which slab the next allocation comes from, where a slab goes when it
// fills, gains a free slot or empties, and whether an emptied slave is kept or released. All in
// O(1), under the hierarchy's lock; nothing here calls a hook (a released slab is handed back to
// the caller, who returns it after dropping the lock).
//
// Every slab of a hierarchy is on one doubly linked list, in three runs:
//
//   head                      cursor                                        tail
//   [ full ... full ]  [ partial or empty master ... partial ]  [ empty slaves ... ]
//
// Allocation takes from the cursor, the first slab with a free slot; when it fills, the cursor
// moves on and the slab stays where it is, now among the full ones. A full slab that gains a
// free slot moves just before the cursor and becomes it, so partial slabs are used before empty
// ones and those can drain. A slave that empties moves to the tail or is released; the master
// is never released while the hierarchy lives, so it stays where it is and is filled again
// before any slave. New slabs from growth become the cursor; reserved ones join the tail.
//
// `empty_slaves` counts the empty slaves other than the cursor, so the retention rule ("keep
// an emptied slave only while fewer than `retain` others are empty") and stats().empty_slabs
// are O(1), and allocating from the cursor needs no check: the count changes only when the
// cursor moves or a slave empties, joins or leaves.
#ifndef ATTACHABLE_DETAIL_SLAB_LIST_HPP
#define ATTACHABLE_DETAIL_SLAB_LIST_HPP

#include <attachable/config.hpp>
#include <attachable/detail/registry_node.hpp>
#include <attachable/detail/slab_layout.hpp>
#include <attachable/detail/slab_slots.hpp>
#include <attachable/result.hpp>

#include <cstddef>
#include <cstdint>

namespace attachable::detail::inline ATTACHABLE_ABI
{

// The part of the master state that does not depend on the lock. The last fields are the
// ones every allocation and free touch; the lock follows them, in the same cache line.
struct master_core
{
  slab* head = nullptr; // every slab, in the order above
  slab* tail = nullptr;
  registry_node node{};       // in the process-wide registry; node.type is the descriptor
  const char* name = nullptr; // the name given to slab_cache(name), or null
  std::size_t reserved = 0;   // the floor set by reserve()
  std::size_t hook_allocs = 0;
  std::uint32_t slabs = 0;
  std::uint32_t empty_slaves = 0; // empty slaves other than the cursor
  std::uint32_t retain = 1;       // empty slaves kept instead of released
  std::uint32_t hook_failures = 0;
  std::uint32_t in_flight = 0; // slabs detached and being returned outside the lock
  // Calls running outside the lock that still need the hierarchy: slabs being obtained from
  // the source, and a last handle draining the per-CPU caches.
  std::uint32_t pending = 0;
  slab* cursor = nullptr;   // the first slab with a free slot, or null when all are full
  std::size_t headroom = 0; // peak - taken: taken slots = peak - headroom
  std::size_t peak = 0;     // the most slots ever taken at once

  [[nodiscard]] const cache_descriptor& descriptor() const noexcept
  {
    return *reinterpret_cast<const cache_descriptor*>(node.type);
  }
  [[nodiscard]] std::size_t taken() const noexcept { return peak - headroom; }
  [[nodiscard]] std::size_t capacity() const noexcept
  {
    const cache_descriptor& d = descriptor();
    return d.objects_per_master + (std::size_t{slabs} - 1) * d.objects_per_slab;
  }
};

[[nodiscard]] inline bool is_empty_slave(const slab* s) noexcept
{
  return s->live == 0 && s->role == slab_role::slave; // a full slab is never empty
}

// ---- links ---------------------------------------------------------------------------------

// Inserts `s` before `at`, or at the tail when `at` is null.
inline void link_before(master_core& m, slab* s, slab* at, std::size_t links) noexcept
{
  slab_links& l = links_of(s, links);
  l.next = at;
  l.prev = at != nullptr ? links_of(at, links).prev : m.tail;
  (l.prev != nullptr ? links_of(l.prev, links).next : m.head) = s;
  (at != nullptr ? links_of(at, links).prev : m.tail) = s;
}

inline void unlink(master_core& m, slab* s, std::size_t links) noexcept
{
  slab_links& l = links_of(s, links);
  (l.prev != nullptr ? links_of(l.prev, links).next : m.head) = l.next;
  (l.next != nullptr ? links_of(l.next, links).prev : m.tail) = l.prev;
  l.prev = nullptr;
  l.next = nullptr;
}

// ---- the cursor and the runs ---------------------------------------------------------------

// Moves the cursor to `next`, a slab on the list or null.
inline void move_cursor(master_core& m, slab* next) noexcept
{
  if (m.cursor != nullptr && is_empty_slave(m.cursor))
  {
    ++m.empty_slaves;
  }
  if (next != nullptr && is_empty_slave(next))
  {
    --m.empty_slaves;
  }
  m.cursor = next;
}

// Makes `s`, a slab not counted in empty_slaves (full, or not on the list before), the cursor.
inline void make_cursor(master_core& m, slab* s) noexcept
{
  if (m.cursor != nullptr && is_empty_slave(m.cursor))
  {
    ++m.empty_slaves;
  }
  m.cursor = s;
}

// The cursor slab has no free slot left: it joins the full run.
ATTACHABLE_NOINLINE inline void cursor_filled(master_core& m, std::size_t links) noexcept
{
  slab* const s = m.cursor;
  s->full = 1;
  move_cursor(m, links_of(s, links).next);
}

// A full slab gained a free slot: it moves just before the cursor and becomes it.
ATTACHABLE_NOINLINE inline void slab_unfilled(master_core& m, slab* s, std::size_t links) noexcept
{
  unlink(m, s, links);
  link_before(m, s, m.cursor, links);
  s->full = 0;
  make_cursor(m, s);
}

// Removes an empty slave from the list, keeping empty_slaves exact.
inline void unlink_empty_slave(master_core& m, slab* s, std::size_t links) noexcept
{
  if (m.cursor == s)
  {
    move_cursor(m, links_of(s, links).next);
    // s was the cursor and is counted now that it is not.
  }
  else if (!is_empty_slave(s))
  {
    unlink(m, s, links);
    return;
  }
  --m.empty_slaves;
  unlink(m, s, links);
}

// Counts `s` as released: the caller returns it to the source after dropping the lock.
inline void detach_slab(master_core& m, slab* s, std::size_t links) noexcept
{
  unlink_empty_slave(m, s, links);
  --m.slabs;
}

// Whether the hierarchy may hold one slave less without going below its reserve.
[[nodiscard]] inline bool above_reserve(const master_core& m) noexcept
{
  return m.capacity() - m.descriptor().objects_per_slab >= m.reserved;
}

// A slave has just become empty (it was not counted in empty_slaves: it had taken slots).
// Returns: the slab if it is to be released (already detached and counted as a source free),
// or null if it is kept at the tail.
[[nodiscard]] inline slab* slave_emptied(master_core& m, slab* s, std::size_t links) noexcept
{
  std::uint32_t others = m.empty_slaves;
  if (m.cursor != nullptr && m.cursor != s && is_empty_slave(m.cursor))
  {
    ++others;
  }
  if (others >= m.retain && above_reserve(m))
  {
    if (m.cursor == s)
    {
      move_cursor(m, links_of(s, links).next);
      --m.empty_slaves; // s, counted by move_cursor, leaves
    }
    unlink(m, s, links);
    --m.slabs;
    return s;
  }
  if (m.cursor == s)
  {
    if (links_of(s, links).next == nullptr)
    {
      return nullptr; // the last slab stays the cursor, uncounted
    }
    move_cursor(m, links_of(s, links).next); // counts s
  }
  else
  {
    ++m.empty_slaves;
  }
  unlink(m, s, links);
  link_before(m, s, nullptr, links);
  return nullptr;
}

// A new slave from growth becomes the cursor, so the slot taken next comes from it even if
// another thread freed a slot elsewhere meanwhile.
inline void add_grown_slave(master_core& m, slab* s, std::size_t links) noexcept
{
  link_before(m, s, m.cursor, links);
  make_cursor(m, s);
  ++m.slabs;
}

// A new slave from reserve joins the empty run at the tail.
inline void add_reserved_slave(master_core& m, slab* s, std::size_t links) noexcept
{
  link_before(m, s, nullptr, links);
  if (m.cursor == nullptr)
  {
    m.cursor = s;
  }
  else
  {
    ++m.empty_slaves;
  }
  ++m.slabs;
}

// The cursor's free list was found corrupted and is dropped, never followed: its free slots
// are lost until the slab empties and starts over.
ATTACHABLE_NOINLINE inline void drop_free_list(master_core& m, std::size_t links) noexcept
{
  slab* const s = m.cursor;
  s->free_head = no_slot;
  if (taken_slots(s) == 0)
  {
    start_over(s);
  }
  else if (relaxed(s->bump) == relaxed(s->capacity))
  {
    cursor_filled(m, links);
  }
}

// ---- counted take and put ------------------------------------------------------------------

// A slot, or why there is none, in one word (as Linux's ERR_PTR): a slot is never within the
// first bytes of memory, so small values carry the error. One register, so that every path
// returns it cheaply, on cores that return larger structures through memory too.
class allocation
{
public:
  // Requires: `slot` is a slot.
  explicit allocation(void* slot) noexcept : bits_(address_of(slot))
  {
    ATTACHABLE_ASSUME(bits_ > most_error);
  }
  explicit allocation(slab_error error) noexcept : bits_(static_cast<std::uintptr_t>(error) + 1) {}

  [[nodiscard]] bool ok() const noexcept { return bits_ > most_error; }
  [[nodiscard]] void* slot() const noexcept
  {
    return ok() ? reinterpret_cast<void*>(bits_) : nullptr;
  }
  // Requires: !ok().
  [[nodiscard]] slab_error error() const noexcept { return static_cast<slab_error>(bits_ - 1); }

private:
  static constexpr std::uintptr_t most_error = 16;
  std::uintptr_t bits_;
};

// Takes a slot from the cursor slab.
// Returns: the slot; null with out_of_memory if every slab is full (the caller grows); null
// with fatal_error if the cursor's free list was corrupted (it is dropped, never followed).
// Context: lock held.
template <class G>
[[nodiscard]] ATTACHABLE_ALWAYS_INLINE allocation take_counted(master_core& m, G g,
                                                               std::size_t links) noexcept
{
  slab* const s = m.cursor;
  if (s == nullptr) [[unlikely]]
  {
    return allocation{slab_error::out_of_memory};
  }
  take_result result = take_result::corrupted;
  void* const slot = take_slot(s, g, result);
  if (result != take_result::taken) [[unlikely]]
  {
    if (result == take_result::corrupted)
    {
      drop_free_list(m, links);
      return allocation{slab_error::fatal_error};
    }
    cursor_filled(m, links);
  }
  // Taken slots are peak - headroom: an allocation eats headroom, or raises the peak.
  const std::size_t headroom = m.headroom;
  m.headroom = headroom - 1;
  if (headroom == 0) [[unlikely]]
  {
    m.headroom = 0;
    ++m.peak;
  }
  return allocation{slot};
}

// Whether putting a slot back into `s` may move it between lists or release it: `s` is full,
// or this is its last taken slot. Otherwise a put only changes counts (put_in_place).
[[nodiscard]] ATTACHABLE_ALWAYS_INLINE bool put_moves_slab(const slab* s) noexcept
{
  return s->full != 0 || s->live <= 1;
}

// put_counted for a slab that put_moves_slab() said stays where it is: the same counts, with
// no second look at the list state, which the slot's write would make the compiler reload.
// Returns: false, changing nothing, if the slot was already free.
template <class G>
[[nodiscard]] ATTACHABLE_ALWAYS_INLINE bool put_in_place(master_core& m, slab* s, void* slot,
                                                         G g) noexcept
{
  if (!put_slot(s, slot, g)) [[unlikely]]
  {
    return false;
  }
  ++m.headroom;
  --s->live;
  return true;
}

// Puts back a slot of `s`.
// Returns: kept; emptied when `s` is a slave, or a master with no handle left, that has just
// become empty and needs the empty-slab policy; double_free with nothing changed.
// Context: lock held.
template <class G>
[[nodiscard]] ATTACHABLE_ALWAYS_INLINE put_result put_counted(master_core& m, slab* s, void* slot,
                                                              G g, std::size_t links) noexcept
{
  if (!put_slot(s, slot, g)) [[unlikely]]
  {
    return put_result::double_free;
  }
  ++m.headroom;
  if (s->full != 0) [[unlikely]]
  {
    slab_unfilled(m, s, links);
  }
  // An emptied master never reaches zero while a handle keeps the hierarchy alive: it is never
  // released and stays where it is, so it is filled before any slave and the slaves drain.
  return --s->live != 0 ? put_result::kept : put_result::emptied;
}

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_SLAB_LIST_HPP
