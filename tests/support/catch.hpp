// One include for Catch2 v3 (split headers) and v2.13 (single header, as Debian 12 ships it).
#ifndef ATTACHABLE_TESTS_SUPPORT_CATCH_HPP
#define ATTACHABLE_TESTS_SUPPORT_CATCH_HPP

#if __has_include(<catch2/catch_test_macros.hpp>)
#include <catch2/catch_template_test_macros.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#endif // ATTACHABLE_TESTS_SUPPORT_CATCH_HPP
