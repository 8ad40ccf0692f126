// attachable-slab: static_arena, a fixed pool of slabs in static storage, for the two hooks
// or for caches that take their slabs from it through arena_slabs.
#ifndef ATTACHABLE_STATIC_ARENA_HPP
#define ATTACHABLE_STATIC_ARENA_HPP

#include <attachable/detail/bits.hpp>
#include <attachable/lock.hpp>
#include <attachable/result.hpp>

#include <cstddef>
#include <cstdint>

namespace attachable
{

/// What static_arena::stats() reports: one snapshot, taken under the arena's lock.
struct arena_stats
{
  std::size_t slabs_in_use = 0;       ///< slabs handed out and not given back
  std::size_t peak_slabs_in_use = 0;  ///< the most slabs handed out at once since the start
  std::size_t failed_allocations = 0; ///< allocate() calls that returned null
};

/// `SlabCount` slabs of `SlabSize` bytes, each aligned to SlabSize, inside the object itself:
/// the memory most firmware hands out from its two hooks or through arena_slabs<arena>. Every
/// member starts as zero (the statistics too) and a zeroed arena means "every slab free", so a
/// `constinit` arena needs no constructor to run and lands in .bss, costing no flash.
///
/// Slabs are handed out by bumping an index the first time and from a stack of freed indices
/// afterwards; a bitmap of slabs out catches double and foreign frees. The free stack lives
/// beside the slabs, not in them, so a write after free cannot corrupt the arena.
///
/// The object is aligned to SlabSize, so its size rounds up to a multiple of SlabSize: the
/// bookkeeping after the slabs costs up to one slab of padding. Put the arena in static
/// storage; it is too large and too aligned for most stacks.
template <std::size_t SlabSize, std::size_t SlabCount, class Lock = spin_lock>
class static_arena
{
  static constexpr std::size_t bits_per_word = 32;
  static constexpr std::size_t bitmap_words = (SlabCount + bits_per_word - 1) / bits_per_word;

public:
  static_assert(SlabCount >= 1,
                "attachable::static_arena: SlabCount must be at least 1, because an arena with "
                "no slab could never satisfy a hook; give it at least one slab.");
  static_assert(detail::is_power_of_two(SlabSize),
                "attachable::static_arena: SlabSize must be a power of two, because slabs are "
                "aligned to their size for address masking; use the cache's SlabSize.");
  static_assert(SlabCount < 0xFFFF'FFFFu,
                "attachable::static_arena: SlabCount must be below 2^32 - 1, because slab "
                "indices are 32-bit; use fewer, larger slabs.");
  static_assert(slab_lock<Lock>,
                "attachable::static_arena: Lock must satisfy attachable::slab_lock, because "
                "the arena constructs and takes it; give it noexcept default construction, "
                "lock() and unlock(), or use spin_lock or no_lock.");

  using lock_type = Lock;
  static constexpr std::size_t slab_size = SlabSize;
  static constexpr std::size_t slab_count = SlabCount;

  /// An arena with every slab free. Constant: declare arenas `constinit`.
  constexpr static_arena() noexcept = default;
  static_arena(const static_arena&) = delete; ///< Slabs handed out point into this object.
  static_arena& operator=(const static_arena&) = delete; ///< Slabs point into this object.

  /// Takes one free slab.
  /// Returns: the start of SlabSize bytes aligned to SlabSize, not zeroed; null when every
  /// slab is out.
  /// Context: any context the Lock allows; takes the lock.
  [[nodiscard]] void* allocate() noexcept
  {
    lock_.lock();
    std::uint32_t index = 0;
    if (freed_count_ != 0)
    {
      index = freed_[--freed_count_];
    }
    else if (bump_ < SlabCount)
    {
      index = bump_++;
    }
    else
    {
      ++failed_allocations_;
      lock_.unlock();
      return nullptr;
    }
    out_[index / bits_per_word] |= bit_of(index);
    if (++slabs_out_ > peak_slabs_out_)
    {
      peak_slabs_out_ = slabs_out_;
    }
    lock_.unlock();
    return storage_ + std::size_t{index} * SlabSize;
  }

  /// Gives a slab back.
  /// Returns: nothing on success; invalid_pointer for null, a pointer outside the arena or
  /// not at a slab's start; double_free for a slab that is not out (freed already, or never
  /// handed out). A rejected call changes nothing.
  /// Context: any context the Lock allows; takes the lock.
  [[nodiscard]] result<void> deallocate(void* slab) noexcept
  {
    std::uint32_t index = 0;
    if (!index_of(slab, index))
    {
      return slab_error::invalid_pointer;
    }
    lock_.lock();
    std::uint32_t& word = out_[index / bits_per_word];
    if ((word & bit_of(index)) == 0)
    {
      lock_.unlock();
      return slab_error::double_free;
    }
    word &= ~bit_of(index);
    freed_[freed_count_++] = index;
    --slabs_out_;
    lock_.unlock();
    return {};
  }

  /// Returns: true if `pointer` points anywhere inside this arena's slabs.
  [[nodiscard]] bool owns(const void* pointer) const noexcept
  {
    const std::uintptr_t address = detail::address_of(pointer);
    const std::uintptr_t first = detail::address_of(storage_);
    return address >= first && address - first < SlabCount * SlabSize;
  }

  /// Returns: how many slabs are handed out right now.
  /// Context: takes the lock.
  [[nodiscard]] std::size_t slabs_out() noexcept
  {
    lock_.lock();
    const std::size_t out = slabs_out_;
    lock_.unlock();
    return out;
  }

  /// A snapshot of the arena's counters: slabs in use now, the most ever in use at once, and
  /// how many allocate() calls found no free slab (a high-water mark for sizing SlabCount).
  /// Returns: the three counters, consistent with each other.
  /// Context: any context the Lock allows; takes the lock.
  [[nodiscard]] arena_stats stats() noexcept
  {
    lock_.lock();
    arena_stats s;
    s.slabs_in_use = slabs_out_;
    s.peak_slabs_in_use = peak_slabs_out_;
    s.failed_allocations = failed_allocations_;
    lock_.unlock();
    return s;
  }

private:
  static constexpr std::uint32_t bit_of(std::uint32_t index) noexcept
  {
    return std::uint32_t{1} << (index % bits_per_word);
  }

  // The checks that need no lock: the pointer is inside the arena and at a slab's start.
  bool index_of(const void* pointer, std::uint32_t& index) const noexcept
  {
    if (!owns(pointer))
    {
      return false;
    }
    const std::uintptr_t offset = detail::address_of(pointer) - detail::address_of(storage_);
    if (offset % SlabSize != 0)
    {
      return false;
    }
    index = static_cast<std::uint32_t>(offset / SlabSize);
    return true;
  }

  // Storage first, so that its alignment puts no padding in front of it.
  alignas(SlabSize) std::byte storage_[SlabCount * SlabSize]{};
  [[no_unique_address]] Lock lock_{};
  std::uint32_t bump_ = 0;             // slabs at or above this index were never handed out
  std::uint32_t freed_count_ = 0;      // entries in freed_
  std::uint32_t slabs_out_ = 0;        // slabs handed out and not given back
  std::uint32_t peak_slabs_out_ = 0;   // the most slabs out at once
  std::size_t failed_allocations_ = 0; // allocate() calls that returned null
  std::uint32_t freed_[SlabCount]{};   // a stack of given-back slab indices, top at the end
  std::uint32_t out_[bitmap_words]{};  // bit set while a slab is handed out
};

} // namespace attachable

#endif // ATTACHABLE_STATIC_ARENA_HPP
