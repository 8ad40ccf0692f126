// An object type that counts constructions and destructions and detects destroying the same
// object twice or using a destroyed one, so tests can prove each object lives exactly once.
#ifndef ATTACHABLE_TESTS_SUPPORT_INSTANCE_TRACKER_HPP
#define ATTACHABLE_TESTS_SUPPORT_INSTANCE_TRACKER_HPP

#include <atomic>
#include <cstdint>

namespace test_support
{

class tracked
{
public:
  tracked() noexcept : tracked(0) {}
  explicit tracked(std::uint64_t payload) noexcept : payload_(payload)
  {
    constructions_.fetch_add(1, std::memory_order_relaxed);
  }
  tracked(const tracked&) = delete;
  tracked& operator=(const tracked&) = delete;
  ~tracked()
  {
    if (alive_ != alive_mark)
    {
      bad_destructions_.fetch_add(1, std::memory_order_relaxed);
    }
    alive_ = dead_mark;
    destructions_.fetch_add(1, std::memory_order_relaxed);
  }

  [[nodiscard]] std::uint64_t payload() const noexcept { return payload_; }
  [[nodiscard]] bool alive() const noexcept { return alive_ == alive_mark; }

  static void reset() noexcept
  {
    constructions_ = 0;
    destructions_ = 0;
    bad_destructions_ = 0;
  }
  [[nodiscard]] static long constructions() noexcept { return constructions_.load(); }
  [[nodiscard]] static long destructions() noexcept { return destructions_.load(); }
  [[nodiscard]] static long live() noexcept { return constructions_.load() - destructions_.load(); }
  // Destructions of an object that was not alive: destroyed twice, or never constructed.
  [[nodiscard]] static long bad_destructions() noexcept { return bad_destructions_.load(); }

private:
  static constexpr std::uint64_t alive_mark = 0xA11FE0A11FE0A11Full;
  static constexpr std::uint64_t dead_mark = 0xDEADDEADDEADDEADull;

  std::uint64_t alive_ = alive_mark;
  std::uint64_t payload_;

  static inline std::atomic<long> constructions_{0};
  static inline std::atomic<long> destructions_{0};
  static inline std::atomic<long> bad_destructions_{0};
};

} // namespace test_support

#endif // ATTACHABLE_TESTS_SUPPORT_INSTANCE_TRACKER_HPP
