#include "recording_hooks.hpp"

#include "recording_lock.hpp"

#include <attachable/slab.hpp>

#include <cstdlib>
#include <mutex>
#include <random>
#include <unordered_map>

namespace test_support
{
namespace
{

struct hook_state
{
  std::mutex mutex;
  hook_counts counts;
  // Address handed to the cache -> address to pass to std::free.
  std::unordered_map<const void*, void*> blocks;
  std::size_t fail_alloc_at = 0; // absolute alloc_calls value that fails, 0 = none
  alloc_fault fail_alloc_fault = alloc_fault::null;
  alloc_fault every_alloc_fault = alloc_fault::none;
  unsigned random_percent = 0;
  std::mt19937_64 random;
  bool limited = false;
  std::size_t allocs_left = 0;
  std::size_t fail_free_at = 0;
};

// Never destroyed: a cache at namespace scope (slab_allocator's, for one) gives its slabs back
// from a static destructor, which may run after a function-local static here would have died.
hook_state& state()
{
  static hook_state& instance = *new hook_state;
  return instance;
}

alloc_fault planned_fault(hook_state& s)
{
  if (s.fail_alloc_at != 0 && s.counts.alloc_calls == s.fail_alloc_at)
  {
    s.fail_alloc_at = 0;
    return s.fail_alloc_fault;
  }
  if (s.every_alloc_fault != alloc_fault::none)
  {
    return s.every_alloc_fault;
  }
  if (s.random_percent != 0 && s.random() % 100 < s.random_percent)
  {
    return (s.random() & 1) != 0 ? alloc_fault::null : alloc_fault::misaligned;
  }
  if (s.limited)
  {
    if (s.allocs_left == 0)
    {
      return alloc_fault::null;
    }
    --s.allocs_left;
  }
  return alloc_fault::none;
}

void* recording_alloc(attachable::layout request) noexcept
{
  hook_state& s = state();
  std::lock_guard guard(s.mutex);
  ++s.counts.alloc_calls;
  if (recording_lock::held_by_this_thread() != 0)
  {
    ++s.counts.called_under_lock;
  }
  if (request.size != request.align || request.align == 0 ||
      (request.align & (request.align - 1)) != 0)
  {
    ++s.counts.bad_requests;
    return nullptr;
  }
  const alloc_fault fault = planned_fault(s);
  if (fault == alloc_fault::null)
  {
    return nullptr;
  }
  // Over-allocate so that a misaligned block can sit half an alignment in.
  void* real = std::aligned_alloc(request.align, request.size * 2);
  if (real == nullptr)
  {
    return nullptr;
  }
  void* handed = real;
  if (fault == alloc_fault::misaligned)
  {
    handed = static_cast<char*>(real) + request.align / 2;
  }
  s.blocks.emplace(handed, real);
  ++s.counts.alloc_returned;
  ++s.counts.outstanding;
  return handed;
}

attachable::result<void> recording_free(void* pointer, attachable::layout request) noexcept
{
  hook_state& s = state();
  std::lock_guard guard(s.mutex);
  ++s.counts.free_calls;
  if (recording_lock::held_by_this_thread() != 0)
  {
    ++s.counts.called_under_lock;
  }
  const auto found = s.blocks.find(pointer);
  if (found == s.blocks.end() || request.size != request.align)
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
    return attachable::slab_error::fatal_error;
  }
  return {};
}

} // namespace

void recording_hooks::reset() noexcept
{
  hook_state& s = state();
  std::lock_guard guard(s.mutex);
  const std::size_t outstanding = s.counts.outstanding;
  s.counts = hook_counts{};
  s.counts.outstanding = outstanding;
  s.fail_alloc_at = 0;
  s.every_alloc_fault = alloc_fault::none;
  s.random_percent = 0;
  s.limited = false;
  s.fail_free_at = 0;
}

hook_counts recording_hooks::counts() noexcept
{
  hook_state& s = state();
  std::lock_guard guard(s.mutex);
  return s.counts;
}

void recording_hooks::fail_alloc_call(std::size_t call_from_now, alloc_fault fault) noexcept
{
  hook_state& s = state();
  std::lock_guard guard(s.mutex);
  s.fail_alloc_at = s.counts.alloc_calls + call_from_now;
  s.fail_alloc_fault = fault;
}

void recording_hooks::fail_every_alloc(alloc_fault fault) noexcept
{
  hook_state& s = state();
  std::lock_guard guard(s.mutex);
  s.every_alloc_fault = fault;
}

void recording_hooks::fail_alloc_randomly(unsigned percent, std::uint64_t seed) noexcept
{
  hook_state& s = state();
  std::lock_guard guard(s.mutex);
  s.random_percent = percent;
  s.random.seed(seed);
}

void recording_hooks::limit_allocs(std::size_t slabs) noexcept
{
  hook_state& s = state();
  std::lock_guard guard(s.mutex);
  s.limited = true;
  s.allocs_left = slabs;
}

void recording_hooks::fail_free_call(std::size_t call_from_now) noexcept
{
  hook_state& s = state();
  std::lock_guard guard(s.mutex);
  s.fail_free_at = s.counts.free_calls + call_from_now;
}

bool recording_hooks::is_outstanding(const void* pointer) noexcept
{
  hook_state& s = state();
  std::lock_guard guard(s.mutex);
  return s.blocks.count(pointer) != 0;
}

} // namespace test_support

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(test_support::recording_alloc, test_support::recording_free);
