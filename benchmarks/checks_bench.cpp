// The cost of the corruption checks on the hot alloc/free path.
//
// Build this file twice, normally and with -DATTACHABLE_SLAB_DEBUG=1, and compare the rows:
//   BM_slab_cache_alloc_free           the cache as users get it (free-list index validated)
//   BM_free_list_unchecked_alloc_free  a copy of the cache's free-list pop and push without the
//                                      index validation, the baseline for the default check
//   BM_free_list_checked_alloc_free    the same copy with the cache's validation added back
// The copies have no lock, no stats and no sanitizer shims, so only their difference matters.
#include <attachable/slab.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace
{

void* bench_alloc(attachable::layout request) noexcept
{
  return std::aligned_alloc(request.align, request.size);
}

attachable::result<void> bench_free(void* slab, attachable::layout) noexcept
{
  std::free(slab);
  return {};
}

} // namespace

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(bench_alloc, bench_free);

namespace
{

struct object
{
  std::uint64_t words[4];
};

constexpr int live_objects = 64;

void BM_slab_cache_alloc_free(benchmark::State& state)
{
  attachable::slab_cache<object, attachable::no_lock> cache;
  // Keep some objects live so that every iteration pops and pushes a real free list.
  attachable::slab_box<object, attachable::no_lock> keep[live_objects];
  for (auto& box : keep)
  {
    box = std::move(*cache.alloc());
  }
  keep[live_objects / 2].reset();
  for (auto _ : state)
  {
    auto box = cache.alloc();
    benchmark::DoNotOptimize(box);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_slab_cache_alloc_free);

// A minimal slab with the cache's free-list layout: a 32-bit index in each free slot, a bump
// index and an occupied bitmap.
template <bool Validate>
class free_list
{
public:
  static constexpr std::uint32_t capacity = 128;
  static constexpr std::uint32_t none = 0xFFFF'FFFFu;

  void* pop()
  {
    std::uint32_t index = head_;
    if (index != none)
    {
      if constexpr (Validate)
      {
        if (index >= bump_ || ((occupied_[index / 32] >> (index % 32)) & 1u) != 0) [[unlikely]]
        {
          head_ = none;
          return nullptr;
        }
      }
      std::memcpy(&head_, slots_[index].words, sizeof head_);
    }
    else
    {
      index = bump_++;
    }
    occupied_[index / 32] |= 1u << (index % 32);
    return &slots_[index];
  }

  void push(void* pointer)
  {
    const auto index = static_cast<std::uint32_t>(static_cast<object*>(pointer) - slots_);
    occupied_[index / 32] &= ~(1u << (index % 32));
    std::memcpy(slots_[index].words, &head_, sizeof head_);
    head_ = index;
  }

private:
  object slots_[capacity] = {};
  std::uint32_t occupied_[capacity / 32] = {};
  std::uint32_t bump_ = 0;
  std::uint32_t head_ = none;
};

template <bool Validate>
void free_list_alloc_free(benchmark::State& state)
{
  free_list<Validate> list;
  for (int i = 0; i < live_objects; ++i)
  {
    benchmark::DoNotOptimize(list.pop());
  }
  for (auto _ : state)
  {
    void* slot = list.pop();
    benchmark::DoNotOptimize(slot);
    list.push(slot);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_free_list_unchecked_alloc_free(benchmark::State& state)
{
  free_list_alloc_free<false>(state);
}
BENCHMARK(BM_free_list_unchecked_alloc_free);

void BM_free_list_checked_alloc_free(benchmark::State& state)
{
  free_list_alloc_free<true>(state);
}
BENCHMARK(BM_free_list_checked_alloc_free);

} // namespace

BENCHMARK_MAIN();
