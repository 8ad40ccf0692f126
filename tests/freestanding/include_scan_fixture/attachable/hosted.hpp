// A header that breaks the freestanding rule on purpose: check_includes.cmake must reject it.
#ifndef ATTACHABLE_FIXTURE_HOSTED_HPP
#define ATTACHABLE_FIXTURE_HOSTED_HPP

#include <attachable/missing.hpp>
#include <cstddef>
#include <vector>

#if ATTACHABLE_VALGRIND
#include <valgrind/memcheck.h> // allowed: behind its opt-in macro
#else
#include <valgrind/valgrind.h> // rejected: the #else branch is not opted in
#endif

#include <valgrind/memcheck.h> // rejected: not behind its opt-in macro

#ifndef ATTACHABLE_PANIC
#if __STDC_HOSTED__
#include <cstdio> // allowed: the hosted default panic writes to stderr
#endif
#endif
#include <cstdio> // rejected: not behind __STDC_HOSTED__

#include <attachable/std_allocator.hpp> // rejected: hosted-only, even where it exists

#endif // ATTACHABLE_FIXTURE_HOSTED_HPP
