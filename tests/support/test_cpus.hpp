// A Cpus type for per_cpu<Cpus> in hosted tests: each thread says which "CPU" it runs on through a
// thread_local index, and pinning does nothing, since a test thread never migrates between the
// caches it names. Tests set `test_cpus::index` on each thread to spread work over the CPUs.
#ifndef ATTACHABLE_TESTS_SUPPORT_TEST_CPUS_HPP
#define ATTACHABLE_TESTS_SUPPORT_TEST_CPUS_HPP

#include <attachable/options.hpp>

#include <cstddef>

namespace test_support
{

struct test_cpus
{
  static constexpr std::size_t count = 4;
  // Below count; each thread starts on CPU 0.
  static inline thread_local std::size_t index = 0;

  [[nodiscard]] static std::size_t current() noexcept { return index; }

  struct pin
  {
  };
};

static_assert(attachable::cpu_topology<test_cpus>);

} // namespace test_support

#endif // ATTACHABLE_TESTS_SUPPORT_TEST_CPUS_HPP
