// attachable-slab: the slab hierarchy behind slab_cache and slab_box.
//
// The theory of operation (glossary, slab picture, lock order, invariants) is at the top of
// <attachable/slab_cache.hpp>; this file implements it. Everything here is internal.
#ifndef ATTACHABLE_DETAIL_SLAB_HIERARCHY_HPP
#define ATTACHABLE_DETAIL_SLAB_HIERARCHY_HPP

#include <attachable/config.hpp>
#include <attachable/detail/bits.hpp>
#include <attachable/detail/sanitizers.hpp>
#include <attachable/hooks.hpp>
#include <attachable/lock.hpp>
#include <attachable/result.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

namespace attachable
{

/// A snapshot of one cache hierarchy, taken under its lock.
struct slab_stats
{
  std::size_t slabs = 0;             ///< slabs held, master included
  std::size_t empty_slabs = 0;       ///< slabs with no live object, master included
  std::size_t live_objects = 0;      ///< occupied slots: boxes, raw slots, released objects
  std::size_t capacity = 0;          ///< slots in all slabs held
  std::size_t peak_live_objects = 0; ///< the most live_objects ever seen at once
  std::size_t reserved_objects = 0;  ///< the floor set by the last reserve()
  std::size_t hook_allocs = 0;       ///< alloc-hook calls that returned memory
  std::size_t hook_frees = 0;        ///< free-hook calls
  std::size_t hook_failures = 0;     ///< alloc-hook nulls or misaligned blocks, free-hook errors
};

namespace detail
{

// T as slab_cache may store it. The rules have their own messages in slab_hierarchy.
template <class T>
concept storable_object = requires
{
  sizeof(T);
}
&&std::is_object_v<T> && !std::is_array_v<T> && !std::is_abstract_v<T> &&
    std::is_destructible_v<T> && std::is_same_v<T, std::remove_cv_t<T>>;

// One distinct, never-merged address per cache type: a slab remembers which cache type made
// it, so that a pointer from a cache of another T or Lock is rejected.
template <class T, class Lock, std::size_t SlabSize>
inline char cache_identity = 0;

inline constexpr std::uint32_t no_slot = 0xFFFF'FFFFu;

// What a slab is to its hierarchy. The master's role records whether a handle is left, so
// that the free path decides with one comparison that an emptied master needs no work.
enum class slab_role : std::uint8_t
{
  slave,
  master,          // at least one slab_cache handle points to the hierarchy
  orphaned_master, // no handle is left; the last free returns the hierarchy
};

// Chosen so that zeroed or recycled memory does not look like a live slab header; mixed with
// the header's own address so that a copy of a header elsewhere does not either.
inline constexpr std::uintptr_t slab_magic = static_cast<std::uintptr_t>(0x5AB1'A77A'C4AB'1E5AULL);

template <class T, class Lock, std::size_t SlabSize>
class slab_hierarchy
{
  // When a rule is broken, lay out a harmless stand-in so that only the rule's message shows.
  static constexpr bool valid_object = storable_object<T>;
  static constexpr bool valid_lock = slab_lock<Lock>;
  using object_type = std::conditional_t<valid_object, T, std::uint32_t>;
  using lock_type = std::conditional_t<valid_lock, Lock, no_lock>;

public:
  static_assert(is_power_of_two(SlabSize),
                "attachable::slab_cache: SlabSize must be a power of two, because an object finds "
                "its slab by masking its address; use e.g. 4096 or 65536.");
  static_assert(
      requires { sizeof(T); },
      "attachable::slab_cache: T must be a complete type, because the slot size is "
      "sizeof(T); include T's definition before instantiating the cache.");
  static_assert(std::is_object_v<T> && !std::is_array_v<T>,
                "attachable::slab_cache: T must be a non-array object type, because each slot "
                "holds one object; wrap arrays, references and functions in a struct.");
  static_assert(std::is_same_v<T, std::remove_cv_t<T>>,
                "attachable::slab_cache: T must not be const or volatile, because the cache "
                "writes free-list links into free slots; use the unqualified type.");
  static_assert(!std::is_abstract_v<T>,
                "attachable::slab_cache: T must not be abstract, because the cache constructs T "
                "itself; use a slab_cache of the concrete derived type.");
  static_assert(std::is_destructible_v<T>,
                "attachable::slab_cache: T must be destructible, because slab_box destroys it; "
                "give T a public, non-deleted destructor.");
  static_assert(nothrow_lock_constructible<Lock> && lockable<Lock>,
                "attachable::slab_cache: Lock must satisfy attachable::slab_lock, because the "
                "master constructs and takes it; give it noexcept default construction, lock() "
                "and unlock(), or use spin_lock or no_lock.");
  static_assert(fits_in_slab_header<Lock>,
                "attachable::slab_cache: Lock must be at most 16 bytes, because it lives in the "
                "master slab's header; keep the lock's state small or hold it by pointer.");

  static constexpr std::size_t slab_size = SlabSize;
  // A free slot stores a 32-bit index, so a slot is at least 4 bytes and 4-byte aligned.
  static constexpr std::size_t slot_align = max_of(alignof(object_type), alignof(std::uint32_t));
  static constexpr std::size_t slot_size =
      align_up(max_of(sizeof(object_type), sizeof(std::uint32_t)), slot_align);

  struct slab;
  struct master;

  // The validation fields at fixed offsets (so that checking a foreign pointer reads the same
  // bytes whatever the cache type that made the slab), then what every allocation and free
  // touches. The occupied-slot bitmap follows, so that for slabs of up to 128 slots all of it
  // shares the header's first cache line; `slab` adds the list links after the bitmap.
  struct slab_fields
  {
    std::uintptr_t magic;       // slab_magic ^ this header's address; zero once released
    const void* identity;       // &cache_identity<T, Lock, SlabSize>
    master* owner;              // the hierarchy's master state
    std::uint32_t slots_offset; // bytes from the slab's start to slot 0
    std::uint32_t capacity;     // slots in this slab
    std::uint32_t bump;         // next slot handed out once the free list is empty
    std::uint32_t touched;      // the highest bump before the slab last started over
    std::uint32_t free_head;    // first slot of the free list, or no_slot
    std::uint32_t live;         // occupied slots
    std::uint8_t in_list;       // 1 while on the available list (has a free slot)
    slab_role role;             // slave, or master (with or without a handle left)
  };
  // prev and next: two pointers after the bitmap.
  static constexpr std::size_t cold_field_bytes = 2 * sizeof(void*);

private:
  static constexpr std::size_t bits_per_word = 32;
  static constexpr std::size_t words_for(std::size_t slots)
  {
    return (slots + bits_per_word - 1) / bits_per_word;
  }
  static constexpr std::size_t slave_header_bytes(std::size_t slots)
  {
    return align_up(align_up(sizeof(slab_fields) + 4 * words_for(slots), alignof(void*)) +
                        cold_field_bytes,
                    slot_align);
  }
  // The largest slot count whose header, bitmap and slots fit in one slab.
  static constexpr std::size_t compute_objects_per_slab()
  {
    if (SlabSize <= sizeof(slab_fields) + cold_field_bytes)
    {
      return 0;
    }
    // Each slot costs slot_size bytes plus one bitmap bit: start from that estimate and step
    // down past rounding, a handful of iterations at most.
    std::size_t slots =
        (SlabSize - sizeof(slab_fields) - cold_field_bytes) * 8 / (slot_size * 8 + 1) + 1;
    while (slots > 0 && slave_header_bytes(slots) + slots * slot_size > SlabSize)
    {
      --slots;
    }
    return slots;
  }

public:
  static constexpr std::size_t objects_per_slab = compute_objects_per_slab();
  static constexpr std::size_t bitmap_words = words_for(objects_per_slab);

  struct slab : slab_fields
  {
    std::uint32_t occupied[bitmap_words > 0 ? bitmap_words : 1];
    slab* prev; // links in the master's available list (lock held)
    slab* next; //
  };

  // State that only the master slab carries, right after its slab header.
  struct master
  {
    [[no_unique_address]] lock_type lock;
    // 32-bit counts keep the master state small enough for a 4 KiB master to hold as many
    // 64-byte objects as 95% utilisation needs.
    std::uint32_t handles = 1;   // slab_cache objects that point here
    std::uint32_t in_flight = 0; // hook calls running outside the lock for a free
    slab* head = nullptr;        // available list: slabs with a free slot, empty slaves last
    slab* tail = nullptr;
    slab_stats stats;
  };

  static constexpr std::size_t slave_slots_offset = align_up(sizeof(slab), slot_align);
  static constexpr std::size_t master_state_offset = align_up(sizeof(slab), alignof(master));
  static constexpr std::size_t master_slots_offset =
      align_up(master_state_offset + sizeof(master), slot_align);
  static constexpr std::size_t objects_per_master =
      SlabSize > master_slots_offset ? (SlabSize - master_slots_offset) / slot_size : 0;

  static_assert(objects_per_master >= 2,
                "attachable::slab_cache: the master slab must hold its header plus at least two "
                "objects of T, because a cache that fills its first slab with one object has no "
                "room to amortise its bookkeeping; raise SlabSize (e.g. to 65536) or shrink T.");
  static_assert(objects_per_slab < no_slot,
                "attachable::slab_cache: a slab must hold fewer than 2^32 - 1 objects, because "
                "free slots keep a 32-bit index; lower SlabSize.");
  static_assert(sizeof(slab) <= slave_header_bytes(objects_per_slab) || !valid_object,
                "attachable::slab_cache: internal layout error; please report it.");
  static_assert(slave_slots_offset + objects_per_slab * slot_size <= SlabSize || !valid_object,
                "attachable::slab_cache: internal layout error; please report it.");

  // ---- addressing --------------------------------------------------------------------------

  [[nodiscard]] static slab* slab_of(const void* pointer) noexcept
  {
    return reinterpret_cast<slab*>(address_of(pointer) & ~(std::uintptr_t{SlabSize} - 1));
  }

  [[nodiscard]] static std::byte* slot_at(slab* s, std::size_t index) noexcept
  {
    return reinterpret_cast<std::byte*>(s) + s->slots_offset + index * slot_size;
  }

  // Requires: `pointer` is on a slot boundary of `s`.
  // Returns: the slot's index, below capacity, so it fits the 32-bit free-list link.
  [[nodiscard]] static std::size_t index_of(const slab* s, const void* pointer) noexcept
  {
    return ((address_of(pointer) & (std::uintptr_t{SlabSize} - 1)) - s->slots_offset) / slot_size;
  }

  [[nodiscard]] static slab* master_slab(master* m) noexcept { return slab_of(m); }

  [[nodiscard]] static const void* identity() noexcept
  {
    return &cache_identity<T, Lock, SlabSize>;
  }

  [[nodiscard]] static std::uintptr_t magic_for(const slab* s) noexcept
  {
    return slab_magic ^ address_of(s);
  }

  // ---- the slab lifecycle (hooks run outside the lock) -------------------------------------

  // What a hook call did, applied to the stats under the lock afterwards.
  struct hook_outcome
  {
    void* memory = nullptr;
    slab_error error = slab_error::out_of_memory;
    std::size_t allocs = 0;
    std::size_t frees = 0;
    std::size_t failures = 0;

    void apply_to(slab_stats& stats) const noexcept
    {
      stats.hook_allocs += allocs;
      stats.hook_frees += frees;
      stats.hook_failures += failures;
    }
  };

  // Context: lock NOT held; calls the alloc hook, and the free hook on misaligned memory.
  [[nodiscard]] static hook_outcome obtain_slab_memory() noexcept
  {
    hook_outcome outcome;
    void* memory = attachable_slab_alloc(SlabSize, SlabSize);
    if (memory == nullptr)
    {
      outcome.failures = 1;
      outcome.error = slab_error::out_of_memory;
      return outcome;
    }
    outcome.allocs = 1;
    if ((address_of(memory) & (SlabSize - 1)) != 0)
    {
      // Never keep a block we cannot mask back to: hand it straight back.
      outcome.failures = attachable_slab_free(memory, SlabSize, SlabSize) == 0 ? 1 : 2;
      outcome.frees = 1;
      outcome.error = slab_error::alignment_mismatch;
      return outcome;
    }
    outcome.memory = memory;
    return outcome;
  }

  // Context: lock NOT held. Returns: true if the free hook reported success.
  static bool return_slab_memory(slab* s) noexcept
  {
    s->magic = 0; // a stale pointer into this block must no longer pass validation
    tool_slab_returned(s, SlabSize);
    return attachable_slab_free(s, SlabSize, SlabSize) == 0;
  }

  static slab* format_slab(void* memory, master* owner, std::size_t slots_offset,
                           std::size_t capacity) noexcept
  {
    // The bitmap is not cleared: bits at or above `bump` are never read, and each is written
    // before its slot is first handed out. That keeps adding a slab O(1) whatever its size.
    slab* s = ::new (memory) slab;
    s->magic = magic_for(s);
    s->identity = identity();
    s->owner = owner;
    s->prev = nullptr;
    s->next = nullptr;
    s->slots_offset = static_cast<std::uint32_t>(slots_offset);
    s->capacity = static_cast<std::uint32_t>(capacity);
    s->bump = 0;
    s->touched = 0;
    s->free_head = no_slot;
    s->live = 0;
    s->in_list = 0;
    s->role = slab_of(owner) == s ? slab_role::master : slab_role::slave;
    tool_slab_formatted(s, static_cast<std::byte*>(memory) + slots_offset, SlabSize - slots_offset);
    return s;
  }

  // Context: lock NOT held; calls the alloc hook once.
  [[nodiscard]] static result<master*> create_master() noexcept
  {
    const hook_outcome outcome = obtain_slab_memory();
    if (outcome.memory == nullptr)
    {
      return outcome.error;
    }
    auto* bytes = static_cast<std::byte*>(outcome.memory);
    master* m = ::new (bytes + master_state_offset) master{};
    slab* s = format_slab(bytes, m, master_slots_offset, objects_per_master);
    push_back(m, s);
    m->stats.slabs = 1;
    m->stats.capacity = objects_per_master;
    outcome.apply_to(m->stats);
    return m;
  }

  // Gives every slab back. Context: no other reference to the hierarchy exists, so no lock.
  static void destroy(master* m) noexcept
  {
    slab* const master_block = master_slab(m);
    for (slab* s = m->head; s != nullptr;)
    {
      slab* const next = s->next;
      if (s != master_block)
      {
        return_slab_memory(s);
      }
      s = next;
    }
    m->~master();
    return_slab_memory(master_block);
  }

  // ---- the available list (lock held) ------------------------------------------------------

  static void push_front(master* m, slab* s) noexcept
  {
    s->prev = nullptr;
    s->next = m->head;
    (m->head != nullptr ? m->head->prev : m->tail) = s;
    m->head = s;
    s->in_list = 1;
  }

  static void push_back(master* m, slab* s) noexcept
  {
    s->next = nullptr;
    s->prev = m->tail;
    (m->tail != nullptr ? m->tail->next : m->head) = s;
    m->tail = s;
    s->in_list = 1;
  }

  static void unlink(master* m, slab* s) noexcept
  {
    (s->prev != nullptr ? s->prev->next : m->head) = s->next;
    (s->next != nullptr ? s->next->prev : m->tail) = s->prev;
    s->prev = nullptr;
    s->next = nullptr;
    s->in_list = 0;
  }

  // ---- slots (lock held) -------------------------------------------------------------------

  [[nodiscard]] static bool is_occupied(const slab* s, std::uint32_t index) noexcept
  {
    return ((s->occupied[index / bits_per_word] >> (index % bits_per_word)) & 1u) != 0;
  }

  [[nodiscard]] static std::uint32_t next_free(const void* slot) noexcept
  {
    std::uint32_t next;
    __builtin_memcpy(&next, slot, sizeof next);
    return next;
  }

  static void set_next_free(void* slot, std::uint32_t next) noexcept
  {
    __builtin_memcpy(slot, &next, sizeof next);
  }

  // Debug mode: everything after the link of a free slot holds ATTACHABLE_FREE_PATTERN.
  static void fill_free_pattern(void* slot) noexcept
  {
    if constexpr (ATTACHABLE_SLAB_DEBUG)
    {
      __builtin_memset(static_cast<std::byte*>(slot) + sizeof(std::uint32_t),
                       ATTACHABLE_FREE_PATTERN, slot_size - sizeof(std::uint32_t));
    }
    (void)slot;
  }

  [[nodiscard]] static bool free_pattern_intact(const void* slot) noexcept
  {
    if constexpr (ATTACHABLE_SLAB_DEBUG)
    {
      const auto* bytes = static_cast<const unsigned char*>(slot);
      for (std::size_t i = sizeof(std::uint32_t); i < slot_size; ++i)
      {
        if (bytes[i] != static_cast<unsigned char>(ATTACHABLE_FREE_PATTERN))
        {
          return false;
        }
      }
    }
    (void)slot;
    return true;
  }

  // Takes a free slot from the first available slab.
  // Returns: the slot, or null when no slab has one (the caller grows) or when the free list
  // was found corrupted (`corrupted` is set; the list is dropped and the slab stays
  // consistent).
  // Context: lock held.
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static void* take_slot(master* m, bool& corrupted) noexcept
  {
    slab* const s = m->head;
    if (s == nullptr) [[unlikely]]
    {
      return nullptr;
    }
    std::uint32_t index = s->free_head;
    std::byte* slot;
    // no_slot is above every bump index, so one comparison both finds an empty free list and
    // validates a link before use: a user's write after free can corrupt the link, and
    // following it would hand out a live slot or write outside the slab.
    if (index < s->bump) [[likely]]
    {
      if (is_occupied(s, index)) [[unlikely]]
      {
        corrupted = true;
        drop_corrupted_free_list(m, s);
        return nullptr;
      }
      slot = slot_at(s, index);
      tool_open_free_slot(slot, slot_size);
      if (!free_pattern_intact(slot)) [[unlikely]]
      {
        tool_close_free_slot(slot, slot_size);
        ATTACHABLE_REPORT_WRITE_AFTER_FREE(static_cast<void*>(slot));
        corrupted = true;
        drop_corrupted_free_list(m, s);
        return nullptr;
      }
      s->free_head = next_free(slot);
      tool_close_free_slot(slot, slot_size);
      s->occupied[index / bits_per_word] |= 1u << (index % bits_per_word);
    }
    else
    {
      if (index != no_slot) [[unlikely]]
      {
        corrupted = true;
        drop_corrupted_free_list(m, s);
        return nullptr;
      }
      index = s->bump++;
      std::uint32_t& word = s->occupied[index / bits_per_word];
      const std::uint32_t bit = 1u << (index % bits_per_word);
      // Bits at or above `bump` are stale or clear, so a word is overwritten when the bump
      // index enters it (bump only rises until the slab is empty again).
      word = index % bits_per_word == 0 ? bit : (word | bit);
      slot = slot_at(s, index);
    }
    tool_slot_allocated(s, slot, sizeof(object_type));
    ++s->live;
    if (s->free_head == no_slot && s->bump == s->capacity)
    {
      unlink(m, s);
    }
    if (++m->stats.live_objects > m->stats.peak_live_objects)
    {
      m->stats.peak_live_objects = m->stats.live_objects;
    }
    ATTACHABLE_ASSUME(slot != nullptr);
    return slot;
  }

  // Context: lock held; requires: the slab is empty.
  static void start_over(slab* s) noexcept
  {
    s->touched = s->bump > s->touched ? s->bump : s->touched;
    s->free_head = no_slot;
    s->bump = 0;
  }

  // Slots at or above this index were never handed out.
  [[nodiscard]] static std::uint32_t used_slots(const slab* s) noexcept
  {
    return s->bump > s->touched ? s->bump : s->touched;
  }

  ATTACHABLE_NOINLINE static void drop_corrupted_free_list(master* m, slab* s) noexcept
  {
    s->free_head = no_slot;
    if (s->live == 0)
    {
      start_over(s); // every slot is free anyway
    }
    else if (s->bump == s->capacity)
    {
      unlink(m, s);
    }
  }

  // Puts a live slot back.
  // Returns: false when the slab became empty and may need work: the caller must then call
  // settle_empty_slab.
  // Context: lock held.
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static bool put_slot(master* m, slab* s,
                                                              void* slot) noexcept
  {
    const std::size_t index = index_of(s, slot);
    s->occupied[index / bits_per_word] &= ~(1u << (index % bits_per_word));
    tool_open_free_slot(slot, slot_size);
    set_next_free(slot, s->free_head);
    fill_free_pattern(slot);
    tool_slot_freed(s, slot, slot_size);
    tool_close_free_slot(slot, slot_size);
    s->free_head = static_cast<std::uint32_t>(index);
    --m->stats.live_objects;
    if (s->in_list == 0)
    {
      push_front(m, s); // partial slabs go first, so empty ones can drain
    }
    if (--s->live != 0) [[likely]]
    {
      return true;
    }
    // An emptied master needs no work while a handle keeps the hierarchy alive: it is never
    // returned, and it stays where it is in the list, so it is filled before any slave and the
    // slaves drain. This keeps a lone alloc/free pair as cheap as any other.
    return s->role == slab_role::master;
  }

  // Applies the empty-slab rules to `s`, drops the lock, then returns the slab or the whole
  // hierarchy to the free hook if they are no longer needed.
  // Context: lock held on entry, NOT held on return; may call the free hook.
  ATTACHABLE_NOINLINE static void settle_empty_slab(master* m, slab* s) noexcept
  {
    slab* const released = became_empty(m, s);
    const bool dead = released == nullptr && is_dead(m);
    m->lock.unlock();
    if (released != nullptr)
    {
      finish_release(m, released);
    }
    else if (dead)
    {
      destroy(m);
    }
  }

  static slab* became_empty(master* m, slab* s) noexcept
  {
    if constexpr (!ATTACHABLE_SLAB_DEBUG)
    {
      // Start the slab over in address order, so that refilling it streams through memory
      // whatever order the frees came in. `touched` stays: the slots freed so far are still
      // known to be used, so freeing one again is caught as a double free. Debug mode keeps
      // the free list instead, so that every reuse checks the free pattern.
      start_over(s);
    }
    if (s->role == slab_role::slave && other_empty_slave(m, s) != nullptr &&
        m->stats.capacity - objects_per_slab >= m->stats.reserved_objects)
    {
      detach_empty_slave(m, s);
      ++m->in_flight;
      return s;
    }
    if (s->next != nullptr)
    {
      unlink(m, s);
      push_back(m, s);
    }
    return nullptr;
  }

  // Empty slaves always form the tail of the available list (they are appended, and a slave
  // that empties moves to the back; only the master may sit empty elsewhere), so whether
  // another slave is empty shows in the last two or three slabs: O(1) without counting empty
  // slabs on every allocation.
  // Returns: an empty slave other than `s`, or null. Context: lock held.
  [[nodiscard]] static slab* other_empty_slave(master* m, slab* s) noexcept
  {
    for (slab* candidate = m->tail; candidate != nullptr && candidate->live == 0;
         candidate = candidate->prev)
    {
      if (candidate != s && candidate->role == slab_role::slave)
      {
        return candidate;
      }
    }
    return nullptr;
  }

  // Counts the slab as returned. Context: lock held; the caller calls the free hook after
  // dropping the lock.
  static void detach_empty_slave(master* m, slab* s) noexcept
  {
    unlink(m, s);
    --m->stats.slabs;
    m->stats.capacity -= objects_per_slab;
    ++m->stats.hook_frees;
  }

  [[nodiscard]] static bool is_dead(const master* m) noexcept
  {
    return m->stats.live_objects == 0 && m->handles == 0 && m->in_flight == 0;
  }

  // ---- operations (each takes and drops the lock itself) -----------------------------------

  // Context: lock NOT held; may call the free hook.
  static void finish_release(master* m, slab* released) noexcept
  {
    const bool returned = return_slab_memory(released);
    m->lock.lock();
    --m->in_flight;
    if (!returned)
    {
      ++m->stats.hook_failures;
    }
    const bool dead = is_dead(m);
    m->lock.unlock();
    if (dead)
    {
      destroy(m);
    }
  }

  // Frees a slot known to be live (from a slab_box). Context: any; takes the lock; may call
  // the free hook.
  ATTACHABLE_ALWAYS_INLINE static void free_live_slot(void* pointer) noexcept
  {
    slab* const s = slab_of(pointer);
    master* const m = s->owner;
    m->lock.lock();
    if (put_slot(m, s, pointer)) [[likely]]
    {
      m->lock.unlock();
      return;
    }
    settle_empty_slab(m, s);
  }

  // The checks that need no lock: the header is ours and the pointer is on a slot boundary.
  [[nodiscard]] static slab* find_slot_slab(const void* pointer, std::uint32_t& index) noexcept
  {
    if (pointer == nullptr)
    {
      return nullptr;
    }
    slab* const s = slab_of(pointer);
    if (s->magic != magic_for(s) || s->identity != identity())
    {
      return nullptr;
    }
    const std::uintptr_t offset = address_of(pointer) - address_of(s);
    if (offset < s->slots_offset || (offset - s->slots_offset) % slot_size != 0)
    {
      return nullptr;
    }
    const std::uintptr_t slot = (offset - s->slots_offset) / slot_size;
    if (slot >= s->capacity)
    {
      return nullptr;
    }
    index = static_cast<std::uint32_t>(slot);
    return s;
  }

  // Returns: why a slot of `s` is not live, or nothing if it is. Context: lock held.
  [[nodiscard]] static result<void> check_live(const slab* s, std::uint32_t index) noexcept
  {
    if (index >= used_slots(s))
    {
      return slab_error::invalid_pointer;
    }
    if (!is_occupied(s, index))
    {
      return slab_error::double_free;
    }
    return {};
  }

  // Context: any; takes the lock; may call the free hook.
  [[nodiscard]] static result<void> deallocate(void* pointer) noexcept
  {
    std::uint32_t index = 0;
    slab* const s = find_slot_slab(pointer, index);
    if (s == nullptr)
    {
      return slab_error::invalid_pointer;
    }
    master* const m = s->owner;
    m->lock.lock();
    if (const result<void> live = check_live(s, index); !live)
    {
      m->lock.unlock();
      return live;
    }
    if (put_slot(m, s, pointer))
    {
      m->lock.unlock();
      return {};
    }
    settle_empty_slab(m, s);
    return {};
  }

  // Returns: nothing if `pointer` is a live slot of this cache type. Context: takes the lock.
  [[nodiscard]] static result<void> validate_live(const void* pointer) noexcept
  {
    std::uint32_t index = 0;
    slab* const s = find_slot_slab(pointer, index);
    if (s == nullptr)
    {
      return slab_error::invalid_pointer;
    }
    master* const m = s->owner;
    m->lock.lock();
    const result<void> live = check_live(s, index);
    m->lock.unlock();
    return live;
  }

  // Context: takes the lock; calls the alloc hook (without the lock) when every slab is full.
  // Returns: a slot, or null with `failure` set. A pointer and an out-parameter rather than a
  // result<void*>, because compilers keep this pair in registers across the inlined hot path.
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static void* allocate(master* m,
                                                               slab_error& failure) noexcept
  {
    bool corrupted = false;
    m->lock.lock();
    void* const slot = take_slot(m, corrupted);
    m->lock.unlock();
    if (slot != nullptr) [[likely]]
    {
      return slot;
    }
    if (corrupted)
    {
      failure = slab_error::fatal_error;
      return nullptr;
    }
    return grow_and_allocate(m, failure);
  }

  ATTACHABLE_NOINLINE static void* grow_and_allocate(master* m, slab_error& failure) noexcept
  {
    const hook_outcome outcome = obtain_slab_memory();
    m->lock.lock();
    outcome.apply_to(m->stats);
    if (outcome.memory == nullptr)
    {
      m->lock.unlock();
      failure = outcome.error;
      return nullptr;
    }
    // At the front, so the slot we take next comes from this slab even if another thread
    // freed a slot elsewhere meanwhile.
    push_front(m, add_empty_slave(m, outcome.memory));
    bool corrupted = false;
    void* const slot = take_slot(m, corrupted);
    m->lock.unlock();
    return slot;
  }

  // Context: lock held.
  static slab* add_empty_slave(master* m, void* memory) noexcept
  {
    slab* s = format_slab(memory, m, slave_slots_offset, objects_per_slab);
    ++m->stats.slabs;
    m->stats.capacity += objects_per_slab;
    return s;
  }

  // Context: takes the lock; calls the alloc hook (without the lock) until capacity >= n.
  [[nodiscard]] static result<void> reserve(master* m, std::size_t objects) noexcept
  {
    m->lock.lock();
    m->stats.reserved_objects = objects;
    bool short_of_capacity = m->stats.capacity < objects;
    m->lock.unlock();
    while (short_of_capacity)
    {
      const hook_outcome outcome = obtain_slab_memory();
      m->lock.lock();
      outcome.apply_to(m->stats);
      if (outcome.memory == nullptr)
      {
        m->lock.unlock();
        return outcome.error;
      }
      push_back(m, add_empty_slave(m, outcome.memory));
      short_of_capacity = m->stats.capacity < objects;
      m->lock.unlock();
    }
    return {};
  }

  // Context: takes the lock; calls the free hook (without the lock) once per slab returned.
  // Complexity: O(slabs held).
  static std::size_t shrink(master* m) noexcept
  {
    slab* released = nullptr;
    std::size_t count = 0;
    m->lock.lock();
    slab* const master_block = master_slab(m);
    for (slab* s = m->head; s != nullptr;)
    {
      slab* const next = s->next;
      if (s != master_block && s->live == 0 &&
          m->stats.capacity - objects_per_slab >= m->stats.reserved_objects)
      {
        detach_empty_slave(m, s);
        s->next = released;
        released = s;
        ++count;
      }
      s = next;
    }
    m->lock.unlock();
    std::size_t failures = 0;
    while (released != nullptr)
    {
      slab* const next = released->next;
      failures += return_slab_memory(released) ? 0u : 1u;
      released = next;
    }
    if (failures != 0)
    {
      m->lock.lock();
      m->stats.hook_failures += failures;
      m->lock.unlock();
    }
    return count;
  }

  [[nodiscard]] static slab_stats stats(master* m) noexcept
  {
    m->lock.lock();
    slab_stats snapshot = m->stats;
    // Empty slaves form the tail of the available list; the master may be among them or not.
    slab* const master_block = master_slab(m);
    snapshot.empty_slabs = master_block->live == 0 ? 1 : 0;
    for (const slab* s = m->tail; s != nullptr && s->live == 0; s = s->prev)
    {
      snapshot.empty_slabs += s != master_block ? 1 : 0;
    }
    m->lock.unlock();
    return snapshot;
  }

  // Context: takes the lock.
  static void retain(master* m) noexcept
  {
    m->lock.lock();
    ++m->handles;
    m->lock.unlock();
  }

  // Context: takes the lock; returns the hierarchy if this was the last reference.
  static void release_handle(master* m) noexcept
  {
    m->lock.lock();
    if (--m->handles == 0)
    {
      master_slab(m)->role = slab_role::orphaned_master;
    }
    const bool dead = is_dead(m);
    m->lock.unlock();
    if (dead)
    {
      destroy(m);
    }
  }

  // Returns: the master `handle` points to, creating and publishing one if it has none.
  // Context: calls the alloc hook when it creates; concurrent first users race to publish,
  // and a loser gives its fresh slab straight back, so exactly one master survives.
  [[nodiscard]] static result<master*> master_of(std::atomic<master*>& handle) noexcept
  {
    master* m = handle.load(std::memory_order_acquire);
    if (m != nullptr) [[likely]]
    {
      return m;
    }
    return publish_new_master(handle);
  }

  ATTACHABLE_NOINLINE static result<master*>
  publish_new_master(std::atomic<master*>& handle) noexcept
  {
    result<master*> created = create_master();
    if (!created)
    {
      return created;
    }
    master* expected = nullptr;
    if (handle.compare_exchange_strong(expected, *created, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
    {
      return created;
    }
    destroy(*created);
    return expected;
  }
};

} // namespace detail
} // namespace attachable

#endif // ATTACHABLE_DETAIL_SLAB_HIERARCHY_HPP
