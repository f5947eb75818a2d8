// detail/offset_order.hpp: items put in file order by their byte offsets. A checkpoint of many
// small tensors has one record per tensor, declared in one order and stored in another (torch
// writes records sorted by key as text: 0, 1, 10, 100, ...), so a load sorts 100,000 offsets or
// more. A comparison sort of them costs more than reading the records; a radix sort over the
// bits in which the offsets differ costs a few passes of the array.
#ifndef PTLOAD_DETAIL_OFFSET_ORDER_HPP
#define PTLOAD_DETAIL_OFFSET_ORDER_HPP

#include "../config.hpp"
#include "sort.hpp"
#include "vector.hpp"

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
/// when they are sorted already, else one pass per digit of the bits in which the offsets
/// differ (digits of up to 11 bits: 2,048 buckets, whose fronts stay in cache). Bits in which
/// no offset differs are skipped, at either end: the data of zip records all start on 64-byte
/// boundaries, so 100,000 records in a 35 MB file differ in 20 bits, two passes.
/// `Items` is a vector of offset_item (any allocator).
template <class Items>
void sort_by_offset(Items& items) {
    auto earlier = [](const offset_item& a, const offset_item& b) { return a.offset < b.offset; };
    if (is_sorted(items.data(), items.data() + items.size(), earlier)) return;
    if (items.size() < 64) {  // insertion sort: stable, and no buffer
        insertion_sort(items.data(), items.size(), earlier);
        return;
    }
    std::uint64_t differ = 0;  // bits in which some offset differs from the first (not all: unsorted)
    for (const offset_item& it : items) differ |= it.offset ^ items.front().offset;
    unsigned low = 0, high = 64;  // differing bits lie in [low, high)
    while (!((differ >> low) & 1)) ++low;
    while (!((differ >> (high - 1)) & 1)) --high;
    constexpr unsigned max_digit = 11;
    const unsigned passes = (high - low + max_digit - 1) / max_digit;
    const unsigned digit = (high - low + passes - 1) / passes;
    const std::uint64_t mask = (std::uint64_t{1} << digit) - 1;
    Items other(items.size());
    const std::size_t buckets = static_cast<std::size_t>(mask) + 1;
    vector<std::size_t> start(buckets + 1);  // 16 KiB at most: not on the stack of a small target
    for (unsigned shift = low; shift < high; shift += digit) {
        for (std::size_t b = 0; b <= buckets; ++b) start[b] = 0;
        for (const offset_item& it : items) ++start[((it.offset >> shift) & mask) + 1];
        for (std::size_t b = 1; b <= buckets; ++b) start[b] += start[b - 1];
        for (const offset_item& it : items) other[start[(it.offset >> shift) & mask]++] = it;
        items.swap(other);
    }
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
