// Pointers from elsewhere passed to deallocate() and from_raw() (issue 8, item 3): from malloc,
// the stack, static storage, and slots of a cache with a larger SlabSize. Each must come back
// as invalid_pointer and change nothing. Reading the header of the block around such a pointer
// is the library's own validation, so AddressSanitizer and Valgrind must have nothing to say:
// before the fix ASan aborted inside the library (heap-buffer-overflow, or use-after-poison on a
// slot the library had poisoned itself) and memcheck reported invalid or uninitialised reads.
//
// These are plain unit tests: the asan leg runs them under ASan, and the valgrind leg under
// memcheck with ATTACHABLE_VALGRIND=1, where any report fails the run.
//
// The contract they stay within: the SlabSize-aligned block around the pointer is mapped. The
// caches under test use SlabSize 4096, the page size, so that holds for every pointer here.
#include "catch.hpp"
#include "hook_balance.hpp"
#include "test_cpus.hpp"

#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using attachable::no_lock;
using attachable::per_cpu;
using attachable::per_thread;
using attachable::slab_error;
using attachable::slab_stats;
using attachable::spin_lock;
using test_support::hook_balance;
using test_support::test_cpus;

namespace
{

struct item
{
  std::uint64_t value;
  std::uint64_t check;
};

template <class Lock, class... Options>
using small_cache = attachable::slab_cache<item, Lock, 4096, Options...>;

using caches =
    std::tuple<small_cache<spin_lock>, small_cache<no_lock>, small_cache<spin_lock, per_thread>,
               small_cache<spin_lock, per_cpu<test_cpus>>>;

// Static storage: a plain object, a const one in read-only data, and a string literal.
item static_item{1, 2};
const item constant_item{3, 4};
const char* const literal = "not a slot of any cache";

// Returns: an empty string if `pointer` is refused by deallocate() and from_raw() with
// invalid_pointer and `cache` did not change, else what went wrong.
template <class Cache>
std::string refused(const Cache& cache, const void* pointer)
{
  const slab_stats before = cache.stats();
  void* const mutable_pointer = const_cast<void*>(pointer);
  const attachable::result<void> freed = Cache::deallocate(mutable_pointer);
  if (freed || freed.error() != slab_error::invalid_pointer)
  {
    return "deallocate() did not give invalid_pointer";
  }
  const auto adopted = Cache::box::from_raw(static_cast<item*>(mutable_pointer));
  if (adopted || adopted.error() != slab_error::invalid_pointer)
  {
    return "from_raw() did not give invalid_pointer";
  }
  const slab_stats after = cache.stats();
  if (after.live_objects != before.live_objects || after.slabs != before.slabs ||
      after.cached_objects != before.cached_objects)
  {
    return "a refused pointer changed the cache";
  }
  return "";
}

// A cache with a master and one live object, so that a wrongly accepted pointer has
// something to corrupt.
template <class Cache>
struct populated
{
  populated()
  {
    auto made = cache.emplace(item{42, ~std::uint64_t{42}});
    REQUIRE(made);
    object = std::move(*made);
  }
  ~populated()
  {
    CHECK(object->value == 42);
    CHECK(cache.verify());
  }
  populated(const populated&) = delete;
  populated& operator=(const populated&) = delete;

  Cache cache;
  typename Cache::box object;
};

} // namespace

TEMPLATE_LIST_TEST_CASE("pointers from malloc are invalid_pointer to deallocate and from_raw",
                        "[foreign]", caches)
{
  hook_balance balance;
  populated<TestType> subject;
  // Small blocks share a page with the allocator's bookkeeping and other blocks; a large one is
  // mapped on its own, its header at the page start.
  for (const std::size_t size : {std::size_t{1}, std::size_t{16}, std::size_t{100},
                                 std::size_t{4096}, std::size_t{5000}, std::size_t{300000}})
  {
    CAPTURE(size);
    void* const block = std::malloc(size);
    REQUIRE(block != nullptr);
    CHECK(refused(subject.cache, block) == "");
    if (size >= 64)
    {
      CHECK(refused(subject.cache, static_cast<char*>(block) + 48) == "");
    }
    std::free(block);
  }
  const auto owned = std::make_unique<item>();
  CHECK(refused(subject.cache, owned.get()) == "");
}

TEMPLATE_LIST_TEST_CASE("pointers to the stack are invalid_pointer to deallocate and from_raw",
                        "[foreign]", caches)
{
  hook_balance balance;
  populated<TestType> subject;
  item local{5, 6};
  alignas(64) unsigned char buffer[512] = {};
  CHECK(refused(subject.cache, &local) == "");
  for (std::size_t offset = 0; offset < sizeof buffer; offset += 64)
  {
    CAPTURE(offset);
    CHECK(refused(subject.cache, buffer + offset) == "");
  }
  CHECK(local.value == 5);
}

TEMPLATE_LIST_TEST_CASE("pointers to static storage are invalid_pointer to deallocate and "
                        "from_raw",
                        "[foreign]", caches)
{
  hook_balance balance;
  populated<TestType> subject;
  CHECK(refused(subject.cache, &static_item) == "");
  CHECK(refused(subject.cache, &constant_item) == "");
  CHECK(refused(subject.cache, literal) == "");
  static item local_static{7, 8};
  CHECK(refused(subject.cache, &local_static) == "");
  CHECK(static_item.value == 1);
  CHECK(local_static.value == 7);
}

TEMPLATE_LIST_TEST_CASE("slots of a cache with a 65536-byte SlabSize are invalid_pointer to a "
                        "4096-byte cache, whatever lies at their 4096-byte boundary",
                        "[foreign]", caches)
{
  hook_balance balance;
  using big_cache = attachable::slab_cache<item, spin_lock, 65536>;
  populated<TestType> subject;
  big_cache big;
  // Fill the big master and free every other object: the 4096-byte boundaries below the slots
  // now fall on the real header, on live objects, on free slots (poisoned by the library) and
  // on never-used ones, which the shorter second slab still has.
  std::vector<big_cache::box> objects;
  for (std::size_t i = 0; i < big_cache::objects_per_master + big_cache::objects_per_slab / 2; ++i)
  {
    auto made = big.emplace(item{i, ~i});
    REQUIRE(made);
    objects.push_back(std::move(*made));
  }
  std::vector<const void*> freed;
  for (std::size_t i = 0; i < objects.size(); i += 2)
  {
    freed.push_back(objects[i].get());
    objects[i].reset();
  }
  std::size_t failures = 0;
  std::string first_failure;
  const auto check = [&](const void* pointer)
  {
    std::string why = refused(subject.cache, pointer);
    if (!why.empty() && failures++ == 0)
    {
      first_failure = std::move(why);
    }
  };
  for (const big_cache::box& object : objects)
  {
    if (object)
    {
      check(object.get());
    }
  }
  for (const void* pointer : freed)
  {
    check(pointer);
  }
  CHECK(failures == 0);
  CHECK(first_failure == "");
  CHECK(big.verify());
  for (std::size_t i = 1; i < objects.size(); i += 2)
  {
    CHECK(objects[i]->value == i);
  }
}
