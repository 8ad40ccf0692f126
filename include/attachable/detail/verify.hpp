// attachable-slab: slab_cache::verify(), a walk that checks every structural invariant of a
// hierarchy, compiled once per (Lock, SlabSize).
//
// Contract of this layer: under the hierarchy's lock, in O(slabs + slots), check each header
// (magic, identity, owner, role, capacity), the slab list (links, the full / partial / empty
// runs, the cursor, the tail), each slab's bitmap against its live count and bump index, each
// free list (every link below bump, its bit clear, no cycle, as long as the free slots below
// bump), the counters (slabs, taken slots, empty slaves, peak, the source balance) and the
// per-thread or per-CPU caches (bound to this hierarchy, within their limit). The first broken
// invariant is named through ATTACHABLE_REPORT_CORRUPTION and gives fatal_error; verify()
// changes nothing, so it may run in a test or a debug shell at any time.
#ifndef ATTACHABLE_DETAIL_VERIFY_HPP
#define ATTACHABLE_DETAIL_VERIFY_HPP

#include <attachable/config.hpp>
#include <attachable/detail/bits.hpp>
#include <attachable/detail/hierarchy.hpp>
#include <attachable/detail/object_cache.hpp>
#include <attachable/detail/sanitizers.hpp>
#include <attachable/detail/slab_layout.hpp>
#include <attachable/detail/slab_list.hpp>
#include <attachable/detail/slab_slots.hpp>
#include <attachable/result.hpp>

#include <cstddef>
#include <cstdint>

namespace attachable::detail::inline ATTACHABLE_ABI
{

template <class Lock, std::size_t SlabSize>
struct verifier
{
  using core = hierarchy<Lock, SlabSize>;
  using cached = object_cache<Lock, SlabSize>;
  using state = typename core::state;

  // Context: takes the lock.
  [[nodiscard]] static result<void> verify(state* m) noexcept
  {
    m->lock.lock();
    const char* const broken = first_broken(m);
    m->lock.unlock();
    if (broken == nullptr)
    {
      return {};
    }
    ATTACHABLE_REPORT_CORRUPTION(broken);
    return slab_error::fatal_error;
  }

  // Returns: a sentence naming the first broken invariant, or null. Context: lock held.
  [[nodiscard]] static const char* first_broken(state* m) noexcept
  {
    const master_core& c = m->core;
    const cache_descriptor& d = c.descriptor();
    const slab* const master_block = core::master_slab(m);
    if ((master_block->role == slab_role::master) != (m->handles != 0) ||
        master_block->role == slab_role::slave)
    {
      return "attachable::verify: the master's role does not match its handle count";
    }
    std::size_t slabs = 0;
    std::size_t taken = 0;
    std::size_t empty_slaves = 0;
    bool master_seen = false;
    bool cursor_seen = false;
    bool in_empty_run = false;
    const slab* previous = nullptr;
    for (slab* s = c.head; s != nullptr; s = links_of(s, d.links_offset).next)
    {
      if (++slabs > c.slabs)
      {
        return "attachable::verify: the slab list is longer than the slab count (a cycle?)";
      }
      if (links_of(s, d.links_offset).prev != previous)
      {
        return "attachable::verify: a slab's prev link does not name the slab before it";
      }
      if (const char* broken = header_broken(m, s, s == master_block))
      {
        return broken;
      }
      master_seen = master_seen || s == master_block;
      cursor_seen = cursor_seen || s == c.cursor;
      if ((s->full != 0) == cursor_seen)
      {
        return "attachable::verify: a full slab is after the cursor, or a slab before it is "
               "not full";
      }
      if (s != c.cursor && is_empty_slave(s))
      {
        ++empty_slaves;
        in_empty_run = true;
      }
      else if (in_empty_run)
      {
        return "attachable::verify: an empty slave is not in the list's tail run";
      }
      if (const char* broken = slots_broken(s, d))
      {
        return broken;
      }
      taken += taken_slots(s);
      previous = s;
    }
    if (previous != c.tail)
    {
      return "attachable::verify: the list's tail is not its last slab";
    }
    if (slabs != c.slabs || !master_seen)
    {
      return "attachable::verify: the slab count or the master's place in the list is wrong";
    }
    if (!cursor_seen && c.cursor != nullptr)
    {
      return "attachable::verify: the cursor is not on the slab list";
    }
    if (taken != c.taken() || c.peak < taken)
    {
      return "attachable::verify: the taken-slot counters disagree with the slabs' live counts";
    }
    if (empty_slaves != c.empty_slaves)
    {
      return "attachable::verify: the count of empty slaves is wrong";
    }
    if (c.hook_allocs < c.slabs)
    {
      return "attachable::verify: more slabs are held than the source handed out";
    }
    return caches_broken(m);
  }

  [[nodiscard]] static const char* header_broken(state* m, const slab* s, bool is_master) noexcept
  {
    const cache_descriptor& d = m->core.descriptor();
    if (relaxed(s->magic) != magic_for(s) ||
        relaxed(s->identity) != relaxed(core::master_slab(m)->identity) || relaxed(s->owner) != m)
    {
      return "attachable::verify: a slab header's magic, identity or owner is wrong";
    }
    if ((s->role == slab_role::slave) == is_master)
    {
      return "attachable::verify: a slab's role does not match its place in the hierarchy";
    }
    const std::uint32_t capacity = is_master ? d.objects_per_master : d.objects_per_slab;
    const std::uint32_t first = is_master ? d.master_slots_offset : d.slave_slots_offset;
    if (relaxed(s->capacity) != capacity || relaxed(s->slots_offset) != first ||
        relaxed(s->bump) > capacity || relaxed(s->touched) > capacity || taken_slots(s) > capacity)
    {
      return "attachable::verify: a slab's capacity, slot offset, bump or live count is wrong";
    }
    return nullptr;
  }

  // The bitmap against the live count, and the free list against the bitmap.
  [[nodiscard]] static const char* slots_broken(slab* s, const cache_descriptor& d) noexcept
  {
    const std::uint32_t bump = relaxed(s->bump);
    const std::uint32_t used = used_slots(s);
    const std::uint32_t* const bits = bitmap_of(s);
    std::size_t live = 0;
    for (std::size_t word = 0; word < bitmap_words(used); ++word)
    {
      std::uint32_t below_bump = bits[word];
      const std::size_t first = word * bits_per_word;
      if (first + bits_per_word > bump)
      {
        const std::size_t keep = bump > first ? bump - first : 0;
        const std::uint32_t mask = keep == 0 ? 0u : (~std::uint32_t{0} >> (bits_per_word - keep));
        if ((below_bump & ~mask) != 0)
        {
          return "attachable::verify: a bitmap bit is set at or above the bump index";
        }
        below_bump &= mask;
      }
      live += count_set_bits(below_bump);
    }
    if (live != taken_slots(s))
    {
      return "attachable::verify: a slab's bitmap does not match its live count";
    }
    const runtime_slots<SlabSize> g{&d};
    std::size_t steps = 0;
    for (std::uint32_t index = s->free_head; index != no_slot;)
    {
      if (index >= bump || is_occupied(s, index) || ++steps > bump - taken_slots(s))
      {
        return "attachable::verify: a free list link is out of range, names a live slot or "
               "loops";
      }
      std::byte* const slot = slot_at(s, index, g);
      tool_open_free_slot(slot, d.slot_size);
      const std::uint32_t next = next_free(slot);
      const bool tag_ok = !g.tagged() || read_tag(slot) == free_tag(slot);
      tool_close_free_slot(slot, d.slot_size);
      if (!tag_ok)
      {
        return "attachable::verify: a free slot's tag was overwritten";
      }
      index = next;
    }
    if (steps != bump - taken_slots(s))
    {
      return "attachable::verify: a free list does not hold every free slot below bump";
    }
    return nullptr;
  }

  [[nodiscard]] static const char* caches_broken(state* m) noexcept
  {
    const cache_descriptor& d = m->core.descriptor();
    std::size_t cached_total = 0;
    if (d.caching == caching_kind::per_thread)
    {
      std::size_t threads = 0;
      for (const thread_cache_head* t = core::area_of(m)->threads; t != nullptr; t = t->next)
      {
        if (t->bound != m || relaxed(t->count) > d.cache_limit || ++threads > 1'000'000)
        {
          return "attachable::verify: a per-thread cache is bound elsewhere or over its limit";
        }
        cached_total += relaxed(t->count);
      }
    }
    else if (d.caching == caching_kind::per_cpu)
    {
      for (std::size_t cpu = 0; cpu < d.cpu_count; ++cpu)
      {
        const std::uint32_t count = relaxed(core::cpu_at(m, cpu)->count);
        if (count > d.cache_limit)
        {
          return "attachable::verify: a per-CPU cache is over its limit";
        }
        cached_total += count;
      }
    }
    if (cached_total > m->core.taken())
    {
      return "attachable::verify: more objects are cached than taken from the slabs";
    }
    return nullptr;
  }
};

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_VERIFY_HPP
