// slab_allocator: the standard allocator requirements, every node container on it (list, map,
// set, unordered_map, allocate_shared), moves and swaps between containers, destruction on
// another thread, and std::bad_alloc when the alloc hook runs dry.
//
// Its caches live for the whole process, so a test cannot see their master slabs come back;
// tests/support/exit_hook_balance.cpp, linked into this binary, fails the process if any slab
// is still out after the static destructors. Each test checks what it can see: every node sits
// in a slab from the hooks, every element dies exactly once, and the lock and hooks are used
// correctly.
#include "catch.hpp"
#include "instance_tracker.hpp"
#include "recording_hooks.hpp"
#include "recording_lock.hpp"

#include <attachable/std_allocator.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

using attachable::no_lock;
using attachable::slab_allocator;
using attachable::slab_error;
using attachable::spin_lock;
using test_support::alloc_fault;
using test_support::recording_hooks;
using test_support::recording_lock;
using test_support::tracked;

namespace
{

constexpr std::size_t slab_size = 4096;

// True if `object` lies in a slab that the recording hooks handed out and did not get back.
bool in_slab(const void* object)
{
  const auto base = reinterpret_cast<std::uintptr_t>(object) & ~std::uintptr_t{slab_size - 1};
  return recording_hooks::is_outstanding(reinterpret_cast<const void*>(base));
}

// Declared first in a test: at the end it checks that every tracked element died exactly once,
// that the caches took their lock in pairs and called no hook under it, and it clears planned
// hook faults so that they cannot leak into the next test.
class hygiene
{
public:
  hygiene() noexcept
  {
    recording_hooks::reset();
    tracked::reset();
  }
  hygiene(const hygiene&) = delete;
  hygiene& operator=(const hygiene&) = delete;
  ~hygiene()
  {
    const test_support::hook_counts counts = recording_hooks::counts();
    recording_hooks::reset();
    CHECK(tracked::live() == 0);
    CHECK(tracked::bad_destructions() == 0);
    CHECK(counts.bad_requests == 0);
    CHECK(counts.called_under_lock == 0);
    CHECK(recording_lock::misuses() == 0);
    CHECK(recording_lock::locks() == recording_lock::unlocks());
  }
};

template <class T, class Lock>
using alloc = slab_allocator<T, Lock, slab_size>;

template <class T, class Lock>
using list_of = std::list<T, alloc<T, Lock>>;

template <class K, class V, class Lock>
using map_of = std::map<K, V, std::less<K>, alloc<std::pair<const K, V>, Lock>>;

template <class K, class Lock>
using set_of = std::set<K, std::less<K>, alloc<K, Lock>>;

template <class K, class V, class Lock>
using unordered_map_of =
    std::unordered_map<K, V, std::hash<K>, std::equal_to<K>, alloc<std::pair<const K, V>, Lock>>;

// A distinct element type per test and lock, so that its node cache is fresh in the test that
// makes the hooks fail, whatever ran before it in the same process.
template <int Test, class Lock>
struct fresh
{
  int value = 0;
  friend bool operator<(const fresh& a, const fresh& b) noexcept { return a.value < b.value; }
  friend bool operator==(const fresh& a, const fresh& b) noexcept { return a.value == b.value; }
};

struct alignas(64) over_aligned
{
  unsigned char bytes[64];
};

} // namespace

template <int Test, class Lock>
struct std::hash<fresh<Test, Lock>>
{
  std::size_t operator()(const fresh<Test, Lock>& f) const noexcept
  {
    return std::hash<int>{}(f.value);
  }
};

#define ATTACHABLE_LOCKS spin_lock, no_lock, recording_lock

TEST_CASE("slab_allocator is a stateless allocator that is always equal and rebinds with its "
          "lock and slab size",
          "[std_allocator]")
{
  using a = slab_allocator<int, recording_lock, 8192>;
  using traits = std::allocator_traits<a>;
  STATIC_REQUIRE(std::is_same_v<traits::value_type, int>);
  STATIC_REQUIRE(traits::is_always_equal::value);
  STATIC_REQUIRE(std::is_empty_v<a>);
  STATIC_REQUIRE(
      std::is_same_v<traits::rebind_alloc<double>, slab_allocator<double, recording_lock, 8192>>);
  STATIC_REQUIRE(std::is_same_v<slab_allocator<int>, slab_allocator<int, spin_lock, 4096>>);
  STATIC_REQUIRE(std::is_same_v<a::cache_type, attachable::slab_cache<int, recording_lock, 8192>>);
  STATIC_REQUIRE(std::is_nothrow_copy_constructible_v<a>);
  STATIC_REQUIRE(std::is_nothrow_constructible_v<a, slab_allocator<long, recording_lock, 8192>>);

  const a ints;
  const slab_allocator<double, recording_lock, 8192> doubles(ints);
  CHECK(ints == doubles);
  CHECK_FALSE(ints != doubles);
  CHECK(ints == a(doubles));
}

TEMPLATE_TEST_CASE("one object comes from a slab; n objects come from operator new, aligned",
                   "[std_allocator]", ATTACHABLE_LOCKS)
{
  const hygiene guard;
  alloc<std::uint64_t, TestType> words;

  std::uint64_t* const one = words.allocate(1);
  CHECK(in_slab(one));
  CHECK(reinterpret_cast<std::uintptr_t>(one) % alignof(std::uint64_t) == 0);
  *one = 42;

  std::uint64_t* const many = words.allocate(100);
  CHECK_FALSE(in_slab(many));
  for (std::size_t i = 0; i < 100; ++i)
  {
    many[i] = i;
  }
  std::uint64_t* const none = words.allocate(0);
  CHECK(*one == 42);
  words.deallocate(none, 0);
  words.deallocate(many, 100);
  words.deallocate(one, 1);

  alloc<over_aligned, TestType> wide;
  over_aligned* const single = wide.allocate(1);
  over_aligned* const array = wide.allocate(3);
  CHECK(in_slab(single));
  CHECK_FALSE(in_slab(array));
  CHECK(reinterpret_cast<std::uintptr_t>(single) % 64 == 0);
  CHECK(reinterpret_cast<std::uintptr_t>(array) % 64 == 0);
  wide.deallocate(array, 3);
  wide.deallocate(single, 1);
}

TEST_CASE("an array too large for size_t throws std::bad_array_new_length", "[std_allocator]")
{
  const hygiene guard;
  alloc<std::uint64_t, spin_lock> words;
  CHECK_THROWS_AS((void)words.allocate(std::numeric_limits<std::size_t>::max() / 4),
                  std::bad_array_new_length);
}

TEMPLATE_TEST_CASE("std::list nodes come from slabs and every element dies exactly once",
                   "[std_allocator][list]", ATTACHABLE_LOCKS)
{
  const hygiene guard;
  {
    list_of<tracked, TestType> list;
    for (std::uint64_t i = 0; i < 1000; ++i)
    {
      list.emplace_back(i);
    }
    for (std::uint64_t i = 0; i < 100; ++i)
    {
      list.emplace_front(5000 + i);
    }
    bool all_in_slabs = true;
    for (const tracked& element : list)
    {
      all_in_slabs = all_in_slabs && in_slab(&element);
    }
    CHECK(all_in_slabs);
    const auto divisible = [](const tracked& t) { return t.payload() % 3 == 0; };
    const auto removed =
        static_cast<std::size_t>(std::count_if(list.begin(), list.end(), divisible));
    list.remove_if(divisible);
    CHECK(list.size() == 1100 - removed);
    list.sort([](const tracked& a, const tracked& b) { return a.payload() > b.payload(); });
    CHECK(list.front().payload() == 5099);
    CHECK(tracked::live() == static_cast<long>(list.size()));
  }
  CHECK(tracked::live() == 0);
}

TEMPLATE_TEST_CASE("std::map nodes come from slabs, and copies, erasure and clear free them",
                   "[std_allocator][map]", ATTACHABLE_LOCKS)
{
  const hygiene guard;
  map_of<int, tracked, TestType> map;
  for (int i = 0; i < 2000; ++i)
  {
    map.try_emplace(i, static_cast<std::uint64_t>(i) * 7);
  }
  bool all_in_slabs = true;
  for (const auto& entry : map)
  {
    all_in_slabs = all_in_slabs && in_slab(&entry);
  }
  CHECK(all_in_slabs);
  for (int i = 0; i < 2000; i += 2)
  {
    CHECK(map.erase(i) == 1);
  }
  CHECK(map.size() == 1000);
  CHECK(map.at(1001).payload() == 7007);
  CHECK(tracked::live() == 1000);

  map_of<int, int, TestType> ints;
  for (int i = 0; i < 500; ++i)
  {
    ints[i] = -i;
  }
  const map_of<int, int, TestType> copy(ints);
  CHECK(copy == ints);
  CHECK(in_slab(&*copy.begin()));
  ints.clear();
  CHECK(copy.size() == 500);
  map.clear();
  CHECK(tracked::live() == 0);
}

TEMPLATE_TEST_CASE("std::set nodes come from slabs and the set behaves as a set",
                   "[std_allocator][set]", ATTACHABLE_LOCKS)
{
  const hygiene guard;
  set_of<int, TestType> set;
  for (int i = 0; i < 3000; ++i)
  {
    set.insert((i * 7919) % 1000);
  }
  CHECK(set.size() == 1000);
  CHECK(*set.begin() == 0);
  CHECK(*set.rbegin() == 999);
  CHECK(in_slab(&*set.find(500)));
  auto node = set.extract(500);
  CHECK(in_slab(&node.value()));
  set_of<int, TestType> other;
  other.insert(std::move(node)); // a node handle moves between sets of equal allocators
  CHECK(other.count(500) == 1);
  CHECK(set.count(500) == 0);
  set.merge(other);
  CHECK(set.size() == 1000);
  CHECK(other.empty());
}

TEMPLATE_TEST_CASE("std::unordered_map nodes come from slabs and its buckets from operator new",
                   "[std_allocator][unordered_map]", ATTACHABLE_LOCKS)
{
  const hygiene guard;
  {
    unordered_map_of<int, tracked, TestType> map;
    for (int i = 0; i < 5000; ++i) // several rehashes: bucket arrays of many sizes
    {
      map.try_emplace(i, static_cast<std::uint64_t>(i));
    }
    CHECK(map.bucket_count() > 1);
    bool all_in_slabs = true;
    for (const auto& entry : map)
    {
      all_in_slabs = all_in_slabs && in_slab(&entry) &&
                     entry.second.payload() == static_cast<std::uint64_t>(entry.first);
    }
    CHECK(all_in_slabs);
    for (int i = 0; i < 5000; i += 5)
    {
      CHECK(map.erase(i) == 1);
    }
    CHECK(map.size() == 4000);
    map.rehash(10);
    CHECK(map.count(4999) == 1);
    CHECK(tracked::live() == 4000);
  }
  CHECK(tracked::live() == 0);
}

TEMPLATE_TEST_CASE("std::allocate_shared puts the object and its control block in one slot",
                   "[std_allocator][shared_ptr]", ATTACHABLE_LOCKS)
{
  const hygiene guard;
  std::weak_ptr<tracked> watcher;
  {
    std::shared_ptr<tracked> first = std::allocate_shared<tracked>(alloc<tracked, TestType>{}, 9);
    CHECK(in_slab(first.get()));
    CHECK(first->payload() == 9);
    std::shared_ptr<tracked> second = first;
    watcher = first;
    CHECK(first.use_count() == 2);
    first.reset();
    CHECK(second->alive());
  }
  CHECK(watcher.expired());
  CHECK(tracked::live() == 0); // the object dies with the last owner ...
  watcher.reset();             // ... and the control block's slot with the last weak_ptr

  std::vector<std::shared_ptr<int>> many;
  for (int i = 0; i < 1000; ++i)
  {
    many.push_back(std::allocate_shared<int>(alloc<int, TestType>{}, i));
  }
  CHECK(*many[999] == 999);
  CHECK(in_slab(many[500].get()));
}

TEMPLATE_TEST_CASE("containers move, swap and splice between each other without copying a node",
                   "[std_allocator]", ATTACHABLE_LOCKS)
{
  const hygiene guard;

  list_of<tracked, TestType> a;
  list_of<tracked, TestType> b;
  for (std::uint64_t i = 0; i < 100; ++i)
  {
    a.emplace_back(i);
    b.emplace_back(1000 + i);
  }
  const tracked* const first_of_a = &a.front();
  const tracked* const first_of_b = &b.front();
  a.swap(b);
  CHECK(&a.front() == first_of_b);
  CHECK(&b.front() == first_of_a);
  list_of<tracked, TestType> c(std::move(a));
  CHECK(&c.front() == first_of_b);
  a = std::move(b);
  CHECK(&a.front() == first_of_a);
  c.splice(c.end(), a, a.begin());
  CHECK(&c.back() == first_of_a);
  CHECK(a.size() == 99);
  CHECK(c.size() == 101);
  CHECK(tracked::constructions() == 200); // nothing was copied or rebuilt

  map_of<int, tracked, TestType> m1;
  map_of<int, tracked, TestType> m2;
  m1.try_emplace(1, 1U);
  m2.try_emplace(2, 2U);
  const auto* const node_of_m1 = &*m1.begin();
  std::swap(m1, m2);
  CHECK(&*m2.begin() == node_of_m1);
  m1 = std::move(m2);
  CHECK(&*m1.begin() == node_of_m1);
  CHECK(m2.empty()); // NOLINT(bugprone-use-after-move): a moved-from map is valid and empty here

  unordered_map_of<int, tracked, TestType> u1;
  u1.try_emplace(7, 7U);
  const auto* const node_of_u1 = &*u1.begin();
  unordered_map_of<int, tracked, TestType> u2(std::move(u1));
  CHECK(&*u2.begin() == node_of_u1);
  u1.swap(u2);
  CHECK(&*u1.begin() == node_of_u1);
  CHECK(tracked::constructions() == 203);
}

TEMPLATE_TEST_CASE("a container filled on one thread is destroyed on another",
                   "[std_allocator][thread]", ATTACHABLE_LOCKS)
{
  const hygiene guard;
  list_of<tracked, TestType> list;
  map_of<int, tracked, TestType> map;
  unordered_map_of<int, tracked, TestType> hashed;
  std::shared_ptr<tracked> shared = std::allocate_shared<tracked>(alloc<tracked, TestType>{}, 1U);
  for (int i = 0; i < 500; ++i)
  {
    list.emplace_back(static_cast<std::uint64_t>(i));
    map.try_emplace(i, static_cast<std::uint64_t>(i));
    hashed.try_emplace(i, static_cast<std::uint64_t>(i));
  }
  CHECK(tracked::live() == 1501);

  std::thread destroyer(
      [moved_list = std::move(list), moved_map = std::move(map), moved_hash = std::move(hashed),
       moved_shared = std::move(shared)]() mutable
      {
        moved_list.clear();
        moved_map.clear();
        moved_hash.clear();
        moved_shared.reset();
      });
  destroyer.join();
  CHECK(tracked::live() == 0);
}

TEMPLATE_TEST_CASE("a hook that returns null makes every container throw std::bad_alloc and "
                   "keep what it held",
                   "[std_allocator][failure]", ATTACHABLE_LOCKS)
{
  const hygiene guard;
  using shared_element = fresh<5, TestType>;
  using shared_allocator = alloc<shared_element, TestType>;
  recording_hooks::fail_every_alloc(alloc_fault::null);

  list_of<fresh<1, TestType>, TestType> list;
  CHECK_THROWS_AS(list.push_back({1}), std::bad_alloc);
  CHECK(list.empty());

  map_of<fresh<2, TestType>, int, TestType> map;
  CHECK_THROWS_AS(map.emplace(fresh<2, TestType>{1}, 1), std::bad_alloc);
  CHECK(map.empty());

  set_of<fresh<3, TestType>, TestType> set;
  CHECK_THROWS_AS(set.insert({1}), std::bad_alloc);
  CHECK(set.empty());

  unordered_map_of<fresh<4, TestType>, int, TestType> hashed;
  CHECK_THROWS_AS(hashed.emplace(fresh<4, TestType>{1}, 1), std::bad_alloc);
  CHECK(hashed.empty());

  CHECK_THROWS_AS(std::allocate_shared<shared_element>(shared_allocator{}), std::bad_alloc);

  // The exception says why, and the caches work once the hook recovers.
  try
  {
    list.push_back({2});
    FAIL("push_back did not throw");
  }
  catch (const attachable::bad_slab_alloc& failure)
  {
    CHECK(failure.error() == slab_error::out_of_memory);
    CHECK(std::string(failure.what()) == attachable::to_string(slab_error::out_of_memory));
  }
  recording_hooks::fail_every_alloc(alloc_fault::none);
  list.push_back({3});
  map.emplace(fresh<2, TestType>{3}, 3);
  set.insert({3});
  hashed.emplace(fresh<4, TestType>{3}, 3);
  CHECK(list.front().value == 3);
  CHECK(map.begin()->second == 3);
  CHECK(set.size() == 1);
  CHECK(hashed.at(fresh<4, TestType>{3}) == 3);
  CHECK(in_slab(&list.front()));
}

TEMPLATE_TEST_CASE("misaligned memory from the hook gives a bad_slab_alloc that says so",
                   "[std_allocator][failure]", ATTACHABLE_LOCKS)
{
  const hygiene guard;
  recording_hooks::fail_every_alloc(alloc_fault::misaligned);
  list_of<fresh<6, TestType>, TestType> list;
  try
  {
    list.push_back({1});
    FAIL("push_back did not throw");
  }
  catch (const attachable::bad_slab_alloc& failure)
  {
    CHECK(failure.error() == slab_error::alignment_mismatch);
  }
  CHECK(list.empty());
}

TEMPLATE_TEST_CASE("a container that outgrows a hook running dry throws and keeps every element",
                   "[std_allocator][failure]", ATTACHABLE_LOCKS)
{
  const hygiene guard;
  list_of<fresh<7, TestType>, TestType> list;
  recording_hooks::limit_allocs(1); // the master, then nothing
  int pushed = 0;
  bool threw = false;
  while (!threw && pushed < 100000)
  {
    try
    {
      list.push_back({pushed});
      ++pushed;
    }
    catch (const std::bad_alloc&)
    {
      threw = true;
    }
  }
  REQUIRE(threw);
  CHECK(pushed > 1); // the master held several nodes before growth was refused
  CHECK(list.size() == static_cast<std::size_t>(pushed));
  CHECK(list.back().value == pushed - 1);

  recording_hooks::reset();
  list.push_back({pushed});
  CHECK(list.size() == static_cast<std::size_t>(pushed) + 1);
}

TEST_CASE("a std::vector on slab_allocator keeps its storage in operator new memory",
          "[std_allocator][vector]")
{
  const hygiene guard;
  std::vector<over_aligned, alloc<over_aligned, spin_lock>> wide(1);
  CHECK(in_slab(wide.data())); // capacity 1 is a single object
  wide.resize(10);
  CHECK_FALSE(in_slab(wide.data()));
  CHECK(reinterpret_cast<std::uintptr_t>(wide.data()) % 64 == 0);
  wide.shrink_to_fit();
  wide.clear();
  wide.shrink_to_fit();
  CHECK(wide.capacity() == 0);
}
