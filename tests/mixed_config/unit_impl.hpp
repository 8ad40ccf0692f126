// The body of every unit of mixed_config_test: a unit sets its ATTACHABLE_* settings, includes
// this header and defines its `unit` with make_unit(). Everything here has internal linkage, so
// each unit gets its own copy, compiled with its own settings.
#ifndef ATTACHABLE_TESTS_MIXED_CONFIG_UNIT_IMPL_HPP
#define ATTACHABLE_TESTS_MIXED_CONFIG_UNIT_IMPL_HPP

#include "mixed_unit.hpp"

#include <attachable/slab.hpp>

#include <cstdint>
#include <new>

namespace
{

using cache_type = attachable::slab_cache<mixed_config::item>;

cache_type* instance = nullptr;

mixed_config::outcome outcome_of(const attachable::result<void>& done)
{
  if (done)
  {
    return mixed_config::outcome::ok;
  }
  switch (done.error())
  {
  case attachable::slab_error::invalid_pointer:
    return mixed_config::outcome::invalid_pointer;
  case attachable::slab_error::double_free:
    return mixed_config::outcome::double_free;
  default:
    return mixed_config::outcome::other_error;
  }
}

void open_cache()
{
  instance = new cache_type("mixed_config");
}

void close_cache()
{
  delete instance;
  instance = nullptr;
}

void* allocate_item(std::uint64_t value)
{
  const attachable::result<void*> slot = instance->allocate();
  return slot ? ::new (*slot) mixed_config::item{value, ~value} : nullptr;
}

mixed_config::outcome deallocate_item(void* pointer)
{
  return outcome_of(cache_type::deallocate(pointer));
}

mixed_config::outcome adopt_item(void* pointer)
{
  auto adopted = cache_type::box::from_raw(static_cast<mixed_config::item*>(pointer));
  if (!adopted)
  {
    return outcome_of(adopted.error());
  }
  (void)adopted->release();
  return mixed_config::outcome::ok;
}

bool verify_cache()
{
  return instance->verify().has_value();
}

std::size_t live_in_cache()
{
  return instance->stats().live_objects;
}

constexpr mixed_config::unit make_unit(const char* name)
{
  return mixed_config::unit{name,
                            ATTACHABLE_ABI_STRING(ATTACHABLE_ABI),
                            cache_type::objects_per_slab,
                            open_cache,
                            close_cache,
                            allocate_item,
                            deallocate_item,
                            adopt_item,
                            verify_cache,
                            live_in_cache};
}

} // namespace

#endif // ATTACHABLE_TESTS_MIXED_CONFIG_UNIT_IMPL_HPP
