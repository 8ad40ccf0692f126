// A seeded random run compares a per_thread or per_cpu cache with a model of what its caches
// hold, after every step, with verify() after every step.
//
// The model knows what the contract promises about caching and nothing of the slab list:
// - live_objects is exactly what the user owns; cached_objects exactly what the caches hold.
//   A cache (the calling thread's, or each CPU's) is a stack: a free pushes, an allocation
//   pops (so a freed object comes back first), an empty cache is refilled with one batch from
//   the slabs (fewer if the slabs hold fewer free slots), a full one sends its oldest batch
//   back, drain() empties the caller's, shrink() every one it reaches, a dropped handle the
//   caller's; bulk calls go straight to the slabs.
// - A slab is added only when a cache is empty and every slot is taken (live + cached ==
//   capacity), one per allocation; slabs go back only on the steps that put objects into the
//   slabs (a full cache's flush, drain, shrink, a dropped handle, deallocate_bulk, teardown),
//   and when no cache holds anything the empty slabs are exactly those without a user object.
// - peak_live_objects is the most slots ever out of the slabs (live + cached), the hook
//   counters balance, deallocate and from_raw of a parked or slab-free object give
//   double_free, deallocate_bulk frees the valid pointers and reports the first error.
//
// ATTACHABLE_MODEL_SEED=<n> replays a run; a failing run prints the seed.
// ATTACHABLE_MODEL_OPS=<n> sets the total operation count (the Valgrind leg lowers it).
#include "catch.hpp"
#include "model_support.hpp"
#include "recording_hooks.hpp"
#include "test_cpus.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <new>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace
{

using attachable::max_slabs;
using attachable::no_lock;
using attachable::per_cpu;
using attachable::per_thread;
using attachable::slab_error;
using attachable::spin_lock;
using test_support::blob;
using test_support::environment_nonzero;
using test_support::mix;
using test_support::random_source;
using test_support::recording_hooks;
using test_support::test_cpus;

constexpr std::uint64_t default_seed = 0xCAC4'E5EE'D0C4'C4EDULL;
constexpr std::size_t default_ops = 160'000;
constexpr unsigned fault_percent = 20;

using tiny = blob<1, 1>;
using word = blob<4, 4>;
using record = blob<24, 8>;
using line = blob<64, 8>;
using aligned_line = blob<40, 64>;

template <class T, class Lock, std::size_t SlabSize, class Caching, std::size_t MaxSlabs = 0>
struct config
{
  using value_type = T;
  using lock_type = Lock;
  using caching = Caching;
  static constexpr std::size_t slab_size = SlabSize;
  static constexpr std::size_t slab_limit = MaxSlabs;

  static std::string name()
  {
    return std::to_string(sizeof(T)) + "-byte T aligned to " + std::to_string(alignof(T)) + ", " +
           (std::is_same_v<Lock, no_lock> ? "no_lock" : "spin_lock") + ", SlabSize " +
           std::to_string(SlabSize) + ", " +
           (std::is_same_v<Caching, per_thread> ? "per_thread" : "per_cpu") +
           (MaxSlabs != 0 ? ", max_slabs " + std::to_string(MaxSlabs) : std::string());
  }
  static std::uint64_t seed(std::uint64_t base)
  {
    return mix(base ^ mix(SlabSize * 1'000'003u + sizeof(T) * 1009u + alignof(T) * 17u +
                          (std::is_same_v<Lock, no_lock> ? 1u : 0u) + MaxSlabs * 7919u +
                          (std::is_same_v<Caching, per_thread> ? 0u : 104'729u)));
  }
};

using cpus = per_cpu<test_cpus>;
using model_configs = std::tuple<
    config<tiny, spin_lock, 256, per_thread>, config<record, no_lock, 256, per_thread>,
    config<word, no_lock, 4096, per_thread>, config<record, spin_lock, 4096, per_thread>,
    config<line, no_lock, 4096, per_thread>, config<aligned_line, spin_lock, 4096, per_thread>,
    config<record, no_lock, 65536, per_thread>, config<record, spin_lock, 4096, per_thread, 3>,
    config<word, spin_lock, 1024, cpus>, config<record, no_lock, 1024, cpus>,
    config<word, no_lock, 4096, cpus>, config<record, spin_lock, 4096, cpus>,
    config<line, no_lock, 4096, cpus>, config<aligned_line, spin_lock, 4096, cpus>,
    config<record, spin_lock, 65536, cpus>, config<record, no_lock, 4096, cpus, 3>>;
constexpr std::size_t model_config_count = std::tuple_size_v<model_configs>;

enum class operation
{
  first_use,
  allocate,
  free,
  release_box,
  adopt_raw,
  allocate_bulk,
  deallocate_bulk,
  double_free,
  bad_pointer,
  drain,
  shrink,
  reserve,
  retain,
  copy_handle,
  drop_handle,
  migrate,
  teardown,
};

const char* name_of(operation op)
{
  switch (op)
  {
  case operation::first_use:
    return "first use";
  case operation::allocate:
    return "alloc, emplace or allocate";
  case operation::free:
    return "free";
  case operation::release_box:
    return "release";
  case operation::adopt_raw:
    return "from_raw";
  case operation::allocate_bulk:
    return "allocate_bulk";
  case operation::deallocate_bulk:
    return "deallocate_bulk";
  case operation::double_free:
    return "free a free object";
  case operation::bad_pointer:
    return "free a bad pointer";
  case operation::drain:
    return "drain";
  case operation::shrink:
    return "shrink";
  case operation::reserve:
    return "reserve";
  case operation::retain:
    return "retain_empty_slabs";
  case operation::copy_handle:
    return "copy a handle";
  case operation::drop_handle:
    return "drop a handle";
  case operation::migrate:
    return "move to another CPU";
  case operation::teardown:
    return "teardown";
  }
  return "?";
}

template <class Config>
class model_run
{
public:
  using T = typename Config::value_type;
  using lock_type = typename Config::lock_type;
  static constexpr std::size_t slab_size = Config::slab_size;
  static constexpr std::size_t slab_limit = Config::slab_limit;
  static constexpr bool per_cpu_caching = !std::is_same_v<typename Config::caching, per_thread>;
  using cache =
      std::conditional_t<slab_limit == 0,
                         attachable::slab_cache<T, lock_type, slab_size, typename Config::caching>,
                         attachable::slab_cache<T, lock_type, slab_size, typename Config::caching,
                                                max_slabs<slab_limit>>>;
  using box = typename cache::box;
  using type = std::conditional_t<
      slab_limit == 0,
      attachable::detail::cache_type<T, lock_type, slab_size, typename Config::caching>,
      attachable::detail::cache_type<T, lock_type, slab_size, typename Config::caching,
                                     max_slabs<slab_limit>>>;
  static constexpr std::size_t limit = type::cache_limit;
  static constexpr std::size_t batch = type::cache_batch;
  static constexpr std::size_t caches = per_cpu_caching ? test_cpus::count : 1;
  static constexpr std::size_t per_master = cache::objects_per_master;
  static constexpr std::size_t per_slave = cache::objects_per_slab;
  static constexpr std::size_t slot_bytes = type::slot_size;

  model_run(std::uint64_t seed, std::size_t steps, unsigned alloc_fault_percent)
      : random_(seed), steps_(steps), fault_percent_(alloc_fault_percent)
  {
    max_target_ = per_master + 3 * per_slave;
    const std::size_t reachable = steps / 8 > 64 ? steps / 8 : 64;
    if (max_target_ > reachable)
    {
      max_target_ = reachable;
    }
  }

  std::string run()
  {
    recording_hooks::reset();
    baseline_ = recording_hooks::counts();
    last_ = baseline_;
    test_cpus::index = 0;
    if (fault_percent_ != 0)
    {
      recording_hooks::fail_alloc_randomly(fault_percent_, random_.next());
    }
    handles_.reserve(max_handles);
    handles_.emplace_back();
    first_use();
    for (step_ = 0; step_ < steps_ && failure_.empty(); ++step_)
    {
      do_step();
      check_step();
    }
    if (failure_.empty())
    {
      teardown();
    }
    recording_hooks::reset();
    test_cpus::index = 0;
    return failure_;
  }

private:
  static constexpr std::size_t max_handles = 5;

  struct entry
  {
    std::uint64_t id;
    T* object;
    box owner; // empty for a raw slot or a released object
  };

  // What the hooks did during one step, split by what it means for the hierarchy.
  struct hook_step
  {
    std::size_t grown = 0;      // blocks kept as new slabs
    std::size_t released = 0;   // slabs given back
    std::size_t nulls = 0;      // alloc calls that returned null
    std::size_t misaligned = 0; // blocks refused and handed straight back
    [[nodiscard]] std::size_t calls() const { return grown + nulls + misaligned; }
  };

  // ---- checks ------------------------------------------------------------------------------

  bool expect(bool holds, const char* rule)
  {
    if (!holds && failure_.empty())
    {
      failure_ = std::string("step ") + std::to_string(step_) + " (" + name_of(op_) + "): " + rule +
                 "; model: live " + std::to_string(live_) + ", cached " +
                 std::to_string(cached_total()) + ", slabs " + std::to_string(slabs_) + ", floor " +
                 std::to_string(floor_) + ", cpu " + std::to_string(cpu_);
    }
    return holds;
  }

  bool expect_error(const attachable::result<void>& got, slab_error wanted, const char* rule)
  {
    return expect(!got.has_value() && got.error() == wanted, rule);
  }

  // Reads what the hooks did since the last step. Null calls and misaligned blocks are told
  // apart from growth and release by the stats' failure count.
  hook_step hooks_since_last(std::size_t failures_now)
  {
    const test_support::hook_counts now = recording_hooks::counts();
    hook_step h;
    const std::size_t calls = now.alloc_calls - last_.alloc_calls;
    const std::size_t returned = now.alloc_returned - last_.alloc_returned;
    const std::size_t frees = now.free_calls - last_.free_calls;
    h.nulls = calls - returned;
    const std::size_t failures = failures_now - hook_failures_;
    expect(failures >= h.nulls, "every null from the alloc hook is counted as a hook failure");
    h.misaligned = failures - h.nulls;
    expect(returned >= h.misaligned && frees >= h.misaligned,
           "a misaligned block is handed straight back");
    h.grown = returned - h.misaligned;
    h.released = frees - h.misaligned;
    expect(fault_percent_ != 0 || (h.nulls == 0 && h.misaligned == 0),
           "hooks that do not fail are never counted as failing");
    last_ = now;
    return h;
  }

  void absorb(const hook_step& h)
  {
    slabs_ += h.grown;
    slabs_ -= h.released;
    hook_allocs_ += h.grown + h.misaligned;
    hook_failures_ += h.nulls + h.misaligned;
  }

  void check_step()
  {
    if (!failure_.empty() || handles_.empty())
    {
      return;
    }
    cache& handle = handles_[random_.below(handles_.size())];
    expect(handle.verify().has_value(), "verify() finds every invariant intact");
    const attachable::slab_stats s = handle.stats();
    expect(s.live_objects == live_, "stats().live_objects is exactly what the user owns");
    expect(s.cached_objects == cached_total(), "stats().cached_objects is exactly what is parked");
    expect(s.slabs == slabs_, "stats().slabs matches the slabs the hooks handed out");
    expect(s.capacity == capacity(), "capacity == objects_per_master + (slabs - 1) * per slab");
    expect(s.peak_live_objects == peak_, "stats().peak_live_objects is the most slots out at once");
    expect(s.reserved_objects == floor_, "stats().reserved_objects is the last reserve()");
    expect(s.hook_allocs == hook_allocs_, "stats().hook_allocs counts blocks the hook returned");
    expect(s.hook_failures == hook_failures_, "stats().hook_failures counts failed hook calls");
    expect(s.hook_allocs - s.hook_frees == s.slabs, "hook_allocs - hook_frees == slabs");
    expect(recording_hooks::counts().outstanding - baseline_.outstanding == slabs_,
           "the hooks hold exactly the slabs the cache counts");
    if (cached_total() == 0 && slabs_ != 0)
    {
      // Nothing parked: a slab is empty exactly when no user object is in it.
      std::set<std::uintptr_t> populated;
      for (const entry& e : entries_)
      {
        populated.insert(slab_of(e.object));
      }
      expect(s.empty_slabs == slabs_ - populated.size(),
             "with nothing parked, the empty slabs are those without a user object");
      const std::size_t empty_slaves = s.empty_slabs - (populated.count(master_) != 0 ? 0u : 1u);
      allowance_ = allowance_ < empty_slaves ? allowance_ : empty_slaves;
      const std::size_t slaves_with_objects = populated.size() - populated.count(master_);
      expect(empty_slaves <= retention_bound(slaves_with_objects),
             "empty slaves beyond retain_empty_slabs are kept only for the reserve floor");
    }
    if (!entries_.empty())
    {
      const entry& spot = entries_[random_.below(entries_.size())];
      expect(spot.object->holds(spot.id), "a randomly chosen live object kept its contents");
    }
  }

  // The most empty slaves the retention rule lets the cache keep.
  [[nodiscard]] std::size_t retention_bound(std::size_t slaves_with_objects) const
  {
    const std::size_t without_empties = per_master + slaves_with_objects * per_slave;
    const std::size_t for_floor =
        floor_ > without_empties ? (floor_ - without_empties + per_slave - 1) / per_slave : 0;
    std::size_t bound = retain_;
    bound = bound > for_floor ? bound : for_floor;
    bound = bound > allowance_ ? bound : allowance_;
    return bound;
  }

  // ---- the model -------------------------------------------------------------------------

  static std::uintptr_t address(const void* pointer)
  {
    return reinterpret_cast<std::uintptr_t>(pointer);
  }
  static std::uintptr_t slab_of(const void* pointer)
  {
    return address(pointer) & ~(std::uintptr_t{slab_size} - 1);
  }
  [[nodiscard]] std::size_t capacity() const
  {
    return slabs_ == 0 ? 0 : per_master + (slabs_ - 1) * per_slave;
  }
  [[nodiscard]] std::size_t cached_total() const
  {
    std::size_t total = 0;
    for (const auto& c : caches_)
    {
      total += c.size();
    }
    return total;
  }
  [[nodiscard]] std::size_t taken() const { return live_ + cached_total(); }
  std::deque<T*>& my_cache() { return caches_[per_cpu_caching ? cpu_ : 0]; }
  void note_peak() { peak_ = taken() > peak_ ? taken() : peak_; }
  // Slots came out of the slabs: a slot freed into a slab earlier may be handed out again.
  void slabs_gave_out() { slab_free_.clear(); }
  // Slabs went back: a pointer into one must not be dereferenced any more.
  void slabs_went_back(const hook_step& h)
  {
    if (h.released != 0)
    {
      slab_free_.clear();
    }
  }
  void empty_cache(std::deque<T*>& c)
  {
    for (T* parked : c)
    {
      if (parked != nullptr)
      {
        slab_free_.insert(parked);
      }
    }
    c.clear();
  }

  // ---- steps ---------------------------------------------------------------------------------

  cache& some_handle() { return handles_[random_.below(handles_.size())]; }

  void first_use()
  {
    op_ = operation::first_use;
    for (int attempt = 0; attempt < 1000 && slabs_ == 0 && failure_.empty(); ++attempt)
    {
      add_object();
      check_step();
    }
    expect(slabs_ >= 1, "first use created the master");
  }

  void do_step()
  {
    if (phase_left_ == 0)
    {
      target_ = random_.below(5) == 0 ? 0 : random_.below(max_target_ + 1);
      phase_left_ = 1 + random_.below(3 * max_target_ + 64);
    }
    --phase_left_;
    const std::size_t roll = random_.below(100);
    if (roll < 14)
    {
      misc_step(roll);
    }
    else if (entries_.empty() || roll < (live_ < target_ ? 88u : 34u))
    {
      add_object();
    }
    else
    {
      remove_object(random_.below(entries_.size()));
    }
  }

  void misc_step(std::size_t which)
  {
    switch (which)
    {
    case 0:
      release_box();
      break;
    case 1:
      adopt_raw();
      break;
    case 2:
      allocate_bulk();
      break;
    case 3:
      deallocate_bulk();
      break;
    case 4:
      double_free();
      break;
    case 5:
      bad_pointer();
      break;
    case 6:
      drain();
      break;
    case 7:
      shrink();
      break;
    case 8:
      if (random_.below(4) == 0)
      {
        reserve();
      }
      break;
    case 9:
      retain();
      break;
    case 10:
      copy_handle();
      break;
    case 11:
      drop_handle();
      break;
    default:
      migrate();
      break;
    }
  }

  // One allocation through alloc, emplace or allocate.
  void add_object()
  {
    op_ = operation::allocate;
    std::deque<T*>& c = my_cache();
    const bool from_cache = !c.empty();
    T* const expected = from_cache ? c.back() : nullptr;
    const std::size_t free_in_slabs = capacity() - taken();
    const std::size_t refill = from_cache ? 0 : (free_in_slabs < batch ? free_in_slabs : batch);
    const std::size_t parked_elsewhere = cached_total() - c.size();
    const std::uint64_t id = next_id_++;
    cache& handle = some_handle();
    const std::size_t kind = random_.below(3);
    T* object = nullptr;
    slab_error error = slab_error::out_of_memory;
    bool made = false;
    box owner;
    if (kind == 2)
    {
      attachable::result<void*> slot = handle.allocate();
      if (slot)
      {
        object = ::new (*slot) T(id);
        made = true;
      }
      else
      {
        error = slot.error();
      }
    }
    else
    {
      attachable::result<box> got = kind == 0 ? handle.alloc() : handle.emplace(id);
      if (got)
      {
        object = got->get();
        if (kind == 0)
        {
          expect(object->is_zero(), "alloc() value-initialises the object");
          object->fill(id);
        }
        owner = std::move(*got);
        made = true;
      }
      else
      {
        error = got.error();
      }
    }
    if (slabs_ == 0)
    {
      first_use_outcome(made, object, id, std::move(owner), c);
      return;
    }
    const hook_step h = hooks_since_last(handle.stats().hook_failures);
    if (from_cache || refill != 0)
    {
      expect(h.calls() == 0 && h.released == 0,
             "an allocation the cache or the slabs serve calls no hook");
      expect(made, "an allocation the cache or the slabs serve succeeds");
      if (!made)
      {
        return;
      }
      if (from_cache)
      {
        c.pop_back();
        expect(expected == nullptr || expected == object,
               "an allocation hands out the most recently parked object");
      }
      else
      {
        for (std::size_t i = 1; i < refill; ++i)
        {
          c.push_back(nullptr);
        }
        slabs_gave_out();
      }
      object_made(object, id, std::move(owner));
      return;
    }
    // The caller's cache and the slabs are empty: grow by one slab, or fail. A per_cpu cache
    // that cannot grow (max_slabs, or the hook returned null) first takes back what the other
    // CPUs parked and tries once more.
    const bool may_grow = slab_limit == 0 || slabs_ < slab_limit;
    const bool reclaimed = per_cpu_caching && parked_elsewhere != 0 && (!may_grow || h.nulls != 0);
    absorb(h);
    slabs_went_back(h);
    if (reclaimed)
    {
      for (auto& other : caches_)
      {
        empty_cache(other);
      }
      expect(h.calls() <= (may_grow ? 2u : 0u) && h.grown <= 1,
             "a reclaiming allocation calls the hook at most once more");
    }
    else
    {
      expect(h.calls() == (may_grow ? 1u : 0u), "a full cache grows with one hook call");
      expect(h.released == 0, "an allocation gives no slab back unless it reclaims");
      expect(made == (h.grown == 1), "a growth that got a slab succeeds, one that did not fails");
    }
    if (made)
    {
      slabs_gave_out();
      object_made(object, id, std::move(owner));
      return;
    }
    expect(fault_percent_ != 0 || !may_grow,
           "an allocation fails only when the hook fails or max_slabs is reached");
    expect(error == slab_error::out_of_memory || error == slab_error::alignment_mismatch,
           "a failed allocation reports out_of_memory or alignment_mismatch");
    expect(capacity() == taken() || error == slab_error::alignment_mismatch,
           "out_of_memory is reported only when no free object is left anywhere");
  }

  // The first allocation of a cache with no master: the master, then one batch from it.
  void first_use_outcome(bool made, T* object, std::uint64_t id, box owner, std::deque<T*>& c)
  {
    const test_support::hook_counts now = recording_hooks::counts();
    const std::size_t calls = now.alloc_calls - last_.alloc_calls;
    const std::size_t returned = now.alloc_returned - last_.alloc_returned;
    const std::size_t frees = now.free_calls - last_.free_calls;
    last_ = now;
    expect(calls == 1, "first use calls the hook once");
    if (!made)
    {
      expect(fault_percent_ != 0, "first use fails only when the hook fails");
      expect(returned == frees, "a refused first block is handed straight back");
      return;
    }
    expect(returned == 1 && frees == 0, "first use keeps the block as the master");
    slabs_ = 1;
    hook_allocs_ = 1;
    hook_failures_ = 0;
    master_ = slab_of(object);
    const std::size_t first_batch = per_master < batch ? per_master : batch;
    for (std::size_t i = 1; i < first_batch; ++i)
    {
      c.push_back(nullptr);
    }
    slabs_gave_out();
    object_made(object, id, std::move(owner));
  }

  void object_made(T* object, std::uint64_t id, box owner)
  {
    expect(object->holds(id), "a new object holds what was written");
    expect(address(object) % alignof(T) == 0, "every object is aligned to alignof(T)");
    expect(live_addresses_.insert(address(object)).second, "no object is handed out twice");
    slab_free_.erase(object);
    entries_.push_back(entry{id, object, std::move(owner)});
    ++live_;
    note_peak();
  }

  void forget_object(T* object)
  {
    expect(live_addresses_.erase(address(object)) == 1,
           "model self-check: a freed object was live");
    --live_;
  }

  // A free through a box or deallocate: parked in the caller's cache, a full cache first
  // sending its oldest batch back.
  void remove_object(std::size_t index)
  {
    op_ = operation::free;
    entry& e = entries_[index];
    expect(e.object->holds(e.id), "an object about to be freed kept its contents");
    T* const object = e.object;
    if (e.owner)
    {
      switch (random_.below(3))
      {
      case 0:
        e.owner.reset();
        break;
      case 1:
        e.owner = box{};
        break;
      default:
        break;
      }
    }
    else
    {
      object->~T();
      expect(cache::deallocate(object).has_value(), "deallocate() accepts a live raw slot");
    }
    std::swap(e, entries_.back());
    entries_.pop_back();
    forget_object(object);
    std::deque<T*>& c = my_cache();
    bool flushed = false;
    if (c.size() == limit)
    {
      for (std::size_t i = 0; i < batch; ++i)
      {
        if (c.front() != nullptr)
        {
          slab_free_.insert(c.front());
        }
        c.pop_front();
      }
      flushed = true;
    }
    c.push_back(object);
    slab_free_.erase(object);
    const hook_step h = hooks_since_last(some_handle().stats().hook_failures);
    expect(h.calls() == 0, "a free never calls the alloc hook");
    expect(flushed || h.released == 0, "a free into a cache with room gives no slab back");
    absorb(h);
    slabs_went_back(h);
  }

  entry* pick(bool boxed)
  {
    for (int tries = 0; tries < 4 && !entries_.empty(); ++tries)
    {
      entry& e = entries_[random_.below(entries_.size())];
      if (static_cast<bool>(e.owner) == boxed)
      {
        return &e;
      }
    }
    return nullptr;
  }

  void release_box()
  {
    op_ = operation::release_box;
    if (entry* e = pick(true))
    {
      T* const object = e->owner.release();
      expect(object == e->object && object->holds(e->id), "release() keeps the object alive");
    }
  }

  void adopt_raw()
  {
    op_ = operation::adopt_raw;
    if (entry* e = pick(false))
    {
      attachable::result<box> adopted = box::from_raw(e->object);
      if (expect(adopted.has_value() && adopted->get() == e->object,
                 "from_raw() takes back a live object"))
      {
        e->owner = std::move(*adopted);
      }
    }
  }

  void allocate_bulk()
  {
    op_ = operation::allocate_bulk;
    const std::size_t n = random_.below(2 * batch + 2);
    std::vector<void*> slots(n + 1, nullptr);
    const std::size_t free_in_slabs = capacity() - taken();
    cache& handle = some_handle();
    const std::size_t got = handle.allocate_bulk(slots.data(), n);
    const hook_step h = hooks_since_last(handle.stats().hook_failures);
    expect(h.released == 0, "allocate_bulk gives nothing back");
    std::size_t room = free_in_slabs + h.grown * per_slave;
    expect(got == (n < room ? n : room), "allocate_bulk takes what the slabs and its growth hold");
    const bool stopped =
        h.nulls + h.misaligned != 0 || (slab_limit != 0 && slabs_ + h.grown >= slab_limit);
    expect(got == n || stopped, "allocate_bulk stops short only at a failure");
    expect(h.nulls + h.misaligned <= 1, "allocate_bulk stops at the first failure");
    expect(slots[n] == nullptr, "allocate_bulk writes no more than n slots");
    absorb(h);
    if (got != 0)
    {
      slabs_gave_out();
    }
    for (std::size_t i = 0; i < got; ++i)
    {
      const std::uint64_t id = next_id_++;
      object_made(::new (slots[i]) T(id), id, box{});
    }
  }

  void deallocate_bulk()
  {
    op_ = operation::deallocate_bulk;
    std::vector<void*> batch_pointers;
    std::vector<T*> freed;
    slab_error first = slab_error::fatal_error;
    bool any_error = false;
    const auto note = [&](slab_error e)
    {
      if (!any_error)
      {
        any_error = true;
        first = e;
      }
    };
    const std::size_t n = random_.below(12);
    for (std::size_t i = 0; i < n && !entries_.empty(); ++i)
    {
      const std::size_t roll = random_.below(10);
      if (roll == 0 && !freed.empty())
      {
        batch_pointers.push_back(freed[random_.below(freed.size())]); // a second copy
        note(slab_error::double_free);
      }
      else if (roll == 1)
      {
        batch_pointers.push_back(nullptr);
        note(slab_error::invalid_pointer);
      }
      else if (roll == 2)
      {
        const entry& e = entries_[random_.below(entries_.size())];
        batch_pointers.push_back(reinterpret_cast<unsigned char*>(e.object) + 1 +
                                 random_.below(slot_bytes - 1));
        note(slab_error::invalid_pointer);
      }
      else if (roll == 3 && !parked_known().empty())
      {
        const std::vector<T*> parked = parked_known();
        batch_pointers.push_back(parked[random_.below(parked.size())]);
        note(slab_error::double_free);
      }
      else
      {
        const std::size_t at = random_.below(entries_.size());
        entry& e = entries_[at];
        T* const object = e.owner ? e.owner.release() : e.object;
        expect(object->holds(e.id), "an object about to be freed kept its contents");
        object->~T();
        batch_pointers.push_back(object);
        freed.push_back(object);
        std::swap(e, entries_.back());
        entries_.pop_back();
      }
    }
    const attachable::result<void> outcome =
        cache::deallocate_bulk(batch_pointers.data(), batch_pointers.size());
    if (any_error)
    {
      expect_error(outcome, first, "deallocate_bulk reports the first rejected pointer");
    }
    else
    {
      expect(outcome.has_value(), "deallocate_bulk of valid pointers succeeds");
    }
    for (T* object : freed)
    {
      forget_object(object);
      slab_free_.insert(object);
    }
    const hook_step h = hooks_since_last(some_handle().stats().hook_failures);
    expect(h.calls() == 0, "deallocate_bulk never calls the alloc hook");
    absorb(h);
    slabs_went_back(h);
  }

  [[nodiscard]] std::vector<T*> parked_known() const
  {
    std::vector<T*> known;
    for (const auto& c : caches_)
    {
      for (T* parked : c)
      {
        if (parked != nullptr)
        {
          known.push_back(parked);
        }
      }
    }
    return known;
  }

  void double_free()
  {
    op_ = operation::double_free;
    const std::vector<T*> parked = parked_known();
    T* target = nullptr;
    if (!parked.empty() && random_.below(2) == 0)
    {
      target = parked[random_.below(parked.size())];
    }
    else if (!slab_free_.empty())
    {
      auto it = slab_free_.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(random_.below(slab_free_.size())));
      target = *it;
    }
    if (target == nullptr)
    {
      return;
    }
    switch (random_.below(3))
    {
    case 0:
      expect_error(cache::deallocate(target), slab_error::double_free,
                   "deallocate() of a parked or slab-free object reports double_free");
      break;
    case 1:
    {
      attachable::result<box> adopted = box::from_raw(target);
      expect(!adopted.has_value() && adopted.error() == slab_error::double_free,
             "from_raw() of a parked or slab-free object reports double_free");
      break;
    }
    default:
    {
      void* const one[] = {target};
      expect_error(cache::deallocate_bulk(one, 1), slab_error::double_free,
                   "deallocate_bulk() of a parked or slab-free object reports double_free");
      break;
    }
    }
    (void)hooks_since_last(hook_failures_);
  }

  void bad_pointer()
  {
    op_ = operation::bad_pointer;
    if (entries_.empty())
    {
      expect_error(cache::deallocate(nullptr), slab_error::invalid_pointer,
                   "deallocate(nullptr) reports invalid_pointer");
      return;
    }
    const entry& e = entries_[random_.below(entries_.size())];
    auto* const bytes = reinterpret_cast<unsigned char*>(e.object);
    void* const bad = random_.below(4) != 0
                          ? static_cast<void*>(bytes + 1 + random_.below(slot_bytes - 1))
                          : reinterpret_cast<void*>(slab_of(e.object) + random_.below(2) * 8);
    expect_error(cache::deallocate(bad), slab_error::invalid_pointer,
                 "deallocate() of an interior or header pointer reports invalid_pointer");
    expect(!box::from_raw(static_cast<T*>(bad)).has_value(), "from_raw() rejects it too");
    expect(e.object->holds(e.id), "a rejected free left the object alone");
  }

  void drain()
  {
    op_ = operation::drain;
    cache& handle = some_handle();
    std::deque<T*>& c = my_cache();
    const std::size_t parked = c.size();
    expect(handle.drain() == parked, "drain() returns how many objects the caller's cache held");
    empty_cache(c);
    const hook_step h = hooks_since_last(handle.stats().hook_failures);
    expect(h.calls() == 0, "drain() never calls the alloc hook");
    absorb(h);
    slabs_went_back(h);
  }

  void shrink()
  {
    op_ = operation::shrink;
    cache& handle = some_handle();
    // per_thread reaches the caller's cache, per_cpu every CPU's: both are all there is here.
    std::size_t populated_slaves = 0;
    {
      std::set<std::uintptr_t> populated;
      for (const entry& e : entries_)
      {
        if (slab_of(e.object) != master_)
        {
          populated.insert(slab_of(e.object));
        }
      }
      populated_slaves = populated.size();
    }
    const std::size_t slabs_before = slabs_;
    const std::size_t returned = handle.shrink();
    for (auto& c : caches_)
    {
      empty_cache(c);
    }
    const hook_step h = hooks_since_last(handle.stats().hook_failures);
    expect(h.calls() == 0, "shrink() never calls the alloc hook");
    absorb(h);
    slabs_went_back(h);
    // Every empty slave above the floor went back, whether the drain or the shrink returned it.
    const std::size_t empty_before = slabs_before - 1 - populated_slaves;
    const std::size_t without_empties = per_master + populated_slaves * per_slave;
    const std::size_t for_floor =
        floor_ > without_empties ? (floor_ - without_empties + per_slave - 1) / per_slave : 0;
    const std::size_t kept = empty_before < for_floor ? empty_before : for_floor;
    expect(slabs_ == 1 + populated_slaves + kept,
           "shrink() leaves exactly the slabs with objects and the empty slaves the floor needs");
    expect(returned <= h.released, "shrink() returns no more slabs than went back");
  }

  void reserve()
  {
    op_ = operation::reserve;
    const std::size_t objects =
        random_.below(2) == 0 ? 0 : random_.below(taken() + 2 * per_slave + 1);
    cache& handle = some_handle();
    const attachable::result<void> done = handle.reserve(objects);
    floor_ = objects;
    const std::size_t needed =
        objects > capacity() ? (objects - capacity() + per_slave - 1) / per_slave : 0;
    const hook_step h = hooks_since_last(handle.stats().hook_failures);
    expect(h.released == 0, "reserve() gives nothing back");
    absorb(h);
    // Slaves added for the floor, or kept for an older, higher floor, may stay empty.
    allowance_ = allowance_ > handle.stats().empty_slabs ? allowance_ : handle.stats().empty_slabs;
    if (done)
    {
      expect(h.grown == needed && h.nulls + h.misaligned == 0,
             "reserve() adds exactly the slabs the floor needs");
      return;
    }
    const bool limited = slab_limit != 0 && slabs_ >= slab_limit;
    expect(h.grown < needed && (h.nulls + h.misaligned == 1 || limited),
           "reserve() fails only at a failed hook call or max_slabs, keeping what it got");
  }

  void retain()
  {
    op_ = operation::retain;
    const std::size_t keep = random_.below(4);
    cache& handle = some_handle();
    // A lower retention returns nothing by itself: what is empty now may stay.
    const std::size_t empty_now = handle.stats().empty_slabs;
    allowance_ = allowance_ > empty_now ? allowance_ : empty_now;
    retain_ = keep;
    handle.retain_empty_slabs(keep);
  }

  void copy_handle()
  {
    op_ = operation::copy_handle;
    if (handles_.size() < max_handles)
    {
      handles_.push_back(some_handle());
      expect(handles_.back().shares_with(handles_[0]), "a copy of a handle shares its hierarchy");
    }
  }

  void drop_handle()
  {
    op_ = operation::drop_handle;
    if (handles_.size() > 1)
    {
      std::swap(handles_[random_.below(handles_.size())], handles_.back());
      handles_.pop_back();
      empty_cache(my_cache()); // a handle drops the caller's (thread's or CPU's) cache
      const hook_step h = hooks_since_last(handles_[0].stats().hook_failures);
      expect(h.calls() == 0, "dropping a handle never calls the alloc hook");
      absorb(h);
      slabs_went_back(h);
    }
  }

  void migrate()
  {
    op_ = operation::migrate;
    cpu_ = random_.below(test_cpus::count);
    test_cpus::index = cpu_;
  }

  // Drops every handle and object in a random order: boxes may outlive handles.
  void teardown()
  {
    op_ = operation::teardown;
    recording_hooks::fail_alloc_randomly(0, 0);
    if (random_.below(2) == 0)
    {
      handles_.clear();
      for (auto& c : caches_)
      {
        c.clear();
      }
    }
    while (!entries_.empty() && failure_.empty())
    {
      const std::size_t index = random_.below(entries_.size());
      if (handles_.empty())
      {
        entry& e = entries_[index];
        if (!e.owner)
        {
          e.object->~T();
          expect(cache::deallocate(e.object).has_value(), "deallocate() takes a live raw slot");
        }
        std::swap(e, entries_.back());
        entries_.pop_back();
        --live_;
      }
      else
      {
        remove_object(index);
        check_step();
      }
    }
    handles_.clear();
    expect(recording_hooks::counts().outstanding == baseline_.outstanding,
           "every slab went back to the free hook at the end");
  }

  random_source random_;
  std::size_t steps_;
  unsigned fault_percent_;
  std::size_t max_target_ = 0;
  std::size_t target_ = 0;
  std::size_t phase_left_ = 0;
  std::size_t step_ = 0;
  operation op_ = operation::first_use;
  std::string failure_;
  test_support::hook_counts baseline_{};
  test_support::hook_counts last_{};

  std::vector<cache> handles_;
  std::vector<entry> entries_;
  std::set<std::uintptr_t> live_addresses_;
  std::deque<T*> caches_[caches];
  std::set<T*> slab_free_; // freed into a slab and not handed out since, as far as known
  std::size_t cpu_ = 0;
  std::uint64_t next_id_ = 0;

  std::uintptr_t master_ = 0;
  std::size_t slabs_ = 0;
  std::size_t live_ = 0;
  std::size_t peak_ = 0;
  std::size_t floor_ = 0;
  std::size_t retain_ = 1;
  std::size_t allowance_ = 0; // empty slaves beyond retain that reserve or a lowered retain left
  std::size_t hook_allocs_ = 0;
  std::size_t hook_failures_ = 0;
};

template <class Config>
std::string run_model(std::uint64_t seed, std::size_t steps, unsigned alloc_fault_percent)
{
  model_run<Config> run(Config::seed(seed), steps, alloc_fault_percent);
  return run.run();
}

std::uint64_t model_seed()
{
  return environment_nonzero("ATTACHABLE_MODEL_SEED", default_seed);
}

std::size_t model_ops()
{
  // The plain model's default is a million operations; this one is heavier per step.
  const std::uint64_t ops = environment_nonzero("ATTACHABLE_MODEL_OPS", default_ops);
  return static_cast<std::size_t>(ops < default_ops ? ops : default_ops);
}

} // namespace

TEMPLATE_LIST_TEST_CASE("a per_thread or per_cpu cache matches a model of its caches after every "
                        "step of a seeded random run",
                        "[model][caching]", model_configs)
{
  const std::uint64_t seed = model_seed();
  const std::size_t steps = (model_ops() + model_config_count - 1) / model_config_count;
  const std::string configuration = TestType::name();
  CAPTURE(seed, steps, configuration);
  INFO("replay with ATTACHABLE_MODEL_SEED=" << seed);
  const std::string failure = run_model<TestType>(seed, steps, 0);
  INFO(failure);
  REQUIRE(failure.empty());
}

TEMPLATE_LIST_TEST_CASE("with an alloc hook that fails at random a caching cache reports the "
                        "failure and still matches the model",
                        "[model][caching][faults]", model_configs)
{
  const std::uint64_t seed = model_seed() ^ 0xFA17'FA17'FA17'FA17ULL;
  const std::size_t steps = (model_ops() / 4 + model_config_count - 1) / model_config_count;
  const std::string configuration = TestType::name();
  CAPTURE(seed, steps, configuration);
  INFO("replay with ATTACHABLE_MODEL_SEED=" << model_seed());
  const std::string failure = run_model<TestType>(seed, steps, fault_percent);
  INFO(failure);
  REQUIRE(failure.empty());
}
