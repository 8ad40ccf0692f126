// attachable-slab: validating pointers that come from outside, for deallocate(), from_raw()
// and deallocate_bulk().
//
// Contract of this layer: a pointer is accepted only if the header of the SlabSize-aligned
// block around it is a live slab of this exact cache type, the pointer is on a slot boundary
// below the slab's capacity, and the slot is taken by the user; otherwise invalid_pointer (or
// double_free for a free slot) and nothing changes. The header is read without the lock first
// (atomics, and under ASan or Valgrind only where the tool says the bytes are readable), then
// again under the lock of the master it names, so that a slab that changed hands in between
// is rejected without being touched.
//
// What the caller must guarantee: the block around the pointer is mapped memory for the whole
// call, and if the pointer is a slot of this cache type, its hierarchy is not torn down during
// the call (keep a handle alive while stale pointers may be freed). Within those bounds a
// stale pointer racing its slab's release is rejected; a stale pointer to a slot that was
// handed out again is indistinguishable from its new owner's pointer, as with any allocator.
#ifndef ATTACHABLE_DETAIL_RAW_POINTERS_HPP
#define ATTACHABLE_DETAIL_RAW_POINTERS_HPP

#include <attachable/config.hpp>
#include <attachable/detail/hierarchy.hpp>
#include <attachable/detail/object_cache.hpp>
#include <attachable/detail/sanitizers.hpp>
#include <attachable/detail/slab_layout.hpp>
#include <attachable/detail/slab_list.hpp>
#include <attachable/detail/slab_slots.hpp>
#include <attachable/result.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace attachable::detail::inline ATTACHABLE_ABI
{

template <class Lock, std::size_t SlabSize>
struct raw_pointers
{
  using core = hierarchy<Lock, SlabSize>;
  using cached = object_cache<Lock, SlabSize>;
  using state = typename core::state;

  // The checks that need no lock. Returns: the slab, with the slot's index; null if the block
  // is not a live slab of this cache type or the pointer is not on one of its slot boundaries.
  template <class G>
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static slab*
  find_slab(const void* pointer, const void* identity, G g, std::uint32_t& index) noexcept
  {
    if (pointer == nullptr)
    {
      return nullptr;
    }
    slab* const s = slab_of<SlabSize>(pointer);
    if (!tool_may_read(s, sizeof s->magic + sizeof s->identity))
    {
      return nullptr;
    }
    if (load_acquire(s->magic) != magic_for(s) || relaxed(s->identity) != identity)
    {
      return nullptr;
    }
    const std::uintptr_t offset = address_of(pointer) - address_of(s);
    const std::uintptr_t first = relaxed(s->slots_offset);
    if (offset < first || (offset - first) % g.slot_size() != 0)
    {
      return nullptr;
    }
    const std::uintptr_t slot = (offset - first) / g.slot_size();
    if (slot >= relaxed(s->capacity))
    {
      return nullptr;
    }
    index = static_cast<std::uint32_t>(slot);
    return s;
  }

  // Returns: whether `s` is still a slab of `m` with the identity find_slab saw. A slab
  // returned meanwhile has lost its magic, and may be memory the tools consider undefined
  // again, so they are asked first, as in find_slab. The identity needs a second look too:
  // find_slab read it before the owner, so a slab reformatted in between by a hierarchy of
  // another type of the same geometry names that hierarchy, which `m` then is.
  // Context: m's lock held.
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static bool still_owned(const slab* s, const state* m,
                                                                 const void* identity) noexcept
  {
    return tool_may_read(s, sizeof s->magic + sizeof s->identity + sizeof s->owner) &&
           relaxed(s->magic) == magic_for(s) && relaxed(s->identity) == identity &&
           relaxed(s->owner) == m;
  }

  // Returns: why a slot of `s` is not the user's, or nothing if it is.
  // Context: the lock held, or for the cached fast path none (see slot_is_free).
  [[nodiscard]] static result<void> check_taken(const slab* s, std::uint32_t index,
                                                const void* slot, bool tagged) noexcept
  {
    if (index >= used_slots(s))
    {
      return slab_error::invalid_pointer;
    }
    if (!is_occupied(s, index) || (tagged && slot_is_free(slot)))
    {
      return slab_error::double_free;
    }
    return {};
  }

  // Frees a raw slot of a cache without per-thread or per-CPU caching.
  // Context: any; takes the lock of the hierarchy the slot's header names; may call the source.
  template <class G>
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static result<void>
  deallocate(void* pointer, const void* identity, G g) noexcept
  {
    std::uint32_t index = 0;
    slab* const s = find_slab(pointer, identity, g, index);
    if (s == nullptr) [[unlikely]]
    {
      return slab_error::invalid_pointer;
    }
    state* const m = core::state_of(s);
    m->lock.lock();
    // The slot's bit is tested once, by put_counted, which changes nothing for a free slot.
    if (!still_owned(s, m, identity) || index >= used_slots(s)) [[unlikely]]
    {
      m->lock.unlock();
      return slab_error::invalid_pointer;
    }
    if (!put_moves_slab(s)) [[likely]]
    {
      const bool freed = put_in_place(m->core, s, pointer, g);
      m->lock.unlock();
      return freed ? result<void>{} : result<void>{slab_error::double_free};
    }
    return put_and_settle(m, s, pointer);
  }

  // The rest of deallocate when the put may move the slab between lists or release it: out of
  // line, so that the common path keeps nothing in registers across a call.
  // Context: m's lock held on entry, NOT held on return.
  [[nodiscard]] ATTACHABLE_NOINLINE static result<void> put_and_settle(state* m, slab* s,
                                                                       void* pointer) noexcept
  {
    const put_result put = put_counted(
        m->core, s, pointer, runtime_slots<SlabSize>{&m->core.descriptor()}, core::links(m));
    if (put != put_result::emptied)
    {
      m->lock.unlock();
      return put == put_result::double_free ? result<void>{slab_error::double_free}
                                            : result<void>{};
    }
    core::unlock_and_settle(m, core::on_emptied(m, s));
    return {};
  }

  // The runtime-geometry deallocate, for builds without the inlined fast path.
  [[nodiscard]] ATTACHABLE_NOINLINE static result<void>
  deallocate_any(void* pointer, const cache_identity* identity) noexcept
  {
    const cache_descriptor* const d = identity->descriptor;
    return deallocate(pointer, identity, runtime_slots<SlabSize>{d});
  }

  // Returns: nothing if `pointer` is a slot of this cache type that the user owns.
  // Context: takes the lock of the hierarchy the slot's header names.
  template <class G>
  [[nodiscard]] static result<void> validate_taken(const void* pointer, const void* identity,
                                                   G g) noexcept
  {
    std::uint32_t index = 0;
    slab* const s = find_slab(pointer, identity, g, index);
    if (s == nullptr)
    {
      return slab_error::invalid_pointer;
    }
    state* const m = core::state_of(s);
    m->lock.lock();
    result<void> verdict = slab_error::invalid_pointer;
    if (still_owned(s, m, identity))
    {
      verdict = check_taken(s, index, pointer, g.tagged());
    }
    m->lock.unlock();
    return verdict;
  }

  // Frees `pointers[0, n)`, each validated like deallocate; a run of pointers into one
  // hierarchy shares one acquisition of its lock. Every valid pointer is freed; an invalid one
  // is skipped and changes nothing.
  // Returns: nothing, or the error of the first invalid pointer.
  // Context: any; takes the lock of each hierarchy named, one at a time; may call the source
  // without it.
  template <class G>
  static result<void> deallocate_bulk(void* const* pointers, std::size_t n, const void* identity,
                                      G g, std::size_t links) noexcept
  {
    result<void> first_error;
    const auto note = [&first_error](result<void> error) noexcept
    {
      if (first_error)
      {
        first_error = error;
      }
    };
    state* held = nullptr;
    // Slabs the batch emptied, of every hierarchy it touched. They go back only after the last
    // pointer is checked, since a later copy of a pointer may point into one of them; each is
    // counted in its hierarchy's in_flight meanwhile, which keeps that hierarchy alive.
    slab* released = nullptr;
    for (std::size_t i = 0; i < n; ++i)
    {
      void* const pointer = pointers[i];
      std::uint32_t index = 0;
      slab* const s = find_slab(pointer, identity, g, index);
      if (s == nullptr)
      {
        note(slab_error::invalid_pointer);
        continue;
      }
      state* const m = core::state_of(s);
      if (m == nullptr) [[unlikely]]
      {
        // No live slab names no master; and a null here would pass for "already locked".
        note(slab_error::invalid_pointer);
        continue;
      }
      if (m != held)
      {
        if (held != nullptr)
        {
          core::unlock_and_settle(held, nullptr);
        }
        held = m;
        m->lock.lock();
      }
      if (!still_owned(s, m, identity))
      {
        note(slab_error::invalid_pointer);
        continue;
      }
      if (const result<void> taken = check_taken(s, index, pointer, g.tagged()); !taken)
      {
        note(taken);
        continue;
      }
      if (put_counted(m->core, s, pointer, g, links) == put_result::emptied)
      {
        if (slab* const gone = core::on_emptied(m, s))
        {
          links_of(gone, links).next = released;
          released = gone;
        }
      }
    }
    if (held != nullptr)
    {
      core::unlock_and_settle(held, nullptr);
    }
    release_runs(released, links);
    return first_error;
  }

  // Gives back a chain of detached slabs of one or more hierarchies, each run of one
  // hierarchy's slabs through finish_release. Context: no lock held; calls the source.
  static void release_runs(slab* released, std::size_t links) noexcept
  {
    while (released != nullptr)
    {
      state* const m = core::state_of(released);
      slab* last = released;
      while (links_of(last, links).next != nullptr &&
             core::state_of(links_of(last, links).next) == m)
      {
        last = links_of(last, links).next;
      }
      slab* const rest = links_of(last, links).next;
      links_of(last, links).next = nullptr;
      core::finish_release(m, released);
      released = rest;
    }
  }

  // Takes up to `n` slots, growing as needed; stops at the first failure.
  // Returns: how many it took. Context: takes the lock once for every slot the slabs already
  // have free, and a few times more for each slab it adds; calls the source without it.
  template <class G>
  static std::size_t allocate_bulk(state* m, void** out, std::size_t n, G g,
                                   std::size_t links) noexcept
  {
    std::size_t got = 0;
    while (got < n)
    {
      allocation taken{slab_error::out_of_memory};
      m->lock.lock();
      while (got < n)
      {
        taken = take_counted(m->core, g, links);
        if (!taken.ok())
        {
          break;
        }
        out[got++] = taken.slot();
      }
      m->lock.unlock();
      if (got == n || (!taken.ok() && taken.error() == slab_error::fatal_error))
      {
        break;
      }
      const allocation grown = core::grow_and_allocate(m);
      if (!grown.ok())
      {
        break;
      }
      out[got++] = grown.slot();
    }
    return got;
  }
};

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_RAW_POINTERS_HPP
