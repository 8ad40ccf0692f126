// Link-time contract, the passing side: hooks defined in a C file link and work.
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdio>

extern "C"
{
  std::size_t c_hooks_alloc_calls(void);
  std::size_t c_hooks_free_calls(void);
  std::size_t c_hooks_bad_requests(void);
}

namespace
{

int failures = 0;

void expect(bool condition, const char* text)
{
  if (!condition)
  {
    ++failures;
    std::printf("FAIL: %s\n", text);
  }
}

#define C_HOOKS_EXPECT(condition) expect((condition), #condition)

} // namespace

int main()
{
  using cache_type = attachable::slab_cache<double, attachable::spin_lock, 4096>;
  constexpr std::size_t objects = cache_type::objects_per_master + 2 * cache_type::objects_per_slab;
  {
    cache_type cache;
    static cache_type::box boxes[objects];
    for (cache_type::box& box : boxes)
    {
      attachable::result<cache_type::box> made = cache.emplace(1.5);
      C_HOOKS_EXPECT(made.has_value() && **made == 1.5);
      if (made)
      {
        box = static_cast<cache_type::box&&>(*made);
      }
    }
    C_HOOKS_EXPECT(cache.stats().slabs == 3);
    C_HOOKS_EXPECT(c_hooks_alloc_calls() == 3);
    for (cache_type::box& box : boxes)
    {
      box.reset();
    }
    C_HOOKS_EXPECT(cache.stats().live_objects == 0);
  }
  C_HOOKS_EXPECT(c_hooks_free_calls() == 3);
  C_HOOKS_EXPECT(c_hooks_bad_requests() == 0);
  std::printf(failures == 0 ? "PASS\n" : "FAIL\n");
  return failures == 0 ? 0 : 1;
}
