#include "catch.hpp"

#include <attachable/result.hpp>

TEST_CASE("a default-constructed result<void> is success", "[result]")
{
  const attachable::result<void> ok;
  CHECK(ok.has_value());
}
