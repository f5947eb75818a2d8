// detail/mapped_array.hpp: big growable arrays taken straight from the system's virtual
// memory, so that they grow by moving their pages rather than by copying them (Linux mremap).
//
// An array that doubles copies everything it holds into a block it has never touched: each
// growth faults in every page of the new block, and a load that ends with a 20 MB edge array
// has faulted and copied some 40 MB on the way (a third of the page faults of a 1M-entry
// pickle). A remapped array faults in each page once, when it is first written. A mapping of
// 2 MiB or more starts on a huge-page boundary and asks for huge pages, a fault per 2 MiB; the
// default memory gives every block that big such a mapping (memory.hpp). Used only with
// ptload's default memory (no memory functions set: those receive every byte) and where
// mremap exists; elsewhere arrays grow through the memory functions as before.
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

/// Arrays of at least this many bytes are mapped (a system call each way is nothing next to
/// faulting in 256 pages).
inline constexpr std::size_t mapped_array_min_bytes = std::size_t{1} << 20;

/// The length a mapping for `bytes` really has: a big one ends on a huge-page boundary, so
/// that its last huge page is whole (map, remap and unmap all go through this, and agree).
inline std::size_t mapping_length(std::size_t bytes) noexcept {
    return bytes >= huge_page_size ? (bytes + huge_page_size - 1) & ~(huge_page_size - 1) : bytes;
}

/// Asks for huge pages for a whole mapping. The whole of it, never an aligned part: advising
/// part of a mapping splits it in two, and mremap cannot grow a range that spans two (every
/// growth then fell back to a copy into a new block).
inline void advise_huge_mapping(void* p, std::size_t bytes) noexcept {
#if PTLOAD_HAS_MREMAP && defined(MADV_HUGEPAGE)
    if (bytes >= huge_page_size) (void)madvise(p, mapping_length(bytes), MADV_HUGEPAGE);
#else
    (void)p, (void)bytes;
#endif
}

/// A fresh zero-filled mapping of `bytes`, page aligned; null when the system refuses. A big
/// one starts on a huge-page boundary and is advised for huge pages, so that filling it costs
/// a page fault per 2 MiB rather than per 4 KiB (a 1M-entry pickle's document is 190 MB).
inline void* map_array(std::size_t bytes) noexcept {
#if PTLOAD_HAS_MREMAP
    const std::size_t length = mapping_length(bytes);
    if (length < huge_page_size) {
        void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? nullptr : p;
    }
    // Over-map by one huge page and give back the parts before the first boundary and after
    // the aligned length: both are multiples of the system's page size, whatever it is.
    if (length > SIZE_MAX - huge_page_size) return nullptr;
    const std::size_t span = length + huge_page_size;
    void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return nullptr;
    const auto base = reinterpret_cast<std::uintptr_t>(raw);
    const auto start = (base + huge_page_size - 1) & ~std::uintptr_t{huge_page_size - 1};
    if (start > base) (void)munmap(raw, start - base);
    const std::uintptr_t end = start + length;
    if (base + span > end) (void)munmap(reinterpret_cast<void*>(end), base + span - end);
    void* p = reinterpret_cast<void*>(start);
    advise_huge_mapping(p, bytes);
    return p;
#else
    (void)bytes;
    return nullptr;
#endif
}

/// The mapping at p grown from `old_bytes` to `new_bytes`, its contents kept, possibly at a new
/// address; null when the system refuses (p is then unchanged).
inline void* remap_array(void* p, std::size_t old_bytes, std::size_t new_bytes) noexcept {
#if PTLOAD_HAS_MREMAP
    void* q = mremap(p, mapping_length(old_bytes), mapping_length(new_bytes), MREMAP_MAYMOVE);
    if (q == MAP_FAILED) return nullptr;
    if (old_bytes < huge_page_size) advise_huge_mapping(q, new_bytes);  // a bigger one kept its advice
    return q;
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
