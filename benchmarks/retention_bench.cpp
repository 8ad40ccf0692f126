// The burst workload of issue 11: 10,000 objects freed and allocated again, 100 times, with
// retain_empty_slabs(n) set to 0, to 1 (the default, the baseline) and to the number of slaves
// the burst fills. One iteration is one burst (10,000 frees, then 10,000 allocations); the
// counters give the slab-source calls per burst next to the time.
//
//   BM_slab_cache_burst/retain:<n>   source_allocs, source_frees and source_calls per burst
//
// The cache takes its slabs from a counting source over aligned_alloc, so this program defines
// no hooks.
#include <attachable/slab.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace
{

struct counting_source
{
  static void* allocate_slab(attachable::layout request) noexcept
  {
    allocs.fetch_add(1, std::memory_order_relaxed);
    return std::aligned_alloc(request.align, request.size);
  }
  static attachable::result<void> free_slab(void* slab, attachable::layout) noexcept
  {
    frees.fetch_add(1, std::memory_order_relaxed);
    std::free(slab);
    return {};
  }

  static inline std::atomic<std::size_t> allocs{0};
  static inline std::atomic<std::size_t> frees{0};
};

using burst_cache = attachable::slab_cache<std::uint32_t, attachable::spin_lock, 4096,
                                           attachable::slabs_from<counting_source>>;

constexpr std::size_t burst = 10'000;
constexpr benchmark::IterationCount bursts = 100;
// The slaves one burst fills after the master: the retention that keeps them all.
constexpr std::size_t burst_slaves =
    (burst - burst_cache::objects_per_master + burst_cache::objects_per_slab - 1) /
    burst_cache::objects_per_slab;

void fill(burst_cache& cache, std::vector<burst_cache::box>& boxes, benchmark::State& state)
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

void BM_slab_cache_burst(benchmark::State& state)
{
  burst_cache cache;
  cache.retain_empty_slabs(static_cast<std::size_t>(state.range(0)));
  std::vector<burst_cache::box> boxes;
  boxes.reserve(burst);
  fill(cache, boxes, state); // the first burst, untimed: every slab is new
  const std::size_t allocs_before = counting_source::allocs.load();
  const std::size_t frees_before = counting_source::frees.load();
  for (auto _ : state)
  {
    boxes.clear();
    fill(cache, boxes, state);
  }
  const auto per_burst = [&state](std::size_t calls)
  { return static_cast<double>(calls) / static_cast<double>(state.iterations()); };
  const std::size_t allocs = counting_source::allocs.load() - allocs_before;
  const std::size_t frees = counting_source::frees.load() - frees_before;
  state.counters["source_allocs"] = per_burst(allocs);
  state.counters["source_frees"] = per_burst(frees);
  state.counters["source_calls"] = per_burst(allocs + frees);
  state.counters["slabs"] = static_cast<double>(cache.stats().slabs);
  state.SetItemsProcessed(state.iterations() * static_cast<benchmark::IterationCount>(2 * burst));
}
BENCHMARK(BM_slab_cache_burst)
    ->ArgName("retain")
    ->Arg(0)
    ->Arg(1)
    ->Arg(static_cast<std::int64_t>(burst_slaves))
    ->Iterations(bursts)
    ->Unit(benchmark::kMicrosecond);

} // namespace

BENCHMARK_MAIN();
