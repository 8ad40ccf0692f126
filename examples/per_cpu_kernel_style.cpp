// A per_cpu cache written the way a kernel would write it, run in user space.
//
// In a kernel, the Cpus type of per_cpu<Cpus> is three lines over primitives the kernel already
// has (Linux names shown):
//
//   struct kernel_cpus
//   {
//     static constexpr std::size_t count = NR_CPUS;
//     static std::size_t current() noexcept { return smp_processor_id(); }
//     struct pin
//     {
//       pin() noexcept { preempt_disable(); }  // or local_irq_save(flags) if interrupt
//       ~pin() { preempt_enable(); }           // handlers allocate or free from the cache
//     };
//   };
//
// This program supplies those primitives itself so that it runs anywhere: each "CPU" is one
// thread bound to it for its whole life (as kthread_bind() binds a per-CPU kthread), so a thread
// never migrates and the CPU number in a thread_local is exact; preempt_count is a thread_local
// depth, and smp_processor_id() complains, as it does under CONFIG_DEBUG_PREEMPT, when called
// while preemptible. The story: receive CPUs allocate packet descriptors (think softirq RX) and
// hand them to worker CPUs that free them, so most frees are remote; the per-CPU caches batch
// those frees, and the slabinfo table at the end shows where the objects are.
#include <attachable/slab.hpp>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

void* host_slab_alloc(attachable::layout slab) noexcept
{
  return std::aligned_alloc(slab.align, slab.size);
}

attachable::result<void> host_slab_free(void* slab, attachable::layout) noexcept
{
  std::free(slab);
  return {};
}

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(host_slab_alloc, host_slab_free);

// ---- the kernel primitives, as this program provides them -------------------------------------

namespace kernel
{

inline constexpr std::size_t nr_cpus = 4; // NR_CPUS: the most CPUs the build supports

thread_local std::size_t this_cpu = 0;         // set once by bind_to_cpu(), never changes
thread_local unsigned preempt_count = 0;       // > 0: this context cannot be moved or preempted
std::atomic<unsigned> preemptible_id_calls{0}; // CONFIG_DEBUG_PREEMPT's "BUG: using
                                               // smp_processor_id() in preemptible code"

void bind_to_cpu(std::size_t cpu) noexcept
{
  this_cpu = cpu;
}

void preempt_disable() noexcept
{
  ++preempt_count;
  std::atomic_signal_fence(std::memory_order_seq_cst); // barrier(): nothing moves across
}

void preempt_enable() noexcept
{
  std::atomic_signal_fence(std::memory_order_seq_cst);
  --preempt_count;
}

std::size_t smp_processor_id() noexcept
{
  if (preempt_count == 0)
  {
    preemptible_id_calls.fetch_add(1, std::memory_order_relaxed);
  }
  return this_cpu;
}

} // namespace kernel

// ---- the topology that per_cpu<Cpus> asks for --------------------------------------------------

struct kernel_cpus
{
  static constexpr std::size_t count = kernel::nr_cpus;

  // Meaningful only while pinned, which is the only time the cache asks.
  static std::size_t current() noexcept { return kernel::smp_processor_id(); }

  // Keeps the caller on its CPU while the cache pops or pushes this CPU's objects. No interrupt
  // handler here uses the cache, so disabling preemption is enough; one that did would need
  // local_irq_save()/local_irq_restore() instead.
  struct pin
  {
    pin() noexcept { kernel::preempt_disable(); }
    pin(const pin&) = delete;
    pin& operator=(const pin&) = delete;
    ~pin() { kernel::preempt_enable(); }
  };
};

struct packet
{
  std::uint32_t source_cpu = 0;
  std::uint32_t sequence = 0;
  std::uint8_t header[48] = {};
};

// kmem_cache_create("packet", ...): a constinit global with a name for slabinfo. Each CPU's cache
// of free packets lives in the master slab, behind its own spin_lock (taken by its CPU, and by
// another CPU only to drain it); the slabs behind them share the hierarchy's spin_lock.
using packet_cache =
    attachable::slab_cache<packet, attachable::spin_lock, 4096, attachable::per_cpu<kernel_cpus>>;
constinit packet_cache packets("packet");

// A worker CPU's queue of received packets. Deliberately plain: the point is where boxes die.
class rx_queue
{
public:
  void push(packet_cache::box box)
  {
    {
      std::lock_guard guard(mutex_);
      boxes_.push_back(std::move(box));
    }
    ready_.notify_one();
  }

  // Returns: the next packet, or an empty box once closed and drained.
  packet_cache::box pop()
  {
    std::unique_lock guard(mutex_);
    ready_.wait(guard, [this] { return closed_ || !boxes_.empty(); });
    if (boxes_.empty())
    {
      return {};
    }
    packet_cache::box box = std::move(boxes_.front());
    boxes_.pop_front();
    return box;
  }

  void close()
  {
    {
      std::lock_guard guard(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<packet_cache::box> boxes_;
  bool closed_ = false;
};

int main()
{
  constexpr std::size_t rx_cpus = 2; // CPUs 0 and 1 receive; CPUs 2 and 3 process and free
  constexpr std::uint32_t packets_per_rx_cpu = 50'000;
  std::array<rx_queue, kernel::nr_cpus - rx_cpus> queues;
  std::atomic<std::uint64_t> checksum{0};
  std::atomic<bool> failed{false};

  std::vector<std::thread> workers;
  for (std::size_t cpu = rx_cpus; cpu < kernel::nr_cpus; ++cpu)
  {
    workers.emplace_back(
        [cpu, &queue = queues[cpu - rx_cpus], &checksum]
        {
          kernel::bind_to_cpu(cpu);
          std::uint64_t sum = 0;
          // Each packet is freed here, on a CPU other than the one that allocated it.
          for (packet_cache::box p = queue.pop(); p; p = queue.pop())
          {
            sum += p->sequence;
          }
          checksum.fetch_add(sum);
          packets.drain(); // like a CPU going offline: its cached packets go back to the slabs
        });
  }
  std::vector<std::thread> receivers;
  for (std::size_t cpu = 0; cpu < rx_cpus; ++cpu)
  {
    receivers.emplace_back(
        [cpu, &queues, &failed]
        {
          kernel::bind_to_cpu(cpu);
          for (std::uint32_t sequence = 0; sequence < packets_per_rx_cpu; ++sequence)
          {
            attachable::result<packet_cache::box> p =
                packets.emplace(static_cast<std::uint32_t>(cpu), sequence);
            if (!p)
            {
              std::printf("CPU %zu: %s\n", cpu, attachable::to_string(p.error()));
              failed = true;
              return;
            }
            queues[sequence % queues.size()].push(std::move(*p));
          }
        });
  }
  for (std::thread& receiver : receivers)
  {
    receiver.join();
  }
  for (rx_queue& queue : queues)
  {
    queue.close();
  }
  for (std::thread& worker : workers)
  {
    worker.join();
  }

  char table[512];
  const attachable::slab_stats before = packets.stats();
  attachable::format_slabinfo(table, sizeof table);
  std::printf("after the run, CPUs 2 and 3 drained, CPUs 0 and 1 still caching:\n%s", table);
  packets.shrink(); // drains every CPU's cache, then returns the empty slaves
  const attachable::slab_stats after = packets.stats();
  attachable::format_slabinfo(table, sizeof table);
  std::printf("after shrink():\n%s", table);

  const std::uint64_t expected =
      rx_cpus * (static_cast<std::uint64_t>(packets_per_rx_cpu) * (packets_per_rx_cpu - 1) / 2);
  const bool ok = !failed && checksum == expected && before.live_objects == 0 &&
                  after.live_objects == 0 && after.cached_objects == 0 && after.slabs == 1 &&
                  packets.verify().has_value() && kernel::preemptible_id_calls == 0;
  std::printf("%u packets, checksum %s, smp_processor_id() in preemptible code: %u times\n",
              static_cast<unsigned>(rx_cpus * packets_per_rx_cpu),
              checksum == expected ? "ok" : "WRONG", kernel::preemptible_id_calls.load());
  return ok ? 0 : 1;
}
