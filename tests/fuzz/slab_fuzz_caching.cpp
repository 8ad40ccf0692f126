// libFuzzer target for per_thread and per_cpu caching: the input's first byte picks the
// option, the rest is a sequence of operations on one cache hierarchy, checked after each step
// against a model of what the caches hold (every live object's contents, live_objects and
// cached_objects exactly, the slabs the hooks hold) and with verify().
//
// Each operation is one byte (its kind) followed by the bytes it reads as arguments; a short
// input simply ends the sequence. The hooks are the fuzzer's own and fail on command from the
// input; ATTACHABLE_REPORT_DOUBLE_FREE is the fuzzer's own too, so that a box's double free is
// counted instead of trapping. At the end every slab must be back with the hooks.
#include <cstddef>

namespace fuzz_reports
{
inline std::size_t double_frees = 0;
inline void record(void*) noexcept
{
  ++double_frees;
}
} // namespace fuzz_reports

#define ATTACHABLE_REPORT_DOUBLE_FREE(pointer) (fuzz_reports::record(pointer))

#include <attachable/slab.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <new>
#include <set>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace
{

[[noreturn]] void fail(const char* what)
{
  std::fprintf(stderr, "slab_fuzz_caching: %s\n", what);
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
  std::vector<fault> calls;                // what each alloc call of the current step did
  std::set<void*> refused;                 // misaligned blocks, which the cache hands back
  std::size_t frees = 0;                   // slabs given back so far (not refused blocks)
  fault next_alloc = fault::none;
  bool fail_next_free = false;
  std::size_t injected = 0; // failures the cache must have counted in hook_failures
  std::size_t slab_limit = 64;
};

hook_state hooks;

void* fuzz_alloc(attachable::layout request) noexcept
{
  fault planned = std::exchange(hooks.next_alloc, fault::none);
  if (hooks.blocks.size() >= hooks.slab_limit)
  {
    planned = fault::null;
  }
  hooks.calls.push_back(planned);
  if (planned == fault::null)
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
    hooks.refused.insert(handed);
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
  if (hooks.refused.erase(block) == 0)
  {
    ++hooks.frees;
  }
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

struct fuzz_cpus
{
  static constexpr std::size_t count = 4;
  static inline std::size_t index = 0;
  [[nodiscard]] static std::size_t current() noexcept { return index; }
  struct pin
  {
    pin() noexcept {} // NOLINT(modernize-use-equals-default): user-provided, as a real pin is
    pin(const pin&) = delete;
    pin& operator=(const pin&) = delete;
    ~pin() = default;
  };
};

struct item
{
  std::uint64_t value = 0;
  std::uint64_t check = ~std::uint64_t{0};
};

struct other_item
{
  std::uint64_t words[2] = {};
};

constexpr std::size_t slab_size = 1024;

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
  std::size_t pick(std::size_t count) { return word() % count; }

private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

alignas(slab_size) unsigned char wild_block[2 * slab_size];

template <class Caching>
struct session
{
  using cache_type = attachable::slab_cache<item, attachable::no_lock, slab_size, Caching>;
  using box_type = typename cache_type::box;
  using foreign_cache = attachable::slab_cache<other_item, attachable::no_lock, slab_size, Caching>;
  using type = attachable::detail::cache_type<item, attachable::no_lock, slab_size, Caching>;
  static constexpr bool per_cpu = !std::is_same_v<Caching, attachable::per_thread>;
  static constexpr std::size_t limit = type::cache_limit;
  static constexpr std::size_t batch = type::cache_batch;
  static constexpr std::size_t per_master = cache_type::objects_per_master;
  static constexpr std::size_t per_slave = cache_type::objects_per_slab;

  foreign_cache foreign;
  typename foreign_cache::box foreign_object;
  cache_type anchor; // always alive, so stats() always shows the hierarchy
  std::vector<cache_type> clones;
  std::vector<box_type> boxes;
  std::vector<std::uint64_t> box_values;
  std::vector<raw_slot> raws;
  std::deque<item*> caches[fuzz_cpus::count]; // null: parked, address unknown to the model
  std::set<void*> slab_free;                  // freed into a slab and not handed out since
  std::size_t cpu = 0;
  std::size_t reserved = 0;
  std::size_t peak = 0;
  std::size_t reports = 0;
  std::size_t frees_seen = 0;
  std::uintptr_t master = 0;

  [[nodiscard]] std::size_t live() const { return boxes.size() + raws.size(); }
  [[nodiscard]] std::size_t cached() const
  {
    std::size_t total = 0;
    for (const auto& c : caches)
    {
      total += c.size();
    }
    return total;
  }
  [[nodiscard]] std::size_t taken() const { return live() + cached(); }
  // Slabs of this hierarchy: the hooks also hold the foreign cache's master.
  [[nodiscard]] static std::size_t slabs() { return hooks.blocks.size() - 1; }
  [[nodiscard]] static std::size_t capacity() { return per_master + (slabs() - 1) * per_slave; }
  std::deque<item*>& mine() { return caches[per_cpu ? cpu : 0]; }

  cache_type& some_handle(input& in)
  {
    const std::size_t choice = in.pick(clones.size() + 1);
    return choice == clones.size() ? anchor : clones[choice];
  }

  // Whether a slab went back during this step; a pointer into one must not be used again.
  bool slabs_went_back()
  {
    const bool any = hooks.frees != frees_seen;
    frees_seen = hooks.frees;
    if (any)
    {
      slab_free.clear();
    }
    return any;
  }

  void to_slabs(item* object)
  {
    if (object != nullptr)
    {
      slab_free.insert(object);
    }
  }

  void empty(std::deque<item*>& c)
  {
    for (item* parked : c)
    {
      to_slabs(parked);
    }
    c.clear();
  }

  void note_taken()
  {
    slab_free.clear(); // a slot came out of the slabs: any known-free one may be it
    peak = taken() > peak ? taken() : peak;
  }

  [[nodiscard]] std::vector<item*> parked_known() const
  {
    std::vector<item*> known;
    for (const auto& c : caches)
    {
      for (item* parked : c)
      {
        if (parked != nullptr)
        {
          known.push_back(parked);
        }
      }
    }
    return known;
  }

  // One allocation through alloc, emplace or allocate: from the caller's cache, else one batch
  // from the slabs, else one new slab (per_cpu: a failure first takes back every CPU's objects).
  void allocate(input& in, int kind)
  {
    std::deque<item*>& c = mine();
    const bool from_cache = !c.empty();
    item* const top = from_cache ? c.back() : nullptr;
    const std::size_t free_in_slabs = capacity() - taken();
    const std::size_t refill = from_cache ? 0 : (free_in_slabs < batch ? free_in_slabs : batch);
    const std::size_t parked_elsewhere = cached() - c.size();
    const std::uint64_t value = in.word();
    cache_type& handle = some_handle(in);
    hooks.calls.clear();
    item* object = nullptr;
    attachable::slab_error error = attachable::slab_error::fatal_error;
    box_type owned;
    if (kind == 2)
    {
      auto slot = handle.allocate();
      if (slot)
      {
        object = ::new (*slot) item(make_item(value));
      }
      else
      {
        error = slot.error();
      }
    }
    else
    {
      auto made = kind == 0 ? handle.alloc() : handle.emplace(make_item(value));
      if (made)
      {
        object = made->get();
        if (kind == 0)
        {
          expect(object->value == 0 && object->check == ~std::uint64_t{0},
                 "alloc() value-initialises the object");
          *object = make_item(value);
        }
        owned = std::move(*made);
      }
      else
      {
        error = made.error();
      }
    }
    const bool released = slabs_went_back();
    if (from_cache || refill != 0)
    {
      expect(object != nullptr && hooks.calls.empty() && !released,
             "an allocation the cache or the slabs serve succeeds without a hook call");
      if (from_cache)
      {
        expect(top == nullptr || top == object, "an allocation pops the newest parked object");
        c.pop_back();
      }
      else
      {
        for (std::size_t i = 1; i < refill; ++i)
        {
          c.push_back(nullptr);
        }
      }
    }
    else
    {
      expect(!hooks.calls.empty(), "a cache with no free slot anywhere grows");
      const bool reclaimed = per_cpu && parked_elsewhere != 0 && hooks.calls[0] == fault::null;
      if (reclaimed)
      {
        for (auto& other : caches)
        {
          empty(other);
        }
      }
      expect(hooks.calls.size() <= (reclaimed ? 2u : 1u), "an allocation grows by one call");
      expect(!released || reclaimed, "an allocation gives no slab back unless it reclaims");
      if (object == nullptr)
      {
        expect(error == attachable::slab_error::out_of_memory ||
                   error == attachable::slab_error::alignment_mismatch,
               "a failed allocation reports out_of_memory or alignment_mismatch");
        expect(hooks.calls.back() != fault::none, "an allocation fails only on a hook failure");
        expect(capacity() == taken() || error == attachable::slab_error::alignment_mismatch,
               "out_of_memory is reported only when no free object is left anywhere");
        return;
      }
    }
    if (owned)
    {
      boxes.push_back(std::move(owned));
      box_values.push_back(value);
    }
    else
    {
      raws.push_back({object, value});
    }
    note_taken();
  }

  // A free through a box or deallocate goes to the caller's cache; a full one first sends its
  // oldest batch back to the slabs.
  void parked(item* object, bool released)
  {
    std::deque<item*>& c = mine();
    const bool full = c.size() == limit;
    if (full)
    {
      for (std::size_t i = 0; i < batch; ++i)
      {
        to_slabs(c.front());
        c.pop_front();
      }
    }
    c.push_back(object);
    slab_free.erase(object);
    expect(full || !released, "a free into a cache with room gives no slab back");
    if (released)
    {
      slab_free.clear();
    }
  }

  void drop_box(std::size_t at)
  {
    item* const object = boxes[at].get();
    boxes.erase(boxes.begin() + static_cast<std::ptrdiff_t>(at));
    box_values.erase(box_values.begin() + static_cast<std::ptrdiff_t>(at));
    parked(object, slabs_went_back());
  }

  void expect_rejected(void* pointer, attachable::slab_error wanted)
  {
    expect(cache_type::deallocate(pointer).error() == wanted, "deallocate gave the wrong error");
    expect(box_type::from_raw(static_cast<item*>(pointer)).error() == wanted,
           "from_raw gave the wrong error");
    void* const one[] = {pointer};
    expect(cache_type::deallocate_bulk(one, 1).error() == wanted,
           "deallocate_bulk gave the wrong error");
  }

  void step(input& in)
  {
    hooks.calls.clear();
    switch (in.byte() % 20)
    {
    case 0:
    case 1:
    case 2:
      allocate(in, in.byte() % 3);
      break;
    case 3: // drop a box
      if (!boxes.empty())
      {
        drop_box(in.pick(boxes.size()));
      }
      break;
    case 4: // deallocate a raw slot
      if (!raws.empty())
      {
        const std::size_t at = in.pick(raws.size());
        item* const object = raws[at].object;
        object->~item();
        expect(cache_type::deallocate(object).has_value(), "deallocate refused a live slot");
        raws.erase(raws.begin() + static_cast<std::ptrdiff_t>(at));
        parked(object, slabs_went_back());
      }
      break;
    case 5: // free an object that is parked, or back in its slab
    {
      const std::vector<item*> known = parked_known();
      if (in.byte() % 2 == 0 && !known.empty())
      {
        expect_rejected(known[in.pick(known.size())], attachable::slab_error::double_free);
      }
      else if (!slab_free.empty())
      {
        auto it = slab_free.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(in.pick(slab_free.size())));
        expect_rejected(*it, attachable::slab_error::double_free);
      }
      break;
    }
    case 6: // an interior pointer, one into a header, a foreign slot or a wild one
    {
      const std::uint8_t choice = in.byte();
      if (choice % 4 == 0 && !boxes.empty())
      {
        auto* const object = reinterpret_cast<unsigned char*>(boxes[in.pick(boxes.size())].get());
        expect_rejected(object + 1 + choice / 4 % (sizeof(item) - 1),
                        attachable::slab_error::invalid_pointer);
      }
      else if (choice % 4 == 1 && !boxes.empty())
      {
        const auto base = reinterpret_cast<std::uintptr_t>(boxes[in.pick(boxes.size())].get()) &
                          ~std::uintptr_t{slab_size - 1};
        expect_rejected(reinterpret_cast<unsigned char*>(base) + choice / 4 % 64,
                        attachable::slab_error::invalid_pointer);
      }
      else if (choice % 4 == 2)
      {
        expect_rejected(foreign_object.get(), attachable::slab_error::invalid_pointer);
      }
      else
      {
        for (unsigned char& b : wild_block)
        {
          b = in.byte();
        }
        expect_rejected(wild_block + in.pick(sizeof wild_block),
                        attachable::slab_error::invalid_pointer);
      }
      break;
    }
    case 7: // release a box, or adopt a raw slot
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
    case 8: // allocate_bulk: straight from the slabs
    {
      const std::size_t n = in.byte() % (2 * per_slave + 2);
      std::vector<void*> slots(n + 1, nullptr);
      const std::size_t room_before = capacity() - taken();
      const std::size_t got = some_handle(in).allocate_bulk(slots.data(), n);
      std::size_t grown = 0;
      for (fault f : hooks.calls)
      {
        grown += f == fault::none ? 1u : 0u;
      }
      const std::size_t room = room_before + grown * per_slave;
      expect(got == (n < room ? n : room), "allocate_bulk takes what the slabs and growth hold");
      expect(got == n || (!hooks.calls.empty() && hooks.calls.back() != fault::none),
             "allocate_bulk stops short only at a hook failure");
      expect(slots[n] == nullptr, "allocate_bulk writes no more than n slots");
      expect(!slabs_went_back(), "allocate_bulk gives nothing back");
      for (std::size_t i = 0; i < got; ++i)
      {
        const std::uint64_t value = in.word();
        raws.push_back({::new (slots[i]) item(make_item(value)), value});
        slab_free.erase(slots[i]);
      }
      if (got != 0)
      {
        note_taken();
      }
      break;
    }
    case 9: // deallocate_bulk with bad pointers, duplicates and parked ones mixed in
    {
      std::vector<void*> batch_pointers;
      std::vector<item*> freed;
      bool any_error = false;
      attachable::slab_error first = attachable::slab_error::fatal_error;
      const auto note = [&](attachable::slab_error e)
      {
        if (!any_error)
        {
          any_error = true;
          first = e;
        }
      };
      const std::vector<item*> known = parked_known();
      const std::size_t n = in.byte() % 12;
      for (std::size_t i = 0; i < n; ++i)
      {
        const std::uint8_t roll = in.byte() % 8;
        if (roll == 0 && !freed.empty())
        {
          batch_pointers.push_back(freed[in.pick(freed.size())]);
          note(attachable::slab_error::double_free);
        }
        else if (roll == 1)
        {
          batch_pointers.push_back(in.byte() % 2 == 0 ? nullptr
                                                      : static_cast<void*>(foreign_object.get()));
          note(attachable::slab_error::invalid_pointer);
        }
        else if (roll == 2 && !known.empty())
        {
          batch_pointers.push_back(known[in.pick(known.size())]);
          note(attachable::slab_error::double_free);
        }
        else if (!raws.empty())
        {
          const std::size_t at = in.pick(raws.size());
          item* const object = raws[at].object;
          object->~item();
          batch_pointers.push_back(object);
          freed.push_back(object);
          raws.erase(raws.begin() + static_cast<std::ptrdiff_t>(at));
        }
      }
      const attachable::result<void> outcome =
          cache_type::deallocate_bulk(batch_pointers.data(), batch_pointers.size());
      expect(any_error ? (!outcome && outcome.error() == first) : outcome.has_value(),
             "deallocate_bulk frees the valid pointers and reports the first error");
      for (item* object : freed)
      {
        slab_free.insert(object);
      }
      (void)slabs_went_back();
      break;
    }
    case 10: // drain
    {
      std::deque<item*>& c = mine();
      expect(some_handle(in).drain() == c.size(), "drain returned the wrong count");
      empty(c);
      (void)slabs_went_back();
      break;
    }
    case 11: // shrink: every cache it reaches, then every empty slave above the floor
    {
      const std::size_t before = slabs();
      const std::size_t returned = some_handle(in).shrink();
      for (auto& c : caches)
      {
        empty(c);
      }
      (void)slabs_went_back();
      expect(returned <= before - slabs(), "shrink counted slabs it did not return");
      std::set<std::uintptr_t> populated;
      const auto note_slab = [&populated](const void* object) {
        populated.insert(reinterpret_cast<std::uintptr_t>(object) & ~std::uintptr_t{slab_size - 1});
      };
      for (const box_type& b : boxes)
      {
        note_slab(b.get());
      }
      for (const raw_slot& r : raws)
      {
        note_slab(r.object);
      }
      expect(anchor.stats().empty_slabs == slabs() - populated.size(),
             "after shrink the empty slabs are those without a user object");
      // Every empty slave above the reserve floor went back, whether the drain or the shrink
      // returned it.
      const std::size_t populated_slaves = populated.size() - populated.count(master);
      const std::size_t empty_bound = before - 1 - populated_slaves;
      const std::size_t without_empties = per_master + populated_slaves * per_slave;
      const std::size_t for_floor =
          reserved > without_empties ? (reserved - without_empties + per_slave - 1) / per_slave : 0;
      const std::size_t kept = empty_bound < for_floor ? empty_bound : for_floor;
      expect(slabs() == 1 + populated_slaves + kept,
             "shrink leaves the slabs with objects and the empty slaves the floor needs");
      break;
    }
    case 12: // reserve
    {
      const std::size_t objects = in.word() % (6 * per_slave);
      const std::size_t injected_before = hooks.injected;
      const attachable::result<void> outcome = some_handle(in).reserve(objects);
      reserved = objects;
      expect(outcome ? capacity() >= objects : hooks.injected > injected_before,
             "reserve fails only on a hook failure");
      expect(!slabs_went_back(), "reserve gives nothing back");
      break;
    }
    case 13:
      some_handle(in).retain_empty_slabs(in.byte() % 4);
      break;
    case 14:
      if (clones.size() < 6)
      {
        clones.push_back(some_handle(in));
        expect(clones.back().shares_with(anchor), "a clone does not share the hierarchy");
      }
      break;
    case 15: // drop a handle: the caller's cache goes back
      if (!clones.empty())
      {
        clones.erase(clones.begin() + static_cast<std::ptrdiff_t>(in.pick(clones.size())));
        empty(mine());
        (void)slabs_went_back();
      }
      break;
    case 16:
      cpu = in.byte() % fuzz_cpus::count;
      fuzz_cpus::index = cpu;
      break;
    case 17:
      hooks.next_alloc = in.byte() % 2 == 0 ? fault::null : fault::misaligned;
      break;
    case 18:
      hooks.fail_next_free = true;
      break;
    case 19: // a box's double free: reported, nothing changes
      if (!boxes.empty())
      {
        const std::size_t at = in.pick(boxes.size());
        auto second = box_type::from_raw(boxes[at].get());
        expect(second.has_value(), "from_raw refused a live slot");
        drop_box(at);
        const attachable::slab_stats before = anchor.stats();
        second->reset();
        ++reports;
        const attachable::slab_stats after = anchor.stats();
        expect(after.live_objects == before.live_objects &&
                   after.cached_objects == before.cached_objects,
               "a reported double free changed the counts");
      }
      break;
    }
    expect(!slabs_went_back(), "a slab went back on a step that puts no object into a slab");
    check_model();
  }

  void check_model()
  {
    expect(anchor.verify().has_value(), "verify() found a broken invariant");
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
    expect(stats.cached_objects == cached(), "stats.cached_objects differs from the model");
    expect(stats.peak_live_objects == peak, "the peak is not the most slots out at once");
    expect(stats.hook_allocs - stats.hook_frees == stats.slabs, "slabs != allocs - frees");
    expect(stats.slabs == slabs(), "the hooks hold a slab the stats do not count");
    expect(stats.capacity == capacity(), "capacity does not match the slabs held");
    expect(stats.reserved_objects == reserved, "reserved_objects differs from the last reserve");
    expect(stats.hook_failures == hooks.injected, "hook_failures differs from the faults injected");
    expect(fuzz_reports::double_frees == reports, "a double free was reported, or not, wrongly");
  }

  void finish()
  {
    for (raw_slot& raw : raws)
    {
      raw.object->~item();
      expect(cache_type::deallocate(raw.object).has_value(), "deallocate refused a live slot");
    }
  }
};

template <class Caching>
void run(input& in)
{
  fuzz_cpus::index = 0;
  {
    session<Caching> s;
    {
      auto foreign = session<Caching>::foreign_cache::create();
      expect(foreign.has_value(), "the foreign cache could not be created");
      s.foreign = std::move(*foreign);
      auto object = s.foreign.alloc();
      expect(object.has_value(), "the foreign object could not be allocated");
      s.foreign_object = std::move(*object);
      // The foreign cache parked a batch on this thread or CPU; a foreign handle drop takes
      // it back. Only the master matters here: the hooks hold it and this hierarchy's slabs.
      (void)s.foreign.drain();
      auto anchor = session<Caching>::cache_type::create();
      expect(anchor.has_value(), "the cache could not be created");
      s.anchor = std::move(*anchor);
      // The first slot comes from the master, the only slab: that names it.
      auto first = s.anchor.allocate();
      expect(first.has_value(), "the first slot could not be allocated");
      s.master = reinterpret_cast<std::uintptr_t>(*first) & ~std::uintptr_t{slab_size - 1};
      expect(session<Caching>::cache_type::deallocate(*first).has_value(),
             "the first slot could not be freed");
      (void)s.anchor.drain();
      s.peak = s.anchor.stats().peak_live_objects;
    }
    hooks.injected = 0;
    s.frees_seen = hooks.frees;
    fuzz_reports::double_frees = 0;
    while (!in.empty())
    {
      s.step(in);
    }
    s.finish();
    hooks.fail_next_free = false;
  }
  fuzz_cpus::index = 0;
  expect(hooks.blocks.empty(), "a slab was not given back at the end");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  hooks.next_alloc = fault::none;
  hooks.fail_next_free = false;
  input in(data, size);
  if (in.byte() % 2 == 0)
  {
    run<attachable::per_thread>(in);
  }
  else
  {
    run<attachable::per_cpu<fuzz_cpus>>(in);
  }
  return 0;
}
