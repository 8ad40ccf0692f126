// Prints how much of each slab holds objects (object bytes / slab bytes) for a range of object
// sizes and both common slab sizes, for the README's memory table.
//
// A slave slab loses only its header and occupied-slot bitmap; the master slab also carries
// the lock, reference count, available list and statistics, so both are shown. Only the
// layout constants are read, so no hook is called and none needs defining.
#include <attachable/slab.hpp>

#include <cstddef>
#include <cstdio>

namespace
{

template <std::size_t Bytes>
struct object
{
  unsigned char bytes[Bytes];
};

template <std::size_t Bytes, std::size_t SlabSize>
void print_row()
{
  using cache = attachable::slab_cache<object<Bytes>, attachable::spin_lock, SlabSize>;
  // The header sizes are internal, but they are what the utilisation is lost to.
  using layout = attachable::detail::cache_type<object<Bytes>, attachable::spin_lock, SlabSize>;
  const double slave =
      100.0 * static_cast<double>(cache::objects_per_slab * Bytes) / static_cast<double>(SlabSize);
  const double master = 100.0 * static_cast<double>(cache::objects_per_master * Bytes) /
                        static_cast<double>(SlabSize);
  std::printf("| %5zu | %6zu | %8zu | %9zu | %7.2f %% | %10zu | %10zu | %8.2f %% |\n", Bytes,
              SlabSize, layout::geometry.slave_slots_offset, cache::objects_per_slab, slave,
              layout::geometry.master_slots_offset, cache::objects_per_master, master);
}

template <std::size_t SlabSize>
void print_rows()
{
  print_row<4, SlabSize>();
  print_row<16, SlabSize>();
  print_row<64, SlabSize>();
  print_row<256, SlabSize>();
  print_row<1024, SlabSize>();
}

} // namespace

int main()
{
  std::printf("| T bytes | slab bytes | slave header | objects_per_slab | slave use | "
              "master header | objects_per_master | master use |\n");
  std::printf("|------:|-------:|---------:|----------:|----------:|-----------:|-----------:|"
              "-----------:|\n");
  print_rows<4096>();
  print_rows<65536>();
  return 0;
}
