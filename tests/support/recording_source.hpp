// A slab source for tests (slabs_from<recording_source<Tag, SlabSize>>), the counterpart of
// the recording hooks: it counts every call, checks every request and every block it gets
// back, can fail on demand, and knows which blocks are still out. Each Tag is a source with
// its own counters, so one program can tell its sources apart. Header-only: a program whose
// caches all use it needs neither the hooks nor recording_hooks.cpp.
#ifndef ATTACHABLE_TESTS_SUPPORT_RECORDING_SOURCE_HPP
#define ATTACHABLE_TESTS_SUPPORT_RECORDING_SOURCE_HPP

#include "catch.hpp"
#include "recording_lock.hpp"

#include <attachable/result.hpp>
#include <attachable/slab_source.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace test_support
{

struct source_counts
{
  std::size_t alloc_calls = 0;       // every allocate_slab call
  std::size_t alloc_returned = 0;    // calls that returned memory (aligned or not)
  std::size_t free_calls = 0;        // every free_slab call
  std::size_t free_failed = 0;       // free calls told to report failure
  std::size_t outstanding = 0;       // blocks handed out and not given back
  std::size_t peak_outstanding = 0;  // the most blocks out at once
  std::size_t bad_requests = 0;      // a layout other than {SlabSize, SlabSize}, unknown block
  std::size_t called_under_lock = 0; // calls while the calling thread held a recording_lock
};

enum class source_fault
{
  none,
  null,       // return null
  misaligned, // return memory that is not aligned to SlabSize
};

// A real lock that records only how many of its kind the calling thread holds, for caches
// that nest two locks by design (per_cpu takes a CPU's lock, then the hierarchy's), which
// recording_lock would count as misuse.
class tracking_lock
{
public:
  tracking_lock() noexcept = default;
  void lock() noexcept
  {
    inner_.lock();
    ++held_by_this_thread_;
  }
  void unlock() noexcept
  {
    --held_by_this_thread_;
    inner_.unlock();
  }
  [[nodiscard]] static std::size_t held_by_this_thread() noexcept { return held_by_this_thread_; }

private:
  attachable::spin_lock inner_;
  static inline thread_local std::size_t held_by_this_thread_ = 0;
};

// A source for caches of `SlabSize`. A call made while the calling thread holds a
// recording_lock, or any lock of the types `Locks`, is counted in called_under_lock.
template <class Tag, std::size_t SlabSize, class... Locks>
class recording_source
{
public:
  static constexpr std::size_t slab_size = SlabSize;

  [[nodiscard]] static void* allocate_slab(attachable::layout request) noexcept
  {
    state_type& s = state();
    std::lock_guard guard(s.mutex);
    ++s.counts.alloc_calls;
    note_lock(s);
    if (request.size != SlabSize || request.align != SlabSize)
    {
      ++s.counts.bad_requests;
      return nullptr;
    }
    const source_fault fault = planned_fault(s);
    if (fault == source_fault::null)
    {
      return nullptr;
    }
    // Twice the size, so that a misaligned block can sit half a slab in.
    void* const real = std::aligned_alloc(SlabSize, SlabSize * 2);
    if (real == nullptr)
    {
      return nullptr;
    }
    void* handed = real;
    if (fault == source_fault::misaligned)
    {
      handed = static_cast<char*>(real) + SlabSize / 2;
    }
    s.blocks.emplace(handed, real);
    ++s.counts.alloc_returned;
    if (++s.counts.outstanding > s.counts.peak_outstanding)
    {
      s.counts.peak_outstanding = s.counts.outstanding;
    }
    return handed;
  }

  [[nodiscard]] static attachable::result<void> free_slab(void* slab,
                                                          attachable::layout request) noexcept
  {
    state_type& s = state();
    std::lock_guard guard(s.mutex);
    ++s.counts.free_calls;
    note_lock(s);
    const auto found = s.blocks.find(slab);
    if (found == s.blocks.end() || request.size != SlabSize || request.align != SlabSize)
    {
      ++s.counts.bad_requests;
      return attachable::slab_error::invalid_pointer;
    }
    std::free(found->second);
    s.blocks.erase(found);
    --s.counts.outstanding;
    if (s.fail_free_at != 0 && s.counts.free_calls == s.fail_free_at)
    {
      s.fail_free_at = 0;
      ++s.counts.free_failed;
      return attachable::slab_error::fatal_error; // the memory is released all the same
    }
    return {};
  }

  // Forgets the counters and planned faults; blocks still out stay counted (and are the new
  // peak).
  static void reset() noexcept
  {
    state_type& s = state();
    std::lock_guard guard(s.mutex);
    const std::size_t outstanding = s.counts.outstanding;
    s.counts = source_counts{};
    s.counts.outstanding = outstanding;
    s.counts.peak_outstanding = outstanding;
    s.fail_alloc_at = 0;
    s.every_alloc_fault = source_fault::none;
    s.limited = false;
    s.fail_free_at = 0;
  }

  [[nodiscard]] static source_counts counts() noexcept
  {
    state_type& s = state();
    std::lock_guard guard(s.mutex);
    return s.counts;
  }

  // The allocate_slab call number `call_from_now` (1 = the next) fails with `fault`.
  static void fail_alloc_call(std::size_t call_from_now,
                              source_fault fault = source_fault::null) noexcept
  {
    state_type& s = state();
    std::lock_guard guard(s.mutex);
    s.fail_alloc_at = s.counts.alloc_calls + call_from_now;
    s.fail_alloc_fault = fault;
  }

  // Every allocate_slab call fails with `fault` until reset() or fail_every_alloc(none).
  static void fail_every_alloc(source_fault fault) noexcept
  {
    state_type& s = state();
    std::lock_guard guard(s.mutex);
    s.every_alloc_fault = fault;
  }

  // Only `slabs` more allocate_slab calls succeed; later ones return null.
  static void limit_allocs(std::size_t slabs) noexcept
  {
    state_type& s = state();
    std::lock_guard guard(s.mutex);
    s.limited = true;
    s.allocs_left = slabs;
  }

  // The free_slab call number `call_from_now` reports failure.
  static void fail_free_call(std::size_t call_from_now) noexcept
  {
    state_type& s = state();
    std::lock_guard guard(s.mutex);
    s.fail_free_at = s.counts.free_calls + call_from_now;
  }

  // True if `pointer` is the start of a block handed out and not given back yet.
  [[nodiscard]] static bool is_outstanding(const void* pointer) noexcept
  {
    state_type& s = state();
    std::lock_guard guard(s.mutex);
    return s.blocks.count(pointer) != 0;
  }

private:
  struct state_type
  {
    std::mutex mutex;
    source_counts counts;
    std::unordered_map<const void*, void*> blocks; // handed out -> what std::free takes
    std::size_t fail_alloc_at = 0;                 // absolute alloc_calls value, 0 = none
    source_fault fail_alloc_fault = source_fault::null;
    source_fault every_alloc_fault = source_fault::none;
    bool limited = false;
    std::size_t allocs_left = 0;
    std::size_t fail_free_at = 0;
  };

  static state_type& state() noexcept
  {
    static state_type instance;
    return instance;
  }

  static void note_lock(state_type& s) noexcept
  {
    if (recording_lock::held_by_this_thread() != 0 || ((Locks::held_by_this_thread() != 0) || ...))
    {
      ++s.counts.called_under_lock;
    }
  }

  static source_fault planned_fault(state_type& s) noexcept
  {
    if (s.fail_alloc_at != 0 && s.counts.alloc_calls == s.fail_alloc_at)
    {
      s.fail_alloc_at = 0;
      return s.fail_alloc_fault;
    }
    if (s.every_alloc_fault != source_fault::none)
    {
      return s.every_alloc_fault;
    }
    if (s.limited)
    {
      if (s.allocs_left == 0)
      {
        return source_fault::null;
      }
      --s.allocs_left;
    }
    return source_fault::none;
  }
};

// Declare first in a test that uses `Source`: it resets the source's counters when the test
// starts and checks, when the test ends, that every block came back and that no call was bad
// or made under a recording_lock.
template <class Source>
class source_balance
{
public:
  source_balance() noexcept
  {
    Source::reset();
    start_ = Source::counts().outstanding;
  }
  source_balance(const source_balance&) = delete;
  source_balance& operator=(const source_balance&) = delete;

  ~source_balance()
  {
    const source_counts end = Source::counts();
    Source::reset();
    CHECK(end.outstanding == start_);
    CHECK(end.bad_requests == 0);
    CHECK(end.called_under_lock == 0);
    CHECK(recording_lock::misuses() == 0);
    CHECK(recording_lock::locks() == recording_lock::unlocks());
  }

private:
  std::size_t start_ = 0;
};

static_assert(attachable::slab_source<recording_source<void, 4096>>);
static_assert(attachable::slab_lock<tracking_lock>);

} // namespace test_support

#endif // ATTACHABLE_TESTS_SUPPORT_RECORDING_SOURCE_HPP
