// A header with one flaw for each static-analysis check, at a path that .clang-tidy's header
// filter matches (".../include/attachable/"), so the tests that must fail prove that a finding
// in a library header is reported and fails the check, not filtered out.
#ifndef ATTACHABLE_FLAWED_HPP
#define ATTACHABLE_FLAWED_HPP

namespace attachable::detail
{

inline int BadlyNamed = 0; // readability-identifier-naming: variables are snake_case

inline int read_through(int* pointer)
{
  return *pointer;
}

inline int read_nothing()
{
  return read_through(nullptr); // the static analyzer: a null dereference
}

} // namespace attachable::detail

#endif // ATTACHABLE_FLAWED_HPP
