// ATTACHABLE_PANIC is redefined here, before any attachable header, to jump back into the
// test instead of trapping. This file is a binary of its own (see CMakeLists.txt): another
// translation unit with the default panic would give result's inline functions two meanings.
#include <csetjmp>
#include <cstdlib>

namespace panic_probe
{

inline std::jmp_buf* landing = nullptr;
inline const char* last_message = nullptr;
inline int calls = 0;

[[noreturn]] inline void fire(const char* message) noexcept
{
  last_message = message;
  ++calls;
  if (landing == nullptr)
  {
    std::abort(); // a panic outside panics() below: never return, as the contract says
  }
  std::longjmp(*landing, 1);
}

} // namespace panic_probe

#define ATTACHABLE_PANIC(message) ::panic_probe::fire(message)

#include "catch.hpp"

#include <attachable/result.hpp>

#include <cstring>

using attachable::result;
using attachable::slab_error;

namespace
{

struct point
{
  int x;
  int y;
};

// Runs `action`, which must hold only trivially destructible objects, because a panic jumps
// out of it without unwinding.
// Returns: true if it called ATTACHABLE_PANIC.
template <class Action>
bool panics(const Action& action)
{
  std::jmp_buf here;
  panic_probe::landing = &here;
  panic_probe::last_message = nullptr;
  if (setjmp(here) != 0)
  {
    panic_probe::landing = nullptr;
    return true;
  }
  action();
  panic_probe::landing = nullptr;
  return false;
}

} // namespace

TEST_CASE("value() of an error calls ATTACHABLE_PANIC with a sentence", "[result]")
{
  result<int> failed = slab_error::out_of_memory;
  const result<int>& view = failed;
  CHECK(panics([&] { static_cast<void>(failed.value()); }));
  REQUIRE(panic_probe::last_message != nullptr);
  CHECK(std::strstr(panic_probe::last_message, "value()") != nullptr);
  CHECK(panics([&] { static_cast<void>(view.value()); }));
  CHECK(panics([&] { static_cast<void>(static_cast<result<int>&&>(failed).value()); }));
}

TEST_CASE("operator* and operator-> of an error call ATTACHABLE_PANIC", "[result]")
{
  result<point> failed = slab_error::double_free;
  const result<point>& view = failed;
  CHECK(panics([&] { static_cast<void>(*failed); }));
  CHECK(panics([&] { static_cast<void>(*view); }));
  CHECK(panics([&] { static_cast<void>(*static_cast<result<point>&&>(failed)); }));
  CHECK(panics([&] { static_cast<void>(failed->x); }));
  CHECK(panics([&] { static_cast<void>(view->y); }));
}

TEST_CASE("error() of a value calls ATTACHABLE_PANIC", "[result]")
{
  const result<int> ok = 1;
  CHECK(panics([&] { static_cast<void>(ok.error()); }));
  REQUIRE(panic_probe::last_message != nullptr);
  CHECK(std::strstr(panic_probe::last_message, "error()") != nullptr);

  const result<void> success;
  CHECK(panics([&] { static_cast<void>(success.error()); }));
}

TEST_CASE("value() of a result<void> error calls ATTACHABLE_PANIC", "[result]")
{
  const result<void> failed = slab_error::fatal_error;
  CHECK(panics([&] { failed.value(); }));
}

TEST_CASE("using a result the right way never calls ATTACHABLE_PANIC", "[result]")
{
  const int before = panic_probe::calls;
  result<int> ok = 2;
  const result<int> failed = slab_error::invalid_pointer;
  const result<void> success;
  const result<void> void_failed = slab_error::invalid_pointer;
  CHECK_FALSE(panics(
      [&]
      {
        static_cast<void>(ok.value());
        static_cast<void>(*ok);
        static_cast<void>(failed.error());
        static_cast<void>(failed.value_or(0));
        static_cast<void>(ok.value_or(0));
        success.value();
        static_cast<void>(void_failed.error());
      }));
  CHECK(panic_probe::calls == before);
}
