// The body of every unit of mixed_config_test: a unit sets its ATTACHABLE_* settings, includes
// this header and defines its `unit` with make_unit(). Everything but the slab source has
// internal linkage, so each unit gets its own copy, compiled with its own settings.
#ifndef ATTACHABLE_TESTS_MIXED_CONFIG_UNIT_IMPL_HPP
#define ATTACHABLE_TESTS_MIXED_CONFIG_UNIT_IMPL_HPP

#include "mixed_unit.hpp"

#include <attachable/slab.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace mixed_config
{

// Every unit's slabs come from this source: one type in all units, so that their caches differ
// in their settings only (it depends on none of them). Its slabs come zeroed: a unit built
// without ATTACHABLE_VALGRIND cannot ask memcheck what it may read, and its check that a fresh
// block is not a live slab reads the block's header, which memcheck in the valgrind leg would
// report as a read of an uninitialised heap block (a finding of its own, not a mixed-settings
// one).
class zeroed_slabs
{
public:
  [[nodiscard]] static void* allocate_slab(attachable::layout request) noexcept
  {
    void* const block = std::aligned_alloc(request.align, request.size);
    if (block != nullptr)
    {
      std::memset(block, 0, request.size);
      ++out_;
    }
    return block;
  }
  [[nodiscard]] static attachable::result<void> free_slab(void* block, attachable::layout) noexcept
  {
    std::free(block);
    --out_;
    return {};
  }
  [[nodiscard]] static std::size_t out() noexcept { return out_; }

private:
  static inline std::size_t out_ = 0;
};

} // namespace mixed_config

namespace
{

using cache_type = attachable::slab_cache<mixed_config::item, attachable::spin_lock, 4096,
                                          attachable::slabs_from<mixed_config::zeroed_slabs>>;

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
                            live_in_cache,
                            mixed_config::zeroed_slabs::out};
}

} // namespace

#endif // ATTACHABLE_TESTS_MIXED_CONFIG_UNIT_IMPL_HPP
