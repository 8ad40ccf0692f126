// Compile-time contract: a slab_allocator whose T (here a std::list node) is more than a quarter
// of SlabSize is rejected with the allocator's own message, and only that one.
// tests/compile_fail/CMakeLists.txt compiles this file twice: as is (the twin, which must
// compile) and with BREAK_THE_RULE defined (which must fail with the message).
#include <attachable/std_allocator.hpp>

#include <cstddef>
#include <list>

#ifdef BREAK_THE_RULE
constexpr std::size_t slab_size = 4096;
#else
constexpr std::size_t slab_size = 65536;
#endif

struct record
{
  unsigned char bytes[2000];
};

void use()
{
  std::list<record, attachable::slab_allocator<record, attachable::spin_lock, slab_size>> records;
  records.emplace_back();
}
