// A T whose destructor throws ends in std::terminate when its box dies (issue 8, item 8): the
// box's destructor is noexcept, as slab_box.hpp says, so the exception cannot leave it. This is
// a program of its own, not a Catch2 test, because it must end in std::terminate: its handler
// prints PASS and exits 0, while an exception caught around the box, or reaching the end of
// main, prints FAIL.
#include <attachable/slab.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>

namespace
{

struct throws_when_destroyed
{
  throws_when_destroyed() noexcept = default;
  throws_when_destroyed(const throws_when_destroyed&) = delete;
  throws_when_destroyed& operator=(const throws_when_destroyed&) = delete;
  ~throws_when_destroyed() noexcept(false) { throw 42; }

  int value = 7;
};

// The slabs come from a static arena, so the program needs no hooks and leaves no heap block
// behind when the handler ends it.
attachable::static_arena<4096, 1, attachable::spin_lock> arena;
using cache_type = attachable::slab_cache<throws_when_destroyed, attachable::spin_lock, 4096,
                                          attachable::slabs_from<attachable::arena_slabs<arena>>>;

[[noreturn]] void on_terminate() noexcept
{
  std::puts("PASS: the box's death ended in std::terminate");
  std::fflush(stdout);
  std::_Exit(0);
}

} // namespace

int main()
{
  std::set_terminate(on_terminate);
  cache_type cache;
  try
  {
    auto made = cache.alloc();
    if (!made || (*made)->value != 7)
    {
      std::puts("FAIL: no object to destroy");
      return 1;
    }
    // Out of the result, so that only the box's own destructor stands between the exception
    // and the catch below.
    const cache_type::box box = std::move(*made);
  }
  catch (...)
  {
    // Only a box whose destructor let the exception out gets here.
    std::puts("FAIL: the exception left the box's destructor");
    return 1;
  }
  std::puts("FAIL: the box died and the exception went nowhere");
  return 1;
}
