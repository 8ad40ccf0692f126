// What the seeded random tests share: a splitmix64 source (the same sequence with every
// standard library), replay settings read from the environment, and `blob`, an object whose
// every byte is derived from an id, so that a slot shared by two live objects, or a free-list
// link or tag written into a live object, shows up as a wrong byte.
#ifndef ATTACHABLE_TESTS_SUPPORT_MODEL_SUPPORT_HPP
#define ATTACHABLE_TESTS_SUPPORT_MODEL_SUPPORT_HPP

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace test_support
{

[[nodiscard]] inline std::uint64_t mix(std::uint64_t value) noexcept
{
  value += 0x9E37'79B9'7F4A'7C15ULL;
  value = (value ^ (value >> 30)) * 0xBF58'476D'1CE4'E5B9ULL;
  value = (value ^ (value >> 27)) * 0x94D0'49BB'1331'11EBULL;
  return value ^ (value >> 31);
}

// Returns: the number in the environment variable `name` (decimal, or hex with 0x), or
// `fallback` if it is unset, empty or not a number.
[[nodiscard]] inline std::uint64_t environment_number(const char* name, std::uint64_t fallback)
{
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0')
  {
    return fallback;
  }
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 0);
  return *end == '\0' ? static_cast<std::uint64_t>(value) : fallback;
}

// As environment_number, and `fallback` for zero too (an operation count or a seed that a
// run does not accept as zero).
[[nodiscard]] inline std::uint64_t environment_nonzero(const char* name, std::uint64_t fallback)
{
  const std::uint64_t value = environment_number(name, fallback);
  return value != 0 ? value : fallback;
}

class random_source
{
public:
  explicit random_source(std::uint64_t seed) noexcept : state_(seed) {}

  std::uint64_t next() noexcept { return mix(state_++); }
  // Returns: a value in [0, bound), or 0 when bound is 0.
  std::size_t below(std::size_t bound) noexcept
  {
    return bound != 0 ? static_cast<std::size_t>(next() % bound) : 0;
  }

private:
  std::uint64_t state_;
};

template <std::size_t Size, std::size_t Align>
struct alignas(Align) blob
{
  blob() = default; // not user-provided, so alloc()'s value-initialisation zeroes the bytes
  explicit blob(std::uint64_t id) noexcept { fill(id); }

  static unsigned char pattern(std::uint64_t id, std::size_t index) noexcept
  {
    return static_cast<unsigned char>((mix(id) >> (index % 8 * 8)) ^ (index / 8 * 0x3Bu));
  }
  void fill(std::uint64_t id) noexcept
  {
    for (std::size_t i = 0; i < Size; ++i)
    {
      bytes[i] = pattern(id, i);
    }
  }
  [[nodiscard]] bool holds(std::uint64_t id) const noexcept
  {
    for (std::size_t i = 0; i < Size; ++i)
    {
      if (bytes[i] != pattern(id, i))
      {
        return false;
      }
    }
    return true;
  }
  [[nodiscard]] bool is_zero() const noexcept
  {
    for (std::size_t i = 0; i < Size; ++i)
    {
      if (bytes[i] != 0)
      {
        return false;
      }
    }
    return true;
  }

  unsigned char bytes[Size];
};

} // namespace test_support

#endif // ATTACHABLE_TESTS_SUPPORT_MODEL_SUPPORT_HPP
