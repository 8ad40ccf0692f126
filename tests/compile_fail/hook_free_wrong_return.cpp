// Compile-time contract: a free function for the hook macro that does not return result<void> is
// rejected with the library's message. tests/compile_fail/CMakeLists.txt compiles this file twice:
// as is (the twin, which must compile) and with BREAK_THE_RULE defined (which must fail with the
// message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
int my_free(void*, attachable::layout) noexcept
{
  return 0;
}
#else
attachable::result<void> my_free(void*, attachable::layout) noexcept
{
  return {};
}
#endif

void* my_alloc(attachable::layout) noexcept
{
  return nullptr;
}

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(my_alloc, my_free);
