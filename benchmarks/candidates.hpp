// The allocators the benchmarks compare, behind one small interface so that every workload
// runs the same code for each:
//
//   handle             what a workload keeps per live object (a box, or a pointer)
//   name               the subject in the benchmark name, BM_<name>_<workload>
//   reserve(n)         make room for n objects before the run ("steady")
//   start_cold()       drop everything held, so the run obtains all memory afresh ("cold")
//   acquire()          an object, or an empty handle when out of memory
//   release(h)         give h's object back; false if the allocator rejected it
//   address(h)         where the object lives, to touch it and to show it to the optimiser
//
// Cold runs also trim the host heap first (malloc_trim), since the slab hooks sit on it.
//
// The slab_cache candidates come in four flavours, each through the box and the raw API:
// no_lock and spin_lock (no option), per_thread (spin_lock with a cache per thread) and
// per_cpu (spin_lock with a cache per CPU of the host, see hosted_cpus below).
#ifndef ATTACHABLE_BENCHMARKS_CANDIDATES_HPP
#define ATTACHABLE_BENCHMARKS_CANDIDATES_HPP

#include <attachable/slab.hpp>

#include <mimalloc.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <new>
#include <sched.h>
#include <sys/rseq.h>
#include <type_traits>

namespace bench
{

// The constructor is user-provided and empty so that no candidate zeroes the object: a
// value-initialised T() would clear every byte in the slab cache but not in malloc.
template <std::size_t Bytes>
struct object
{
  static_assert(Bytes % sizeof(std::uint64_t) == 0, "objects are whole words");
  object() noexcept {}
  std::uint64_t words[Bytes / sizeof(std::uint64_t)];
};

inline void trim_host_heap() noexcept
{
  malloc_trim(0);
}

inline void cpu_pause() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// The smallest correct lock: test-and-set with a pause, standing for the cost of any lock.
class test_and_set_lock
{
public:
  void lock() noexcept
  {
    while (flag_.test_and_set(std::memory_order_acquire))
    {
      cpu_pause();
    }
  }
  void unlock() noexcept { flag_.clear(std::memory_order_release); }

private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

struct no_op_lock
{
  void lock() noexcept {}
  void unlock() noexcept {}
};

// per_cpu<Cpus> on a Linux host, for the benchmarks only. current() is the CPU the kernel
// last ran the thread on (the cpu_id that glibc's rseq area keeps up to date, as
// sched_getcpu() returns it), folded into `count` caches; pin does nothing, since user space
// cannot disable preemption. That is still correct, because per_cpu takes the CPU cache's own
// lock (here spin_lock) around every use of it: a thread that migrates or is preempted between
// current() and the lock merely uses another CPU's cache, under that cache's lock. What a
// kernel's pin would add is speed: with it, no other thread ever finds a CPU's lock taken;
// here a thread preempted while holding one makes the other threads of that CPU spin.
struct hosted_cpus
{
  static constexpr std::size_t count = 4;

  static std::size_t current() noexcept
  {
    if (__rseq_size != 0) [[likely]]
    {
      const auto* const area = reinterpret_cast<const volatile struct rseq*>(
          static_cast<const char*>(__builtin_thread_pointer()) + __rseq_offset);
      return area->cpu_id % count;
    }
    const int cpu = sched_getcpu();
    return cpu < 0 ? 0 : static_cast<std::size_t>(cpu) % count;
  }

  struct pin
  {
    pin() noexcept {}
    pin(const pin&) = delete;
    pin& operator=(const pin&) = delete;
    ~pin() {}
  };
};

// The option list and the name of each slab_cache flavour.
template <class Flavour>
struct flavour_traits;

struct plain_no_lock
{
};
struct plain_spin_lock
{
};
struct per_thread_spin_lock
{
};
struct per_cpu_spin_lock
{
};

template <>
struct flavour_traits<plain_no_lock>
{
  template <class T>
  using cache = attachable::slab_cache<T, attachable::no_lock>;
  static constexpr const char* box_name = "slab_cache_box_no_lock";
  static constexpr const char* raw_name = "slab_cache_raw_no_lock";
};
template <>
struct flavour_traits<plain_spin_lock>
{
  template <class T>
  using cache = attachable::slab_cache<T, attachable::spin_lock>;
  static constexpr const char* box_name = "slab_cache_box_spin_lock";
  static constexpr const char* raw_name = "slab_cache_raw_spin_lock";
};
template <>
struct flavour_traits<per_thread_spin_lock>
{
  template <class T>
  using cache = attachable::slab_cache<T, attachable::spin_lock, 4096, attachable::per_thread>;
  static constexpr const char* box_name = "slab_cache_box_per_thread";
  static constexpr const char* raw_name = "slab_cache_raw_per_thread";
};
template <>
struct flavour_traits<per_cpu_spin_lock>
{
  template <class T>
  using cache =
      attachable::slab_cache<T, attachable::spin_lock, 4096, attachable::per_cpu<hosted_cpus>>;
  static constexpr const char* box_name = "slab_cache_box_per_cpu";
  static constexpr const char* raw_name = "slab_cache_raw_per_cpu";
};

// What every slab_cache candidate shares: one cache, reserved or dropped between runs.
template <std::size_t Bytes, class Flavour>
class slab_candidate_base
{
protected:
  using cache = typename flavour_traits<Flavour>::template cache<object<Bytes>>;

public:
  static constexpr bool thread_safe = !std::is_same_v<Flavour, plain_no_lock>;

  bool reserve(std::size_t objects) noexcept
  {
    auto created = cache::create();
    if (!created)
    {
      return false;
    }
    cache_ = static_cast<cache&&>(*created);
    return cache_.reserve(objects).has_value();
  }
  void start_cold() noexcept
  {
    cache_ = cache{};
    trim_host_heap();
  }

protected:
  cache cache_;
};

// slab_cache through the box API: alloc() and the box's destruction.
template <std::size_t Bytes, class Flavour>
class slab_box_candidate : public slab_candidate_base<Bytes, Flavour>
{
  using typename slab_candidate_base<Bytes, Flavour>::cache;

public:
  using handle = typename cache::box;
  static constexpr const char* name = flavour_traits<Flavour>::box_name;

  handle acquire() noexcept
  {
    auto made = this->cache_.alloc();
    return made ? static_cast<handle&&>(*made) : handle{};
  }
  static bool release(handle& h) noexcept
  {
    h.reset();
    return true;
  }
  static std::uint64_t* address(const handle& h) noexcept { return h.get()->words; }
};

// slab_cache through the raw API: allocate() and the validating deallocate().
template <std::size_t Bytes, class Flavour>
class slab_raw_candidate : public slab_candidate_base<Bytes, Flavour>
{
  using typename slab_candidate_base<Bytes, Flavour>::cache;

public:
  using handle = void*;
  static constexpr const char* name = flavour_traits<Flavour>::raw_name;

  handle acquire() noexcept { return this->cache_.allocate().value_or(nullptr); }
  static bool release(handle& h) noexcept { return cache::deallocate(h).has_value(); }
  static std::uint64_t* address(handle h) noexcept { return static_cast<std::uint64_t*>(h); }
};

template <std::size_t Bytes>
class malloc_candidate
{
public:
  using handle = void*;
  static constexpr bool thread_safe = true;
  static constexpr const char* name = "glibc_malloc";

  static bool reserve(std::size_t) noexcept { return true; }
  static void start_cold() noexcept { trim_host_heap(); }
  static handle acquire() noexcept { return std::malloc(Bytes); }
  static bool release(handle& h) noexcept
  {
    std::free(h);
    return true;
  }
  static std::uint64_t* address(handle h) noexcept { return static_cast<std::uint64_t*>(h); }
};

template <std::size_t Bytes>
class new_delete_candidate
{
public:
  using handle = object<Bytes>*;
  static constexpr bool thread_safe = true;
  static constexpr const char* name = "new_delete";

  static bool reserve(std::size_t) noexcept { return true; }
  static void start_cold() noexcept { trim_host_heap(); }
  static handle acquire() noexcept { return new (std::nothrow) object<Bytes>; }
  static bool release(handle& h) noexcept
  {
    delete h;
    return true;
  }
  static std::uint64_t* address(handle h) noexcept { return h->words; }
};

template <std::size_t Bytes>
class mimalloc_candidate
{
public:
  using handle = void*;
  static constexpr bool thread_safe = true;
  static constexpr const char* name = "mimalloc";

  static bool reserve(std::size_t) noexcept { return true; }
  static void start_cold() noexcept
  {
    mi_collect(true);
    trim_host_heap();
  }
  static handle acquire() noexcept { return mi_malloc(Bytes); }
  static bool release(handle& h) noexcept
  {
    mi_free(h);
    return true;
  }
  static std::uint64_t* address(handle h) noexcept { return static_cast<std::uint64_t*>(h); }
};

// The physical limit: an intrusive singly linked free list over one pre-reserved region, with
// a bump pointer for never-used objects and no checks at all. Reserving touches every page,
// so a steady run never faults; a cold run gets a fresh, untouched region.
template <std::size_t Bytes, class Lock>
class free_list_candidate
{
  struct node
  {
    node* next;
  };

public:
  using handle = void*;
  static constexpr bool thread_safe = !std::is_same_v<Lock, no_op_lock>;
  static constexpr const char* name =
      std::is_same_v<Lock, no_op_lock> ? "free_list_no_lock" : "free_list_tas_lock";

  free_list_candidate() = default;
  free_list_candidate(const free_list_candidate&) = delete;
  free_list_candidate& operator=(const free_list_candidate&) = delete;
  ~free_list_candidate() { std::free(region_); }

  bool reserve(std::size_t objects) noexcept
  {
    if (!map(objects))
    {
      return false;
    }
    std::memset(region_, 0, objects * Bytes);
    return true;
  }
  void start_cold() noexcept
  {
    const std::size_t objects = capacity_;
    std::free(region_);
    region_ = nullptr;
    trim_host_heap();
    map(objects);
  }
  handle acquire() noexcept
  {
    lock_.lock();
    node* n = head_;
    if (n != nullptr)
    {
      head_ = n->next;
    }
    else if (bump_ != end_)
    {
      n = reinterpret_cast<node*>(bump_);
      bump_ += Bytes;
    }
    lock_.unlock();
    return n;
  }
  bool release(handle& h) noexcept
  {
    node* const n = static_cast<node*>(h);
    lock_.lock();
    n->next = head_;
    head_ = n;
    lock_.unlock();
    return true;
  }
  static std::uint64_t* address(handle h) noexcept { return static_cast<std::uint64_t*>(h); }

private:
  bool map(std::size_t objects) noexcept
  {
    capacity_ = objects;
    const std::size_t bytes = (objects * Bytes + 63) / 64 * 64; // aligned_alloc wants a multiple
    region_ = static_cast<std::byte*>(std::aligned_alloc(64, bytes));
    head_ = nullptr;
    bump_ = region_;
    end_ = region_ != nullptr ? region_ + objects * Bytes : nullptr;
    return region_ != nullptr;
  }

  Lock lock_;
  node* head_ = nullptr;
  std::byte* bump_ = nullptr;
  std::byte* end_ = nullptr;
  std::byte* region_ = nullptr;
  std::size_t capacity_ = 0;
};

} // namespace bench

#endif // ATTACHABLE_BENCHMARKS_CANDIDATES_HPP
