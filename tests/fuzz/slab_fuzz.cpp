// libFuzzer target: the input is a sequence of operations on one cache hierarchy, checked
// against a reference model (every live object's contents, and the stats) and with
// slab_cache::verify() after each step.
//
// Each operation is one byte (its kind) followed by the bytes it reads as arguments; a short
// input simply ends the sequence. The hooks below are the fuzzer's own (no test framework) and
// fail on command from the input. At the end of every input, everything is freed and every
// slab must be back with the hooks.
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

namespace
{

[[noreturn]] void fail(const char* what)
{
  std::fprintf(stderr, "slab_fuzz: %s\n", what);
  std::abort();
}

void expect(bool condition, const char* what)
{
  if (!condition)
  {
    fail(what);
  }
}

// ---- hooks ---------------------------------------------------------------------------------

enum class fault
{
  none,
  null,
  misaligned,
};

struct hook_state
{
  std::unordered_map<void*, void*> blocks; // handed to the cache -> from aligned_alloc
  fault next_alloc = fault::none;
  bool fail_next_free = false;
  std::size_t injected = 0; // failures the cache must have counted in hook_failures
  std::size_t slab_limit = 64;
};

hook_state hooks;

void* fuzz_alloc(attachable::layout request) noexcept
{
  const fault planned = std::exchange(hooks.next_alloc, fault::none);
  if (planned == fault::null || hooks.blocks.size() >= hooks.slab_limit)
  {
    ++hooks.injected;
    return nullptr;
  }
  auto* real = static_cast<unsigned char*>(std::aligned_alloc(request.align, 2 * request.size));
  if (real == nullptr)
  {
    fail("the host is out of memory");
  }
  unsigned char* handed = real;
  if (planned == fault::misaligned)
  {
    handed += request.align / 2;
    ++hooks.injected;
  }
  hooks.blocks.emplace(handed, real);
  return handed;
}

attachable::result<void> fuzz_free(void* block, attachable::layout) noexcept
{
  const auto found = hooks.blocks.find(block);
  expect(found != hooks.blocks.end(), "the free hook got a block it never handed out");
  std::free(found->second);
  hooks.blocks.erase(found);
  if (std::exchange(hooks.fail_next_free, false))
  {
    ++hooks.injected;
    return attachable::slab_error::fatal_error;
  }
  return {};
}

} // namespace

ATTACHABLE_DEFINE_ALLOCATION_HOOKS(fuzz_alloc, fuzz_free);

namespace
{

// ---- the model -----------------------------------------------------------------------------

struct item
{
  std::uint64_t value = 0;
  std::uint64_t check = ~std::uint64_t{0};
};

struct other_item
{
  std::uint64_t words[2] = {};
};

constexpr std::size_t slab_size = 4096;
using cache_type = attachable::slab_cache<item, attachable::no_lock, slab_size>;
using box_type = cache_type::box;
using foreign_cache = attachable::slab_cache<other_item, attachable::no_lock, slab_size>;

item make_item(std::uint64_t value)
{
  return item{value, ~value};
}

struct raw_slot
{
  item* object;
  std::uint64_t value;
};

class input
{
public:
  input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  [[nodiscard]] bool empty() const { return at_ >= size_; }
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::uint16_t word() { return static_cast<std::uint16_t>(byte() | (byte() << 8)); }
  // An index below `count`, which must not be zero.
  std::size_t pick(std::size_t count) { return word() % count; }

private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

// A mapped, SlabSize-aligned block whose bytes come from the input: a wild pointer into it is
// readable, as deallocate() requires, but is no slab.
alignas(slab_size) unsigned char wild_block[2 * slab_size];

struct session
{
  foreign_cache foreign;
  foreign_cache::box foreign_object;
  cache_type anchor; // always alive, so stats() always shows the hierarchy
  std::vector<cache_type> clones;
  std::vector<box_type> boxes;
  std::vector<std::uint64_t> box_values;
  std::vector<raw_slot> raws;
  std::vector<void*> freed; // slots freed earlier, possibly handed out again since
  std::size_t reserved = 0;

  [[nodiscard]] std::size_t live() const { return boxes.size() + raws.size(); }

  cache_type& some_handle(input& in)
  {
    const std::size_t choice = in.pick(clones.size() + 1);
    return choice == clones.size() ? anchor : clones[choice];
  }

  // An allocation may fail only through a fault the hooks injected in this very call.
  template <class Result>
  bool accept(const Result& outcome, std::size_t injected_before)
  {
    if (outcome)
    {
      return true;
    }
    expect(hooks.injected > injected_before, "an allocation failed with no hook fault");
    const attachable::slab_error error = outcome.error();
    expect(error == attachable::slab_error::out_of_memory ||
               error == attachable::slab_error::alignment_mismatch,
           "an allocation failed with an error no hook caused");
    return false;
  }

  void remember_freed(void* slot)
  {
    if (freed.size() >= 64)
    {
      freed.erase(freed.begin());
    }
    freed.push_back(slot);
  }

  [[nodiscard]] bool is_live(const void* slot) const
  {
    for (const box_type& box : boxes)
    {
      if (box.get() == slot)
      {
        return true;
      }
    }
    for (const raw_slot& raw : raws)
    {
      if (raw.object == slot)
      {
        return true;
      }
    }
    return false;
  }

  // deallocate() may read the header only if the slab is still held.
  [[nodiscard]] static bool slab_held(const void* slot)
  {
    const auto base = reinterpret_cast<std::uintptr_t>(slot) & ~std::uintptr_t{slab_size - 1};
    return hooks.blocks.count(reinterpret_cast<void*>(base)) != 0;
  }

  void expect_rejected(void* pointer, bool double_free_allowed)
  {
    const attachable::slab_stats before = anchor.stats();
    const attachable::result<void> outcome = cache_type::deallocate(pointer);
    expect(!outcome, "deallocate accepted a pointer that is not a live slot");
    expect(outcome.error() == attachable::slab_error::invalid_pointer ||
               (double_free_allowed && outcome.error() == attachable::slab_error::double_free),
           "deallocate rejected a pointer with the wrong error");
    expect(anchor.stats().live_objects == before.live_objects, "a rejected call changed stats");
    const attachable::result<box_type> adopted = box_type::from_raw(static_cast<item*>(pointer));
    expect(!adopted, "from_raw adopted a pointer that is not a live slot");
  }

  void step(input& in)
  {
    const std::size_t injected_before = hooks.injected;
    switch (in.byte() % 16)
    {
    case 0: // alloc
      if (auto outcome = some_handle(in).alloc(); accept(outcome, injected_before))
      {
        boxes.push_back(std::move(*outcome));
        box_values.push_back(0);
        *boxes.back() = make_item(0);
      }
      break;
    case 1: // emplace
    {
      const std::uint64_t value = in.word();
      if (auto outcome = some_handle(in).emplace(make_item(value));
          accept(outcome, injected_before))
      {
        boxes.push_back(std::move(*outcome));
        box_values.push_back(value);
      }
      break;
    }
    case 2: // raw allocate
    {
      const std::uint64_t value = in.word();
      if (auto outcome = some_handle(in).allocate(); accept(outcome, injected_before))
      {
        raws.push_back({::new (*outcome) item(make_item(value)), value});
      }
      break;
    }
    case 3: // drop a box
      if (!boxes.empty())
      {
        const std::size_t at = in.pick(boxes.size());
        remember_freed(boxes[at].get());
        boxes.erase(boxes.begin() + static_cast<std::ptrdiff_t>(at));
        box_values.erase(box_values.begin() + static_cast<std::ptrdiff_t>(at));
      }
      break;
    case 4: // deallocate a live raw slot
      if (!raws.empty())
      {
        const std::size_t at = in.pick(raws.size());
        item* const object = raws[at].object;
        object->~item();
        expect(cache_type::deallocate(object).has_value(), "deallocate refused a live slot");
        raws.erase(raws.begin() + static_cast<std::ptrdiff_t>(at));
        remember_freed(object);
      }
      break;
    case 5: // deallocate a freed slot
      if (!freed.empty())
      {
        void* const slot = freed[in.pick(freed.size())];
        if (!is_live(slot) && slab_held(slot))
        {
          expect_rejected(slot, true);
        }
      }
      break;
    case 6: // deallocate an interior pointer, or one into a slab header
      if (!boxes.empty())
      {
        auto* const object = reinterpret_cast<unsigned char*>(boxes[in.pick(boxes.size())].get());
        const std::uint8_t choice = in.byte();
        if (choice % 2 == 0)
        {
          expect_rejected(object + 1 + choice % (sizeof(item) - 1), false);
        }
        else
        {
          const auto base =
              reinterpret_cast<std::uintptr_t>(object) & ~std::uintptr_t{slab_size - 1};
          expect_rejected(reinterpret_cast<unsigned char*>(base) + choice % 64, false);
        }
      }
      break;
    case 7: // deallocate a foreign slot (a cache of another T)
      expect_rejected(foreign_object.get(), false);
      break;
    case 8: // deallocate a wild but mapped pointer
    {
      for (unsigned char& b : wild_block)
      {
        b = in.byte();
      }
      expect_rejected(wild_block + in.pick(sizeof wild_block), false);
      break;
    }
    case 9: // release a box, or adopt a raw slot with from_raw
      if (in.byte() % 2 == 0 && !boxes.empty())
      {
        const std::size_t at = in.pick(boxes.size());
        raws.push_back({boxes[at].release(), box_values[at]});
        boxes.erase(boxes.begin() + static_cast<std::ptrdiff_t>(at));
        box_values.erase(box_values.begin() + static_cast<std::ptrdiff_t>(at));
      }
      else if (!raws.empty())
      {
        const std::size_t at = in.pick(raws.size());
        auto adopted = box_type::from_raw(raws[at].object);
        expect(adopted.has_value(), "from_raw refused a live slot");
        boxes.push_back(std::move(*adopted));
        box_values.push_back(raws[at].value);
        raws.erase(raws.begin() + static_cast<std::ptrdiff_t>(at));
      }
      break;
    case 10: // shrink
    {
      const attachable::slab_stats before = anchor.stats();
      const std::size_t returned = some_handle(in).shrink();
      const attachable::slab_stats after = anchor.stats();
      expect(after.slabs + returned == before.slabs, "shrink miscounted the slabs it returned");
      break;
    }
    case 11: // reserve
    {
      const std::size_t objects = in.word() % (8 * cache_type::objects_per_slab);
      const attachable::result<void> outcome = some_handle(in).reserve(objects);
      reserved = objects;
      if (accept(outcome, injected_before))
      {
        expect(anchor.stats().capacity >= objects, "reserve left too little capacity");
      }
      break;
    }
    case 12: // clone a handle
      if (clones.size() < 8)
      {
        clones.push_back(some_handle(in));
        expect(clones.back().shares_with(anchor), "a clone does not share the hierarchy");
      }
      break;
    case 13: // drop a handle
      if (!clones.empty())
      {
        clones.erase(clones.begin() + static_cast<std::ptrdiff_t>(in.pick(clones.size())));
      }
      break;
    case 14: // make the next alloc hook call fail
      hooks.next_alloc = in.byte() % 2 == 0 ? fault::null : fault::misaligned;
      break;
    case 15: // make the next free hook call fail
      hooks.fail_next_free = true;
      break;
    }
    check_model();
  }

  void check_model()
  {
    for (std::size_t i = 0; i < boxes.size(); ++i)
    {
      expect(boxes[i]->value == box_values[i] && boxes[i]->check == ~box_values[i],
             "a boxed object's contents changed");
    }
    for (const raw_slot& raw : raws)
    {
      expect(raw.object->value == raw.value && raw.object->check == ~raw.value,
             "a raw object's contents changed");
    }
    const attachable::slab_stats stats = anchor.stats();
    expect(stats.live_objects == live(), "stats.live_objects differs from the model");
    expect(stats.peak_live_objects >= stats.live_objects, "the peak is below the live count");
    expect(stats.hook_allocs - stats.hook_frees == stats.slabs, "slabs != allocs - frees");
    expect(stats.capacity ==
               cache_type::objects_per_master + (stats.slabs - 1) * cache_type::objects_per_slab,
           "capacity does not match the slabs held");
    expect(stats.live_objects <= stats.capacity, "more live objects than capacity");
    expect(stats.reserved_objects == reserved, "reserved_objects differs from the last reserve");
    expect(stats.hook_failures == hooks.injected, "hook_failures differs from the faults injected");
    expect(anchor.verify().has_value(), "verify() found a broken invariant");
    // Only this hierarchy and the foreign cache's master hold slabs.
    expect(hooks.blocks.size() == stats.slabs + 1, "the hooks hold a slab the stats do not count");
  }

  void finish()
  {
    expect(foreign.verify().has_value(), "verify() found a broken invariant in the foreign cache");
    for (raw_slot& raw : raws)
    {
      raw.object->~item();
      expect(cache_type::deallocate(raw.object).has_value(), "deallocate refused a live slot");
    }
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  hooks.next_alloc = fault::none;
  hooks.fail_next_free = false;
  {
    session s;
    {
      auto foreign = foreign_cache::create();
      expect(foreign.has_value(), "the foreign cache could not be created");
      s.foreign = std::move(*foreign);
      auto object = s.foreign.alloc();
      expect(object.has_value(), "the foreign object could not be allocated");
      s.foreign_object = std::move(*object);
      auto anchor = cache_type::create();
      expect(anchor.has_value(), "the cache could not be created");
      s.anchor = std::move(*anchor);
    }
    hooks.injected = 0;
    input in(data, size);
    while (!in.empty())
    {
      s.step(in);
    }
    s.finish();
    hooks.fail_next_free = false; // the failure is counted either way; nothing can leak
  }
  expect(hooks.blocks.empty(), "a slab was not given back at the end");
  return 0;
}
