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

  // User-provided and not copyable, as a real pin (one that disables preemption) is.
  struct pin
  {
    pin() noexcept {} // NOLINT(modernize-use-equals-default): user-provided, as a real pin is
    pin(const pin&) = delete;
    pin& operator=(const pin&) = delete;
    ~pin() = default;
  };
};

static_assert(attachable::cpu_topology<test_cpus>);

// Moves the calling thread to another CPU for a scope.
class on_cpu
{
public:
  explicit on_cpu(std::size_t cpu) noexcept : saved_(test_cpus::index) { test_cpus::index = cpu; }
  on_cpu(const on_cpu&) = delete;
  on_cpu& operator=(const on_cpu&) = delete;
  ~on_cpu() { test_cpus::index = saved_; }

private:
  std::size_t saved_;
};

} // namespace test_support

#endif // ATTACHABLE_TESTS_SUPPORT_TEST_CPUS_HPP
