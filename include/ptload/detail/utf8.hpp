// detail/utf8.hpp: text decoding the way CPython's unpickler does it.
//
// Strings are kept as UTF-8. A Python str may hold lone surrogates (BINUNICODE is decoded with
// 'surrogatepass', UNICODE's \uXXXX escapes can name one); those are kept as their 3-byte
// generalised UTF-8 form (WTF-8) and the node is flagged, so the JSON writer can escape them.
#ifndef PTLOAD_DETAIL_UTF8_HPP
#define PTLOAD_DETAIL_UTF8_HPP

#include "../config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace ptload {
inline namespace v0 {
namespace detail {

/// (`String`: any std::basic_string of char.)
template <class String>
void append_utf8(String& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

/// Length of the valid UTF-8 sequence at p (1-4), or 0 with `bad_len` set to the length of the
/// maximal invalid subpart (what CPython replaces with one U+FFFD). Surrogates (ED A0..BF xx)
/// count as valid only when `surrogates` is true.
inline std::size_t utf8_sequence(const std::uint8_t* p, std::size_t n, bool surrogates, std::size_t& bad_len,
                                 std::uint32_t* cp_out = nullptr) {
    std::uint8_t b = p[0];
    bad_len = 1;
    if (b < 0x80) {
        if (cp_out) *cp_out = b;
        return 1;
    }
    std::size_t len;
    std::uint32_t cp;
    std::uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        cp = b & 0x0F;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED && !surrogates) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        cp = b & 0x07;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    for (std::size_t i = 1; i < len; ++i) {
        if (i >= n) {
            bad_len = i;
            return 0;
        }
        std::uint8_t c = p[i];
        if (c < (i == 1 ? lo : 0x80) || c > (i == 1 ? hi : 0xBF)) {
            bad_len = i;
            return 0;
        }
        cp = (cp << 6) | (c & 0x3F);
    }
    if (cp_out) *cp_out = cp;
    return len;
}

/// Whether p[0, n) is all ASCII: 8 bytes at a time, the last 8 read again rather than a byte
/// loop for the tail (most keys and names are short and ASCII).
inline bool all_ascii(const std::uint8_t* p, std::size_t n) noexcept {
    std::uint64_t seen = 0, w;
    if (n >= 8) {
        for (std::size_t i = 0; i + 8 <= n; i += 8) {
            std::memcpy(&w, p + i, 8);
            seen |= w;
        }
        std::memcpy(&w, p + n - 8, 8);
        seen |= w;
    } else {
        for (std::size_t i = 0; i < n; ++i) seen |= p[i];
    }
    return (seen & 0x8080808080808080ull) == 0;
}

/// utf8_validate for a text that all_ascii has already turned down: the full check alone.
inline std::size_t utf8_validate_mixed(const std::uint8_t* p, std::size_t n, bool surrogates, bool& has_surrogates) {
    has_surrogates = false;
    std::size_t i = 0;
    while (i < n) {
        // ASCII fast path, 8 bytes at a time.
        while (i + 8 <= n) {
            std::uint64_t w;
            std::memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        std::size_t bad;
        std::size_t len = utf8_sequence(p + i, n - i, surrogates, bad);
        if (!len) return i;
        if (len == 3 && p[i] == 0xED && p[i + 1] >= 0xA0) has_surrogates = true;
        i += len;
    }
    return n;
}

/// Checks UTF-8 (with surrogatepass when asked). Returns the offset of the first bad byte, or n.
inline std::size_t utf8_validate(const std::uint8_t* p, std::size_t n, bool surrogates, bool& has_surrogates) {
    has_surrogates = false;
    return all_ascii(p, n) ? n : utf8_validate_mixed(p, n, surrogates, has_surrogates);
}

/// Decodes bytes as strict or replacing UTF-8 into out. Returns the first bad offset in strict
/// mode (n when all good); in replace mode always n.
/// (`String`: any std::basic_string of char.)
template <class String>
std::size_t utf8_decode(const std::uint8_t* p, std::size_t n, bool replace, String& out) {
    out.clear();
    out.reserve(n);
    std::size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            out += static_cast<char>(p[i++]);
            continue;
        }
        std::size_t bad;
        std::size_t len = utf8_sequence(p + i, n - i, false, bad);
        if (len) {
            out.append(reinterpret_cast<const char*>(p + i), len);
            i += len;
        } else {
            if (!replace) return i;
            out += "\xEF\xBF\xBD";
            i += bad;
        }
    }
    return n;
}

/// (`String`: any std::basic_string of char.)
template <class String>
std::size_t ascii_decode(const std::uint8_t* p, std::size_t n, bool replace, String& out) {
    out.clear();
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (p[i] < 0x80) out += static_cast<char>(p[i]);
        else if (replace) out += "\xEF\xBF\xBD";
        else return i;
    }
    return n;
}

/// (`String`: any std::basic_string of char.)
template <class String>
void latin1_decode(const std::uint8_t* p, std::size_t n, String& out) {
    out.clear();
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) append_utf8(out, p[i]);
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
