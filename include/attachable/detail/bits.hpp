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

// Sets bit `index % 32` of `word`. Returns: whether it was set before.
// On x86 one BTS (which takes the bit index modulo 32 itself), since compilers turn the
// portable form into a mask, a shift, a test and a store.
[[nodiscard]] inline bool test_and_set_bit(std::uint32_t& word, std::uint32_t index) noexcept
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GCC_ASM_FLAG_OUTPUTS__)
  bool was_set = false;
  __asm__("btsl %2, %0" : "+r"(word), "=@ccc"(was_set) : "r"(index));
  return was_set;
#else
  const std::uint32_t mask = std::uint32_t{1} << (index % 32);
  const bool was_set = (word & mask) != 0;
  word |= mask;
  return was_set;
#endif
}

// Clears bit `index % 32` of `word`. Returns: whether it was set before.
[[nodiscard]] inline bool test_and_clear_bit(std::uint32_t& word, std::uint32_t index) noexcept
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GCC_ASM_FLAG_OUTPUTS__)
  bool was_set = false;
  __asm__("btrl %2, %0" : "+r"(word), "=@ccc"(was_set) : "r"(index));
  return was_set;
#else
  const std::uint32_t mask = std::uint32_t{1} << (index % 32);
  const bool was_set = (word & mask) != 0;
  word &= ~mask;
  return was_set;
#endif
}

// The number of set bits in `word`, by shifts, masks and one multiply: std::popcount becomes a
// call to libgcc's __popcountsi2 on cores with no population-count instruction (Cortex-M3,
// M33), which a freestanding program that links no libgcc cannot resolve.
[[nodiscard]] constexpr std::uint32_t count_set_bits(std::uint32_t word) noexcept
{
  word = word - ((word >> 1) & 0x5555'5555u);
  word = (word & 0x3333'3333u) + ((word >> 2) & 0x3333'3333u);
  word = (word + (word >> 4)) & 0x0F0F'0F0Fu;
  return (word * 0x0101'0101u) >> 24;
}

// The object of type T at `offset` bytes from `base`, a place the caller laid out for it (so
// through void*, which tells -Wcast-align that the alignment is the caller's business).
template <class T>
[[nodiscard]] inline T* object_at(void* base, std::size_t offset) noexcept
{
  return static_cast<T*>(static_cast<void*>(static_cast<std::byte*>(base) + offset));
}
template <class T>
[[nodiscard]] inline const T* object_at(const void* base, std::size_t offset) noexcept
{
  return static_cast<const T*>(
      static_cast<const void*>(static_cast<const std::byte*>(base) + offset));
}

[[nodiscard]] inline std::uintptr_t address_of(const void* pointer) noexcept
{
  return reinterpret_cast<std::uintptr_t>(pointer);
}

} // namespace attachable::detail

#endif // ATTACHABLE_DETAIL_BITS_HPP
