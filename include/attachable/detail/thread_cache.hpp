// attachable-slab: the per_thread front end, inlined per cache type.
//
// Contract of this layer: allocation pops from the calling thread's cache and free pushes onto
// it, with no lock and no atomic read-modify-write; a free first reads the object's tag, so a
// second free of a cached or slab-free object is reported at once. Everything else (binding a
// thread to a hierarchy, refills, flushes, a thread bound to another hierarchy of the same
// type) is out of line in object_cache.hpp.
//
// Each thread has one cache per cache type, bound to one hierarchy at a time: the first one it
// allocates from or frees into (a hierarchy with no handle left binds no thread). Objects of
// another hierarchy of the same type take the locked path. The binding keeps the hierarchy alive
// until the thread exits, calls drain(), or drops a handle of that hierarchy; the thread's cached
// objects then go back to their slabs.
#ifndef ATTACHABLE_DETAIL_THREAD_CACHE_HPP
#define ATTACHABLE_DETAIL_THREAD_CACHE_HPP

#include <attachable/config.hpp>
#include <attachable/detail/cached_area.hpp>
#include <attachable/detail/object_cache.hpp>
#include <attachable/detail/slab_slots.hpp>
#include <attachable/result.hpp>

#include <cstddef>
#include <cstdint>

namespace attachable::detail::inline ATTACHABLE_ABI
{

// A double free found on a path that cannot return an error.
ATTACHABLE_NOINLINE inline void report_double_free(void* slot) noexcept
{
  ATTACHABLE_REPORT_DOUBLE_FREE(slot);
}

template <class Type>
struct thread_caching
{
  using cached = typename Type::cached;
  using core = typename Type::core;
  using state = typename Type::state;
  static constexpr std::uint32_t limit = Type::cache_limit;
  using cache = thread_cache<limit>;

  // Constant-initialised and trivially destructible, so that reaching it costs no guard.
  static inline thread_local constinit cache tls_{};

  // Set once the thread's exit flush has run. A box that a later thread-local destructor frees
  // must not bind the thread again: nothing would unbind it, and the cache's memory goes away
  // with the thread while the hierarchy's list still points to it.
  static inline thread_local constinit bool exited_ = false;

  // Flushes the thread's cache when the thread exits; armed when the thread binds.
  struct exit_flush
  {
    bool armed = false;
    exit_flush() noexcept = default;
    exit_flush(const exit_flush&) = delete;
    exit_flush& operator=(const exit_flush&) = delete;
    ~exit_flush()
    {
      cached::unbind(&tls_.head);
      exited_ = true;
    }
  };
  static inline thread_local exit_flush tls_exit_{};

  // Pops an object if the calling thread's cache is bound to `m` and not empty.
  ATTACHABLE_ALWAYS_INLINE static bool try_pop(state* m, void*& slot) noexcept
  {
    cache& c = tls_;
    const std::uint32_t n = c.head.count;
    if (c.head.bound == m && n != 0) [[likely]]
    {
      slot = c.items[n - 1];
      set_relaxed(c.head.count, n - 1);
      cached::unpark(slot, Type::slot_size, Type::object_size);
      return true;
    }
    return false;
  }

  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static allocation allocate(state* m) noexcept
  {
    if (void* slot = nullptr; try_pop(m, slot)) [[likely]]
    {
      return allocation{slot};
    }
    return allocate_slow(m);
  }

  // The same, from a handle whose master may not exist yet, with no test for it on the fast
  // path: a thread's cache holds objects only while bound to a master, so a null master never
  // matches a non-empty cache and takes the slow path, which creates the master.
  template <class Handle>
  [[nodiscard]] ATTACHABLE_ALWAYS_INLINE static allocation allocate(Handle& handle) noexcept
  {
    state* const m = handle.master.load_acquire();
    if (void* slot = nullptr; try_pop(m, slot)) [[likely]]
    {
      return allocation{slot};
    }
    return allocate_first(handle, m);
  }

  template <class Handle>
  [[nodiscard]] ATTACHABLE_NOINLINE static allocation allocate_first(Handle& handle,
                                                                     state* m) noexcept
  {
    if (m == nullptr)
    {
      const result<state*> created = core::master_of(handle, Type::identity);
      if (!created)
      {
        return allocation{created.error()};
      }
      m = *created;
    }
    return allocate_slow(m);
  }

  ATTACHABLE_ALWAYS_INLINE static void free(void* slot) noexcept
  {
    void* const m = relaxed(slab_of<Type::slab_size>(slot)->owner);
    cache& c = tls_;
    const std::uint32_t n = c.head.count;
    if (c.head.bound == m && n != limit) [[likely]]
    {
      if (slot_is_free(slot)) [[unlikely]]
      {
        report_double_free(slot);
        return;
      }
      cached::park(slot, Type::slot_size);
      c.items[n] = slot;
      set_relaxed(c.head.count, n + 1);
      return;
    }
    free_slow(slot);
  }

  [[nodiscard]] ATTACHABLE_NOINLINE static allocation allocate_slow(state* m) noexcept
  {
    cache& c = tls_;
    if (c.head.bound == nullptr)
    {
      bind(m);
    }
    if (c.head.bound != m)
    {
      return core::allocate_any(m); // another hierarchy of this type: locked path
    }
    if (c.head.count == 0 && cached::refill(m, c.items, c.head.count, Type::cache_batch) == 0)
    {
      return core::grow_and_allocate(m);
    }
    const std::uint32_t n = c.head.count;
    void* const slot = c.items[n - 1];
    set_relaxed(c.head.count, n - 1);
    cached::unpark(slot, Type::slot_size, Type::object_size);
    return allocation{slot};
  }

  ATTACHABLE_NOINLINE static void free_slow(void* slot) noexcept
  {
    state* const m = core::state_of(slab_of<Type::slab_size>(slot));
    cache& c = tls_;
    if (c.head.bound == nullptr)
    {
      bind(m);
    }
    if (slot_is_free(slot))
    {
      report_double_free(slot);
      return;
    }
    cached::park(slot, Type::slot_size);
    if (c.head.bound != m)
    {
      // Another hierarchy of this type, or one with no handle left: the locked path.
      cached::put_back(m, &slot, 1);
      return;
    }
    void* out[limit];
    const std::uint32_t n = cached::take_oldest(c.items, c.head.count, Type::cache_batch, out);
    c.items[c.head.count] = slot;
    set_relaxed(c.head.count, c.head.count + 1);
    if (n != 0)
    {
      cached::put_back(m, out, n);
    }
  }

  static void bind(state* m) noexcept
  {
    if (exited_)
    {
      return; // the thread is exiting: its frees and allocations take the locked path
    }
    tls_exit_.armed = true; // registers the exit flush for this thread
    (void)cached::bind(m, &tls_.head);
  }

  // Gives the calling thread's cached objects of `m` back and unbinds it.
  // Returns: how many objects went back.
  static std::size_t drain(state* m) noexcept
  {
    return tls_.head.bound == m ? cached::unbind(&tls_.head) : 0;
  }
};

} // namespace attachable::detail::inline ATTACHABLE_ABI

#endif // ATTACHABLE_DETAIL_THREAD_CACHE_HPP
