// Compile-time contract: an alloc function for the hook macro that does not return void* is
// rejected with the library's message. tests/compile_fail/CMakeLists.txt compiles this file twice:
// as is (the twin, which must compile) and with BREAK_THE_RULE defined (which must fail with the
// message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
int* my_alloc(attachable::layout) noexcept
{
  return nullptr;
}
#else
void* my_alloc(attachable::layout) noexcept
{
  return nullptr;
}
#endif

attachable::result<void> my_free(void*, attachable::layout) noexcept
{
  return {};
}

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(my_alloc, my_free);
