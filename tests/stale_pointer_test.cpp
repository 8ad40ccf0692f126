// A stale pointer racing its slab's release (issue 8, item 4). deallocate() reads the header of
// the block around a pointer without a lock, then takes the lock of the master that header
// names. If in between the slab is emptied, returned to its source and formatted by a cache of
// another type, the old code went on under the wrong lock and freed a slot of the other cache.
// The fix checks the header again under the lock; this stress test (label thread, for the TSan
// leg) makes the window wide and the hand-over frequent:
//
//  - both caches take their slabs from `pool`, a source that recycles a fixed set of blocks in
//    LIFO order and never gives them to malloc, so the slave the first cache releases is the
//    next slab the second cache formats;
//  - the first cache's lock, on the thread that frees stale pointers only, waits before it
//    locks until the second cache has filled its slabs again, so that thread takes the lock
//    after the slave it checked has had the chance to change hands;
//  - one thread keeps freeing stale pointers (slot `stale_index` of every pool block) into the
//    first cache, one empties and refills the first cache's slave, one fills, checks and
//    verifies the second cache.
//
// The stale frees must all be refused (invalid_pointer or double_free) and the second cache
// must keep every object's contents and pass verify(). The first cache never hands out slot
// `stale_index` of a slave during the race, so no stale pointer can name one of its live
// objects (a stale pointer to a slot handed out again is indistinguishable from its owner's, as
// with any allocator). A handle of the first cache lives throughout, as the contract requires.
#include "catch.hpp"

#include <attachable/slab.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

using attachable::slab_error;

namespace
{

constexpr std::size_t slab_size = 4096;
constexpr std::size_t pool_blocks = 8;

// A slab source that recycles `pool_blocks` blocks between every cache that uses it.
class pool
{
public:
  static void fill()
  {
    std::lock_guard guard(mutex_);
    free_.reserve(pool_blocks); // free_slab must never allocate
    for (std::size_t i = 0; i < pool_blocks; ++i)
    {
      void* const block = std::aligned_alloc(slab_size, slab_size);
      REQUIRE(block != nullptr);
      all_.push_back(block);
      free_.push_back(block);
    }
  }

  // Returns: true if every block came back; frees them all.
  static bool drain()
  {
    std::lock_guard guard(mutex_);
    const bool all_back = free_.size() == all_.size();
    for (void* const block : all_)
    {
      std::free(block);
    }
    all_.clear();
    free_.clear();
    return all_back;
  }

  static std::vector<void*> blocks()
  {
    std::lock_guard guard(mutex_);
    return all_;
  }

  [[nodiscard]] static void* allocate_slab(attachable::layout request) noexcept
  {
    std::lock_guard guard(mutex_);
    if (request.size != slab_size || free_.empty())
    {
      return nullptr;
    }
    void* const block = free_.back();
    free_.pop_back();
    return block;
  }

  [[nodiscard]] static attachable::result<void> free_slab(void* block, attachable::layout) noexcept
  {
    std::lock_guard guard(mutex_);
    free_.push_back(block);
    return {};
  }

private:
  static inline std::mutex mutex_;
  static inline std::vector<void*> all_;
  static inline std::vector<void*> free_;
};

static_assert(attachable::slab_source<pool>);

// A spin lock that, on the thread that frees stale pointers, waits before it locks until the
// second cache has filled its slabs once more (or 2 ms have passed). That thread only ever
// locks after its unlocked check saw the first cache's header on a slave, so each such call
// takes the lock after the slave has had the chance to change hands: the widest window there is.
class slow_lock
{
public:
  static inline thread_local bool slow_here = false;
  static inline std::atomic<std::size_t> second_fills{0};

  void lock() noexcept
  {
    if (slow_here)
    {
      const std::size_t seen = second_fills.load(std::memory_order_acquire);
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
      while (second_fills.load(std::memory_order_acquire) == seen &&
             std::chrono::steady_clock::now() < give_up)
      {
        std::this_thread::yield();
      }
    }
    inner_.lock();
  }
  void unlock() noexcept { inner_.unlock(); }

private:
  attachable::spin_lock inner_;
};

static_assert(attachable::slab_lock<slow_lock>);

// Two types of one shape, so that a slave of one is laid out exactly like a slave of the other
// and a stale pointer names a real slot of the second cache.
struct first_item
{
  std::uint64_t words[8];
};
struct second_item
{
  std::uint64_t words[8];
};

using first_cache =
    attachable::slab_cache<first_item, slow_lock, slab_size, attachable::slabs_from<pool>>;
using second_cache = attachable::slab_cache<second_item, attachable::spin_lock, slab_size,
                                            attachable::slabs_from<pool>>;
static_assert(first_cache::objects_per_slab == second_cache::objects_per_slab);

std::uint64_t word_for(std::size_t object, std::size_t word)
{
  return (object * 0x9E37'79B9'7F4A'7C15ULL) ^ (word * 0xBF58'476D'1CE4'E5B9ULL);
}

template <class Item>
void fill(Item& item, std::size_t object)
{
  for (std::size_t w = 0; w < 8; ++w)
  {
    item.words[w] = word_for(object, w);
  }
}

template <class Item>
bool holds(const Item& item, std::size_t object)
{
  for (std::size_t w = 0; w < 8; ++w)
  {
    if (item.words[w] != word_for(object, w))
    {
      return false;
    }
  }
  return true;
}

struct outcomes
{
  std::atomic<std::size_t> accepted{0};
  std::atomic<std::size_t> invalid{0};
  std::atomic<std::size_t> double_free{0};
  std::atomic<std::size_t> other_error{0};
  std::atomic<std::size_t> first_rounds{0};
  std::atomic<std::size_t> first_failures{0};
  std::atomic<std::size_t> second_rounds{0};
  std::atomic<std::size_t> second_corrupted{0};
  std::atomic<std::size_t> second_verify_failures{0};
};

} // namespace

TEST_CASE("a stale pointer freed while its slab is returned and reformatted by another cache is "
          "refused and never touches that cache",
          "[raw][thread][stale]")
{
  pool::fill();
  {
    auto first_made = first_cache::create("first");
    auto second_made = second_cache::create("second");
    REQUIRE(first_made);
    REQUIRE(second_made);
    first_cache first = std::move(*first_made); // lives until every thread has joined
    second_cache second = std::move(*second_made);
    first.retain_empty_slabs(0); // an emptied slave goes straight back to the pool
    second.retain_empty_slabs(0);

    constexpr std::size_t per_slab = first_cache::objects_per_slab;
    constexpr std::size_t per_master = first_cache::objects_per_master;
    constexpr std::size_t stale_index = per_slab - 1;
    constexpr std::size_t first_slave_use = per_slab / 2; // never reaches stale_index

    // Every block the first cache can get becomes its slave once, so each stale pointer was a
    // real slot of it; then all go back to the pool.
    const std::size_t setup_objects = per_master + (pool_blocks - 2) * per_slab;
    std::vector<void*> slots(setup_objects);
    REQUIRE(first.allocate_bulk(slots.data(), setup_objects) == setup_objects);
    const auto slab_of = [](const void* p)
    { return reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{slab_size - 1}; };
    const std::uintptr_t first_master = slab_of(slots[0]);
    const std::uintptr_t stale_offset =
        reinterpret_cast<std::uintptr_t>(slots[per_master + stale_index]) & (slab_size - 1);
    REQUIRE(slab_of(slots[per_master + stale_index]) != first_master);
    REQUIRE(first_cache::deallocate_bulk(slots.data(), setup_objects));
    REQUIRE(first.stats().slabs == 1);

    const auto second_probe = second.alloc();
    REQUIRE(second_probe);
    const std::uintptr_t second_master = slab_of(second_probe->get());
    std::vector<void*> stale;
    for (void* const block : pool::blocks())
    {
      const auto base = reinterpret_cast<std::uintptr_t>(block);
      if (base != first_master && base != second_master) // a master's slot may be live
      {
        stale.push_back(reinterpret_cast<void*>(base + stale_offset));
      }
    }
    REQUIRE(stale.size() == pool_blocks - 2);

    outcomes seen;
    std::atomic<bool> done{false};
    constexpr std::size_t rounds = 400;

    std::thread stale_freer(
        [&]
        {
          slow_lock::slow_here = true;
          while (!done.load(std::memory_order_acquire))
          {
            for (void* const pointer : stale)
            {
              const attachable::result<void> outcome = first_cache::deallocate(pointer);
              if (outcome)
              {
                seen.accepted.fetch_add(1);
              }
              else if (outcome.error() == slab_error::invalid_pointer)
              {
                seen.invalid.fetch_add(1);
              }
              else if (outcome.error() == slab_error::double_free)
              {
                seen.double_free.fetch_add(1);
              }
              else
              {
                seen.other_error.fetch_add(1);
              }
            }
            std::this_thread::yield(); // two cores: leave the workers room to take turns
          }
        });

    // The two workers take turns, so that the slave the first cache has just released is the
    // block the second cache formats next; each holds its objects for a while, during which
    // the stale freer reads the first cache's header and then waits in its lock.
    std::atomic<int> turn{0};
    const auto wait_for = [&turn](int mine)
    {
      while (turn.load(std::memory_order_acquire) != mine)
      {
        std::this_thread::yield();
      }
    };
    const auto hold = [] { std::this_thread::sleep_for(std::chrono::microseconds(100)); };

    std::thread first_worker(
        [&]
        {
          std::vector<void*> taken(per_master + first_slave_use);
          for (std::size_t round = 0; round < rounds; ++round)
          {
            wait_for(0);
            const std::size_t got = first.allocate_bulk(taken.data(), taken.size());
            for (std::size_t i = 0; i < got; ++i)
            {
              fill(*::new (taken[i]) first_item, i);
            }
            hold();
            for (std::size_t i = 0; i < got; ++i)
            {
              if (!holds(*static_cast<first_item*>(taken[i]), i))
              {
                seen.first_failures.fetch_add(1);
              }
            }
            if (!first_cache::deallocate_bulk(taken.data(), got))
            {
              seen.first_failures.fetch_add(1);
            }
            seen.first_rounds.fetch_add(1);
            turn.store(1, std::memory_order_release);
          }
          wait_for(0);
          done.store(true, std::memory_order_release);
        });

    std::thread second_worker(
        [&]
        {
          std::vector<second_cache::box> boxes;
          boxes.reserve(3 * per_slab);
          for (std::size_t round = 0; round < rounds; ++round)
          {
            wait_for(1);
            for (std::size_t i = 0; i < 3 * per_slab; ++i)
            {
              auto made = second.alloc();
              if (!made)
              {
                break; // the pool is empty
              }
              fill(**made, i);
              boxes.push_back(std::move(*made));
            }
            slow_lock::second_fills.fetch_add(1, std::memory_order_release);
            hold();
            for (std::size_t i = 0; i < boxes.size(); ++i)
            {
              if (!holds(*boxes[i], i))
              {
                seen.second_corrupted.fetch_add(1);
              }
            }
            if (!second.verify())
            {
              seen.second_verify_failures.fetch_add(1);
            }
            boxes.clear();
            seen.second_rounds.fetch_add(1);
            turn.store(0, std::memory_order_release);
          }
        });

    first_worker.join();
    second_worker.join();
    stale_freer.join();

    INFO("stale frees refused: " << seen.invalid << " invalid_pointer, " << seen.double_free
                                 << " double_free; second cache rounds: " << seen.second_rounds);
    CHECK(seen.accepted == 0);
    CHECK(seen.other_error == 0);
    CHECK(seen.invalid + seen.double_free > 0);
    CHECK(seen.first_rounds == rounds);
    CHECK(seen.first_failures == 0);
    CHECK(seen.second_rounds == rounds);
    CHECK(seen.second_corrupted == 0);
    CHECK(seen.second_verify_failures == 0);
    CHECK(first.verify());
    CHECK(second.verify());
    CHECK(first.stats().live_objects == 0);
    CHECK(second.stats().live_objects == 1);
  }
  CHECK(pool::drain());
}
