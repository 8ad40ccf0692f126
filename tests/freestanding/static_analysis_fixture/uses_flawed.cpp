// Includes the flawed header, as warnings_instantiate.cpp includes the library's.
#include <attachable/flawed.hpp>

int use_flawed()
{
  return attachable::detail::read_nothing() + attachable::detail::BadlyNamed;
}
