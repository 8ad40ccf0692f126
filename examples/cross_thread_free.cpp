// Boxes allocated on one thread and destroyed on others: a box finds its slab by masking its
// own address, so the consumer needs no cache handle.
#include <attachable/slab.hpp>

#include <condition_variable>
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

struct message
{
  unsigned producer;
  unsigned sequence;
};

using message_cache = attachable::slab_cache<message, attachable::spin_lock>;

// A deliberately plain queue: the point is where boxes die, not how they travel.
class mailbox
{
public:
  void push(message_cache::box box)
  {
    {
      std::lock_guard guard(mutex_);
      boxes_.push_back(std::move(box));
    }
    ready_.notify_one();
  }

  message_cache::box pop()
  {
    std::unique_lock guard(mutex_);
    ready_.wait(guard, [this] { return !boxes_.empty(); });
    message_cache::box box = std::move(boxes_.front());
    boxes_.pop_front();
    return box;
  }

private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<message_cache::box> boxes_;
};

int main()
{
  constexpr unsigned producers = 3;
  constexpr unsigned messages_each = 20000;

  // create() makes the master now: handles copied from a cache that has no master yet would
  // each grow an independent hierarchy on first use.
  attachable::result<message_cache> created = message_cache::create();
  if (!created)
  {
    std::printf("create failed: %s\n", attachable::to_string(created.error()));
    return 1;
  }
  message_cache& cache = *created;
  mailbox inbox;
  std::vector<std::thread> threads;
  for (unsigned producer = 0; producer < producers; ++producer)
  {
    // Each producer gets its own handle; all share one hierarchy.
    threads.emplace_back(
        [producer, handle = cache, &inbox]() mutable
        {
          for (unsigned sequence = 0; sequence < messages_each; ++sequence)
          {
            auto box = handle.emplace(message{producer, sequence});
            if (!box)
            {
              std::printf("producer %u: %s\n", producer, attachable::to_string(box.error()));
              std::abort();
            }
            inbox.push(std::move(*box));
          }
        });
  }

  unsigned long long checksum = 0;
  for (unsigned received = 0; received < producers * messages_each; ++received)
  {
    message_cache::box box = inbox.pop();
    checksum += box->sequence;
  } // each box is destroyed here, on the consumer thread
  for (std::thread& thread : threads)
  {
    thread.join();
  }

  const attachable::slab_stats stats = cache.stats();
  std::printf("consumed %u messages, checksum %llu, live %zu, peak %zu, slabs %zu\n",
              producers * messages_each, checksum, stats.live_objects, stats.peak_live_objects,
              stats.slabs);
  const unsigned long long expected =
      producers * (static_cast<unsigned long long>(messages_each) * (messages_each - 1) / 2);
  return checksum == expected && stats.live_objects == 0 ? 0 : 1;
}
