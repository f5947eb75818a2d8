// detail/mapped_array.hpp: big growable arrays taken straight from the system's virtual
// memory, so that they grow by moving their pages rather than by copying them (Linux mremap).
//
// An array that doubles copies everything it holds into a block it has never touched: each
// growth faults in every page of the new block, and a load that ends with a 20 MB edge array
// has faulted and copied some 40 MB on the way (a third of the page faults of a 1M-entry
// pickle). A remapped array faults in each page once, when it is first written. Used only with
// ptload's default memory (no memory functions set: those receive every byte) and where
// mremap exists; elsewhere arrays grow through the memory functions as before.
#ifndef PTLOAD_DETAIL_MAPPED_ARRAY_HPP
#define PTLOAD_DETAIL_MAPPED_ARRAY_HPP

#include "../memory.hpp"

#include <cstddef>

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

/// Whether an array of `bytes` should be mapped: big, mremap here, no memory functions set.
inline bool should_map_array(std::size_t bytes) noexcept {
#if PTLOAD_HAS_MREMAP
    return bytes >= mapped_array_min_bytes && !current_memory().allocate;
#else
    (void)bytes;
    return false;
#endif
}

/// A fresh zero-filled mapping of `bytes`, page aligned; null when the system refuses.
inline void* map_array(std::size_t bytes) noexcept {
#if PTLOAD_HAS_MREMAP
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
#else
    (void)bytes;
    return nullptr;
#endif
}

/// The mapping at p grown from `old_bytes` to `new_bytes`, its contents kept, possibly at a new
/// address; null when the system refuses (p is then unchanged).
inline void* remap_array(void* p, std::size_t old_bytes, std::size_t new_bytes) noexcept {
#if PTLOAD_HAS_MREMAP
    void* q = mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE);
    return q == MAP_FAILED ? nullptr : q;
#else
    (void)p, (void)old_bytes, (void)new_bytes;
    return nullptr;
#endif
}

inline void unmap_array(void* p, std::size_t bytes) noexcept {
#if PTLOAD_HAS_MREMAP
    (void)munmap(p, bytes);
#else
    (void)p, (void)bytes;
#endif
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
