// detail/page_alias.hpp: big copies placed clear of 4 KiB aliasing.
//
// x86 processors copy big blocks with string instructions (the kernel's read() copies every
// page so, and the C library's memcpy blocks from a few KiB to a few MiB), and these run three
// to five times slower when the destination lies just past the source modulo 4 KiB (measured on
// an AMD EPYC: 1 to 24 bytes slow, 32 and more not): every load then seems to wait on a store
// just made at the same page offset. Copies 1 to 63 bytes ahead are treated so, a margin for
// other processors. A storage whose bytes start at such an offset in the file, read into a
// buffer aligned to 64 bytes, lands that way. Zip records are aligned to 64 bytes and never do;
// a legacy checkpoint's storages lie wherever the one before them ended. Such a read goes
// through a small staging buffer placed half a page away from both the source and the
// destination instead: two fast copies, the second from cache.
#ifndef PTLOAD_DETAIL_PAGE_ALIAS_HPP
#define PTLOAD_DETAIL_PAGE_ALIAS_HPP

#include "../config.hpp"
#include "../error.hpp"
#include "vector.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ptload {
inline namespace v0 {
namespace detail {

inline constexpr std::size_t alias_page = 4096;
/// Reads below this size are left as they are: what the slow copy costs them is small.
inline constexpr std::size_t alias_min_bytes = std::size_t{64} << 10;
/// Staged reads move this much at a time: a block that stays in the processor's cache
/// between the read and the copy out of it.
inline constexpr std::size_t alias_stage_bytes = std::size_t{128} << 10;

/// Whether a copy from source bytes at page phase `from` (a file offset, since the page cache
/// keeps file pages page-aligned; or the address of bytes in memory) to address `to` has the
/// destination 1-63 bytes past the source modulo the page.
inline bool copy_aliases(std::uintptr_t to, std::uint64_t from) noexcept {
    const std::uint64_t distance = (static_cast<std::uint64_t>(to) - from) & (alias_page - 1);
    return distance != 0 && distance < 64;
}

/// Reads n bytes at source position `at` into `to` through `read(position, dst, count)` (which
/// returns a status), staged when the direct copy would alias. `phase` is where the first byte
/// sits as copy_aliases counts it. The staging buffer is ptload's own memory (memory.hpp), as
/// its other working buffers are.
template <class Read>
status read_unaliased(std::uint64_t at, std::uint64_t phase, std::uint8_t* to, std::size_t n, Read&& read) {
    if (n < alias_min_bytes || !copy_aliases(reinterpret_cast<std::uintptr_t>(to), phase)) return read(at, to, n);
    fill_later_vector<std::uint8_t> stage;
    stage.resize(alias_stage_bytes + alias_page);
    const auto base = reinterpret_cast<std::uintptr_t>(stage.data());
    for (std::size_t done = 0; done < n;) {
        const std::size_t count = n - done < alias_stage_bytes ? n - done : alias_stage_bytes;
        // The staged bytes sit half a page from their source's phase, so that the copy out of
        // them lands half a page from the destination's (1-63 bytes) too.
        const std::size_t shift = static_cast<std::size_t>((phase + done + alias_page / 2 - base) & (alias_page - 1));
        std::uint8_t* staged = stage.data() + shift;
        PTLOAD_TRY(read(at + done, staged, count));
        std::memcpy(to + done, staged, count);
        done += count;
    }
    return {};
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
