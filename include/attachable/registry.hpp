// attachable-slab: the process-wide list of caches, and a /proc/slabinfo-style report.
#ifndef ATTACHABLE_REGISTRY_HPP
#define ATTACHABLE_REGISTRY_HPP

#include <attachable/config.hpp>
#include <attachable/detail/registry_node.hpp>
#include <attachable/slab_stats.hpp>

#include <cstddef>

namespace attachable
{

/// Calls `f(const cache_info&)` for every live cache hierarchy in the program, named or not,
/// newest first. A hierarchy is listed from its first use (or create()) until it goes back to
/// its source. Costs no allocation: the list is linked through the master slabs.
/// Requires: `f` creates and destroys no cache and calls for_each_cache and format_slabinfo
/// not at all (it runs under the registry's lock).
/// Context: takes the registry's lock, and each cache's lock while describing it.
/// Complexity: O(caches), plus each cache's stats().
template <class F>
void for_each_cache(F&& f)
{
  detail::registry.lock.lock();
  for (const detail::registry_node* node = detail::registry.head; node != nullptr;
       node = node->next)
  {
    cache_info info;
    node->type->describe(*node, info);
    f(static_cast<const cache_info&>(info));
  }
  detail::registry.lock.unlock();
}

namespace detail
{

// Appends text to a buffer that may be too small, counting what it would have needed.
class text_sink
{
public:
  text_sink(char* buffer, std::size_t size) noexcept : buffer_(buffer), size_(size) {}

  void text(const char* s) noexcept
  {
    while (*s != '\0')
    {
      put(*s++);
    }
  }
  // Right-aligned in `width` columns.
  void number(std::size_t value, std::size_t width) noexcept
  {
    char digits[24];
    std::size_t n = 0;
    do
    {
      digits[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    for (std::size_t pad = n; pad < width; ++pad)
    {
      put(' ');
    }
    while (n != 0)
    {
      put(digits[--n]);
    }
  }
  // Left-aligned in `width` columns.
  void padded(const char* s, std::size_t width) noexcept
  {
    std::size_t n = 0;
    for (; s[n] != '\0'; ++n)
    {
      put(s[n]);
    }
    for (; n < width; ++n)
    {
      put(' ');
    }
  }
  // Ends a line: it stays only if all of it fitted, with room for the final '\0'.
  void end_line() noexcept
  {
    put('\n');
    if (needed_ < size_)
    {
      kept_ = needed_;
    }
  }
  // Returns: the length needed for the whole text. Writes the terminating '\0' after the
  // last whole line that fitted.
  std::size_t finish() noexcept
  {
    if (size_ != 0)
    {
      buffer_[kept_] = '\0';
    }
    return needed_;
  }

private:
  void put(char c) noexcept
  {
    if (needed_ + 1 < size_)
    {
      buffer_[needed_] = c;
    }
    ++needed_;
  }

  char* buffer_;
  std::size_t size_;
  std::size_t needed_ = 0;
  std::size_t kept_ = 0;
};

} // namespace detail

/// Writes a table of every live cache into `buffer`, in the spirit of Linux's /proc/slabinfo:
/// a header row, then one row per cache with its name, live and cached objects, capacity,
/// object size, objects per slab, slab size, slabs held and empty slabs. Needs no libc.
/// Returns: the length of the whole table, without the terminating '\0'. If that is not below
/// `size`, the buffer holds only the lines that fit whole (and a '\0'); call again with a
/// larger buffer. A `size` of 0 writes nothing.
/// Context: as for for_each_cache.
inline std::size_t format_slabinfo(char* buffer, std::size_t size) noexcept
{
  detail::text_sink out(buffer, size);
  out.text("# attachable slabinfo 1.0");
  out.end_line();
  out.padded("# name", 24);
  out.text(" <live> <cached> <capacity> <objsize> <objperslab> <slabsize> <slabs> <empty>");
  out.end_line();
  for_each_cache(
      [&out](const cache_info& info) noexcept
      {
        out.padded(info.name, 24);
        out.number(info.stats.live_objects, 7);
        out.number(info.stats.cached_objects, 9);
        out.number(info.stats.capacity, 11);
        out.number(info.object_size, 10);
        out.number(info.objects_per_slab, 13);
        out.number(info.slab_size, 11);
        out.number(info.stats.slabs, 8);
        out.number(info.stats.empty_slabs, 8);
        out.end_line();
      });
  return out.finish();
}

} // namespace attachable

#endif // ATTACHABLE_REGISTRY_HPP
