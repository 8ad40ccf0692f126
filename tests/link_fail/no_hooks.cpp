// Link-time contract: a program that uses a cache but defines neither hook must fail to link,
// and the linker must name the missing hooks. This file is meant never to link.
#include <attachable/slab.hpp>

int main()
{
  attachable::slab_cache<int> cache;
  attachable::result<attachable::slab_box<int>> box = cache.emplace(7);
  return box.has_value() && **box == 7 ? 0 : 1;
}
