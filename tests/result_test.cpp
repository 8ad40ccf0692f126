#include "catch.hpp"

#include <attachable/result.hpp>
#include <attachable/slab_box.hpp>

#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using attachable::result;
using attachable::slab_error;

namespace
{

constexpr slab_error every_error[] = {slab_error::out_of_memory, slab_error::invalid_pointer,
                                      slab_error::alignment_mismatch, slab_error::double_free,
                                      slab_error::fatal_error};

struct point
{
  int x;
  int y;
};

// Counts live copies, so that tests can see result construct and destroy its value.
class counted
{
public:
  explicit counted(int value) noexcept : value_(value) { ++live; }
  counted(const counted& other) noexcept : value_(other.value_) { ++live; }
  counted(counted&& other) noexcept : value_(other.value_) { ++live; }
  counted& operator=(const counted&) noexcept = default;
  counted& operator=(counted&&) noexcept = default;
  ~counted() { --live; }

  [[nodiscard]] int value() const noexcept { return value_; }

  static inline int live = 0;

private:
  int value_;
};

result<int> half_of(int value)
{
  if (value % 2 != 0)
  {
    return slab_error::invalid_pointer;
  }
  return value / 2;
}

result<void> succeed()
{
  return {};
}

} // namespace

// The value categories of the accessors are part of the contract: `std::move(r).value()` must
// move out, and a const result must not hand out a mutable reference.
static_assert(std::is_same_v<decltype(std::declval<result<int>&>().value()), int&>);
static_assert(std::is_same_v<decltype(std::declval<const result<int>&>().value()), const int&>);
static_assert(std::is_same_v<decltype(std::declval<result<int>&&>().value()), int&&>);
static_assert(std::is_same_v<decltype(*std::declval<result<int>&>()), int&>);
static_assert(std::is_same_v<decltype(*std::declval<const result<int>&>()), const int&>);
static_assert(std::is_same_v<decltype(*std::declval<result<int>&&>()), int&&>);
static_assert(std::is_same_v<decltype(std::declval<result<point>&>().operator->()), point*>);
static_assert(
    std::is_same_v<decltype(std::declval<const result<point>&>().operator->()), const point*>);
static_assert(std::is_same_v<decltype(std::declval<const result<int>&>().error()), slab_error>);
static_assert(std::is_same_v<decltype(std::declval<const result<int>&>().value_or(0)), int>);
static_assert(std::is_same_v<decltype(std::declval<result<int>&&>().value_or(0)), int>);

static_assert(std::is_convertible_v<int, result<int>>, "implicit from T");
static_assert(std::is_convertible_v<slab_error, result<int>>, "implicit from slab_error");
static_assert(std::is_convertible_v<slab_error, result<void>>, "implicit from slab_error");
static_assert(std::is_constructible_v<bool, result<int>> &&
                  !std::is_convertible_v<result<int>, bool>,
              "operator bool is explicit");
static_assert(std::is_constructible_v<bool, result<void>> &&
              !std::is_convertible_v<result<void>, bool>);

static_assert(std::is_trivially_copyable_v<result<void*>>, "returned in registers");
static_assert(std::is_trivially_copyable_v<result<int>>);
static_assert(std::is_trivially_copyable_v<result<void>>);

using unique_int = std::unique_ptr<int>;
static_assert(!std::is_copy_constructible_v<result<unique_int>>);
static_assert(std::is_nothrow_move_constructible_v<result<unique_int>>);
static_assert(std::is_nothrow_move_assignable_v<result<unique_int>>);
static_assert(!std::is_copy_constructible_v<result<attachable::slab_box<int>>>);
static_assert(std::is_nothrow_move_constructible_v<result<attachable::slab_box<int>>>);

// Hooks may run where exceptions cannot, so the accessors promise not to throw.
static_assert(noexcept(std::declval<result<int>&>().value()));
static_assert(noexcept(std::declval<const result<int>&>().error()));
static_assert(noexcept(std::declval<result<void>&>().value()));

// The whole type works in constant expressions, as a freestanding kernel may need.
static_assert(result<int>(7).value() == 7);
static_assert(result<int>(slab_error::double_free).error() == slab_error::double_free);
static_assert(result<int>(slab_error::double_free).value_or(3) == 3);
static_assert(result<void>().has_value());

TEST_CASE("a result built from a value holds that value", "[result]")
{
  const result<int> r = half_of(84);
  REQUIRE(r.has_value());
  CHECK(static_cast<bool>(r));
  CHECK(r.value() == 42);
  CHECK(*r == 42);
}

TEST_CASE("a result built from a slab_error holds that error", "[result]")
{
  for (const slab_error error : every_error)
  {
    const result<int> r = error;
    CHECK_FALSE(r.has_value());
    CHECK_FALSE(static_cast<bool>(r));
    CHECK(r.error() == error);
  }
  CHECK(half_of(3).error() == slab_error::invalid_pointer);
}

TEST_CASE("value and operator* give access to the stored object for writing", "[result]")
{
  result<int> r = 5;
  r.value() = 6;
  CHECK(*r == 6);
  *r = 7;
  CHECK(r.value() == 7);
}

TEST_CASE("operator-> reaches the members of the stored object", "[result]")
{
  result<point> r = point{1, 2};
  CHECK(r->x == 1);
  r->y = 9;
  const result<point>& view = r;
  CHECK(view->y == 9);
}

TEST_CASE("value_or gives the value if there is one and the fallback otherwise", "[result]")
{
  const result<int> has = 4;
  const result<int> lacks = slab_error::out_of_memory;
  CHECK(has.value_or(-1) == 4);
  CHECK(lacks.value_or(-1) == -1);
  CHECK(result<long>(slab_error::fatal_error).value_or(2) == 2L);
}

TEST_CASE("value_or on an rvalue moves the value out", "[result]")
{
  result<unique_int> has = std::make_unique<int>(11);
  const unique_int taken = std::move(has).value_or(nullptr);
  REQUIRE(taken != nullptr);
  CHECK(*taken == 11);

  result<unique_int> lacks = slab_error::out_of_memory;
  CHECK(std::move(lacks).value_or(nullptr) == nullptr);
}

TEST_CASE("a result of a move-only type moves its value in and out", "[result]")
{
  result<unique_int> r = std::make_unique<int>(3);
  REQUIRE(r.has_value());
  int* const raw = r->get();

  result<unique_int> moved = std::move(r);
  REQUIRE(moved.has_value());
  CHECK(moved->get() == raw);

  const unique_int out = std::move(moved).value();
  CHECK(out.get() == raw);
  CHECK(*moved == nullptr); // moved from, still held
}

TEST_CASE("a result can hold an empty slab_box and give it back", "[result][box]")
{
  result<attachable::slab_box<int>> r = attachable::slab_box<int>{};
  REQUIRE(r.has_value());
  CHECK_FALSE(static_cast<bool>(*r));
  const attachable::slab_box<int> box = std::move(r).value();
  CHECK(box.get() == nullptr);

  result<attachable::slab_box<int>> failed = slab_error::out_of_memory;
  CHECK(failed.error() == slab_error::out_of_memory);
  CHECK(std::move(failed).value_or(attachable::slab_box<int>{}).get() == nullptr);
}

TEST_CASE("a result constructs, copies and destroys a non-trivial value exactly once each",
          "[result]")
{
  counted::live = 0;
  {
    result<counted> a = counted(1);
    CHECK(counted::live == 1);
    result<counted> b = a;
    CHECK(counted::live == 2);
    CHECK(b->value() == 1);

    // An error assigned over a value destroys the value.
    b = result<counted>(slab_error::double_free);
    CHECK(counted::live == 1);
    CHECK(b.error() == slab_error::double_free);

    // A value assigned over an error constructs one.
    b = a;
    CHECK(counted::live == 2);
    CHECK(b->value() == 1);

    // A value assigned over a value assigns, without a second live object.
    b = result<counted>(counted(5));
    CHECK(counted::live == 2);
    CHECK(b->value() == 5);

    a = std::move(b);
    CHECK(a->value() == 5);
    CHECK(counted::live == 2);

    const result<counted> error = slab_error::fatal_error;
    result<counted> from_error = error;
    CHECK(from_error.error() == slab_error::fatal_error);
    CHECK(counted::live == 2);
  }
  CHECK(counted::live == 0);
}

TEST_CASE("a default-constructed result<void> is success", "[result]")
{
  const result<void> ok;
  CHECK(ok.has_value());
  CHECK(static_cast<bool>(ok));
  ok.value();
  CHECK(succeed().has_value());
}

TEST_CASE("a result<void> built from a slab_error holds that error", "[result]")
{
  for (const slab_error error : every_error)
  {
    const result<void> r = error;
    CHECK_FALSE(r.has_value());
    CHECK_FALSE(static_cast<bool>(r));
    CHECK(r.error() == error);
  }
}

TEST_CASE("to_string gives a distinct sentence for every slab_error", "[result]")
{
  for (const slab_error error : every_error)
  {
    const char* const text = attachable::to_string(error);
    REQUIRE(text != nullptr);
    CHECK(std::strlen(text) > 10);
    for (const slab_error other : every_error)
    {
      if (other != error)
      {
        CHECK(std::strcmp(text, attachable::to_string(other)) != 0);
      }
    }
  }
}

TEST_CASE("to_string never returns null, even for a value outside the enumeration", "[result]")
{
  static_assert(attachable::to_string(static_cast<slab_error>(200)) != nullptr);
  for (const int raw : {5, 6, 100, 255})
  {
    const char* const text =
        attachable::to_string(static_cast<slab_error>(static_cast<unsigned char>(raw)));
    REQUIRE(text != nullptr);
    CHECK(std::strlen(text) > 0);
  }
}

TEST_CASE("value() of an error traps by default instead of returning", "[result]")
{
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0)
  {
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    const result<int> failed = slab_error::out_of_memory;
    const volatile int read = failed.value();
    static_cast<void>(read);
    _exit(0); // reached only if the panic returned
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
}
