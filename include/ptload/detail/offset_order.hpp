// detail/offset_order.hpp: items put in file order by their byte offsets. A checkpoint of many
// small tensors has one record per tensor, declared in one order and stored in another (torch
// writes records sorted by key as text: 0, 1, 10, 100, ...), so a load sorts 100,000 offsets or
// more. A comparison sort of them costs more than reading the records; a radix sort over the
// bytes in which the offsets differ costs a few passes of the array.
#ifndef PTLOAD_DETAIL_OFFSET_ORDER_HPP
#define PTLOAD_DETAIL_OFFSET_ORDER_HPP

#include "../config.hpp"
#include "sort.hpp"

#include <cstddef>
#include <cstdint>
#include <utility>

namespace ptload {
inline namespace v0 {
namespace detail {

/// An item (an index into the caller's array) and the offset it is ordered by.
struct offset_item {
    std::uint64_t offset;
    std::uint32_t index;
};

/// Sorts `items` by offset; items with equal offsets keep their order (stable). Costs one pass
/// when they are sorted already, else one pass per byte in which the offsets differ.
/// `Items` is a vector of offset_item (any allocator).
template <class Items>
void sort_by_offset(Items& items) {
    auto earlier = [](const offset_item& a, const offset_item& b) { return a.offset < b.offset; };
    if (is_sorted(items.data(), items.data() + items.size(), earlier)) return;
    if (items.size() < 64) {  // insertion sort: stable, and no buffer
        insertion_sort(items.data(), items.size(), earlier);
        return;
    }
    std::uint64_t differ = 0;  // bits in which some offset differs from the first
    for (const offset_item& it : items) differ |= it.offset ^ items.front().offset;
    Items other(items.size());
    for (unsigned shift = 0; shift < 64; shift += 8) {
        if (((differ >> shift) & 0xFF) == 0) continue;  // every offset has the same byte here
        std::size_t start[257] = {};
        for (const offset_item& it : items) ++start[((it.offset >> shift) & 0xFF) + 1];
        for (std::size_t b = 1; b < 257; ++b) start[b] += start[b - 1];
        for (const offset_item& it : items) other[start[(it.offset >> shift) & 0xFF]++] = it;
        items.swap(other);
    }
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
