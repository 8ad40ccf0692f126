// slab_resource: which requests its size classes serve and which go upstream, release() and
// destruction, every std::pmr container on it (list, map, set, unordered_map, vector, string,
// allocate_shared), moves and swaps between containers, destruction on another thread, and
// std::bad_alloc when the hooks or the upstream resource run dry. Each resource owns its
// caches, so every test ends with every slab given back (hook_balance).
#include "catch.hpp"
#include "hook_balance.hpp"
#include "instance_tracker.hpp"
#include "recording_hooks.hpp"

#include <attachable/memory_resource.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <memory_resource>
#include <new>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

using attachable::slab_error;
using attachable::slab_resource;
using test_support::alloc_fault;
using test_support::hook_balance;
using test_support::recording_hooks;
using test_support::tracked;

namespace
{

// True if `block` lies in a slab (4 KiB or 16 KiB) that the recording hooks handed out.
bool in_slab(const void* block)
{
  const auto address = reinterpret_cast<std::uintptr_t>(block);
  for (const std::uintptr_t slab_size : {std::uintptr_t{4096}, std::uintptr_t{16384}})
  {
    if (recording_hooks::is_outstanding(reinterpret_cast<const void*>(address & ~(slab_size - 1))))
    {
      return true;
    }
  }
  return false;
}

bool aligned(const void* block, std::size_t alignment)
{
  return reinterpret_cast<std::uintptr_t>(block) % alignment == 0;
}

// An upstream resource that counts what it holds and checks that every block comes back with
// the size and alignment it was allocated with.
class counting_resource : public std::pmr::memory_resource
{
public:
  [[nodiscard]] std::size_t outstanding() const noexcept { return blocks_.size(); }
  [[nodiscard]] std::size_t allocations() const noexcept { return allocations_; }
  [[nodiscard]] std::size_t mismatches() const noexcept { return mismatches_; }
  [[nodiscard]] std::size_t largest_request() const noexcept { return largest_; }

private:
  struct shape
  {
    std::size_t bytes;
    std::size_t alignment;
  };

  void* do_allocate(std::size_t bytes, std::size_t alignment) override
  {
    void* const block = std::pmr::new_delete_resource()->allocate(bytes, alignment);
    blocks_.emplace(block, shape{bytes, alignment});
    ++allocations_;
    largest_ = bytes > largest_ ? bytes : largest_;
    return block;
  }

  void do_deallocate(void* block, std::size_t bytes, std::size_t alignment) override
  {
    const auto found = blocks_.find(block);
    if (found == blocks_.end() || found->second.bytes != bytes ||
        found->second.alignment != alignment)
    {
      ++mismatches_;
      return;
    }
    blocks_.erase(found);
    std::pmr::new_delete_resource()->deallocate(block, bytes, alignment);
  }

  [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override
  {
    return this == &other;
  }

  std::map<void*, shape> blocks_;
  std::size_t allocations_ = 0;
  std::size_t mismatches_ = 0;
  std::size_t largest_ = 0;
};

// Declared before the resource, so that it checks the upstream after the resource is gone.
struct checked_upstream
{
  counting_resource upstream;
  ~checked_upstream()
  {
    CHECK(upstream.outstanding() == 0);
    CHECK(upstream.mismatches() == 0);
  }
};

} // namespace

TEST_CASE("every request up to 1024 bytes at every alignment up to 1024 comes from a slab",
          "[memory_resource]")
{
  hook_balance balance;
  checked_upstream upstream;
  slab_resource resource(&upstream.upstream);
  bool all_in_slabs = true;
  bool all_aligned = true;
  bool all_apart = true;
  for (std::size_t bytes = 0; bytes <= slab_resource::largest_slab_block; ++bytes)
  {
    for (std::size_t alignment = 1; alignment <= 1024; alignment *= 2)
    {
      void* const first = resource.allocate(bytes, alignment);
      void* const second = resource.allocate(bytes, alignment);
      all_in_slabs = all_in_slabs && in_slab(first) && in_slab(second);
      all_aligned = all_aligned && aligned(first, alignment) && aligned(second, alignment);
      const auto a = reinterpret_cast<std::uintptr_t>(first);
      const auto b = reinterpret_cast<std::uintptr_t>(second);
      all_apart = all_apart && (a + bytes <= b || b + bytes <= a) && a != b;
      // Every byte asked for is usable (under ASan, not poisoned).
      std::memset(first, 0xA5, bytes);
      std::memset(second, 0x5A, bytes);
      resource.deallocate(second, bytes, alignment);
      resource.deallocate(first, bytes, alignment);
    }
  }
  CHECK(all_in_slabs);
  CHECK(all_aligned);
  CHECK(all_apart);
  CHECK(upstream.upstream.allocations() == 0);
}

TEST_CASE("a request gets the smallest size class that holds it", "[memory_resource]")
{
  hook_balance balance;
  slab_resource resource(std::pmr::null_memory_resource());
  REQUIRE(slab_resource::size_class_count == 22);
  CHECK(slab_resource::size_class(0) == 8);
  CHECK(slab_resource::size_class(slab_resource::size_class_count - 1) == 1024);
  CHECK(slab_resource::size_class(slab_resource::size_class_count) == 0);
  std::size_t previous = 0;
  for (std::size_t index = 0; index < slab_resource::size_class_count; ++index)
  {
    const std::size_t size = slab_resource::size_class(index);
    CAPTURE(size);
    CHECK(size > previous);
    // Two blocks from a fresh class are neighbours, so their distance is the class size, both
    // for the smallest request of the class and for the largest.
    for (const std::size_t bytes : {previous + 1, size})
    {
      void* const first = resource.allocate(bytes, 1);
      void* const second = resource.allocate(bytes, 1);
      CHECK(static_cast<std::size_t>(static_cast<unsigned char*>(second) -
                                     static_cast<unsigned char*>(first)) == size);
      resource.deallocate(second, bytes, 1);
      resource.deallocate(first, bytes, 1);
      resource.release(); // the next request starts a fresh class again
    }
    previous = size;
  }
}

TEST_CASE("larger and over-aligned requests go upstream and come back with their own size",
          "[memory_resource]")
{
  hook_balance balance;
  checked_upstream upstream;
  slab_resource resource(&upstream.upstream);
  CHECK(resource.upstream_resource() == &upstream.upstream);

  void* const large = resource.allocate(1025, 8);
  CHECK(upstream.upstream.outstanding() == 1);
  CHECK(upstream.upstream.largest_request() >= 1025);
  CHECK_FALSE(in_slab(large));
  std::memset(large, 1, 1025);

  void* const wide = resource.allocate(8, 4096);
  CHECK(aligned(wide, 4096));
  CHECK(upstream.upstream.outstanding() == 2);
  void* const huge = resource.allocate(1 << 20, 64);
  CHECK(aligned(huge, 64));
  std::memset(huge, 2, 1 << 20);
  CHECK(balance.outstanding() == 0); // no slab was taken for any of them

  resource.deallocate(wide, 8, 4096);
  resource.deallocate(large, 1025, 8);
  resource.deallocate(huge, 1 << 20, 64);
  CHECK(upstream.upstream.outstanding() == 0);
  CHECK(upstream.upstream.allocations() == 3);
}

TEST_CASE("release() gives every upstream block back and drops the size classes' slabs",
          "[memory_resource]")
{
  hook_balance balance;
  checked_upstream upstream;
  slab_resource resource(&upstream.upstream);
  std::vector<void*> small;
  for (std::size_t bytes = 1; bytes <= 1024; bytes += 13)
  {
    small.push_back(resource.allocate(bytes, 8));
  }
  void* const large = resource.allocate(5000, 16);
  (void)large; // not deallocated: release() takes it back
  CHECK(upstream.upstream.outstanding() == 1);
  CHECK(balance.outstanding() > 0);
  std::size_t bytes = 1;
  for (void* block : small)
  {
    resource.deallocate(block, bytes, 8);
    bytes += 13;
  }
  CHECK(balance.outstanding() > 0); // each class keeps its master while the resource lives

  resource.release();
  CHECK(upstream.upstream.outstanding() == 0);
  CHECK(balance.outstanding() == 0);

  // The resource works again after release().
  void* const again = resource.allocate(40, 8);
  CHECK(in_slab(again));
  resource.deallocate(again, 40, 8);
}

TEST_CASE("release() keeps a slab with a live block until that block is deallocated",
          "[memory_resource]")
{
  hook_balance balance;
  slab_resource resource(std::pmr::null_memory_resource());
  void* const kept = resource.allocate(64, 8);
  void* const freed = resource.allocate(100, 8);
  resource.deallocate(freed, 100, 8);
  CHECK(balance.outstanding() == 2);

  resource.release();
  CHECK(balance.outstanding() == 1); // the empty class went back, the live block's slab did not
  CHECK(in_slab(kept));
  std::memset(kept, 3, 64);
  resource.deallocate(kept, 64, 8); // still allowed after release()
  CHECK(balance.outstanding() == 0);
}

TEST_CASE("destroying the resource gives back every upstream block and every idle slab",
          "[memory_resource]")
{
  hook_balance balance;
  checked_upstream upstream;
  {
    slab_resource resource(&upstream.upstream);
    (void)resource.allocate(4000, 8);
    (void)resource.allocate(2048, 2048);
    resource.deallocate(resource.allocate(24, 8), 24, 8);
    CHECK(upstream.upstream.outstanding() == 2);
  }
  CHECK(upstream.upstream.outstanding() == 0);
  CHECK(balance.outstanding() == 0);
}

TEST_CASE("slab_resource is equal only to itself and takes the default resource as upstream",
          "[memory_resource]")
{
  hook_balance balance;
  slab_resource first;
  slab_resource second;
  CHECK(first.upstream_resource() == std::pmr::get_default_resource());
  CHECK(first.is_equal(first));
  CHECK_FALSE(first.is_equal(second));
  CHECK_FALSE(second.is_equal(first));
  CHECK(std::pmr::polymorphic_allocator<int>(&first) ==
        std::pmr::polymorphic_allocator<long>(&first));
  CHECK(std::pmr::polymorphic_allocator<int>(&first) !=
        std::pmr::polymorphic_allocator<int>(&second));
}

TEST_CASE("std::pmr::list, map, set and unordered_map keep their nodes in slabs",
          "[memory_resource][containers]")
{
  hook_balance balance;
  tracked::reset();
  checked_upstream upstream;
  slab_resource resource(&upstream.upstream);
  {
    std::pmr::list<tracked> list(&resource);
    std::pmr::map<int, tracked> map(&resource);
    std::pmr::set<int> set(&resource);
    std::pmr::unordered_map<int, tracked> hashed(&resource);
    for (int i = 0; i < 3000; ++i)
    {
      const auto payload = static_cast<std::uint64_t>(i);
      list.emplace_back(payload);
      map.try_emplace(i, payload);
      set.insert((i * 7919) % 1000);
      hashed.try_emplace(i, payload);
    }
    bool all_in_slabs = true;
    for (const tracked& element : list)
    {
      all_in_slabs = all_in_slabs && in_slab(&element);
    }
    for (const auto& entry : map)
    {
      all_in_slabs = all_in_slabs && in_slab(&entry) &&
                     entry.second.payload() == static_cast<std::uint64_t>(entry.first);
    }
    for (const int& key : set)
    {
      all_in_slabs = all_in_slabs && in_slab(&key);
    }
    for (const auto& entry : hashed)
    {
      all_in_slabs = all_in_slabs && in_slab(&entry);
    }
    CHECK(all_in_slabs);
    CHECK(set.size() == 1000);
    CHECK(tracked::live() == 9000);

    for (int i = 0; i < 3000; i += 3)
    {
      CHECK(map.erase(i) == 1);
      CHECK(hashed.erase(i) == 1);
    }
    list.remove_if([](const tracked& t) { return t.payload() % 2 == 0; });
    CHECK(tracked::live() == 1500 + 2000 + 2000);
    // The hash table's bucket array outgrew 1024 bytes, so it came from upstream.
    CHECK(upstream.upstream.allocations() > 0);
  }
  CHECK(tracked::live() == 0);
  CHECK(tracked::bad_destructions() == 0);
}

TEST_CASE("std::pmr::vector and std::pmr::string take small buffers from slabs and large ones "
          "from upstream",
          "[memory_resource][containers]")
{
  hook_balance balance;
  checked_upstream upstream;
  slab_resource resource(&upstream.upstream);
  std::pmr::vector<std::uint64_t> words(&resource);
  words.reserve(100); // 800 bytes: a size class
  CHECK(in_slab(words.data()));
  words.resize(1000); // 8000 bytes: upstream
  CHECK_FALSE(in_slab(words.data()));
  CHECK(upstream.upstream.outstanding() == 1);

  const std::string_view start = "a string long enough to leave the small-string buffer";
  std::pmr::string text(start, &resource);
  CHECK(in_slab(text.data()));
  text.append(2000, 'x');
  CHECK_FALSE(in_slab(text.data()));
  CHECK(text.size() == start.size() + 2000);
}

TEST_CASE("std::allocate_shared through a polymorphic_allocator puts the object in a slab",
          "[memory_resource][containers]")
{
  hook_balance balance;
  tracked::reset();
  slab_resource resource(std::pmr::null_memory_resource());
  std::weak_ptr<tracked> watcher;
  {
    const std::pmr::polymorphic_allocator<tracked> allocator(&resource);
    std::shared_ptr<tracked> shared = std::allocate_shared<tracked>(allocator, 5U);
    watcher = shared;
    CHECK(in_slab(shared.get()));
    CHECK(shared->payload() == 5);
  }
  CHECK(watcher.expired());
  CHECK(tracked::live() == 0);
  watcher.reset();
}

TEST_CASE("pmr containers move and swap on one resource without copying, and move elementwise "
          "between resources",
          "[memory_resource][containers]")
{
  hook_balance balance;
  tracked::reset();
  slab_resource resource(std::pmr::null_memory_resource());
  slab_resource other(std::pmr::null_memory_resource());
  {
    std::pmr::list<tracked> a(&resource);
    std::pmr::list<tracked> b(&resource);
    for (std::uint64_t i = 0; i < 50; ++i)
    {
      a.emplace_back(i);
      b.emplace_back(100 + i);
    }
    const tracked* const front_of_a = &a.front();
    a.swap(b);
    CHECK(&b.front() == front_of_a);
    std::pmr::list<tracked> c(std::move(b));
    CHECK(&c.front() == front_of_a);
    c.splice(c.end(), a);
    CHECK(c.size() == 100);
    CHECK(tracked::constructions() == 100); // nothing was copied or rebuilt

    const std::string_view one = "one, in a string too long for the small buffer of a std::string";
    std::pmr::map<int, std::pmr::string> here(&resource);
    here.try_emplace(1, one);
    std::pmr::map<int, std::pmr::string> there(std::move(here), &other); // elementwise
    CHECK(there.get_allocator().resource() == &other);
    CHECK(there.at(1).get_allocator().resource() == &other);
    CHECK(there.at(1).substr(0, 4) == "one,");
    std::pmr::map<int, std::pmr::string> back(&resource);
    back = std::move(there); // unequal allocators: elementwise again
    CHECK(back.get_allocator().resource() == &resource);
    CHECK(back.at(1) == one);
  }
  CHECK(tracked::live() == 0);
}

TEST_CASE("pmr containers filled on one thread are destroyed on another",
          "[memory_resource][thread]")
{
  hook_balance balance;
  tracked::reset();
  slab_resource resource(std::pmr::null_memory_resource());
  {
    std::pmr::list<tracked> list(&resource);
    std::pmr::unordered_map<int, tracked> hashed(&resource);
    hashed.reserve(64); // its bucket array fits a size class: null upstream
    for (int i = 0; i < 40; ++i)
    {
      list.emplace_back(static_cast<std::uint64_t>(i));
      hashed.try_emplace(i, static_cast<std::uint64_t>(i));
    }
    std::thread destroyer(
        [moved_list = std::move(list), moved_hash = std::move(hashed)]() mutable
        {
          moved_list.clear();
          moved_hash.clear();
        });
    destroyer.join();
  }
  CHECK(tracked::live() == 0);
}

TEST_CASE("a hook that returns null makes pmr containers throw std::bad_alloc and keep what they "
          "held",
          "[memory_resource][failure]")
{
  hook_balance balance;
  slab_resource resource(std::pmr::null_memory_resource());
  std::pmr::list<int> list(&resource);
  list.push_back(1); // the 24-byte class now has its master
  recording_hooks::fail_every_alloc(alloc_fault::null);
  std::pmr::map<int, int> map(&resource); // 40-byte nodes: the 48-byte class, with no slab yet
  CHECK_THROWS_AS(map.emplace(1, 1), std::bad_alloc);
  CHECK(map.empty());
  try
  {
    std::pmr::set<long double> set(&resource);
    set.insert(1.0L);
    FAIL("insert did not throw");
  }
  catch (const attachable::bad_slab_alloc& failure)
  {
    CHECK(failure.error() == slab_error::out_of_memory);
  }
  list.push_back(2); // the master has room: no hook call
  CHECK(list.size() == 2);
  recording_hooks::fail_every_alloc(alloc_fault::none);
  map.emplace(1, 1);
  CHECK(map.at(1) == 1);
}

TEST_CASE("an upstream that refuses makes large requests throw its std::bad_alloc",
          "[memory_resource][failure]")
{
  hook_balance balance;
  slab_resource resource(std::pmr::null_memory_resource());
  CHECK_THROWS_AS(resource.allocate(4096, 8), std::bad_alloc);
  CHECK_THROWS_AS(resource.allocate(16, 2048), std::bad_alloc);
  std::pmr::vector<char> bytes(&resource);
  CHECK_THROWS_AS(bytes.resize(5000), std::bad_alloc);
  CHECK(bytes.empty());
  bytes.resize(500);
  CHECK(in_slab(bytes.data()));
}
