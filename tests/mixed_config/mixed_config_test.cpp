// Translation units built with different settings in one program (issue 8, item 5). Each unit
// of this test has its own cache of the same T, Lock and SlabSize, built with its own
// ATTACHABLE_SLAB_DEBUG, ATTACHABLE_VALGRIND or ATTACHABLE_ASAN. The settings name the inline
// namespace the library's types live in, so each unit's cache is a type of its own: every cache
// works, and a pointer from one unit is invalid_pointer to another. Before the fix the units
// shared one type, its inline functions compiled with different settings, and the linker kept
// one copy of each: the caches accepted each other's pointers and reported false writes after
// free. (Units that must agree and do not, an extern cache defined with other settings, fail
// to link instead: see link_fail tests in CMakeLists.txt.)
#include "catch.hpp"
#include "mixed_unit.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

using mixed_config::outcome;
using mixed_config::unit;

namespace
{

std::vector<const unit*> units()
{
  std::vector<const unit*> all{&mixed_config::plain_unit, &mixed_config::debug_unit};
#if MIXED_CONFIG_HAS_VALGRIND_UNIT
  all.push_back(&mixed_config::valgrind_unit);
#endif
#if MIXED_CONFIG_HAS_ASAN_OFF_UNIT
  all.push_back(&mixed_config::asan_off_unit);
#endif
  return all;
}

bool holds(const void* pointer, std::uint64_t value)
{
  const auto* object = static_cast<const mixed_config::item*>(pointer);
  return object->value == value && object->check == ~value;
}

// Opens every unit's cache for one test and closes them at its end.
class open_units
{
public:
  open_units()
  {
    for (const unit* u : units())
    {
      u->open();
    }
  }
  ~open_units()
  {
    for (const unit* u : units())
    {
      u->close();
    }
    CHECK(units().front()->slabs_out() == 0); // every slab went back
  }
  open_units(const open_units&) = delete;
  open_units& operator=(const open_units&) = delete;
};

} // namespace

TEST_CASE("units built with different settings live in different inline namespaces",
          "[mixed_config]")
{
  const std::vector<const unit*> all = units();
  REQUIRE(all.size() >= 2);
  for (const unit* u : all)
  {
    for (const unit* v : all)
    {
      if (u != v)
      {
        CAPTURE(u->name, u->abi, v->name, v->abi);
        CHECK(std::string(u->abi) != v->abi);
      }
    }
  }
}

TEST_CASE("every unit's cache works beside caches built with other settings", "[mixed_config]")
{
  const open_units open;
  for (const unit* u : units())
  {
    CAPTURE(u->name);
    const std::size_t n = 3 * u->objects_per_slab;
    std::vector<void*> slots;
    for (std::uint64_t i = 0; i < n; ++i)
    {
      slots.push_back(u->allocate(i));
      REQUIRE(slots.back() != nullptr);
    }
    // Free every other slot and take them again: the debug unit checks its free pattern then.
    for (std::size_t i = 0; i < n; i += 2)
    {
      CHECK(u->deallocate(slots[i]) == outcome::ok);
    }
    for (std::size_t i = 0; i < n; i += 2)
    {
      slots[i] = u->allocate(i);
      REQUIRE(slots[i] != nullptr);
    }
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < n; ++i)
    {
      wrong += holds(slots[i], i) ? 0u : 1u;
    }
    CHECK(wrong == 0);
    CHECK(u->live_objects() == n);
    CHECK(u->verify());
    CHECK(u->deallocate(slots[1]) == outcome::ok);
    CHECK(u->deallocate(slots[1]) == outcome::double_free); // its slab is still in use
    for (std::size_t i = 0; i < n; ++i)
    {
      if (i != 1)
      {
        CHECK(u->deallocate(slots[i]) == outcome::ok);
      }
    }
    CHECK(u->live_objects() == 0);
    CHECK(u->verify());
  }
}

TEST_CASE("a slot of one unit's cache is invalid_pointer to every unit built with other "
          "settings",
          "[mixed_config]")
{
  const open_units open;
  for (const unit* owner : units())
  {
    void* const kept = owner->allocate(1); // the slab keeps a live object besides the probe
    void* const probe = owner->allocate(2);
    REQUIRE(kept != nullptr);
    REQUIRE(probe != nullptr);
    for (const unit* other : units())
    {
      if (other == owner)
      {
        continue;
      }
      CAPTURE(owner->name, other->name);
      CHECK(other->deallocate(probe) == outcome::invalid_pointer);
      CHECK(other->adopt(probe) == outcome::invalid_pointer);
      CHECK(other->live_objects() == 0);
      CHECK(other->verify());
    }
    CHECK(holds(probe, 2));
    CHECK(owner->live_objects() == 2);
    CHECK(owner->adopt(probe) == outcome::ok);
    CHECK(owner->deallocate(probe) == outcome::ok);
    CHECK(owner->deallocate(kept) == outcome::ok);
    CHECK(owner->verify());
  }
}
