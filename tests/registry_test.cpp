// Names and the registry: for_each_cache lists every live hierarchy with its name, geometry and
// counters, and format_slabinfo writes them as a table, truncating to whole lines.
//
// The registry is process-wide, so each test looks only at the caches it made (by name, or by
// an object size no other cache of the test uses) and never assumes the list is empty.
#include "catch.hpp"
#include "hook_balance.hpp"

#include <attachable/registry.hpp>
#include <attachable/slab.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace
{

struct entry
{
  std::string name;
  const char* name_pointer = nullptr;
  attachable::cache_info info;
};

std::vector<entry> listed()
{
  std::vector<entry> entries;
  entries.reserve(64); // f must not create or destroy caches; a vector is not a cache
  attachable::for_each_cache(
      [&entries](const attachable::cache_info& info) {
        entries.push_back({info.name, info.name, info});
      });
  return entries;
}

std::size_t count_named(const std::vector<entry>& entries, const std::string& name)
{
  std::size_t n = 0;
  for (const entry& e : entries)
  {
    n += e.name == name ? 1u : 0u;
  }
  return n;
}

const entry* find_named(const std::vector<entry>& entries, const std::string& name)
{
  for (const entry& e : entries)
  {
    if (e.name == name)
    {
      return &e;
    }
  }
  return nullptr;
}

void check_same(const attachable::slab_stats& a, const attachable::slab_stats& b)
{
  CHECK(a.slabs == b.slabs);
  CHECK(a.empty_slabs == b.empty_slabs);
  CHECK(a.live_objects == b.live_objects);
  CHECK(a.capacity == b.capacity);
  CHECK(a.peak_live_objects == b.peak_live_objects);
  CHECK(a.reserved_objects == b.reserved_objects);
  CHECK(a.hook_allocs == b.hook_allocs);
  CHECK(a.hook_frees == b.hook_frees);
  CHECK(a.hook_failures == b.hook_failures);
  CHECK(a.cached_objects == b.cached_objects);
}

struct reading
{
  std::uint64_t timestamp = 0;
  std::int32_t value = 0;
};

// Sizes no other cache in these tests uses, to find unnamed caches by.
struct odd_sized
{
  unsigned char bytes[44] = {};
};
struct other_odd_sized
{
  unsigned char bytes[52] = {};
};

using reading_cache = attachable::slab_cache<reading, attachable::spin_lock, 4096>;

constinit reading_cache global_readings("global readings");

std::string slabinfo()
{
  const std::size_t needed = attachable::format_slabinfo(nullptr, 0);
  std::string text(needed + 1, '\0');
  const std::size_t written = attachable::format_slabinfo(text.data(), text.size());
  REQUIRE(written == needed);
  REQUIRE(std::strlen(text.c_str()) == needed);
  text.resize(needed);
  return text;
}

std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size())
  {
    const std::size_t end = text.find('\n', start);
    REQUIRE(end != std::string::npos); // every line ends with a newline
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

struct row
{
  std::string name;
  std::size_t live = 0;
  std::size_t cached = 0;
  std::size_t capacity = 0;
  std::size_t object_size = 0;
  std::size_t objects_per_slab = 0;
  std::size_t slab_size = 0;
  std::size_t slabs = 0;
  std::size_t empty = 0;
};

// Rows of caches whose names have no spaces, parsed by whitespace.
std::vector<row> rows_of(const std::vector<std::string>& lines)
{
  std::vector<row> rows;
  for (std::size_t i = 2; i < lines.size(); ++i)
  {
    std::istringstream in(lines[i]);
    row r;
    in >> r.name >> r.live >> r.cached >> r.capacity >> r.object_size >> r.objects_per_slab >>
        r.slab_size >> r.slabs >> r.empty;
    if (in && (in >> std::ws).eof())
    {
      rows.push_back(r);
    }
  }
  return rows;
}

const row* find_row(const std::vector<row>& rows, const std::string& name, std::size_t object_size)
{
  const row* found = nullptr;
  for (const row& r : rows)
  {
    if (r.name == name && r.object_size == object_size)
    {
      if (found != nullptr)
      {
        FAIL("two rows for " << name);
      }
      found = &r;
    }
  }
  return found;
}

template <class Cache>
void check_row(const row* r, const Cache& cache)
{
  REQUIRE(r != nullptr);
  const attachable::slab_stats s = cache.stats();
  CHECK(r->live == s.live_objects);
  CHECK(r->cached == s.cached_objects);
  CHECK(r->capacity == s.capacity);
  CHECK(r->object_size == sizeof(typename Cache::value_type));
  CHECK(r->objects_per_slab == Cache::objects_per_slab);
  CHECK(r->slab_size == Cache::slab_size);
  CHECK(r->slabs == s.slabs);
  CHECK(r->empty == s.empty_slabs);
}

} // namespace

TEST_CASE("a named cache is listed from its first use with its name, geometry and counters",
          "[registry]")
{
  const test_support::hook_balance balance;
  const char* const name = "sensor readings";
  {
    reading_cache readings(name);
    CHECK(readings.name() == name);
    CHECK(count_named(listed(), name) == 0); // no master yet

    std::vector<reading_cache::box> boxes;
    for (std::int32_t i = 0; i < 300; ++i)
    {
      auto box = readings.emplace(std::uint64_t{1}, i);
      REQUIRE(box.has_value());
      boxes.push_back(std::move(*box));
    }
    boxes.resize(200);
    const std::vector<entry> entries = listed();
    REQUIRE(count_named(entries, name) == 1);
    const entry& e = *find_named(entries, name);
    CHECK(e.name_pointer == name); // the caller's string, not a copy
    CHECK(e.info.object_size == sizeof(reading));
    CHECK(e.info.slab_size == 4096);
    CHECK(e.info.objects_per_slab == reading_cache::objects_per_slab);
    CHECK(e.info.objects_per_master == reading_cache::objects_per_master);
    check_same(e.info.stats, readings.stats());
    CHECK(e.info.stats.live_objects == 200);
    CHECK(e.info.stats.peak_live_objects == 300);
  }
  CHECK(count_named(listed(), name) == 0);
}

TEST_CASE("a constinit global cache keeps its name and is listed once used", "[registry]")
{
  CHECK(std::strcmp(global_readings.name(), "global readings") == 0);
  auto box = global_readings.alloc();
  REQUIRE(box.has_value());
  const std::vector<entry> entries = listed();
  REQUIRE(count_named(entries, "global readings") == 1);
  CHECK(find_named(entries, "global readings")->info.stats.live_objects >= 1);
  box->reset();
  // Give the master back now: at exit the recording hooks' state is destroyed before this
  // global, which would then return its slab to a hook that no longer knows it.
  global_readings = reading_cache("global readings");
  CHECK(count_named(listed(), "global readings") == 0);
}

TEST_CASE("an unnamed cache is listed as (unnamed)", "[registry]")
{
  const test_support::hook_balance balance;
  using cache_type = attachable::slab_cache<odd_sized, attachable::spin_lock, 1024>;
  cache_type cache;
  CHECK(cache.name() == nullptr);
  auto box = cache.alloc();
  REQUIRE(box.has_value());
  std::size_t found = 0;
  for (const entry& e : listed())
  {
    if (e.info.object_size == sizeof(odd_sized))
    {
      ++found;
      CHECK(e.name == "(unnamed)");
      CHECK(e.info.slab_size == 1024);
      CHECK(e.info.stats.live_objects == 1);
    }
  }
  CHECK(found == 1);
}

TEST_CASE("copies share the hierarchy and its name; a copy made before first use is another "
          "cache with the same name",
          "[registry]")
{
  const test_support::hook_balance balance;
  reading_cache original("shared name");
  reading_cache early_copy = original; // no master yet: independent
  auto first = original.alloc();
  REQUIRE(first.has_value());
  reading_cache late_copy = original;
  reading_cache moved = std::move(late_copy);
  CHECK(moved.shares_with(original));
  CHECK(std::strcmp(moved.name(), "shared name") == 0);
  CHECK(std::strcmp(early_copy.name(), "shared name") == 0);
  CHECK(count_named(listed(), "shared name") == 1);

  auto second = early_copy.alloc();
  REQUIRE(second.has_value());
  CHECK_FALSE(early_copy.shares_with(original));
  CHECK(count_named(listed(), "shared name") == 2);
}

TEST_CASE("create(name) names the cache and lists it at once", "[registry]")
{
  const test_support::hook_balance balance;
  auto made = reading_cache::create("made by create");
  REQUIRE(made.has_value());
  CHECK(std::strcmp(made->name(), "made by create") == 0);
  const std::vector<entry> entries = listed();
  REQUIRE(count_named(entries, "made by create") == 1);
  CHECK(find_named(entries, "made by create")->info.stats.slabs == 1);
}

TEST_CASE("a hierarchy stays listed while a box outlives its last handle, and leaves with the "
          "last object",
          "[registry]")
{
  const test_support::hook_balance balance;
  std::optional<reading_cache::box> survivor;
  {
    reading_cache cache("outlived");
    auto box = cache.alloc();
    REQUIRE(box.has_value());
    survivor.emplace(std::move(*box));
  }
  const std::vector<entry> entries = listed();
  REQUIRE(count_named(entries, "outlived") == 1);
  CHECK(find_named(entries, "outlived")->info.stats.live_objects == 1);
  survivor.reset();
  CHECK(count_named(listed(), "outlived") == 0);
}

TEST_CASE("for_each_cache lists the newest hierarchy first", "[registry]")
{
  const test_support::hook_balance balance;
  auto first = reading_cache::create("order first");
  auto second = reading_cache::create("order second");
  auto third = reading_cache::create("order third");
  REQUIRE(third.has_value());
  std::vector<std::string> order;
  for (const entry& e : listed())
  {
    if (e.name.rfind("order ", 0) == 0)
    {
      order.push_back(e.name);
    }
  }
  CHECK(order == std::vector<std::string>{"order third", "order second", "order first"});
}

TEST_CASE("slabinfo has two header lines, then one aligned row per cache with its numbers",
          "[registry][slabinfo]")
{
  const test_support::hook_balance balance;
  using word_cache = attachable::slab_cache<std::uint32_t, attachable::spin_lock, 4096>;
  using cached_cache =
      attachable::slab_cache<reading, attachable::spin_lock, 1024, attachable::per_thread>;
  using unnamed_cache = attachable::slab_cache<other_odd_sized, attachable::no_lock, 1024>;
  word_cache words("slabinfo_words");
  cached_cache cached("slabinfo_cached");
  unnamed_cache unnamed;
  std::vector<word_cache::box> word_boxes;
  std::vector<cached_cache::box> cached_boxes;
  for (std::uint32_t i = 0; i < 2500; ++i)
  {
    auto box = words.emplace(i);
    REQUIRE(box.has_value());
    word_boxes.push_back(std::move(*box));
  }
  word_boxes.resize(1000); // leaves an empty slave
  for (int i = 0; i < 40; ++i)
  {
    auto box = cached.alloc();
    REQUIRE(box.has_value());
    cached_boxes.push_back(std::move(*box));
  }
  cached_boxes.resize(25); // 15 go to this thread's cache
  auto lone = unnamed.alloc();
  REQUIRE(lone.has_value());

  const std::string text = slabinfo();
  const std::vector<std::string> lines = lines_of(text);
  REQUIRE(lines.size() >= 5);
  CHECK(lines[0] == "# attachable slabinfo 1.0");
  const std::string& header = lines[1];
  CHECK(header == "# name                   <live> <cached> <capacity> <objsize> <objperslab> "
                  "<slabsize> <slabs> <empty>");

  // One row per listed hierarchy, and each number ends under the end of its column's title.
  CHECK(lines.size() == 2 + listed().size());
  std::vector<std::size_t> column_ends;
  for (std::size_t i = 0; i < header.size(); ++i)
  {
    if (header[i] == '>')
    {
      column_ends.push_back(i);
    }
  }
  REQUIRE(column_ends.size() == 8);
  for (std::size_t i = 2; i < lines.size(); ++i)
  {
    INFO("row: " << lines[i]);
    CHECK(lines[i].size() == header.size());
    for (const std::size_t end : column_ends)
    {
      REQUIRE(end < lines[i].size());
      CHECK(lines[i][end] >= '0');
      CHECK(lines[i][end] <= '9');
    }
  }

  const std::vector<row> rows = rows_of(lines);
  check_row(find_row(rows, "slabinfo_words", sizeof(std::uint32_t)), words);
  check_row(find_row(rows, "slabinfo_cached", sizeof(reading)), cached);
  check_row(find_row(rows, "(unnamed)", sizeof(other_odd_sized)), unnamed);
  const row& word_row = *find_row(rows, "slabinfo_words", sizeof(std::uint32_t));
  CHECK(word_row.live == 1000);
  CHECK(word_row.slab_size == 4096);
  CHECK(word_row.empty >= 1);
  const row& cached_row = *find_row(rows, "slabinfo_cached", sizeof(reading));
  CHECK(cached_row.live == 25);
  CHECK(cached_row.cached >= 15);
  CHECK(find_row(rows, "(unnamed)", sizeof(other_odd_sized))->live == 1);

  cached.drain();
}

TEST_CASE("a name longer than its column is written whole", "[registry][slabinfo]")
{
  const test_support::hook_balance balance;
  const char* const name = "a_cache_name_much_longer_than_the_column";
  reading_cache cache(name);
  auto box = cache.alloc();
  REQUIRE(box.has_value());
  const std::vector<std::string> lines = lines_of(slabinfo());
  std::size_t found = 0;
  for (const std::string& line : lines)
  {
    found += line.rfind(std::string(name) + " ", 0) == 0 ? 1u : 0u;
  }
  CHECK(found == 1);
}

TEST_CASE("slabinfo into a buffer too small keeps whole lines only and returns the length needed",
          "[registry][slabinfo]")
{
  const test_support::hook_balance balance;
  reading_cache first("truncation_first");
  reading_cache second("truncation_second");
  auto a = first.alloc();
  auto b = second.alloc();
  REQUIRE(b.has_value());

  const std::string full = slabinfo();
  const std::size_t needed = full.size();
  REQUIRE(needed > 100);
  constexpr char canary = '\x5A';
  constexpr std::size_t guard = 16;
  std::vector<char> buffer(needed + 2 + guard);
  for (std::size_t size = 0; size <= needed + 2; ++size)
  {
    INFO("buffer size " << size);
    std::fill(buffer.begin(), buffer.end(), canary);
    const std::size_t returned = attachable::format_slabinfo(buffer.data(), size);
    CHECK(returned == needed);
    // Nothing is written at or past `size`: a size of 0 writes nothing at all.
    for (std::size_t i = size; i < size + guard; ++i)
    {
      if (buffer[i] != canary)
      {
        FAIL("byte " << i << " written");
      }
    }
    if (size == 0)
    {
      continue;
    }
    const std::size_t length = std::strlen(buffer.data());
    REQUIRE(length < size);
    // The longest run of whole lines that fits with its terminating NUL.
    std::size_t expected = 0;
    for (std::size_t end = full.find('\n'); end != std::string::npos && end + 1 < size;
         end = full.find('\n', end + 1))
    {
      expected = end + 1;
    }
    CHECK(length == expected);
    CHECK(std::string(buffer.data(), length) == full.substr(0, length));
  }
  CHECK(attachable::format_slabinfo(nullptr, 0) == needed);
}
