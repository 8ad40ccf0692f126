// Short thread stress tests for the standard-library adapters: threads churn their own
// containers over the process-wide slab_allocator caches they share, hand whole containers to
// each other, and share one slab_resource. TSan-clean by design; the exit check linked into
// this binary proves that the shared caches gave every slab back.
//
// Catch2's assertions are not thread-safe, so worker threads only count what went wrong and
// the main thread asserts after joining them.
#include "catch.hpp"
#include "hook_balance.hpp"
#include "instance_tracker.hpp"

#include <attachable/memory_resource.hpp>
#include <attachable/std_allocator.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <list>
#include <map>
#include <memory_resource>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

using test_support::tracked;

namespace
{

constexpr unsigned thread_count = 4;

template <class T>
using alloc = attachable::slab_allocator<T>;
using churn_map =
    std::map<int, std::uint64_t, std::less<int>, alloc<std::pair<const int, std::uint64_t>>>;
using parcel_list = std::list<tracked, alloc<tracked>>;

// Cheap and the same on every run, so a failure can be replayed.
std::uint32_t next_random(std::uint32_t& state) noexcept
{
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

std::uint64_t stamp(unsigned thread, int key) noexcept
{
  return (std::uint64_t{thread} << 32) ^
         static_cast<std::uint64_t>(key) * std::uint64_t{0x9E37'79B9};
}

} // namespace

TEST_CASE("threads churn their own maps over the slab_allocator caches they share",
          "[std_allocator][thread]")
{
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < thread_count; ++t)
  {
    threads.emplace_back(
        [t, &errors]
        {
          churn_map map;
          std::uint32_t state = 0x1234'5678U + t;
          for (int step = 0; step < 20000; ++step)
          {
            const int key = static_cast<int>(next_random(state) % 512);
            if (const auto found = map.find(key); found != map.end())
            {
              if (found->second != stamp(t, key))
              {
                errors.fetch_add(1, std::memory_order_relaxed);
              }
              map.erase(found);
            }
            else
            {
              map.emplace(key, stamp(t, key));
            }
          }
        });
  }
  for (std::thread& thread : threads)
  {
    thread.join();
  }
  CHECK(errors.load() == 0);
}

TEST_CASE("lists built on one thread are spliced, emptied and destroyed on others",
          "[std_allocator][thread]")
{
  tracked::reset();
  std::mutex mutex;
  std::vector<parcel_list> handed;
  std::atomic<int> errors{0};
  {
    std::vector<std::thread> producers;
    for (unsigned t = 0; t < thread_count; ++t)
    {
      producers.emplace_back(
          [t, &mutex, &handed]
          {
            for (int round = 0; round < 50; ++round)
            {
              parcel_list list;
              for (int i = 0; i < 40; ++i)
              {
                list.emplace_back(stamp(t, round * 40 + i));
              }
              const std::lock_guard<std::mutex> guard(mutex);
              handed.push_back(std::move(list));
            }
          });
    }
    std::thread consumer(
        [&]
        {
          parcel_list gathered;
          std::size_t taken = 0;
          while (taken < thread_count * 50)
          {
            std::vector<parcel_list> batch;
            {
              const std::lock_guard<std::mutex> guard(mutex);
              batch.swap(handed);
            }
            for (parcel_list& list : batch)
            {
              gathered.splice(gathered.end(), list); // nodes from another thread's list
              ++taken;
            }
            if (gathered.size() > 1000)
            {
              for (const tracked& parcel : gathered)
              {
                if (!parcel.alive())
                {
                  errors.fetch_add(1, std::memory_order_relaxed);
                }
              }
              gathered.clear();
            }
            std::this_thread::yield();
          }
        });
    for (std::thread& producer : producers)
    {
      producer.join();
    }
    consumer.join();
  }
  CHECK(errors.load() == 0);
  CHECK(tracked::live() == 0);
  CHECK(tracked::constructions() == static_cast<long>(thread_count * 50 * 40));
  CHECK(tracked::bad_destructions() == 0);
}

TEST_CASE("threads share one slab_resource for containers and raw blocks of every class",
          "[memory_resource][thread]")
{
  test_support::hook_balance balance;
  std::atomic<int> errors{0};
  {
    attachable::slab_resource resource;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < thread_count; ++t)
    {
      threads.emplace_back(
          [t, &resource, &errors]
          {
            std::pmr::unordered_map<int, std::uint64_t> map(&resource);
            struct held
            {
              unsigned char* block;
              std::size_t bytes;
              unsigned char fill;
            };
            std::vector<held> blocks;
            std::uint32_t state = 0x9ABC'DEF0U + t;
            for (int step = 0; step < 5000; ++step)
            {
              const std::uint32_t random = next_random(state);
              const int key = static_cast<int>(random % 256);
              if (map.erase(key) == 0)
              {
                map.emplace(key, stamp(t, key));
              }
              if (blocks.size() < 64 && (random & 0x100) != 0)
              {
                const std::size_t bytes = 1 + (random >> 9) % 1200; // classes and upstream
                const auto fill = static_cast<unsigned char>(random >> 24);
                auto* const block = static_cast<unsigned char*>(resource.allocate(bytes, 8));
                std::memset(block, fill, bytes);
                blocks.push_back({block, bytes, fill});
              }
              else if (!blocks.empty())
              {
                const held victim = blocks.back();
                blocks.pop_back();
                for (std::size_t i = 0; i < victim.bytes; ++i)
                {
                  if (victim.block[i] != victim.fill)
                  {
                    errors.fetch_add(1, std::memory_order_relaxed);
                    break;
                  }
                }
                resource.deallocate(victim.block, victim.bytes, 8);
              }
            }
            for (const auto& [key, value] : map)
            {
              if (value != stamp(t, key))
              {
                errors.fetch_add(1, std::memory_order_relaxed);
              }
            }
            for (const held& victim : blocks)
            {
              resource.deallocate(victim.block, victim.bytes, 8);
            }
          });
    }
    for (std::thread& thread : threads)
    {
      thread.join();
    }
  }
  CHECK(errors.load() == 0);
}
