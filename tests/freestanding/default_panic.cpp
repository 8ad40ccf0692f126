// Which default ATTACHABLE_PANIC a build gets: on a hosted implementation it writes its
// sentence to stderr before it traps; with -ffreestanding it only traps, so that firmware never
// references stdio. tests/freestanding/CMakeLists.txt compiles this file hosted and freestanding,
// with EXPECT_HOSTED_PANIC set to what each build must see.
#include <attachable/config.hpp>

#define ATTACHABLE_TEST_STRING(...) #__VA_ARGS__
#define ATTACHABLE_TEST_EXPAND(...) ATTACHABLE_TEST_STRING(__VA_ARGS__)

namespace
{

constexpr const char expansion[] = ATTACHABLE_TEST_EXPAND(ATTACHABLE_PANIC("sentence"));

constexpr bool contains(const char* text, const char* word)
{
  for (; *text != '\0'; ++text)
  {
    const char* t = text;
    const char* w = word;
    while (*w != '\0' && *t == *w)
    {
      ++t;
      ++w;
    }
    if (*w == '\0')
    {
      return true;
    }
  }
  return false;
}

static_assert(contains(expansion, "__builtin_trap"), "every default panic traps");

#if EXPECT_HOSTED_PANIC
static_assert(contains(expansion, "stderr"),
              "a hosted build's default panic writes its sentence to stderr");
#else
static_assert(!contains(expansion, "stderr") && !contains(expansion, "printf"),
              "a freestanding build's default panic is the bare trap");
#endif

} // namespace
