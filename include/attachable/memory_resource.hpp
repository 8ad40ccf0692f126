// attachable-slab: slab_resource, a std::pmr::memory_resource over slab caches of size classes.
//
// Hosted only: it derives from std::pmr::memory_resource and throws std::bad_alloc, so
// <attachable/slab.hpp> does not include it and the freestanding builds do not compile it.
// Include it explicitly.
//
// Size classes (bytes; the alignment of each is the largest power of two dividing it):
//
//   8 16 24 32 48 64 80 96 112 128 160 192 224 256   in 4 KiB slabs
//   320 384 448 512 640 768 896 1024                  in 16 KiB slabs
//
// A request of n bytes aligned to a gets the smallest class of at least n bytes whose
// alignment is at least a. What that wastes inside a block, at worst, for a of at most 8 (a
// stricter alignment may move a request further up):
//
//   requests of 1 to 32 bytes       at most 7 bytes per block
//   requests of 33 to 128 bytes     at most 15 bytes per block
//   requests of 129 to 1024 bytes   at most a fifth of the block (31, 63 or 127 bytes)
//
// and each slab spends 1 to 7% of itself on its header and on a tail too short for a block.
// Requests over 1024 bytes, and requests aligned more than every class that is large enough,
// go to the upstream resource.
#ifndef ATTACHABLE_MEMORY_RESOURCE_HPP
#define ATTACHABLE_MEMORY_RESOURCE_HPP

#include <attachable/config.hpp>
#include <attachable/lock.hpp>
#include <attachable/result.hpp>
#include <attachable/slab_cache.hpp>
#include <attachable/std_allocator.hpp>

#include <array>
#include <cstddef>
#include <memory_resource>
#include <new>
#include <tuple>
#include <utility>

namespace attachable
{

namespace detail
{

struct size_class
{
  std::size_t size;
  std::size_t slab_size;
};

inline constexpr std::array<size_class, 22> resource_size_classes{{
    {8, 4096},    {16, 4096},   {24, 4096},   {32, 4096},    {48, 4096},   {64, 4096},
    {80, 4096},   {96, 4096},   {112, 4096},  {128, 4096},   {160, 4096},  {192, 4096},
    {224, 4096},  {256, 4096},  {320, 16384}, {384, 16384},  {448, 16384}, {512, 16384},
    {640, 16384}, {768, 16384}, {896, 16384}, {1024, 16384},
}};

// A class's blocks are aligned to the largest power of two that divides its size, so a block is
// exactly its size and no slot needs padding.
constexpr std::size_t natural_alignment(std::size_t size) noexcept
{
  return size & (~size + 1);
}

template <std::size_t Size>
struct alignas(natural_alignment(Size)) resource_block
{
  unsigned char bytes[Size];
};

template <std::size_t Index>
using resource_class_cache = slab_cache<resource_block<resource_size_classes[Index].size>,
                                        spin_lock, resource_size_classes[Index].slab_size>;

// The class of the smallest size >= n, for every n in [0, 1024], looked up by (n + 7) / 8.
constexpr std::size_t resource_lookup_entries = 1024 / 8 + 1;
inline constexpr std::array<unsigned char, resource_lookup_entries> resource_class_of_size = []
{
  std::array<unsigned char, resource_lookup_entries> table{};
  std::size_t index = 0;
  for (std::size_t entry = 0; entry < table.size(); ++entry)
  {
    while (resource_size_classes[index].size < entry * 8)
    {
      ++index;
    }
    table[entry] = static_cast<unsigned char>(index);
  }
  return table;
}();

// The bookkeeping of a block that goes upstream, placed after the caller's bytes so that the
// block keeps the caller's alignment; release() walks the list and gives each block back.
struct upstream_link
{
  upstream_link* prev;
  upstream_link* next;
  std::size_t bytes; // the request, from which the block's address and size follow
  std::size_t alignment;
};

template <class Indices>
struct resource_cache_tuple;

template <std::size_t... Index>
struct resource_cache_tuple<std::index_sequence<Index...>>
{
  using type = std::tuple<resource_class_cache<Index>...>;
};

using resource_caches =
    typename resource_cache_tuple<std::make_index_sequence<resource_size_classes.size()>>::type;

// Each class is a cache of another type, so a request reaches its class through a table of
// functions indexed by class. They return a plain pointer and flag, not a result: g++ 12 builds a
// result<void*> returned from a call it cannot inline byte by byte on the stack and reads it back
// whole, a store-forwarding stall that cost more than the rest of the allocation.
template <std::size_t Index>
void* allocate_in_class(resource_caches& caches, slab_error& failure) noexcept
{
  result<void*> block = std::get<Index>(caches).allocate();
  if (block) [[likely]]
  {
    return *block;
  }
  failure = block.error();
  return nullptr;
}

template <std::size_t Index>
bool deallocate_in_class(void* block) noexcept
{
  return resource_class_cache<Index>::deallocate(block).has_value();
}

template <std::size_t... Index>
constexpr auto resource_allocators(std::index_sequence<Index...>) noexcept
{
  return std::array<void* (*)(resource_caches&, slab_error&) noexcept, sizeof...(Index)>{
      &allocate_in_class<Index>...};
}

template <std::size_t... Index>
constexpr auto resource_deallocators(std::index_sequence<Index...>) noexcept
{
  return std::array<bool (*)(void*) noexcept, sizeof...(Index)>{&deallocate_in_class<Index>...};
}

inline constexpr auto allocate_in_resource_class =
    resource_allocators(std::make_index_sequence<resource_size_classes.size()>{});
inline constexpr auto deallocate_in_resource_class =
    resource_deallocators(std::make_index_sequence<resource_size_classes.size()>{});

} // namespace detail

/// A std::pmr::memory_resource that serves every request of up to 1024 bytes from slab
/// caches of 22 size classes (listed at the top of this header, with the waste they imply) and
/// passes larger or over-aligned requests to an upstream resource. The slabs come from the
/// program's two hooks, in 4 KiB and 16 KiB blocks; the upstream resource sees only the
/// requests the classes cannot serve.
///
/// Thread-safe: allocate() and deallocate() may run concurrently from any threads (each class
/// has its own spin_lock cache; upstream blocks are listed under another spin_lock). release()
/// and destruction must not overlap any other call on the same resource. Two resources are
/// equal only when they are the same object.
///
/// release() differs from the standard pool resources' in one way: a slab cannot be taken
/// back while a block in it is live. It gives every upstream block back to the upstream
/// resource at once, and drops the size classes' caches: a class whose blocks were all
/// deallocated gives its slabs back at once, and a class with live blocks gives each slab
/// back when its last block is deallocated (which stays allowed after release()). Blocks that
/// are never deallocated keep their slabs.
class slab_resource : public std::pmr::memory_resource
{
public:
  /// Requests of at most this many bytes come from a size class, unless over-aligned.
  static constexpr std::size_t largest_slab_block = 1024;
  /// The size classes, smallest first.
  static constexpr std::size_t size_class_count = detail::resource_size_classes.size();

  /// Returns: the size of class `index`, or 0 for an index past the last class.
  [[nodiscard]] static constexpr std::size_t size_class(std::size_t index) noexcept
  {
    return index < size_class_count ? detail::resource_size_classes[index].size : 0;
  }

  /// A resource whose upstream is std::pmr::get_default_resource() at construction.
  slab_resource() noexcept : slab_resource(std::pmr::get_default_resource()) {}

  /// A resource that passes large and over-aligned requests to `upstream`.
  /// Requires: `upstream` is not null and outlives this resource.
  explicit slab_resource(std::pmr::memory_resource* upstream) noexcept
      : upstream_(upstream), head_{&head_, &head_, 0, 0}
  {
  }

  slab_resource(const slab_resource&) = delete; ///< Blocks point into its caches and lists.
  slab_resource& operator=(const slab_resource&) = delete; ///< As the copy constructor.

  /// Calls release().
  ~slab_resource() override { release(); }

  /// Gives every upstream block back to the upstream resource and drops the size classes'
  /// caches; see the class comment for when their slabs go back.
  /// Context: must not overlap any other call on this resource; calls the free hook for
  /// classes with no live block.
  void release() noexcept
  {
    std::apply([](auto&... cache) { ((cache = {}), ...); }, caches_);
    lock_.lock();
    upstream_link* link = head_.next;
    head_.prev = &head_;
    head_.next = &head_;
    lock_.unlock();
    while (link != &head_)
    {
      upstream_link* const next = link->next;
      const upstream_request request = request_of(*link);
      upstream_->deallocate(request.block, request.bytes, request.alignment);
      link = next;
    }
  }

  /// Returns: the resource that large and over-aligned requests go to.
  [[nodiscard]] std::pmr::memory_resource* upstream_resource() const noexcept { return upstream_; }

protected:
  /// Returns: `bytes` bytes aligned to `alignment`: a block of the first size class that fits,
  /// or a block from the upstream resource.
  /// Throws: bad_slab_alloc (a std::bad_alloc) when a class's alloc hook fails or its free
  /// list is found corrupted; what the upstream resource throws.
  /// Context: takes one class's lock and may call the alloc hook without it; or calls the
  /// upstream resource and takes the upstream list's lock.
  void* do_allocate(std::size_t bytes, std::size_t alignment) override
  {
    const std::size_t index = class_index(bytes, alignment);
    if (index < size_class_count) [[likely]]
    {
      // Overwritten on every path that returns null; the value only keeps the read defined.
      slab_error failure = slab_error::out_of_memory;
      void* const block = detail::allocate_in_resource_class[index](caches_, failure);
      if (block == nullptr) [[unlikely]]
      {
        detail::throw_bad_slab_alloc(failure);
      }
      return block;
    }
    return allocate_upstream(bytes, alignment);
  }

  /// Gives back a block from do_allocate(bytes, alignment), with the same two values.
  /// A class block that is not live (freed twice, or a wrong size) calls ATTACHABLE_PANIC.
  /// Context: any thread; takes one lock; may call the free hook or the upstream resource.
  void do_deallocate(void* block, std::size_t bytes, std::size_t alignment) override
  {
    const std::size_t index = class_index(bytes, alignment);
    if (index < size_class_count) [[likely]]
    {
      if (!detail::deallocate_in_resource_class[index](block)) [[unlikely]]
      {
        ATTACHABLE_PANIC("attachable::slab_resource: deallocate() was given a block that is "
                         "not live in the size class of its bytes and alignment (double free, "
                         "wrong size, or another resource's block)");
      }
      return;
    }
    deallocate_upstream(block, bytes, alignment);
  }

  /// Returns: true only for this very object.
  [[nodiscard]] bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override
  {
    return this == &other;
  }

private:
  using upstream_link = detail::upstream_link;

  // What the upstream resource was asked for, to give it back with the same values.
  struct upstream_request
  {
    void* block;
    std::size_t bytes;
    std::size_t alignment;
  };

  // Returns: the class for the request, or size_class_count when it goes upstream.
  static std::size_t class_index(std::size_t bytes, std::size_t alignment) noexcept
  {
    if (bytes > largest_slab_block) [[unlikely]]
    {
      return size_class_count;
    }
    std::size_t index = detail::resource_class_of_size[(bytes + 7) / 8];
    // Every class is at least 8-aligned; a stricter request moves up to the first class that is
    // aligned enough (alignment does not grow with size: 896 is 128-aligned, 1024 is 1024).
    while (alignment > detail::natural_alignment(detail::resource_size_classes[index].size))
    {
      if (++index == size_class_count)
      {
        break;
      }
    }
    return index;
  }

  // An upstream block is the caller's bytes, then the link at the next multiple of the link's
  // alignment; the whole is aligned to the stricter of the two alignments.
  static constexpr std::size_t link_offset(std::size_t bytes) noexcept
  {
    return (bytes + alignof(upstream_link) - 1) / alignof(upstream_link) * alignof(upstream_link);
  }
  static constexpr std::size_t upstream_alignment(std::size_t alignment) noexcept
  {
    return alignment > alignof(upstream_link) ? alignment : alignof(upstream_link);
  }

  static upstream_request request_of(upstream_link& link) noexcept
  {
    return {reinterpret_cast<unsigned char*>(&link) - link_offset(link.bytes),
            link_offset(link.bytes) + sizeof(upstream_link), upstream_alignment(link.alignment)};
  }

  void* allocate_upstream(std::size_t bytes, std::size_t alignment)
  {
    if (bytes > static_cast<std::size_t>(-1) - sizeof(upstream_link) - alignof(upstream_link))
    {
#if ATTACHABLE_HAS_EXCEPTIONS
      throw std::bad_array_new_length();
#else
      ATTACHABLE_PANIC("attachable::slab_resource: the request is too large to track");
#endif
    }
    auto* const block = static_cast<unsigned char*>(upstream_->allocate(
        link_offset(bytes) + sizeof(upstream_link), upstream_alignment(alignment)));
    auto* const link = ::new (static_cast<void*>(block + link_offset(bytes)))
        upstream_link{&head_, nullptr, bytes, alignment};
    lock_.lock();
    link->next = head_.next;
    head_.next->prev = link;
    head_.next = link;
    lock_.unlock();
    return block;
  }

  void deallocate_upstream(void* block, std::size_t bytes, std::size_t alignment)
  {
    auto* const link = std::launder(
        reinterpret_cast<upstream_link*>(static_cast<unsigned char*>(block) + link_offset(bytes)));
    lock_.lock();
    link->prev->next = link->next;
    link->next->prev = link->prev;
    lock_.unlock();
    upstream_->deallocate(block, link_offset(bytes) + sizeof(upstream_link),
                          upstream_alignment(alignment));
  }

  detail::resource_caches caches_;
  std::pmr::memory_resource* upstream_;
  spin_lock lock_; // guards the list of upstream blocks
  upstream_link head_;
};

} // namespace attachable

#endif // ATTACHABLE_MEMORY_RESOURCE_HPP
