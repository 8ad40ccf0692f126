// Records the library's reports instead of panicking, so a test can check what was reported.
//
// A binary that uses it force-includes this header (-include) into every one of its translation
// units, before any attachable header, so that the whole program agrees on the two macros (an
// inline function of the library compiled with the default in one unit and with the probe in
// another would be two definitions of one function). tests/CMakeLists.txt builds such binaries
// with attachable_add_report_test, which compiles the recording hooks into them for that reason.
#ifndef ATTACHABLE_TESTS_SUPPORT_REPORT_PROBE_HPP
#define ATTACHABLE_TESTS_SUPPORT_REPORT_PROBE_HPP

#include <atomic>
#include <cstring>

namespace test_support
{

class reports
{
public:
  static void double_free(const void* pointer) noexcept
  {
    last_double_free_.store(pointer, std::memory_order_relaxed);
    double_frees_.fetch_add(1, std::memory_order_relaxed);
  }
  static void corruption(const char* message) noexcept
  {
    last_corruption_.store(message, std::memory_order_relaxed);
    corruptions_.fetch_add(1, std::memory_order_relaxed);
  }

  static void reset() noexcept
  {
    double_frees_ = 0;
    corruptions_ = 0;
    last_double_free_ = nullptr;
    last_corruption_ = nullptr;
  }
  [[nodiscard]] static long double_frees() noexcept { return double_frees_.load(); }
  [[nodiscard]] static const void* last_double_free() noexcept { return last_double_free_.load(); }
  [[nodiscard]] static long corruptions() noexcept { return corruptions_.load(); }
  // The last corruption sentence, or "" if there was none.
  [[nodiscard]] static const char* last_corruption() noexcept
  {
    const char* const message = last_corruption_.load();
    return message != nullptr ? message : "";
  }
  // Returns: true if the last corruption sentence contains `words`.
  [[nodiscard]] static bool corruption_says(const char* words) noexcept
  {
    return std::strstr(last_corruption(), words) != nullptr;
  }

private:
  static inline std::atomic<long> double_frees_{0};
  static inline std::atomic<long> corruptions_{0};
  static inline std::atomic<const void*> last_double_free_{nullptr};
  static inline std::atomic<const char*> last_corruption_{nullptr};
};

} // namespace test_support

#define ATTACHABLE_REPORT_DOUBLE_FREE(pointer) ::test_support::reports::double_free(pointer)
#define ATTACHABLE_REPORT_CORRUPTION(message) ::test_support::reports::corruption(message)

#endif // ATTACHABLE_TESTS_SUPPORT_REPORT_PROBE_HPP
