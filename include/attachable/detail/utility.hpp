// attachable-slab: move, forward and exchange without <utility>, which is not a
// freestanding header in C++20.
#ifndef ATTACHABLE_DETAIL_UTILITY_HPP
#define ATTACHABLE_DETAIL_UTILITY_HPP

#include <type_traits>

namespace attachable::detail
{

template <class T>
[[nodiscard]] constexpr std::remove_reference_t<T>&& move(T&& value) noexcept
{
  return static_cast<std::remove_reference_t<T>&&>(value);
}

template <class T>
[[nodiscard]] constexpr T&& forward(std::remove_reference_t<T>& value) noexcept
{
  return static_cast<T&&>(value);
}

template <class T>
[[nodiscard]] constexpr T&& forward(std::remove_reference_t<T>&& value) noexcept
{
  static_assert(!std::is_lvalue_reference_v<T>, "attachable::detail::forward: cannot forward an "
                                                "rvalue as an lvalue");
  return static_cast<T&&>(value);
}

template <class T, class U = T>
constexpr T exchange(T& target, U&& replacement) noexcept(
    std::is_nothrow_move_constructible_v<T>&& std::is_nothrow_assignable_v<T&, U>)
{
  T old = static_cast<T&&>(target);
  target = forward<U>(replacement);
  return old;
}

// Only for unevaluated operands, as std::declval, which lives in the hosted <utility>.
template <class T>
std::add_rvalue_reference_t<T> declval() noexcept;

// An aggregate initialised with braces from these arguments, without narrowing.
template <class T, class... Args>
concept brace_initialisable = requires
{
  T{declval<Args>()...};
};

// Whether slab_cache::emplace constructs T from these arguments without throwing: braces for
// an aggregate (so that narrowing is refused), parentheses otherwise.
template <class T, class... Args>
[[nodiscard]] constexpr bool nothrow_emplaceable() noexcept
{
  if constexpr (!std::is_aggregate_v<T>)
  {
    return std::is_nothrow_constructible_v<T, Args...>;
  }
  else if constexpr (brace_initialisable<T, Args...>)
  {
    return noexcept(T{declval<Args>()...});
  }
  else
  {
    return true; // ill-formed anyway: emplace's static_assert says why
  }
}

} // namespace attachable::detail

#endif // ATTACHABLE_DETAIL_UTILITY_HPP
