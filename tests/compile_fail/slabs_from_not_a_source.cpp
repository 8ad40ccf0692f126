// Compile-time contract: slabs_from<X> with an X that is not a slab_source (here: its
// free_slab may throw) is rejected with the library's message. tests/compile_fail/CMakeLists.txt
// compiles this file twice: as is (the twin, which must compile) and with BREAK_THE_RULE
// defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstdlib>

#ifdef BREAK_THE_RULE
#define FREE_NOEXCEPT
#else
#define FREE_NOEXCEPT noexcept
#endif

struct heap_slabs
{
  static void* allocate_slab(attachable::layout request) noexcept
  {
    return std::aligned_alloc(request.align, request.size);
  }
  static attachable::result<void> free_slab(void* slab, attachable::layout) FREE_NOEXCEPT
  {
    std::free(slab);
    return {};
  }
};

void use()
{
  attachable::slab_cache<int, attachable::spin_lock, 4096, attachable::slabs_from<heap_slabs>> c;
  (void)c.alloc();
}
