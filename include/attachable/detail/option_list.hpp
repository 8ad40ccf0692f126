// attachable-slab: reads a cache's option list (<attachable/options.hpp>) into one policy type.
//
// Each option derives from option_base<kind>; the list may name each kind at most once, in any
// order. The rules have their own messages in slab_cache; this header only answers questions,
// so that a broken rule never produces a second, confusing error here.
#ifndef ATTACHABLE_DETAIL_OPTION_LIST_HPP
#define ATTACHABLE_DETAIL_OPTION_LIST_HPP

#include <attachable/options.hpp>
#include <attachable/slab_source.hpp>

#include <cstddef>
#include <type_traits>

namespace attachable::detail
{

template <class Option>
concept is_option = requires
{
  {
    Option::attachable_option_kind
    } -> std::convertible_to<option_kind>;
};

template <class Option, option_kind Kind>
inline constexpr bool option_of_kind = []
{
  if constexpr (is_option<Option>)
  {
    return Option::attachable_option_kind == Kind;
  }
  else
  {
    return false;
  }
}();

template <option_kind Kind, class... Options>
inline constexpr std::size_t options_of_kind = (std::size_t{0} + ... +
                                                (option_of_kind<Options, Kind> ? 1u : 0u));

// The first option of `Kind`, or `Fallback` when there is none.
template <option_kind Kind, class Fallback, class... Options>
struct first_option
{
  using type = Fallback;
};
template <option_kind Kind, class Fallback, class Head, class... Tail>
struct first_option<Kind, Fallback, Head, Tail...>
{
  using type = std::conditional_t<option_of_kind<Head, Kind>, Head,
                                  typename first_option<Kind, Fallback, Tail...>::type>;
};

enum class caching_kind : unsigned char
{
  none,
  per_thread,
  per_cpu,
};

struct no_caching
{
};
struct no_topology
{
};
struct no_slab_limit
{
  static constexpr std::size_t value = 0;
};

template <class Caching>
struct caching_traits
{
  static constexpr caching_kind kind = caching_kind::none;
  using topology = no_topology;
};
template <>
struct caching_traits<per_thread>
{
  static constexpr caching_kind kind = caching_kind::per_thread;
  using topology = no_topology;
};
template <class Cpus>
struct caching_traits<per_cpu<Cpus>>
{
  static constexpr caching_kind kind = caching_kind::per_cpu;
  using topology = Cpus;
};

template <class Source>
struct source_traits
{
  using type = global_hooks;
};
template <class Source>
struct source_traits<slabs_from<Source>>
{
  using type = Source;
};

// What an option list means, with a harmless default for each kind that is missing.
template <class... Options>
struct option_list
{
  static constexpr bool all_options = (is_option<Options> && ...);
  static constexpr bool no_repeats = options_of_kind<option_kind::caching, Options...> <= 1 &&
                                     options_of_kind<option_kind::source, Options...> <= 1 &&
                                     options_of_kind<option_kind::slab_limit, Options...> <= 1;
  static constexpr std::size_t caching_options = options_of_kind<option_kind::caching, Options...>;

  using caching = typename first_option<option_kind::caching, no_caching, Options...>::type;
  static constexpr caching_kind caching_mode = caching_traits<caching>::kind;
  using topology = typename caching_traits<caching>::topology;
  using source = typename source_traits<
      typename first_option<option_kind::source, void, Options...>::type>::type;
  static constexpr std::size_t slab_limit =
      first_option<option_kind::slab_limit, no_slab_limit, Options...>::type::value;
};

} // namespace attachable::detail

#endif // ATTACHABLE_DETAIL_OPTION_LIST_HPP
