// Catch2's main, compiled for the cross target from the single header.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
