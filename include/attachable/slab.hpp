// attachable-slab: the umbrella header. Include this one.
#ifndef ATTACHABLE_SLAB_HPP
#define ATTACHABLE_SLAB_HPP

#include <attachable/config.hpp>
#include <attachable/hooks.hpp>
#include <attachable/lock.hpp>
#include <attachable/options.hpp>
#include <attachable/registry.hpp>
#include <attachable/result.hpp>
#include <attachable/slab_box.hpp>
#include <attachable/slab_cache.hpp>
#include <attachable/slab_source.hpp>
#include <attachable/slab_stats.hpp>
#include <attachable/static_arena.hpp>

#endif // ATTACHABLE_SLAB_HPP
