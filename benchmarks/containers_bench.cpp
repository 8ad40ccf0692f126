// Standard containers on the adapters: std::map and std::unordered_map insert/erase churn and
// std::list push/pop, each on std::allocator, slab_allocator (spin_lock and no_lock),
// std::pmr::unsynchronized_pool_resource, std::pmr::synchronized_pool_resource, slab_resource
// and Boost's fast_pool_allocator, all in one binary so that every comparison is a ratio from
// one run. benchmarks/README.md has the command.
//
// Names read BM_<candidate>_<workload>; an item is one container operation that allocates or
// frees one node (a churn step: a lookup, then an erase or an insert; a push; a pop), so
// 1e9 / items_per_second is ns per operation.
#include <attachable/memory_resource.hpp>
#include <attachable/std_allocator.hpp>

#include <benchmark/benchmark.h>
#include <boost/pool/pool_alloc.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <list>
#include <map>
#include <memory_resource>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

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

// fast_pool_allocator locks a std::mutex per call by default; the comparison is between
// thread-safe allocators, so make sure that is the configuration measured.
static_assert(std::is_same_v<boost::details::pool::default_mutex, std::mutex>,
              "Boost.Pool must be built with threads, as Debian's package is");

namespace
{

constexpr int key_space = 20'000;         // keys drawn from [0, key_space); about half are live
constexpr int steps_per_iteration = 1000; // churn operations per benchmark iteration
constexpr int list_batch = 1000;          // pushes, then as many pops, per iteration
constexpr std::uint64_t seed = 0x5AB1'5EED;

// Cheap enough not to dominate a step, and the same sequence for every candidate.
class xorshift
{
public:
  explicit xorshift(std::uint64_t state) noexcept : state_(state) {}
  int below(int bound) noexcept
  {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return static_cast<int>(((state_ >> 32) * static_cast<std::uint64_t>(bound)) >> 32);
  }

private:
  std::uint64_t state_;
};

using entry = std::pair<const int, int>;

// A candidate owns whatever its containers allocate from and makes the three containers.
template <template <class> class Allocator>
struct allocator_candidate
{
  using map_type = std::map<int, int, std::less<int>, Allocator<entry>>;
  using unordered_map_type =
      std::unordered_map<int, int, std::hash<int>, std::equal_to<int>, Allocator<entry>>;
  using list_type = std::list<int, Allocator<int>>;

  map_type make_map() { return map_type(); }
  unordered_map_type make_unordered_map() { return unordered_map_type(); }
  list_type make_list() { return list_type(); }
};

template <class Resource>
struct resource_candidate
{
  using map_type = std::pmr::map<int, int>;
  using unordered_map_type = std::pmr::unordered_map<int, int>;
  using list_type = std::pmr::list<int>;

  map_type make_map() { return map_type(&resource); }
  unordered_map_type make_unordered_map() { return unordered_map_type(&resource); }
  list_type make_list() { return list_type(&resource); }

  Resource resource;
};

// One-parameter names for the candidates' allocators: clang does not let a template with more
// (defaulted) parameters stand for a template template parameter of one.
template <class T>
using slab_allocator_spin_lock = attachable::slab_allocator<T>;

template <class T>
using slab_allocator_no_lock = attachable::slab_allocator<T, attachable::no_lock>;

template <class T>
using fast_pool_allocator = boost::fast_pool_allocator<T>;

struct std_allocator : allocator_candidate<std::allocator>
{
  static constexpr const char* name = "std_allocator";
};
struct slab_allocator : allocator_candidate<slab_allocator_spin_lock>
{
  static constexpr const char* name = "slab_allocator";
};
struct slab_allocator_no_lock_candidate : allocator_candidate<slab_allocator_no_lock>
{
  static constexpr const char* name = "slab_allocator_no_lock";
};
struct unsynchronized_pool : resource_candidate<std::pmr::unsynchronized_pool_resource>
{
  static constexpr const char* name = "unsynchronized_pool_resource";
};
struct synchronized_pool : resource_candidate<std::pmr::synchronized_pool_resource>
{
  static constexpr const char* name = "synchronized_pool_resource";
};
struct slab_resource : resource_candidate<attachable::slab_resource>
{
  static constexpr const char* name = "slab_resource";
};
struct fast_pool : allocator_candidate<fast_pool_allocator>
{
  static constexpr const char* name = "fast_pool_allocator";
};

template <class Map>
void churn(benchmark::State& state, Map& map)
{
  for (int key = 0; key < key_space; key += 2)
  {
    map.emplace(key, key);
  }
  xorshift random(seed);
  for (auto _ : state)
  {
    for (int step = 0; step < steps_per_iteration; ++step)
    {
      const int key = random.below(key_space);
      if (const auto found = map.find(key); found != map.end())
      {
        map.erase(found);
      }
      else
      {
        map.emplace(key, step);
      }
    }
    benchmark::DoNotOptimize(map.size());
  }
  state.SetItemsProcessed(state.iterations() * steps_per_iteration);
}

template <class C>
void map_churn(benchmark::State& state)
{
  C candidate;
  auto map = candidate.make_map();
  churn(state, map);
}

template <class C>
void unordered_map_churn(benchmark::State& state)
{
  C candidate;
  auto map = candidate.make_unordered_map();
  map.reserve(key_space); // one bucket array for the whole run: nodes are what is measured
  churn(state, map);
}

template <class C>
void list_push_pop(benchmark::State& state)
{
  C candidate;
  auto list = candidate.make_list();
  long sum = 0;
  for (auto _ : state)
  {
    for (int i = 0; i < list_batch; ++i)
    {
      list.push_back(i);
    }
    for (int i = 0; i < list_batch; ++i)
    {
      sum += list.front();
      list.pop_front();
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * 2 * list_batch);
}

template <class C>
void register_candidate()
{
  const std::string prefix = std::string("BM_") + C::name + "_";
  benchmark::RegisterBenchmark((prefix + "map_churn").c_str(), map_churn<C>);
  benchmark::RegisterBenchmark((prefix + "list_push_pop").c_str(), list_push_pop<C>);
  benchmark::RegisterBenchmark((prefix + "unordered_map_churn").c_str(), unordered_map_churn<C>);
}

} // namespace

int main(int argc, char** argv)
{
  register_candidate<std_allocator>();
  register_candidate<slab_allocator>();
  register_candidate<slab_allocator_no_lock_candidate>();
  register_candidate<unsynchronized_pool>();
  register_candidate<synchronized_pool>();
  register_candidate<slab_resource>();
  register_candidate<fast_pool>();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
  {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
