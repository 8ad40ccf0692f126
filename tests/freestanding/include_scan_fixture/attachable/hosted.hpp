// A header that breaks the freestanding rule on purpose: check_includes.cmake must reject it.
#ifndef ATTACHABLE_FIXTURE_HOSTED_HPP
#define ATTACHABLE_FIXTURE_HOSTED_HPP

#include <attachable/missing.hpp>
#include <cstddef>
#include <vector>

#endif // ATTACHABLE_FIXTURE_HOSTED_HPP
