// The burst workload of issue 11: 10,000 objects freed and allocated again, 100 times, with
// retain_empty_slabs(n) set to 0, to 1 (the default, the baseline) and to the number of slaves
// the burst fills. One iteration is one burst (10,000 frees, then 10,000 allocations); the
// counters give the slab-source calls per burst next to the time.
//
//   BM_slab_cache_burst_heap/retain:<n>   slabs from aligned_alloc (cheap: the heap reuses them)
//   BM_slab_cache_burst_pages/retain:<n>  slabs from mmap/munmap, a page per slab, as from a
//                                          kernel's page allocator
//   counters: source_allocs, source_frees and source_calls per burst; slabs held at the end
//
// The caches take their slabs from counting sources, so this program defines no hooks.
#include <attachable/slab.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include <sys/mman.h>

namespace
{

struct source_calls
{
  static inline std::atomic<std::size_t> allocs{0};
  static inline std::atomic<std::size_t> frees{0};
};

struct heap_source
{
  static void* allocate_slab(attachable::layout request) noexcept
  {
    source_calls::allocs.fetch_add(1, std::memory_order_relaxed);
    return std::aligned_alloc(request.align, request.size);
  }
  static attachable::result<void> free_slab(void* slab, attachable::layout) noexcept
  {
    source_calls::frees.fetch_add(1, std::memory_order_relaxed);
    std::free(slab);
    return {};
  }
};

// 4096-byte slabs are pages, so mmap's alignment is the slab's.
struct page_source
{
  static void* allocate_slab(attachable::layout request) noexcept
  {
    source_calls::allocs.fetch_add(1, std::memory_order_relaxed);
    void* const page =
        ::mmap(nullptr, request.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return page != MAP_FAILED ? page : nullptr;
  }
  static attachable::result<void> free_slab(void* slab, attachable::layout request) noexcept
  {
    source_calls::frees.fetch_add(1, std::memory_order_relaxed);
    if (::munmap(slab, request.size) != 0)
    {
      return attachable::slab_error::invalid_pointer;
    }
    return {};
  }
};

template <class Source>
using burst_cache = attachable::slab_cache<std::uint32_t, attachable::spin_lock, 4096,
                                           attachable::slabs_from<Source>>;

constexpr std::size_t burst = 10'000;
constexpr benchmark::IterationCount bursts = 100;
// The slaves one burst fills after the master: the retention that keeps them all.
constexpr std::size_t burst_slaves = (burst - burst_cache<heap_source>::objects_per_master +
                                      burst_cache<heap_source>::objects_per_slab - 1) /
                                     burst_cache<heap_source>::objects_per_slab;

template <class Cache>
void fill(Cache& cache, std::vector<typename Cache::box>& boxes, benchmark::State& state)
{
  for (std::size_t i = 0; i < burst; ++i)
  {
    auto box = cache.emplace(static_cast<std::uint32_t>(i));
    if (!box)
    {
      state.SkipWithError("the source ran dry");
      return;
    }
    benchmark::DoNotOptimize(box->get());
    boxes.push_back(std::move(*box));
  }
}

template <class Source>
void burst_workload(benchmark::State& state)
{
  burst_cache<Source> cache;
  cache.retain_empty_slabs(static_cast<std::size_t>(state.range(0)));
  std::vector<typename burst_cache<Source>::box> boxes;
  boxes.reserve(burst);
  fill(cache, boxes, state); // the first burst, untimed: every slab is new
  const std::size_t allocs_before = source_calls::allocs.load();
  const std::size_t frees_before = source_calls::frees.load();
  for (auto _ : state)
  {
    boxes.clear();
    fill(cache, boxes, state);
  }
  const auto per_burst = [&state](std::size_t calls)
  { return static_cast<double>(calls) / static_cast<double>(state.iterations()); };
  const std::size_t allocs = source_calls::allocs.load() - allocs_before;
  const std::size_t frees = source_calls::frees.load() - frees_before;
  state.counters["source_allocs"] = per_burst(allocs);
  state.counters["source_frees"] = per_burst(frees);
  state.counters["source_calls"] = per_burst(allocs + frees);
  state.counters["slabs"] = static_cast<double>(cache.stats().slabs);
  state.SetItemsProcessed(state.iterations() * static_cast<benchmark::IterationCount>(2 * burst));
}
void BM_slab_cache_burst_heap(benchmark::State& state)
{
  burst_workload<heap_source>(state);
}
void BM_slab_cache_burst_pages(benchmark::State& state)
{
  burst_workload<page_source>(state);
}

void retentions(benchmark::internal::Benchmark* b)
{
  b->ArgName("retain")
      ->Arg(0)
      ->Arg(1)
      ->Arg(static_cast<std::int64_t>(burst_slaves))
      ->Iterations(bursts)
      ->Unit(benchmark::kMicrosecond);
}
BENCHMARK(BM_slab_cache_burst_heap)->Apply(retentions);
BENCHMARK(BM_slab_cache_burst_pages)->Apply(retentions);

} // namespace

BENCHMARK_MAIN();
