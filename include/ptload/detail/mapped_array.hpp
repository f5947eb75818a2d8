// detail/mapped_array.hpp: big blocks taken straight from the system's virtual memory (Linux
// mmap), so that arrays grow by moving their pages rather than by copying them (mremap), and
// so that a big block asks for huge pages.
//
// An array that doubles copies everything it holds into a block it has never touched: each
// growth faults in every page of the new block, and a load that ends with a 20 MB edge array
// has faulted and copied some 40 MB on the way (a third of the page faults of a 1M-entry
// pickle). A remapped array faults in each page once, when it is first written. A mapping
// starts on a huge-page boundary and asks for huge pages: a fault per 2 MiB instead of per
// 4 KiB. The default memory gives every block of 2 MiB or more such a mapping (memory.hpp);
// memory functions, when set, receive every block instead.
#ifndef PTLOAD_DETAIL_MAPPED_ARRAY_HPP
#define PTLOAD_DETAIL_MAPPED_ARRAY_HPP

#include "huge_pages.hpp"

#include <cstddef>
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__linux__) && defined(MREMAP_MAYMOVE)
#define PTLOAD_HAS_MREMAP 1
#else
#define PTLOAD_HAS_MREMAP 0
#endif

namespace ptload {
inline namespace v0 {
namespace detail {

// Every mapping here is of huge_page_size bytes or more (the default memory maps no smaller
// block): a mapping's length is rounded up to whole huge pages, the same way by map, remap and
// unmap, so that they agree and its last huge page is whole.
inline std::size_t mapping_length(std::size_t bytes) noexcept { return (bytes + huge_page_size - 1) & ~(huge_page_size - 1); }

/// Asks for huge pages for a whole mapping. The whole of it, never an aligned part: advising
/// part of a mapping splits it in two, and mremap cannot grow a range that spans two (every
/// growth then fell back to a copy into a new block).
inline void advise_huge_mapping(void* p, std::size_t bytes) noexcept {
#if PTLOAD_HAS_MREMAP && defined(MADV_HUGEPAGE)
    (void)madvise(p, mapping_length(bytes), MADV_HUGEPAGE);
#else
    (void)p, (void)bytes;
#endif
}

/// A fresh zero-filled mapping of `bytes` (at least huge_page_size), starting on a huge-page
/// boundary and advised for huge pages unless `huge_pages` is false; null when the system
/// refuses.
inline void* map_array(std::size_t bytes, bool huge_pages = true) noexcept {
#if PTLOAD_HAS_MREMAP
    // Over-map by one huge page and give back the parts before the first boundary and after
    // the aligned length: both are multiples of the system's page size, whatever it is.
    if (bytes > SIZE_MAX - 2 * huge_page_size) return nullptr;
    const std::size_t length = mapping_length(bytes);
    const std::size_t span = length + huge_page_size;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    const auto base = reinterpret_cast<std::uintptr_t>(raw);
    const auto start = (base + huge_page_size - 1) & ~std::uintptr_t{huge_page_size - 1};
    if (start > base) (void)munmap(raw, start - base);
    const std::uintptr_t end = start + length;
    if (base + span > end) (void)munmap(reinterpret_cast<void*>(end), base + span - end);
    void* p = reinterpret_cast<void*>(start);
    if (huge_pages) advise_huge_mapping(p, bytes);
    return p;
#else
    (void)bytes, (void)huge_pages;
    return nullptr;
#endif
}

/// The mapping at p grown from `old_bytes` to `new_bytes`, its contents and its advice kept,
/// possibly at a new address; null when the system refuses (p is then unchanged).
inline void* remap_array(void* p, std::size_t old_bytes, std::size_t new_bytes) noexcept {
#if PTLOAD_HAS_MREMAP
    if (new_bytes > SIZE_MAX - huge_page_size) return nullptr;  // its length would not fit
    void* q = mremap(p, mapping_length(old_bytes), mapping_length(new_bytes), MREMAP_MAYMOVE);
    return q == MAP_FAILED ? nullptr : q;
#else
    (void)p, (void)old_bytes, (void)new_bytes;
    return nullptr;
#endif
}

inline void unmap_array(void* p, std::size_t bytes) noexcept {
#if PTLOAD_HAS_MREMAP
    (void)munmap(p, mapping_length(bytes));
#else
    (void)p, (void)bytes;
#endif
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
