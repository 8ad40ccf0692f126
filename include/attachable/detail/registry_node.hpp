// attachable-slab: the node that links every live cache hierarchy into one process-wide list.
//
// This layer is deliberately outside the configuration's inline namespace: translation units
// built with different ATTACHABLE_SLAB_DEBUG, ASAN or VALGRIND settings still share one
// registry. A node knows nothing about the hierarchy that holds it; its type's describe
// function, compiled with that hierarchy's settings, fills in a cache_info.
//
// Lock order: the registry lock, then a hierarchy's lock (for_each_cache describes each cache
// while holding the registry). Creation and teardown take the registry lock with no
// hierarchy lock held.
#ifndef ATTACHABLE_DETAIL_REGISTRY_NODE_HPP
#define ATTACHABLE_DETAIL_REGISTRY_NODE_HPP

#include <attachable/config.hpp>
#include <attachable/lock.hpp>
#include <attachable/slab_stats.hpp>

namespace attachable::detail
{

struct registry_node;

// What a registered hierarchy's code provides to the registry.
struct registry_type
{
  // Fills `info` from the hierarchy that holds `node`. Context: registry lock held; takes the
  // hierarchy's lock.
  void (*describe)(const registry_node& node, cache_info& info) noexcept;
};

struct registry_node
{
  registry_node* next = nullptr;
  const registry_type* type = nullptr;
};

// The list of live hierarchies, newest first.
struct registry_list
{
  ATTACHABLE_REGISTRY_LOCK lock{};
  registry_node* head = nullptr;
};

inline constinit registry_list registry{};

// Context: takes the registry lock; no hierarchy lock may be held.
inline void register_node(registry_node& node) noexcept
{
  registry.lock.lock();
  node.next = registry.head;
  registry.head = &node;
  registry.lock.unlock();
}

// Context: takes the registry lock; no hierarchy lock may be held. Complexity: O(caches).
inline void unregister_node(registry_node& node) noexcept
{
  registry.lock.lock();
  for (registry_node** link = &registry.head; *link != nullptr; link = &(*link)->next)
  {
    if (*link == &node)
    {
      *link = node.next;
      break;
    }
  }
  registry.lock.unlock();
  node.next = nullptr;
}

} // namespace attachable::detail

#endif // ATTACHABLE_DETAIL_REGISTRY_NODE_HPP
