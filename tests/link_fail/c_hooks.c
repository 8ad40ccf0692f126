/* The two hooks written in plain C, by hand, without ATTACHABLE_DEFINE_ALLOCATION_HOOKS: the
 * way a C kernel or RTOS would provide them. The C++ declarations are extern "C" and noexcept;
 * noexcept is not part of the symbol, so these definitions satisfy them. */
#include <stddef.h>
#include <stdlib.h>

static size_t alloc_calls;
static size_t free_calls;
static size_t bad_requests;

void* attachable_slab_alloc(size_t size, size_t align)
{
  ++alloc_calls;
  if (size != align)
  {
    ++bad_requests;
    return NULL;
  }
  return aligned_alloc(align, size);
}

int attachable_slab_free(void* ptr, size_t size, size_t align)
{
  ++free_calls;
  if (ptr == NULL || size != align)
  {
    ++bad_requests;
    return 1;
  }
  free(ptr);
  return 0;
}

size_t c_hooks_alloc_calls(void)
{
  return alloc_calls;
}
size_t c_hooks_free_calls(void)
{
  return free_calls;
}
size_t c_hooks_bad_requests(void)
{
  return bad_requests;
}
