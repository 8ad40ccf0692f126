// Compile-time contract: a result of an array is rejected with the library's message.
// tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin, which must
// compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
using value = int[2];
#else
struct value
{
  int values[2];
};
#endif

void use()
{
  attachable::result<value> held = attachable::slab_error::out_of_memory;
  (void)held.has_value();
}
