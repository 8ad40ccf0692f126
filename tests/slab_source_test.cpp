// Slab sources: every cache of this program names its own source, and the program defines no
// global hooks at all. It is built without tests/support/recording_hooks.cpp (see
// CMakeLists.txt), so the fact that it links proves that a program whose caches all name a
// source never references attachable_slab_alloc / attachable_slab_free.
//
// Two recording sources stand for two components of one program, each with its own memory;
// an arena source stands for a reserved region. Catch2's assertions are not thread-safe, so
// worker threads only count what went wrong and the main thread asserts after joining them.
#include "catch.hpp"
#include "recording_lock.hpp"
#include "recording_source.hpp"

#include <attachable/slab.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace
{

using attachable::slab_error;
using attachable::slabs_from;
using test_support::recording_lock;
using test_support::recording_source;
using test_support::source_balance;
using test_support::source_counts;
using test_support::source_fault;
using test_support::tracking_lock;

// Two components of one program, each with its own memory and slab size.
using network_memory = recording_source<struct network_tag, 4096>;
using storage_memory = recording_source<struct storage_tag, 1024>;
// Memory for per_cpu caches, whose locks nest by design, so they use tracking_lock.
using cpu_memory = recording_source<struct cpu_tag, 4096, tracking_lock>;

struct packet
{
  std::uint32_t id = 0;
  unsigned char payload[60] = {};
};

struct request
{
  std::uint64_t sector = 0;
  std::uint32_t length = 0;
};

using packet_cache =
    attachable::slab_cache<packet, recording_lock, 4096, slabs_from<network_memory>>;
using request_cache =
    attachable::slab_cache<request, recording_lock, 1024, slabs_from<storage_memory>>;

std::uintptr_t slab_base(const void* object, std::size_t slab_size)
{
  return reinterpret_cast<std::uintptr_t>(object) & ~(std::uintptr_t{slab_size} - 1);
}

const void* as_pointer(std::uintptr_t address)
{
  return reinterpret_cast<const void*>(address);
}

// A CPU topology for per_cpu caches in a hosted test: each thread says which CPU it plays.
thread_local std::size_t current_cpu = 0;
struct two_cpus
{
  static constexpr std::size_t count = 2;
  static std::size_t current() noexcept { return current_cpu; }
  struct pin
  {
  };
};

} // namespace

TEST_CASE("two components each take every slab from their own source, and no hook is defined",
          "[slab_source]")
{
  const source_balance<network_memory> network_balance;
  const source_balance<storage_memory> storage_balance;
  {
    packet_cache packets("packets");
    request_cache requests("requests");
    std::vector<packet_cache::box> packet_boxes;
    std::vector<request_cache::box> request_boxes;
    const std::size_t packet_count =
        packet_cache::objects_per_master + 2 * packet_cache::objects_per_slab;
    for (std::size_t i = 0; i < packet_count; ++i)
    {
      auto box = packets.emplace(static_cast<std::uint32_t>(i));
      REQUIRE(box.has_value());
      packet_boxes.push_back(std::move(*box));
    }
    // Only the network component has run so far: the storage source was never called.
    CHECK(storage_memory::counts().alloc_calls == 0);
    CHECK(network_memory::counts().alloc_calls == 3);

    const std::size_t request_count =
        request_cache::objects_per_master + request_cache::objects_per_slab + 1;
    for (std::size_t i = 0; i < request_count; ++i)
    {
      auto box = requests.emplace(std::uint64_t{i}, std::uint32_t{512});
      REQUIRE(box.has_value());
      request_boxes.push_back(std::move(*box));
    }
    CHECK(network_memory::counts().alloc_calls == 3);
    CHECK(storage_memory::counts().alloc_calls == 3);

    // Every object sits in a slab that its own component's source handed out and still owns.
    std::size_t foreign = 0;
    for (const packet_cache::box& box : packet_boxes)
    {
      const void* slab = as_pointer(slab_base(box.get(), packet_cache::slab_size));
      foreign +=
          network_memory::is_outstanding(slab) && !storage_memory::is_outstanding(slab) ? 0u : 1u;
    }
    for (const request_cache::box& box : request_boxes)
    {
      const void* slab = as_pointer(slab_base(box.get(), request_cache::slab_size));
      foreign +=
          storage_memory::is_outstanding(slab) && !network_memory::is_outstanding(slab) ? 0u : 1u;
    }
    CHECK(foreign == 0);

    const attachable::slab_stats packet_stats = packets.stats();
    const attachable::slab_stats request_stats = requests.stats();
    CHECK(packet_stats.slabs == 3);
    CHECK(packet_stats.hook_allocs == network_memory::counts().alloc_returned);
    CHECK(request_stats.slabs == 3);
    CHECK(request_stats.hook_allocs == storage_memory::counts().alloc_returned);
    CHECK(network_memory::counts().outstanding == 3);
    CHECK(storage_memory::counts().outstanding == 3);

    packet_boxes.clear();
    CHECK(storage_memory::counts().free_calls == 0);
    request_boxes.clear();
  }
  // Both hierarchies went back, each to its own source; the balances check that nothing is
  // left out and that no call was made under a lock.
  CHECK(network_memory::counts().free_calls == network_memory::counts().alloc_returned);
  CHECK(storage_memory::counts().free_calls == storage_memory::counts().alloc_returned);
}

TEST_CASE("no cache lock is held while a source is called, on any path", "[slab_source]")
{
  const source_balance<network_memory> balance;
  const source_balance<cpu_memory> cpu_balance;
  using thread_cached_cache =
      attachable::slab_cache<packet, recording_lock, 4096, slabs_from<network_memory>,
                             attachable::per_thread>;
  using cpu_cached_cache =
      attachable::slab_cache<packet, tracking_lock, 4096, attachable::per_cpu<two_cpus>,
                             slabs_from<cpu_memory>>;
  {
    // create(), growth, reserve(), shrink(), the emptying free, and the last handle.
    auto made = packet_cache::create("created");
    REQUIRE(made.has_value());
    packet_cache cache = std::move(*made);
    REQUIRE(cache.reserve(3 * packet_cache::objects_per_slab).has_value());
    std::vector<packet_cache::box> boxes;
    for (std::size_t i = 0; i < 5 * packet_cache::objects_per_slab; ++i)
    {
      auto box = cache.alloc();
      REQUIRE(box.has_value());
      boxes.push_back(std::move(*box));
    }
    REQUIRE(cache.reserve(0).has_value());
    boxes.clear();
    CHECK(cache.shrink() >= 1);
  }
  for (const std::size_t cpu : {std::size_t{0}, std::size_t{1}})
  {
    current_cpu = cpu;
    thread_cached_cache thread_cached;
    cpu_cached_cache cpu_cached;
    std::vector<thread_cached_cache::box> thread_boxes;
    std::vector<cpu_cached_cache::box> cpu_boxes;
    for (std::size_t i = 0; i < 3 * thread_cached_cache::objects_per_slab; ++i)
    {
      auto a = thread_cached.alloc();
      auto b = cpu_cached.alloc();
      REQUIRE(a.has_value());
      REQUIRE(b.has_value());
      thread_boxes.push_back(std::move(*a));
      cpu_boxes.push_back(std::move(*b));
    }
    thread_boxes.clear();
    cpu_boxes.clear();
    CHECK(thread_cached.shrink() >= 1);
    CHECK(cpu_cached.shrink() >= 1);
  }
  current_cpu = 0;
  for (const source_counts& counts : {network_memory::counts(), cpu_memory::counts()})
  {
    CHECK(counts.alloc_calls >= 4);
    CHECK(counts.free_calls == counts.alloc_returned);
    CHECK(counts.called_under_lock == 0);
  }
}

TEST_CASE("a source that returns null makes create and growth report out_of_memory, counted",
          "[slab_source]")
{
  const source_balance<storage_memory> balance;
  storage_memory::fail_every_alloc(source_fault::null);
  const auto refused = request_cache::create("never");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error() == slab_error::out_of_memory);
  CHECK(storage_memory::counts().alloc_calls == 1);
  CHECK(storage_memory::counts().outstanding == 0);

  storage_memory::fail_every_alloc(source_fault::none);
  request_cache requests;
  std::vector<request_cache::box> boxes;
  for (std::size_t i = 0; i < request_cache::objects_per_master; ++i)
  {
    auto box = requests.alloc();
    REQUIRE(box.has_value());
    boxes.push_back(std::move(*box));
  }
  storage_memory::fail_alloc_call(1, source_fault::null);
  const auto grown = requests.alloc();
  REQUIRE_FALSE(grown.has_value());
  CHECK(grown.error() == slab_error::out_of_memory);
  CHECK(requests.stats().hook_failures == 1);
  CHECK(requests.stats().slabs == 1);
  // The source is asked again next time, and this time it serves.
  auto again = requests.alloc();
  REQUIRE(again.has_value());
  CHECK(requests.stats().slabs == 2);
  CHECK(requests.stats().hook_allocs - requests.stats().hook_frees == 2);
}

TEST_CASE("a misaligned block goes straight back to its source and reports alignment_mismatch",
          "[slab_source]")
{
  const source_balance<storage_memory> balance;
  request_cache requests;
  storage_memory::fail_alloc_call(1, source_fault::misaligned);
  const auto first = requests.alloc();
  REQUIRE_FALSE(first.has_value());
  CHECK(first.error() == slab_error::alignment_mismatch);
  source_counts counts = storage_memory::counts();
  CHECK(counts.alloc_returned == 1);
  CHECK(counts.free_calls == 1); // the misaligned block, returned at once
  CHECK(counts.outstanding == 0);

  auto box = requests.alloc();
  REQUIRE(box.has_value());
  CHECK(requests.stats().hook_failures == 0); // no master existed to count the first failure
  std::vector<request_cache::box> boxes;
  for (std::size_t i = 1; i < request_cache::objects_per_master; ++i)
  {
    auto more = requests.alloc();
    REQUIRE(more.has_value());
    boxes.push_back(std::move(*more));
  }
  storage_memory::fail_alloc_call(1, source_fault::misaligned);
  const auto grown = requests.alloc();
  REQUIRE_FALSE(grown.has_value());
  CHECK(grown.error() == slab_error::alignment_mismatch);
  CHECK(requests.stats().hook_failures == 1);
  counts = storage_memory::counts();
  CHECK(counts.outstanding == 1); // only the master
}

TEST_CASE("a free the source refuses is counted and the cache forgets the slab anyway",
          "[slab_source]")
{
  const source_balance<storage_memory> balance;
  request_cache requests;
  std::vector<request_cache::box> boxes;
  for (std::size_t i = 0;
       i < request_cache::objects_per_master + 2 * request_cache::objects_per_slab; ++i)
  {
    auto box = requests.alloc();
    REQUIRE(box.has_value());
    boxes.push_back(std::move(*box));
  }
  REQUIRE(requests.stats().slabs == 3);
  storage_memory::fail_free_call(1);
  boxes.clear();
  requests.retain_empty_slabs(0);
  requests.shrink();
  const attachable::slab_stats stats = requests.stats();
  CHECK(stats.slabs == 1);
  CHECK(stats.hook_failures == 1);
  CHECK(stats.hook_allocs - stats.hook_frees == stats.slabs);
  CHECK(storage_memory::counts().free_calls == 2);
  CHECK(storage_memory::counts().free_failed == 1);
}

namespace
{

// A source that keeps a journal of the slabs it hands out in a cache of another component:
// sources run with no cache lock held, so they may use other caches.
struct journal_entry
{
  const void* slab = nullptr;
};
using journal_cache =
    attachable::slab_cache<journal_entry, recording_lock, 1024, slabs_from<storage_memory>>;
constinit journal_cache journal("journal");

struct journaled_memory
{
  static void* allocate_slab(attachable::layout request) noexcept
  {
    void* const slab = network_memory::allocate_slab(request);
    if (slab != nullptr)
    {
      auto entry = journal.emplace(slab);
      if (!entry)
      {
        (void)network_memory::free_slab(slab, request);
        return nullptr;
      }
      const std::lock_guard guard(mutex);
      entries.push_back(std::move(*entry));
    }
    return slab;
  }
  static attachable::result<void> free_slab(void* slab, attachable::layout request) noexcept
  {
    {
      const std::lock_guard guard(mutex);
      for (auto it = entries.begin(); it != entries.end(); ++it)
      {
        if ((*it)->slab == slab)
        {
          entries.erase(it);
          break;
        }
      }
    }
    return network_memory::free_slab(slab, request);
  }

  static inline std::mutex mutex;
  static inline std::vector<journal_cache::box> entries;
};

} // namespace

TEST_CASE("a source may allocate from another cache while it serves one", "[slab_source]")
{
  const source_balance<network_memory> network_balance;
  const source_balance<storage_memory> storage_balance;
  using journaled_cache =
      attachable::slab_cache<packet, recording_lock, 4096, slabs_from<journaled_memory>>;
  {
    journaled_cache packets;
    std::vector<journaled_cache::box> boxes;
    for (std::size_t i = 0;
         i < journaled_cache::objects_per_master + 2 * journaled_cache::objects_per_slab; ++i)
    {
      auto box = packets.alloc();
      REQUIRE(box.has_value());
      boxes.push_back(std::move(*box));
    }
    CHECK(packets.stats().slabs == 3);
    CHECK(journal.stats().live_objects == 3);
    CHECK(journaled_memory::entries.size() == 3);
    boxes.clear();
    CHECK(journal.stats().live_objects == 2); // the master and one kept empty slave
  }
  CHECK(journal.stats().live_objects == 0);
  CHECK(journaled_memory::entries.empty());
  journal = journal_cache("journal"); // gives the journal's hierarchy back to its source
}

namespace
{

// A reserved region, e.g. DMA-capable RAM: four 1 KiB slabs, zeroed, in .bss.
constinit attachable::static_arena<1024, 4> dma_region;
using dma_slabs = attachable::arena_slabs<dma_region>;
using descriptor_cache =
    attachable::slab_cache<request, attachable::spin_lock, 1024, slabs_from<dma_slabs>>;
using buffer_cache =
    attachable::slab_cache<packet, attachable::spin_lock, 1024, slabs_from<dma_slabs>>;

static_assert(attachable::slab_source<dma_slabs>);
static_assert(dma_slabs::slab_size == 1024);

} // namespace

TEST_CASE("an arena source serves a cache until the arena is out, then growth gives "
          "out_of_memory",
          "[slab_source][static_arena]")
{
  const attachable::arena_stats before = dma_region.stats();
  REQUIRE(before.slabs_in_use == 0);
  {
    descriptor_cache descriptors("dma descriptors");
    std::vector<descriptor_cache::box> boxes;
    const std::size_t fits =
        descriptor_cache::objects_per_master + 3 * descriptor_cache::objects_per_slab;
    for (std::size_t i = 0; i < fits; ++i)
    {
      auto box = descriptors.emplace(std::uint64_t{i}, std::uint32_t{64});
      REQUIRE(box.has_value());
      CHECK(dma_region.owns(box->get()));
      boxes.push_back(std::move(*box));
    }
    const auto more = descriptors.alloc();
    REQUIRE_FALSE(more.has_value());
    CHECK(more.error() == slab_error::out_of_memory);
    const attachable::slab_stats stats = descriptors.stats();
    CHECK(stats.slabs == 4);
    CHECK(stats.capacity == fits);
    CHECK(stats.hook_failures == 1);
    const attachable::arena_stats full = dma_region.stats();
    CHECK(full.slabs_in_use == 4);
    CHECK(full.peak_slabs_in_use == 4);
    CHECK(full.failed_allocations == before.failed_allocations + 1);

    // One box freed: its slot is used again without asking the arena.
    boxes.pop_back();
    auto again = descriptors.alloc();
    REQUIRE(again.has_value());
    CHECK(dma_region.stats().failed_allocations == before.failed_allocations + 1);
  }
  // The cache died with its objects: every slab is back in the arena.
  const attachable::arena_stats after = dma_region.stats();
  CHECK(after.slabs_in_use == 0);
  CHECK(after.peak_slabs_in_use == 4);
  CHECK(dma_region.slabs_out() == 0);
}

TEST_CASE("caches of different types share one arena, and a slab one gives back serves the other",
          "[slab_source][static_arena]")
{
  REQUIRE(dma_region.stats().slabs_in_use == 0);
  descriptor_cache descriptors;
  buffer_cache buffers;
  std::vector<descriptor_cache::box> descriptor_boxes;
  std::vector<buffer_cache::box> buffer_boxes;
  for (std::size_t i = 0;
       i < descriptor_cache::objects_per_master + descriptor_cache::objects_per_slab; ++i)
  {
    auto box = descriptors.alloc();
    REQUIRE(box.has_value());
    descriptor_boxes.push_back(std::move(*box));
  }
  for (std::size_t i = 0; i < buffer_cache::objects_per_master + buffer_cache::objects_per_slab;
       ++i)
  {
    auto box = buffers.alloc();
    REQUIRE(box.has_value());
    buffer_boxes.push_back(std::move(*box));
  }
  CHECK(dma_region.stats().slabs_in_use == 4);
  const auto refused = buffers.alloc();
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error() == slab_error::out_of_memory);

  descriptors.retain_empty_slabs(0);
  descriptor_boxes.resize(descriptor_cache::objects_per_master); // the slave empties, goes back
  CHECK(descriptors.stats().slabs == 1);
  CHECK(dma_region.stats().slabs_in_use == 3);
  auto served = buffers.alloc();
  REQUIRE(served.has_value());
  CHECK(buffers.stats().slabs == 3);
  CHECK(dma_region.stats().slabs_in_use == 4);
}

TEST_CASE("threads whose caches share an arena see every failure in the arena's statistics",
          "[slab_source][static_arena]")
{
  // Each thread has its own cache (masters made first, so that every failure is a growth
  // failure some cache counts) and keeps allocating until the shared arena runs out.
  static constinit attachable::static_arena<1024, 12> shared;
  using shared_cache = attachable::slab_cache<request, attachable::spin_lock, 1024,
                                              slabs_from<attachable::arena_slabs<shared>>>;
  constexpr std::size_t thread_count = 4;
  constexpr std::size_t rounds = 20;
  std::vector<shared_cache> caches;
  for (std::size_t t = 0; t < thread_count; ++t)
  {
    auto made = shared_cache::create();
    REQUIRE(made.has_value());
    caches.push_back(std::move(*made));
  }
  std::atomic<std::size_t> wrong_errors{0};
  std::atomic<std::size_t> out_of_memory{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < thread_count; ++t)
  {
    threads.emplace_back(
        [&, t]
        {
          std::vector<shared_cache::box> boxes;
          for (std::size_t round = 0; round < rounds; ++round)
          {
            for (;;)
            {
              auto box = caches[t].alloc();
              if (!box)
              {
                (box.error() == slab_error::out_of_memory ? out_of_memory : wrong_errors)++;
                break;
              }
              boxes.push_back(std::move(*box));
            }
            boxes.clear();
            caches[t].shrink();
          }
        });
  }
  for (std::thread& thread : threads)
  {
    thread.join();
  }
  CHECK(wrong_errors == 0);
  std::size_t failures = 0;
  for (const shared_cache& cache : caches)
  {
    failures += cache.stats().hook_failures;
  }
  const attachable::arena_stats stats = shared.stats();
  CHECK(out_of_memory == thread_count * rounds);
  CHECK(stats.failed_allocations == failures);
  CHECK(stats.failed_allocations == thread_count * rounds);
  // A growth failed only when every slab was out at that moment.
  CHECK(stats.peak_slabs_in_use == shared.slab_count);
  caches.clear();
  CHECK(shared.stats().slabs_in_use == 0);
}

TEST_CASE("threads grow and shrink caches of two sources at once with no lock held in a source",
          "[slab_source]")
{
  const source_balance<network_memory> network_balance;
  const source_balance<storage_memory> storage_balance;
  packet_cache packets("packets");
  request_cache requests("requests");
  // Masters first: threads racing to first use may each make one, and a loser's source calls
  // leave no trace in the surviving hierarchy's stats, which the end of this test compares.
  REQUIRE(packets.reserve(0));
  REQUIRE(requests.reserve(0));
  constexpr std::size_t thread_count = 4;
  constexpr std::size_t rounds = 30;
  std::atomic<std::size_t> failures{0};
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < thread_count; ++t)
  {
    threads.emplace_back(
        [&, t]
        {
          std::vector<packet_cache::box> packet_boxes;
          std::vector<request_cache::box> request_boxes;
          for (std::size_t round = 0; round < rounds; ++round)
          {
            for (std::size_t i = 0; i < packet_cache::objects_per_slab; ++i)
            {
              auto p = packets.emplace(static_cast<std::uint32_t>(t));
              auto r = requests.emplace(std::uint64_t{t}, std::uint32_t{1});
              if (!p || !r)
              {
                ++failures;
                continue;
              }
              packet_boxes.push_back(std::move(*p));
              request_boxes.push_back(std::move(*r));
            }
            for (const packet_cache::box& box : packet_boxes)
            {
              failures += box->id == t ? 0u : 1u;
            }
            packet_boxes.clear();
            request_boxes.clear();
            if (round % 5 == 0)
            {
              packets.shrink();
              requests.shrink();
            }
          }
        });
  }
  for (std::thread& thread : threads)
  {
    thread.join();
  }
  CHECK(failures == 0);
  CHECK(packets.stats().live_objects == 0);
  CHECK(requests.stats().live_objects == 0);
  CHECK(packets.stats().hook_allocs == network_memory::counts().alloc_returned);
  CHECK(requests.stats().hook_allocs == storage_memory::counts().alloc_returned);
  CHECK(network_memory::counts().called_under_lock == 0);
  CHECK(storage_memory::counts().called_under_lock == 0);
}
