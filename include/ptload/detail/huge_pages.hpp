// detail/huge_pages.hpp: hints to the system about big blocks' pages: that a large block be
// backed by huge pages, and that the pages of a block no longer read be given back.
//
// Filling a fresh gigabyte costs a page fault per 4 KiB page; with 2 MiB pages it costs 512
// times fewer, which halves the time to load a large checkpoint on Linux where transparent
// huge pages are granted on request (the usual "madvise" setting).
#ifndef PTLOAD_DETAIL_HUGE_PAGES_HPP
#define PTLOAD_DETAIL_HUGE_PAGES_HPP

#include <cstddef>
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ptload {
inline namespace v0 {
namespace detail {

/// The huge page size the hint is aimed at.
inline constexpr std::size_t huge_page_size = std::size_t{2} << 20;

/// Asks the kernel to back a big array with huge pages: a pickle of millions of values touches
/// every page of its node array once, and 4 KiB page faults were a third of the load time.
/// Only a hint; a no-op where unsupported.
inline void prefer_huge_pages(void* p, std::size_t n) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr std::uintptr_t huge = huge_page_size;
    auto begin = (reinterpret_cast<std::uintptr_t>(p) + huge - 1) & ~(huge - 1);
    auto end = (reinterpret_cast<std::uintptr_t>(p) + n) & ~(huge - 1);
    if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

/// Gives the whole pages inside [p, p + n) back to the system: they read as zeros afterwards
/// (Linux MADV_DONTNEED). For a block ptload owns and will not read there again: the part of
/// a pickle's input already parsed. Returns the end of what was given back (p when nothing
/// was: a range under a page, or no such call here).
inline const std::uint8_t* release_pages(const std::uint8_t* p, std::size_t n) noexcept {
#if defined(__linux__) && defined(MADV_DONTNEED)
    constexpr std::uintptr_t page = 4096;  // a multiple of it on other page sizes fails harmlessly
    const auto begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
    const auto end = (reinterpret_cast<std::uintptr_t>(p) + n) & ~(page - 1);
    if (end > begin && madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) == 0)
        return p + (end - reinterpret_cast<std::uintptr_t>(p));
#else
    (void)n;
#endif
    return p;
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
