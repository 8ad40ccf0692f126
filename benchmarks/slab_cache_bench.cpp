// The speed claims, measured: slab_cache (no_lock, spin_lock, per_thread and per_cpu; box and
// raw API) against glibc malloc, new/delete, mimalloc and two free lists standing for the
// physical limit, all in one binary so that every comparison is a ratio from one run.
// benchmarks/README.md has the command.
//
// Names read BM_<subject>_<workload>/<object bytes>; an item is one allocation or one free, so
// items_per_second is operations per second and 1e9 / items_per_second is ns per operation.
#include "candidates.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace
{

void* host_alloc(attachable::layout request) noexcept
{
  return std::aligned_alloc(request.align, request.size);
}

attachable::result<void> host_free(void* block, attachable::layout) noexcept
{
  std::free(block);
  return {};
}

} // namespace

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(host_alloc, host_free);

namespace
{

constexpr std::size_t batch_objects = 1'000'000;
constexpr std::size_t churn_live = 100'000;
constexpr std::size_t churn_replacements = 10'000'000;
constexpr std::size_t handoff_objects = 100'000;
constexpr std::uint64_t seed = 0x5AB1'5EED;

// Cheap enough not to dominate a replacement, and the same sequence for every candidate.
class xorshift
{
public:
  explicit xorshift(std::uint64_t state) noexcept : state_(state) {}
  std::size_t below(std::size_t bound) noexcept
  {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    // bound < 2^32: the top 32 random bits scaled to [0, bound) with no division.
    return static_cast<std::size_t>(((state_ >> 32) * bound) >> 32);
  }

private:
  std::uint64_t state_;
};

const std::vector<std::uint32_t>& shuffled_order()
{
  static const std::vector<std::uint32_t> order = []
  {
    std::vector<std::uint32_t> indices(batch_objects);
    for (std::size_t i = 0; i < indices.size(); ++i)
    {
      indices[i] = static_cast<std::uint32_t>(i);
    }
    std::shuffle(indices.begin(), indices.end(), std::mt19937_64(seed));
    return indices;
  }();
  return order;
}

void count_operations(benchmark::State& state, std::size_t per_iteration)
{
  state.SetItemsProcessed(state.iterations() *
                          static_cast<benchmark::IterationCount>(per_iteration));
}

// Without this the compiler may keep a candidate that never escapes in registers and fold an
// allocation and a free into nothing, which no real caller would get.
template <class C>
void publish(C& candidate) noexcept
{
  C* const address = &candidate;
  benchmark::DoNotOptimize(address);
}

template <class C>
bool take(C& candidate, typename C::handle& slot, std::uint64_t stamp) noexcept
{
  slot = candidate.acquire();
  if (!slot) [[unlikely]]
  {
    return false;
  }
  std::uint64_t* const word = C::address(slot);
  *word = stamp;
  benchmark::DoNotOptimize(word);
  return true;
}

template <class C>
void hot(benchmark::State& state)
{
  C candidate;
  publish(candidate);
  if (!candidate.reserve(64))
  {
    state.SkipWithError("reserve failed");
    return;
  }
  std::uint64_t stamp = 0;
  for (auto _ : state)
  {
    typename C::handle h{};
    if (!take(candidate, h, ++stamp) || !candidate.release(h)) [[unlikely]]
    {
      state.SkipWithError("allocation or free failed");
      break;
    }
  }
  count_operations(state, 2);
}

enum class order
{
  fifo,
  lifo,
  random
};

template <class C, order Order, bool Cold>
void batch(benchmark::State& state)
{
  C candidate;
  publish(candidate);
  std::vector<typename C::handle> live(batch_objects);
  const std::vector<std::uint32_t>& shuffled = shuffled_order();
  if (!candidate.reserve(batch_objects))
  {
    state.SkipWithError("reserve failed");
    return;
  }
  bool ok = true;
  for (auto _ : state)
  {
    if constexpr (Cold)
    {
      state.PauseTiming();
      candidate.start_cold();
      state.ResumeTiming();
    }
    for (std::size_t i = 0; i < batch_objects; ++i)
    {
      ok &= take(candidate, live[i], i);
    }
    for (std::size_t i = 0; i < batch_objects; ++i)
    {
      const std::size_t victim = Order == order::fifo   ? i
                                 : Order == order::lifo ? batch_objects - 1 - i
                                                        : shuffled[i];
      ok &= candidate.release(live[victim]);
    }
    if (!ok) [[unlikely]]
    {
      state.SkipWithError("allocation or free failed");
      break;
    }
  }
  count_operations(state, 2 * batch_objects);
}

template <class C>
void churn(benchmark::State& state)
{
  C candidate;
  publish(candidate);
  std::vector<typename C::handle> live(churn_live);
  bool ok = candidate.reserve(churn_live);
  for (std::size_t i = 0; ok && i < churn_live; ++i)
  {
    ok &= take(candidate, live[i], i);
  }
  xorshift random(seed);
  for (auto _ : state)
  {
    for (std::size_t i = 0; ok && i < churn_replacements; ++i)
    {
      typename C::handle& slot = live[random.below(churn_live)];
      ok &= candidate.release(slot);
      ok &= take(candidate, slot, i);
    }
  }
  for (typename C::handle& slot : live)
  {
    if (slot)
    {
      ok &= candidate.release(slot);
    }
  }
  if (!ok)
  {
    state.SkipWithError("allocation or free failed");
  }
  count_operations(state, 2 * churn_replacements);
}

// Every thread of the run (two, or eight on this two-core machine) runs hot pairs on one shared
// candidate; the loop's opening barrier orders the first thread's setup before the other
// threads' first use, and its closing barrier every thread's last use before the teardown.
template <class C>
void threads_on_one(benchmark::State& state)
{
  static C* shared = nullptr;
  if (state.thread_index() == 0)
  {
    shared = new C;
    publish(*shared);
    if (!shared->reserve(64))
    {
      state.SkipWithError("reserve failed");
    }
  }
  std::uint64_t stamp = 0;
  for (auto _ : state)
  {
    typename C::handle h{};
    if (!take(*shared, h, ++stamp) || !shared->release(h)) [[unlikely]]
    {
      state.SkipWithError("allocation or free failed");
      break;
    }
  }
  count_operations(state, 2);
  if (state.thread_index() == 0)
  {
    delete shared;
    shared = nullptr;
  }
}

// Spins briefly, then yields: on a loaded two-core machine the other side may be descheduled,
// and pure spinning would then measure the scheduler's time slice.
class backoff
{
public:
  void wait() noexcept
  {
    if (++spins_ < 64)
    {
      bench::cpu_pause();
    }
    else
    {
      std::this_thread::yield();
    }
  }

private:
  unsigned spins_ = 0;
};

// A single-producer, single-consumer ring of handles: the producer's thread allocates, the
// consumer's thread frees, so every free is a cross-thread free.
template <class Handle>
class handoff_ring
{
public:
  static constexpr std::size_t size = 1024;

  void push(Handle& h) noexcept
  {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    for (backoff b; tail - head_.load(std::memory_order_acquire) == size;)
    {
      b.wait();
    }
    slots_[tail % size] = static_cast<Handle&&>(h);
    tail_.store(tail + 1, std::memory_order_release);
  }

  // Returns: false once stop() was called and the ring is empty.
  bool pop(Handle& out) noexcept
  {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    for (backoff b; tail_.load(std::memory_order_acquire) == head;)
    {
      if (stopped_.load(std::memory_order_acquire) && tail_.load(std::memory_order_acquire) == head)
      {
        return false;
      }
      b.wait();
    }
    out = static_cast<Handle&&>(slots_[head % size]);
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  void stop() noexcept { stopped_.store(true, std::memory_order_release); }

private:
  Handle slots_[size]{};
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::atomic<bool> stopped_{false};
};

template <class C>
void producer_consumer(benchmark::State& state)
{
  C candidate;
  publish(candidate);
  if (!candidate.reserve(handoff_ring<typename C::handle>::size + 64))
  {
    state.SkipWithError("reserve failed");
    return;
  }
  auto ring = std::make_unique<handoff_ring<typename C::handle>>();
  alignas(64) std::atomic<std::size_t> freed{0};
  std::atomic<bool> consumer_ok{true};
  std::thread consumer(
      [&]
      {
        typename C::handle h{};
        std::size_t count = 0;
        bool ok = true;
        while (ring->pop(h))
        {
          ok &= candidate.release(h);
          freed.store(++count, std::memory_order_release);
        }
        consumer_ok.store(ok);
      });
  std::size_t produced = 0;
  bool ok = true;
  for (auto _ : state)
  {
    for (std::size_t i = 0; i < handoff_objects; ++i)
    {
      typename C::handle h{};
      ok &= take(candidate, h, i);
      if (!ok) [[unlikely]]
      {
        break;
      }
      ring->push(h);
      ++produced;
    }
    for (backoff b; freed.load(std::memory_order_acquire) != produced;)
    {
      b.wait();
    }
    if (!ok) [[unlikely]]
    {
      break;
    }
  }
  ring->stop();
  consumer.join();
  if (!ok || !consumer_ok.load())
  {
    state.SkipWithError("allocation or free failed");
  }
  count_operations(state, 2 * handoff_objects);
}

template <std::size_t Bytes>
std::string label(const char* subject, const char* workload)
{
  return std::string("BM_") + subject + "_" + workload + "/" + std::to_string(Bytes);
}

template <std::size_t Bytes, class C>
void register_for()
{
  benchmark::RegisterBenchmark(label<Bytes>(C::name, "hot").c_str(), hot<C>);
  benchmark::RegisterBenchmark(label<Bytes>(C::name, "batch_fifo_steady").c_str(),
                               batch<C, order::fifo, false>);
  benchmark::RegisterBenchmark(label<Bytes>(C::name, "batch_lifo_steady").c_str(),
                               batch<C, order::lifo, false>);
  benchmark::RegisterBenchmark(label<Bytes>(C::name, "batch_random_steady").c_str(),
                               batch<C, order::random, false>);
  benchmark::RegisterBenchmark(label<Bytes>(C::name, "batch_fifo_cold").c_str(),
                               batch<C, order::fifo, true>);
  benchmark::RegisterBenchmark(label<Bytes>(C::name, "batch_lifo_cold").c_str(),
                               batch<C, order::lifo, true>);
  benchmark::RegisterBenchmark(label<Bytes>(C::name, "batch_random_cold").c_str(),
                               batch<C, order::random, true>);
  // One pass is 20,000,000 operations, long enough to time on its own.
  benchmark::RegisterBenchmark(label<Bytes>(C::name, "churn").c_str(), churn<C>)->Iterations(1);
  if constexpr (C::thread_safe)
  {
    // Real time, so that items_per_second is the throughput of all threads together.
    benchmark::RegisterBenchmark(label<Bytes>(C::name, "two_threads").c_str(), threads_on_one<C>)
        ->Threads(2)
        ->UseRealTime();
    benchmark::RegisterBenchmark(label<Bytes>(C::name, "eight_threads").c_str(), threads_on_one<C>)
        ->Threads(8)
        ->UseRealTime();
    benchmark::RegisterBenchmark(label<Bytes>(C::name, "producer_consumer").c_str(),
                                 producer_consumer<C>)
        ->UseRealTime();
  }
}

template <std::size_t Bytes>
void register_size()
{
  using bench::per_cpu_spin_lock;
  using bench::per_thread_spin_lock;
  using bench::plain_no_lock;
  using bench::plain_spin_lock;
  register_for<Bytes, bench::slab_box_candidate<Bytes, plain_no_lock>>();
  register_for<Bytes, bench::slab_box_candidate<Bytes, plain_spin_lock>>();
  register_for<Bytes, bench::slab_box_candidate<Bytes, per_thread_spin_lock>>();
  register_for<Bytes, bench::slab_box_candidate<Bytes, per_cpu_spin_lock>>();
  register_for<Bytes, bench::slab_raw_candidate<Bytes, plain_no_lock>>();
  register_for<Bytes, bench::slab_raw_candidate<Bytes, plain_spin_lock>>();
  register_for<Bytes, bench::slab_raw_candidate<Bytes, per_thread_spin_lock>>();
  register_for<Bytes, bench::slab_raw_candidate<Bytes, per_cpu_spin_lock>>();
  register_for<Bytes, bench::malloc_candidate<Bytes>>();
  register_for<Bytes, bench::new_delete_candidate<Bytes>>();
  register_for<Bytes, bench::mimalloc_candidate<Bytes>>();
  register_for<Bytes, bench::free_list_candidate<Bytes, bench::no_op_lock>>();
  register_for<Bytes, bench::free_list_candidate<Bytes, bench::test_and_set_lock>>();
}

} // namespace

// Returns: true if malloc, aligned_alloc and operator new are glibc's, not mimalloc's (see
// CMakeLists.txt: linked carelessly, mimalloc replaces them for the whole process).
bool host_allocator_is_glibc()
{
  void* const from_malloc = std::malloc(64);
  void* const from_aligned = std::aligned_alloc(4096, 4096);
  auto* const from_new = new bench::object<64>;
  const bool mimalloc = mi_is_in_heap_region(from_malloc) || mi_is_in_heap_region(from_aligned) ||
                        mi_is_in_heap_region(from_new);
  delete from_new;
  std::free(from_aligned);
  std::free(from_malloc);
  return !mimalloc;
}

int main(int argc, char** argv)
{
  if (!host_allocator_is_glibc())
  {
    std::fprintf(stderr, "malloc or operator new is mimalloc's in this binary, so the glibc_malloc "
                         "and new_delete rows would measure mimalloc; see CMakeLists.txt\n");
    return 1;
  }
  register_size<16>();
  register_size<64>();
  register_size<256>();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
  {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
