// Catch2 v2 (Debian's 2.13) and v3 differ only in where the macros live.
#ifndef ATTACHABLE_TESTS_SUPPORT_CATCH_HPP
#define ATTACHABLE_TESTS_SUPPORT_CATCH_HPP

#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#else
#include <catch2/catch.hpp>
#endif

#endif // ATTACHABLE_TESTS_SUPPORT_CATCH_HPP
