// A user lock: on a kernel it would mask interrupts; on a host, signals play the part of
// interrupts. A box is freed inside a signal handler, which is safe because the cache's lock
// blocks signals: a handler can never run while this thread holds the cache.
#include <attachable/slab.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <sys/time.h>

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

// The host twin of "save PRIMASK; cpsid i" ... "restore PRIMASK". The saved mask is too large
// for the 16 bytes a lock may take, so it lives beside the lock; the cache never nests its
// lock, so one saved mask per thread is enough. Single-threaded here, as in firmware.
class signal_mask_lock
{
public:
  void lock() noexcept
  {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &saved_);
  }
  void unlock() noexcept { sigprocmask(SIG_SETMASK, &saved_, nullptr); }

private:
  static inline sigset_t saved_;
};

static_assert(attachable::slab_lock<signal_mask_lock>);

struct sample
{
  unsigned long value;
};

using sample_cache = attachable::slab_cache<sample, signal_mask_lock>;

sample_cache samples;
// One hand-off slot between the main loop and the handler, like a driver's mailbox register.
sample* volatile pending = nullptr;
volatile std::sig_atomic_t freed_in_handler = 0;

extern "C" void on_timer(int)
{
  if (sample* const handed = pending)
  {
    pending = nullptr;
    // Adopt the object and let the box free it, here, in "interrupt" context.
    auto box = sample_cache::box::from_raw(handed);
    if (box)
    {
      freed_in_handler = freed_in_handler + 1;
    }
  }
}

int main()
{
  std::signal(SIGALRM, on_timer);
  const itimerval every_100us{{0, 100}, {0, 100}};
  setitimer(ITIMER_REAL, &every_100us, nullptr);

  unsigned long handed_over = 0;
  for (unsigned long round = 0; round < 200000 || freed_in_handler < 100; ++round)
  {
    auto box = samples.emplace(sample{round}); // may be interrupted; the lock keeps it whole
    if (!box)
    {
      std::printf("emplace failed: %s\n", attachable::to_string(box.error()));
      return 1;
    }
    if (pending == nullptr)
    {
      pending = box->release();
      ++handed_over;
    }
  }

  const itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  if (sample* const left = pending)
  {
    pending = nullptr;
    left->~sample();
    if (!sample_cache::deallocate(left))
    {
      return 1;
    }
  }
  const attachable::slab_stats stats = samples.stats();
  std::printf("handed %lu samples to the handler, %d freed there; live %zu\n", handed_over,
              static_cast<int>(freed_in_handler), stats.live_objects);
  return stats.live_objects == 0 && freed_in_handler > 0 ? 0 : 1;
}
