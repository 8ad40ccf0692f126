// attachable-slab: slab_error and result<T>, the library's only way to report failure.
#ifndef ATTACHABLE_RESULT_HPP
#define ATTACHABLE_RESULT_HPP

#include <attachable/config.hpp>
#include <attachable/detail/utility.hpp>

#include <new>
#include <type_traits>

namespace attachable
{

/// Why an operation failed.
enum class slab_error : unsigned char
{
  out_of_memory,      ///< the alloc hook returned null
  invalid_pointer,    ///< not a live slot handed out by a cache of this exact type
  alignment_mismatch, ///< the alloc hook returned memory not aligned to the slab size
  double_free,        ///< the slot is already free
  fatal_error,        ///< the cache found its own bookkeeping corrupted and refused to use it
};

/// A sentence that explains `error`, for logs and panics.
/// Returns: a static, null-terminated string; never null, even for an out-of-range value.
[[nodiscard]] constexpr const char* to_string(slab_error error) noexcept
{
  switch (error)
  {
  case slab_error::out_of_memory:
    return "out of memory: the slab alloc hook returned no memory";
  case slab_error::invalid_pointer:
    return "invalid pointer: not a live slot of a slab cache of this type";
  case slab_error::alignment_mismatch:
    return "alignment mismatch: the slab alloc hook returned memory not aligned to the slab size";
  case slab_error::double_free:
    return "double free: the slot is already free";
  case slab_error::fatal_error:
    return "fatal error: the cache found its bookkeeping corrupted";
  }
  return "unknown slab_error value";
}

namespace detail
{

// Trivially copyable payloads keep result trivially copyable, so that a result<void*> is
// returned in registers; everything else gets hand-written special members.
template <class T, bool = std::is_trivially_copyable_v<T>&& std::is_trivially_destructible_v<T>>
struct result_storage
{
protected:
  union
  {
    T value_;
    slab_error error_;
  };
  bool has_value_;

public:
  constexpr result_storage(const T& value) noexcept(std::is_nothrow_copy_constructible_v<T>)
      : value_(value), has_value_(true)
  {
  }
  constexpr result_storage(T&& value) noexcept(std::is_nothrow_move_constructible_v<T>)
      : value_(detail::move(value)), has_value_(true)
  {
  }
  constexpr result_storage(slab_error error) noexcept : error_(error), has_value_(false) {}
};

// Scalars (pointers above all) sit beside the error instead of sharing a union with it: the
// compiler then keeps a result<void*> in two registers instead of spilling it to the stack.
template <class T>
requires std::is_scalar_v<T>
struct result_storage<T, true>
{
protected:
  T value_;
  slab_error error_;
  bool has_value_;

public:
  constexpr result_storage(T value) noexcept
      : value_(value), error_(slab_error::fatal_error), has_value_(true)
  {
  }
  constexpr result_storage(slab_error error) noexcept : value_(), error_(error), has_value_(false)
  {
  }
};

template <class T>
struct result_storage<T, false>
{
protected:
  union
  {
    T value_;
    slab_error error_;
  };
  bool has_value_;

public:
  constexpr result_storage(const T& value) noexcept(std::is_nothrow_copy_constructible_v<T>)
      : value_(value), has_value_(true)
  {
  }
  constexpr result_storage(T&& value) noexcept(std::is_nothrow_move_constructible_v<T>)
      : value_(detail::move(value)), has_value_(true)
  {
  }
  constexpr result_storage(slab_error error) noexcept : error_(error), has_value_(false) {}

  constexpr result_storage(const result_storage& other) noexcept(
      std::is_nothrow_copy_constructible_v<T>) requires std::is_copy_constructible_v<T>
      : has_value_(other.has_value_)
  {
    construct_from(other);
  }

  constexpr result_storage(result_storage&& other) noexcept(
      std::is_nothrow_move_constructible_v<T>) requires std::is_move_constructible_v<T>
      : has_value_(other.has_value_)
  {
    construct_from(detail::move(other));
  }

  constexpr result_storage& operator=(const result_storage& other) noexcept(
      std::is_nothrow_copy_constructible_v<T>&& std::is_nothrow_copy_assignable_v<T>) requires
      std::is_copy_constructible_v<T> && std::is_copy_assignable_v<T>
  {
    assign_from(other);
    return *this;
  }

  constexpr result_storage& operator=(result_storage&& other) noexcept(
      std::is_nothrow_move_constructible_v<T>&& std::is_nothrow_move_assignable_v<T>) requires
      std::is_move_constructible_v<T> && std::is_move_assignable_v<T>
  {
    assign_from(detail::move(other));
    return *this;
  }

  // Always inlined: a result<slab_box> dies on the hot path, and its box's free must inline.
  ATTACHABLE_ALWAYS_INLINE constexpr ~result_storage()
  {
    if (has_value_)
    {
      value_.~T();
    }
  }

private:
  template <class Other>
  constexpr void construct_from(Other&& other)
  {
    if (has_value_)
    {
      ::new (static_cast<void*>(&value_)) T(detail::forward<Other>(other).value_);
    }
    else
    {
      error_ = other.error_;
    }
  }

  template <class Other>
  constexpr void assign_from(Other&& other)
  {
    if (this == &other)
    {
      return;
    }
    if (has_value_ && other.has_value_)
    {
      value_ = detail::forward<Other>(other).value_;
      return;
    }
    if (has_value_)
    {
      value_.~T();
    }
    has_value_ = other.has_value_;
    construct_from(detail::forward<Other>(other));
  }
};

} // namespace detail

/// Either a `T` or the `slab_error` that prevented it. Works with move-only `T`.
/// Reading the value of an error (or the error of a value) calls `ATTACHABLE_PANIC`.
template <class T>
class [[nodiscard]] result : private detail::result_storage<T>
{
  static_assert(std::is_object_v<T> && !std::is_array_v<T>,
                "attachable::result: T must be a non-array object type, because the value is "
                "stored in place; use result<T*> to return a reference.");
  static_assert(!std::is_same_v<std::remove_cv_t<T>, slab_error>,
                "attachable::result: T must not be slab_error, because a result could not tell "
                "a value from an error; return result<void> instead.");

  using storage = detail::result_storage<T>;

public:
  using value_type = T;

  /// Holds `value`.
  constexpr result(const T& value) noexcept(
      std::is_nothrow_copy_constructible_v<T>) requires std::is_copy_constructible_v<T>
      : storage(value)
  {
  }
  /// Holds `value`.
  constexpr result(T&& value) noexcept(std::is_nothrow_move_constructible_v<T>)
      : storage(detail::move(value))
  {
  }
  /// Holds `error`.
  constexpr result(slab_error error) noexcept : storage(error) {}

  [[nodiscard]] constexpr bool has_value() const noexcept { return this->has_value_; }
  constexpr explicit operator bool() const noexcept { return this->has_value_; }

  /// Requires: has_value(); otherwise calls ATTACHABLE_PANIC.
  [[nodiscard]] constexpr T& value() & noexcept { return checked(); }
  [[nodiscard]] constexpr const T& value() const& noexcept { return checked(); }
  [[nodiscard]] constexpr T&& value() && noexcept { return detail::move(checked()); }

  /// Requires: has_value(); otherwise calls ATTACHABLE_PANIC.
  [[nodiscard]] constexpr T& operator*() & noexcept { return checked(); }
  [[nodiscard]] constexpr const T& operator*() const& noexcept { return checked(); }
  [[nodiscard]] constexpr T&& operator*() && noexcept { return detail::move(checked()); }

  /// Requires: has_value(); otherwise calls ATTACHABLE_PANIC.
  [[nodiscard]] constexpr T* operator->() noexcept { return &checked(); }
  [[nodiscard]] constexpr const T* operator->() const noexcept { return &checked(); }

  /// Requires: !has_value(); otherwise calls ATTACHABLE_PANIC.
  [[nodiscard]] constexpr slab_error error() const noexcept
  {
    if (this->has_value_) [[unlikely]]
    {
      ATTACHABLE_PANIC("attachable::result: error() called on a result that holds a value");
    }
    return this->error_;
  }

  /// Returns: the value if there is one, else `fallback` converted to T.
  template <class U>
  [[nodiscard]] constexpr T value_or(U&& fallback) const&
  {
    return this->has_value_ ? this->value_ : static_cast<T>(detail::forward<U>(fallback));
  }
  /// Returns: the value, moved out, if there is one, else `fallback` converted to T.
  template <class U>
  [[nodiscard]] constexpr T value_or(U&& fallback) &&
  {
    return this->has_value_ ? detail::move(this->value_)
                            : static_cast<T>(detail::forward<U>(fallback));
  }

private:
  [[nodiscard]] constexpr T& checked() noexcept
  {
    if (!this->has_value_) [[unlikely]]
    {
      ATTACHABLE_PANIC("attachable::result: value() called on a result that holds an error");
    }
    return this->value_;
  }
  [[nodiscard]] constexpr const T& checked() const noexcept
  {
    if (!this->has_value_) [[unlikely]]
    {
      ATTACHABLE_PANIC("attachable::result: value() called on a result that holds an error");
    }
    return this->value_;
  }
};

/// Success or the `slab_error` that prevented it. A default-constructed result<void> is
/// success, so a hook can `return {};`.
template <>
class [[nodiscard]] result<void>
{
public:
  using value_type = void;

  /// Success.
  constexpr result() noexcept = default;
  /// Holds `error`.
  constexpr result(slab_error error) noexcept : error_(error), has_error_(true) {}

  [[nodiscard]] constexpr bool has_value() const noexcept { return !has_error_; }
  constexpr explicit operator bool() const noexcept { return !has_error_; }

  /// Requires: has_value(); otherwise calls ATTACHABLE_PANIC.
  constexpr void value() const noexcept
  {
    if (has_error_) [[unlikely]]
    {
      ATTACHABLE_PANIC("attachable::result: value() called on a result that holds an error");
    }
  }

  /// Requires: !has_value(); otherwise calls ATTACHABLE_PANIC.
  [[nodiscard]] constexpr slab_error error() const noexcept
  {
    if (!has_error_) [[unlikely]]
    {
      ATTACHABLE_PANIC("attachable::result: error() called on a successful result");
    }
    return error_;
  }

private:
  slab_error error_ = slab_error::fatal_error;
  bool has_error_ = false;
};

} // namespace attachable

#endif // ATTACHABLE_RESULT_HPP
