// attachable-slab: the options a slab_cache takes after SlabSize, in any order:
//   slab_cache<T, Lock, SlabSize, Options...>
// No option means the plain cache: one lock per hierarchy, slabs from the global hooks, no
// limit. Each kind of option may be given once.
#ifndef ATTACHABLE_OPTIONS_HPP
#define ATTACHABLE_OPTIONS_HPP

#include <concepts>
#include <cstddef>
#include <type_traits>

namespace attachable
{

namespace detail
{

// What each option is, so that the option list can be checked kind by kind.
enum class option_kind
{
  caching,
  source,
  slab_limit,
};

template <option_kind Kind>
struct option_base
{
  static constexpr option_kind attachable_option_kind = Kind;
};

} // namespace detail

/// Each thread gets its own cache of free objects in front of the shared slabs: allocation and
/// free take no lock and no atomic operation until a batch goes back or is refilled. Hosted
/// builds only (it uses thread_local); a thread's cached objects go back when it exits, when
/// it calls drain(), or when it drops a handle of the cache.
struct per_thread : detail::option_base<detail::option_kind::caching>
{
};

/// What per_cpu<Cpus> needs of Cpus: the most CPUs, the CPU the caller runs on, and a guard
/// that keeps the caller on that CPU for its lifetime.
template <class Cpus>
concept cpu_topology = requires
{
  {
    Cpus::count
    } -> std::convertible_to<std::size_t>;
  {
    Cpus::current()
    } -> std::convertible_to<std::size_t>;
  requires noexcept(Cpus::current());
  requires std::is_nothrow_default_constructible_v<typename Cpus::pin>;
  requires std::is_nothrow_destructible_v<typename Cpus::pin>;
  requires Cpus::count >= 1;
};

/// Each CPU gets its own cache of free objects in front of the shared slabs, for kernels and
/// RTOSes with no thread-local storage. `Cpus` provides `static constexpr std::size_t count`
/// (the most CPUs), `static std::size_t current() noexcept` (below count) and a nested RAII type
/// `Cpus::pin` that keeps the caller on its CPU while it lives (it disables preemption, or
/// interrupts if interrupt handlers use the cache).
template <class Cpus>
struct per_cpu : detail::option_base<detail::option_kind::caching>
{
  using topology = Cpus;
};

/// The cache takes every slab from `Source` (see <attachable/slab_source.hpp>) instead of the
/// two link-time hooks.
template <class Source>
struct slabs_from : detail::option_base<detail::option_kind::source>
{
  using source = Source;
};

/// The cache holds at most `Slabs` slabs, master included: growth past it reports
/// out_of_memory without asking the source. A slab on its way back to the source counts until
/// the source has it, so the source never has more than `Slabs` of the cache's blocks out.
template <std::size_t Slabs>
struct max_slabs : detail::option_base<detail::option_kind::slab_limit>
{
  static constexpr std::size_t value = Slabs;
};

} // namespace attachable

#endif // ATTACHABLE_OPTIONS_HPP
