// Compile-time contract: a result of slab_error is rejected with the library's message.
// tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin, which must
// compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>

#ifdef BREAK_THE_RULE
using value = attachable::slab_error;
#else
using value = int;
#endif

void use()
{
  attachable::result<value> held = value{};
  (void)held.has_value();
}
