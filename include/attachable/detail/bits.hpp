// attachable-slab: integer helpers for slab layout and address masking.
#ifndef ATTACHABLE_DETAIL_BITS_HPP
#define ATTACHABLE_DETAIL_BITS_HPP

#include <bit>
#include <cstddef>
#include <cstdint>

namespace attachable::detail
{

[[nodiscard]] constexpr bool is_power_of_two(std::size_t value) noexcept
{
  return std::has_single_bit(value);
}

// Requires: alignment is a power of two.
[[nodiscard]] constexpr std::size_t align_up(std::size_t value, std::size_t alignment) noexcept
{
  return (value + alignment - 1) & ~(alignment - 1);
}

[[nodiscard]] constexpr std::size_t max_of(std::size_t a, std::size_t b) noexcept
{
  return a < b ? b : a;
}

[[nodiscard]] inline std::uintptr_t address_of(const void* pointer) noexcept
{
  return reinterpret_cast<std::uintptr_t>(pointer);
}

} // namespace attachable::detail

#endif // ATTACHABLE_DETAIL_BITS_HPP
