// The hosted adapters' counterpart of warnings_instantiate.cpp: every member of
// slab_allocator and slab_resource, through every container the tests use, so
// that the hosted warnings test sees all of their code at -O2. Compiled with -c
// only: no hooks are needed.
#include <attachable/memory_resource.hpp>
#include <attachable/std_allocator.hpp>

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <memory_resource>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace warnings_check
{

struct alignas(64) over_aligned
{
  int value;
};

template <class T, class Lock>
using alloc = attachable::slab_allocator<T, Lock>;

template <class Lock>
long use_allocator()
{
  std::list<int, alloc<int, Lock>> list{1, 2, 3};
  std::map<int, long, std::less<>, alloc<std::pair<const int, long>, Lock>> map{{1, 2L}};
  std::set<std::uint16_t, std::less<>, alloc<std::uint16_t, Lock>> set{7};
  std::unordered_map<int, int, std::hash<int>, std::equal_to<>,
                     alloc<std::pair<const int, int>, Lock>>
      hashed{{3, 4}};
  std::vector<over_aligned, alloc<over_aligned, Lock>> wide(3);
  const auto shared = std::allocate_shared<double>(alloc<double, Lock>{}, 2.5);
  alloc<int, Lock> ints;
  int* const one = ints.allocate(1);
  ints.deallocate(one, 1);
  return list.back() + map.at(1) + *set.begin() + hashed.at(3) + static_cast<long>(wide.size()) +
         static_cast<long>(*shared) + (ints == alloc<long, Lock>{} ? 1 : 0);
}

long use_resource()
{
  attachable::slab_resource resource;
  attachable::slab_resource over_null(std::pmr::null_memory_resource());
  std::pmr::list<int> list({1, 2}, &resource);
  std::pmr::map<int, std::pmr::string> map(&resource);
  map.try_emplace(1, "a string too long for the small-string buffer of std::string");
  std::pmr::vector<char> bytes(5000, 'x', &resource);
  void* const block = over_null.allocate(24, 8);
  over_null.deallocate(block, 24, 8);
  resource.release();
  return list.back() + static_cast<long>(map.at(1).size() + bytes.size()) +
         (resource.is_equal(over_null) ? 1 : 0) +
         (resource.upstream_resource() == std::pmr::get_default_resource() ? 1 : 0);
}

long instantiate_all()
{
  return use_allocator<attachable::spin_lock>() + use_allocator<attachable::no_lock>() +
         use_resource();
}

} // namespace warnings_check
