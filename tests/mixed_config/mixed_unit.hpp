// The interface between the translation units of mixed_config_test, each built with other
// settings. It names no attachable type: each unit keeps its cache to itself and is reached
// through plain functions, as two libraries built separately would be.
#ifndef ATTACHABLE_TESTS_MIXED_CONFIG_MIXED_UNIT_HPP
#define ATTACHABLE_TESTS_MIXED_CONFIG_MIXED_UNIT_HPP

#include <cstddef>
#include <cstdint>

namespace mixed_config
{

// The same T in every unit: only the settings differ.
struct item
{
  std::uint64_t value;
  std::uint64_t check;
};

enum class outcome
{
  ok,
  invalid_pointer,
  double_free,
  other_error,
};

// One translation unit's cache of `item`, built with that unit's settings.
struct unit
{
  const char* name;
  const char* abi; // the inline namespace its caches live in
  std::size_t objects_per_slab;
  void (*open)();  // creates the unit's cache
  void (*close)(); // drops it
  // Returns: a raw slot holding item{value, ~value}, or null.
  void* (*allocate)(std::uint64_t value);
  outcome (*deallocate)(void* pointer);
  // from_raw, then release again: the pointer stays raw either way.
  outcome (*adopt)(void* pointer);
  bool (*verify)();
  std::size_t (*live_objects)();
  std::size_t (*slabs_out)(); // slabs the units' source handed out and did not get back
};

extern const unit plain_unit;    // ATTACHABLE_SLAB_DEBUG 0, ATTACHABLE_VALGRIND 0
extern const unit debug_unit;    // ATTACHABLE_SLAB_DEBUG 1
extern const unit valgrind_unit; // ATTACHABLE_VALGRIND 1 (where <valgrind/memcheck.h> exists)
extern const unit asan_off_unit; // ATTACHABLE_ASAN 0 (in builds with AddressSanitizer)

} // namespace mixed_config

#endif // ATTACHABLE_TESTS_MIXED_CONFIG_MIXED_UNIT_HPP
