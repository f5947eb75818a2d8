// detail/crc32.hpp: CRC-32 as zip stores it (ISO-HDLC: reflected polynomial 0xEDB88320, initial
// and final value inverted), the same as zlib's crc32().
//
//     std::uint32_t c = ptload::detail::crc32(p, n);           // one shot
//     c = ptload::detail::crc32_update(c, more, more_n);        // continue where c left off
//
// Slicing-by-8 handles eight bytes per step, which matters when a caller checks the CRC of a
// multi-gigabyte stored record. Its tables are built on first use, not at compile time: having
// the compiler evaluate their 3,800 steps cost every file that includes ptload about 3 % of
// its compile time, and building them takes microseconds once per process.
#ifndef PTLOAD_DETAIL_CRC32_HPP
#define PTLOAD_DETAIL_CRC32_HPP

#include "../config.hpp"

#include <cstddef>
#include <cstdint>

namespace ptload {
inline namespace v0 {
namespace detail {

/// Eight 256-entry tables: t[0] is the classic byte table, t[k][b] is the CRC of byte b followed
/// by k zero bytes (what slicing-by-8 needs to fold eight input bytes at once).
struct crc32_tables {
    std::uint32_t t[8][256];
};

inline crc32_tables make_crc32_tables() noexcept {
    crc32_tables tables{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t c = b;
        for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        tables.t[0][b] = c;
    }
    for (std::uint32_t b = 0; b < 256; ++b)
        for (int k = 1; k < 8; ++k) {
            const std::uint32_t prev = tables.t[k - 1][b];
            tables.t[k][b] = (prev >> 8) ^ tables.t[0][prev & 0xFFu];
        }
    return tables;
}

/// The tables, built by the first caller (a local static: initialised once, safely, when
/// threads race to it) and shared by every translation unit.
inline const crc32_tables& crc32_table() noexcept {
    static const crc32_tables tables = make_crc32_tables();
    return tables;
}

/// Continues a CRC-32: `crc` is the value returned for the bytes before `p` (0 to start).
inline std::uint32_t crc32_update(std::uint32_t crc, const std::uint8_t* p, std::size_t n) noexcept {
    const auto& t = crc32_table().t;
    std::uint32_t c = ~crc;
    while (n >= 8) {
        // Byte-wise loads keep this endian-independent; compilers fuse them.
        const std::uint32_t lo = c ^ (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
                                      std::uint32_t{p[3]} << 24);
        const std::uint32_t hi =
            std::uint32_t{p[4]} | std::uint32_t{p[5]} << 8 | std::uint32_t{p[6]} << 16 | std::uint32_t{p[7]} << 24;
        c = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^ t[4][lo >> 24] ^
            t[3][hi & 0xFFu] ^ t[2][(hi >> 8) & 0xFFu] ^ t[1][(hi >> 16) & 0xFFu] ^ t[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFFu];
    return ~c;
}

/// Same, for untyped memory.
inline std::uint32_t crc32_update(std::uint32_t crc, const void* p, std::size_t n) noexcept {
    return crc32_update(crc, static_cast<const std::uint8_t*>(p), n);
}

/// CRC-32 of n bytes.
inline std::uint32_t crc32(const void* p, std::size_t n) noexcept { return crc32_update(0u, p, n); }

/// Incremental form for data that arrives in pieces.
///     detail::crc32_state s; s.update(a, na); s.update(b, nb); s.value();
class crc32_state {
public:
    void update(const void* p, std::size_t n) noexcept { crc_ = crc32_update(crc_, p, n); }
    std::uint32_t value() const noexcept { return crc_; }

private:
    std::uint32_t crc_ = 0;
};

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
