// Containers built from boxes, the way users write them: singly linked lists whose nodes own
// the next node, binary trees whose nodes own their children, and vectors of boxes. The classic
// pop `head = std::move(head->next)` replaces a box with one that its own object owns, so a
// move-assignment that destroyed its object before taking the other pointer read freed memory
// (issue 8, item 1). Every test proves with the instance tracker that each object dies exactly
// once, and with hook_balance that every slab goes back, for each lock and caching option.
#include "catch.hpp"
#include "hook_balance.hpp"
#include "instance_tracker.hpp"
#include "recording_lock.hpp"
#include "test_cpus.hpp"

#include <attachable/slab.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using attachable::no_lock;
using attachable::per_cpu;
using attachable::per_thread;
using attachable::spin_lock;
using test_support::hook_balance;
using test_support::recording_lock;
using test_support::test_cpus;
using test_support::tracked;

namespace
{

// One cache configuration: the box and cache templates for any node type.
template <class Lock, class... Options>
struct setup
{
  template <class Node>
  using box = attachable::slab_box<Node, Lock, 4096, Options...>;
  template <class Node>
  using cache = attachable::slab_cache<Node, Lock, 4096, Options...>;
};

using setups = std::tuple<setup<spin_lock>, setup<no_lock>, setup<recording_lock>,
                          setup<spin_lock, per_thread>, setup<spin_lock, per_cpu<test_cpus>>>;

void check_every_object_lived_once(std::size_t expected)
{
  CHECK(tracked::constructions() == static_cast<long>(expected));
  CHECK(tracked::destructions() == static_cast<long>(expected));
  CHECK(tracked::bad_destructions() == 0);
}

// ---- lists ---------------------------------------------------------------------------------

template <class Setup>
struct list_node
{
  explicit list_node(std::uint64_t value) noexcept : payload(value) {}

  typename Setup::template box<list_node> next;
  tracked payload;
};

template <class Setup>
using list_box = typename Setup::template box<list_node<Setup>>;
template <class Setup>
using list_cache = typename Setup::template cache<list_node<Setup>>;

template <class Setup>
void push_front(list_cache<Setup>& cache, list_box<Setup>& head, std::uint64_t value)
{
  auto made = cache.emplace(value);
  REQUIRE(made);
  (*made)->next = std::move(head);
  head = std::move(*made);
}

// A list of `values` in this order.
template <class Setup>
list_box<Setup> make_list(list_cache<Setup>& cache, const std::vector<std::uint64_t>& values)
{
  list_box<Setup> head;
  for (auto value = values.rbegin(); value != values.rend(); ++value)
  {
    push_front<Setup>(cache, head, *value);
  }
  return head;
}

template <class Setup>
std::vector<std::uint64_t> values_of(const list_box<Setup>& head)
{
  std::vector<std::uint64_t> values;
  for (const list_node<Setup>* node = head.get(); node != nullptr; node = node->next.get())
  {
    values.push_back(node->payload.payload());
  }
  return values;
}

std::vector<std::uint64_t> count_up(std::size_t n)
{
  std::vector<std::uint64_t> values(n);
  std::iota(values.begin(), values.end(), std::uint64_t{0});
  return values;
}

// Unlinks the first node holding `value`, wherever it is, with the same move-assignment as a
// pop: the box that owned the node takes the node's successor.
template <class Setup>
bool unlink(list_box<Setup>& head, std::uint64_t value)
{
  for (list_box<Setup>* link = &head; *link; link = &(*link)->next)
  {
    if ((*link)->payload.payload() == value)
    {
      *link = std::move((*link)->next);
      return true;
    }
  }
  return false;
}

// ---- trees ---------------------------------------------------------------------------------

template <class Setup>
struct tree_node
{
  explicit tree_node(std::uint64_t value) noexcept : key(value) {}

  typename Setup::template box<tree_node> left;
  typename Setup::template box<tree_node> right;
  tracked key;
};

template <class Setup>
using tree_box = typename Setup::template box<tree_node<Setup>>;
template <class Setup>
using tree_cache = typename Setup::template cache<tree_node<Setup>>;

template <class Setup>
void insert(tree_cache<Setup>& cache, tree_box<Setup>& root, std::uint64_t key)
{
  tree_box<Setup>* link = &root;
  while (*link)
  {
    link = key < (*link)->key.payload() ? &(*link)->left : &(*link)->right;
  }
  auto made = cache.emplace(key);
  REQUIRE(made);
  *link = std::move(*made);
}

// Erases `key` the textbook way; every case ends in a box taking a pointer its own object owns.
template <class Setup>
bool erase(tree_box<Setup>& root, std::uint64_t key)
{
  tree_box<Setup>* link = &root;
  while (*link && (*link)->key.payload() != key)
  {
    link = key < (*link)->key.payload() ? &(*link)->left : &(*link)->right;
  }
  if (!*link)
  {
    return false;
  }
  tree_node<Setup>& doomed = **link;
  if (!doomed.left)
  {
    *link = std::move(doomed.right);
  }
  else if (!doomed.right)
  {
    *link = std::move(doomed.left);
  }
  else
  {
    // The successor leaves its place to its right child and takes the doomed node's children.
    tree_box<Setup>* successor = &doomed.right;
    while ((*successor)->left)
    {
      successor = &(*successor)->left;
    }
    tree_box<Setup> moved = std::move(*successor);
    *successor = std::move(moved->right);
    moved->left = std::move(doomed.left);
    moved->right = std::move(doomed.right);
    *link = std::move(moved);
  }
  return true;
}

template <class Setup>
void in_order(const tree_box<Setup>& node, std::vector<std::uint64_t>& out)
{
  if (node)
  {
    in_order<Setup>(node->left, out);
    out.push_back(node->key.payload());
    in_order<Setup>(node->right, out);
  }
}

template <class Setup>
std::vector<std::uint64_t> keys_of(const tree_box<Setup>& root)
{
  std::vector<std::uint64_t> keys;
  in_order<Setup>(root, keys);
  return keys;
}

std::vector<std::uint64_t> shuffled(std::size_t n, std::uint64_t seed)
{
  std::vector<std::uint64_t> values = count_up(n);
  std::mt19937_64 random(seed);
  std::shuffle(values.begin(), values.end(), random);
  return values;
}

} // namespace

TEMPLATE_LIST_TEST_CASE("popping a list with head = std::move(head->next) destroys each node "
                        "once, in order",
                        "[box][containers]", setups)
{
  hook_balance balance;
  tracked::reset();
  using cache_type = list_cache<TestType>;
  const std::size_t n = 3 * cache_type::objects_per_slab; // the list spans several slabs
  {
    cache_type cache;
    list_box<TestType> head = make_list<TestType>(cache, count_up(n));
    CHECK(cache.stats().live_objects == n);

    std::size_t wrong_heads = 0;
    std::size_t wrong_counts = 0;
    for (std::uint64_t expected = 0; expected < n; ++expected)
    {
      REQUIRE(head);
      wrong_heads += head->payload.payload() != expected ? 1u : 0u;
      head = std::move(head->next);
      wrong_counts += tracked::live() != static_cast<long>(n - expected - 1) ? 1u : 0u;
    }
    CHECK(wrong_heads == 0);
    CHECK(wrong_counts == 0);
    CHECK_FALSE(head);
    CHECK(cache.stats().live_objects == 0);
    CHECK(cache.verify());
  }
  check_every_object_lived_once(n);
}

TEMPLATE_LIST_TEST_CASE("destroying a list's head destroys every node once, recursively",
                        "[box][containers]", setups)
{
  hook_balance balance;
  tracked::reset();
  using cache_type = list_cache<TestType>;
  const std::size_t n = 2 * cache_type::objects_per_slab;
  {
    cache_type cache;
    list_box<TestType> head = make_list<TestType>(cache, count_up(n));
    head.reset();
    CHECK(tracked::live() == 0);
    CHECK(cache.stats().live_objects == 0);
    CHECK(cache.verify());

    // The same once more, by the destructor at the end of a scope.
    {
      const list_box<TestType> scoped = make_list<TestType>(cache, count_up(n));
      CHECK(tracked::live() == static_cast<long>(n));
    }
    CHECK(tracked::live() == 0);
    CHECK(cache.stats().live_objects == 0);
  }
  check_every_object_lived_once(2 * n);
}

TEMPLATE_LIST_TEST_CASE("unlinking nodes from the middle of a list with "
                        "*link = std::move((*link)->next) keeps the rest intact",
                        "[box][containers]", setups)
{
  hook_balance balance;
  tracked::reset();
  using cache_type = list_cache<TestType>;
  const std::size_t n = 2 * cache_type::objects_per_slab;
  {
    cache_type cache;
    list_box<TestType> head = make_list<TestType>(cache, count_up(n));
    std::vector<std::uint64_t> model = count_up(n);

    // Every third node, then the tail, then the head, then a random half of what is left.
    for (std::uint64_t value = 1; value < n; value += 3)
    {
      REQUIRE(unlink<TestType>(head, value));
      model.erase(std::find(model.begin(), model.end(), value));
    }
    REQUIRE(unlink<TestType>(head, model.back()));
    model.pop_back();
    REQUIRE(unlink<TestType>(head, model.front()));
    model.erase(model.begin());
    CHECK(values_of<TestType>(head) == model);

    std::vector<std::uint64_t> doomed = model;
    std::mt19937_64 random(0x11'57);
    std::shuffle(doomed.begin(), doomed.end(), random);
    doomed.resize(doomed.size() / 2);
    for (const std::uint64_t value : doomed)
    {
      REQUIRE(unlink<TestType>(head, value));
      model.erase(std::find(model.begin(), model.end(), value));
    }
    CHECK(values_of<TestType>(head) == model);
    CHECK(tracked::live() == static_cast<long>(model.size()));
    CHECK(cache.stats().live_objects == model.size());
    CHECK(cache.verify());
  }
  check_every_object_lived_once(n);
}

TEMPLATE_LIST_TEST_CASE("a five-node list is torn down correctly in every one of the 120 orders",
                        "[box][containers]", setups)
{
  hook_balance balance;
  tracked::reset();
  using cache_type = list_cache<TestType>;
  std::vector<std::uint64_t> order = count_up(5);
  std::size_t orders = 0;
  std::size_t wrong_lists = 0;
  {
    cache_type cache;
    do
    {
      list_box<TestType> head = make_list<TestType>(cache, count_up(5));
      std::vector<std::uint64_t> model = count_up(5);
      for (const std::uint64_t value : order)
      {
        REQUIRE(unlink<TestType>(head, value));
        model.erase(std::find(model.begin(), model.end(), value));
        wrong_lists += values_of<TestType>(head) != model ? 1u : 0u;
        wrong_lists += tracked::live() != static_cast<long>(model.size()) ? 1u : 0u;
      }
      CHECK_FALSE(head);
      ++orders;
    } while (std::next_permutation(order.begin(), order.end()));
    CHECK(cache.stats().live_objects == 0);
    CHECK(cache.verify());
  }
  CHECK(orders == 120);
  CHECK(wrong_lists == 0);
  check_every_object_lived_once(5 * 120);
}

TEMPLATE_LIST_TEST_CASE("a box move-assigned to itself, alone or inside a list, keeps its object",
                        "[box][containers]", setups)
{
  hook_balance balance;
  tracked::reset();
  using cache_type = list_cache<TestType>;
  {
    cache_type cache;
    list_box<TestType> head = make_list<TestType>(cache, count_up(3));
    const list_node<TestType>* const first = head.get();
    const list_node<TestType>* const second = head->next.get();

    list_box<TestType>& alias = head; // a reference, as generic code has, not `head = move(head)`
    head = std::move(alias);
    list_box<TestType>& inner = head->next;
    head->next = std::move(inner);
    CHECK(head.get() == first);
    CHECK(head->next.get() == second);
    CHECK(values_of<TestType>(head) == count_up(3));
    CHECK(tracked::destructions() == 0);

    list_box<TestType> empty;
    list_box<TestType>& empty_alias = empty;
    empty = std::move(empty_alias);
    CHECK_FALSE(empty);
    CHECK(cache.stats().live_objects == 3);
  }
  check_every_object_lived_once(3);
}

TEMPLATE_LIST_TEST_CASE("a list outlives its cache handle and its last node returns the "
                        "hierarchy",
                        "[box][containers]", setups)
{
  hook_balance balance;
  tracked::reset();
  using cache_type = list_cache<TestType>;
  const std::size_t n = 2 * cache_type::objects_per_slab;
  list_box<TestType> head;
  {
    cache_type cache;
    head = make_list<TestType>(cache, count_up(n));
  }
  CHECK(balance.outstanding() != 0);
  while (head)
  {
    head = std::move(head->next);
  }
  CHECK(balance.outstanding() == 0);
  check_every_object_lived_once(n);
}

TEMPLATE_LIST_TEST_CASE("a binary search tree of boxes is built, pruned and torn down "
                        "recursively",
                        "[box][containers]", setups)
{
  hook_balance balance;
  tracked::reset();
  using cache_type = tree_cache<TestType>;
  const std::size_t n = 3 * cache_type::objects_per_slab;
  {
    cache_type cache;
    tree_box<TestType> root;
    std::set<std::uint64_t> model;
    for (const std::uint64_t key : shuffled(n, 0x7'2EE))
    {
      insert<TestType>(cache, root, key);
      model.insert(key);
    }
    CHECK(keys_of<TestType>(root) == count_up(n));

    // Erase half the keys in random order: leaves, nodes with one child, nodes with two.
    std::vector<std::uint64_t> doomed = shuffled(n, 0xE4A5E);
    doomed.resize(n / 2);
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < doomed.size(); ++i)
    {
      REQUIRE(erase<TestType>(root, doomed[i]));
      model.erase(doomed[i]);
      if (i % 16 == 0)
      {
        const std::vector<std::uint64_t> expected(model.begin(), model.end());
        mismatches += keys_of<TestType>(root) != expected ? 1u : 0u;
      }
    }
    CHECK(mismatches == 0);
    const std::vector<std::uint64_t> expected(model.begin(), model.end());
    CHECK(keys_of<TestType>(root) == expected);
    CHECK(tracked::live() == static_cast<long>(model.size()));
    CHECK(cache.stats().live_objects == model.size());
    CHECK(cache.verify());

    root.reset(); // every node's destructor destroys its two subtrees
    CHECK(tracked::live() == 0);
    CHECK(cache.stats().live_objects == 0);
  }
  check_every_object_lived_once(n);
}

TEMPLATE_LIST_TEST_CASE("a tree is torn down from the top by replacing the root with one child "
                        "at a time",
                        "[box][containers]", setups)
{
  hook_balance balance;
  tracked::reset();
  using cache_type = tree_cache<TestType>;
  const std::size_t n = 2 * cache_type::objects_per_slab;
  {
    cache_type cache;
    tree_box<TestType> root;
    for (const std::uint64_t key : shuffled(n, 0xB0770))
    {
      insert<TestType>(cache, root, key);
    }
    // Each step destroys the root and one whole subtree, and keeps the other: the kept subtree
    // belongs to the object being destroyed when the assignment starts.
    bool keep_left = true;
    std::size_t grew = 0;
    while (root)
    {
      const long before = tracked::live();
      if (keep_left)
      {
        root = std::move(root->left);
      }
      else
      {
        root = std::move(root->right);
      }
      keep_left = !keep_left;
      grew += tracked::live() >= before ? 1u : 0u;
      CHECK(static_cast<long>(keys_of<TestType>(root).size()) == tracked::live());
    }
    CHECK(grew == 0);
    CHECK(cache.stats().live_objects == 0);
    CHECK(cache.verify());
  }
  check_every_object_lived_once(n);
}

TEMPLATE_LIST_TEST_CASE("a vector of boxes survives growth, sorting, erasing and clearing",
                        "[box][containers]", setups)
{
  hook_balance balance;
  tracked::reset();
  using cache_type = typename TestType::template cache<tracked>;
  using box = typename TestType::template box<tracked>;
  const std::size_t n = 4 * cache_type::objects_per_slab;
  {
    cache_type cache;
    std::vector<box> boxes;
    std::size_t step = 0;
    for (const std::uint64_t value : shuffled(n, 0x5EC7))
    {
      test_cpus::index = step++ % test_cpus::count; // with per_cpu, every CPU's cache is used
      auto made = cache.emplace(value);
      REQUIRE(made);
      boxes.push_back(std::move(*made)); // growth moves every box already in the vector
    }
    const auto by_payload = [](const box& a, const box& b) { return a->payload() < b->payload(); };
    std::sort(boxes.begin(), boxes.end(), by_payload);
    std::vector<std::uint64_t> seen;
    for (const box& b : boxes)
    {
      seen.push_back(b->payload());
    }
    CHECK(seen == count_up(n));
    CHECK(tracked::destructions() == 0);

    std::rotate(boxes.begin(), boxes.begin() + static_cast<std::ptrdiff_t>(n / 3), boxes.end());
    std::swap(boxes.front(), boxes.back());
    test_cpus::index = 1;
    boxes.erase(boxes.begin() + static_cast<std::ptrdiff_t>(n / 4),
                boxes.begin() + static_cast<std::ptrdiff_t>(n / 2));
    CHECK(tracked::live() == static_cast<long>(n - n / 4));
    CHECK(cache.stats().live_objects == n - n / 4);

    auto front = cache.emplace(std::uint64_t{n});
    REQUIRE(front);
    boxes.insert(boxes.begin(), std::move(*front));
    test_cpus::index = 2;
    boxes.resize(n / 8);
    boxes.shrink_to_fit();
    CHECK(tracked::live() == static_cast<long>(n / 8));
    CHECK(boxes.front()->payload() == n);
    CHECK(cache.verify());
    test_cpus::index = 3;
    boxes.clear();
    CHECK(cache.stats().live_objects == 0);
    test_cpus::index = 0;
  }
  check_every_object_lived_once(n + 1);
}
