// detail/bigint.hpp: Python ints beyond 64 bits, kept exactly as two's complement
// little-endian bytes (the LONG1/LONG4 encoding) and converted to and from decimal text.
#ifndef PTLOAD_DETAIL_BIGINT_HPP
#define PTLOAD_DETAIL_BIGINT_HPP

#include "../config.hpp"
#include "../memory.hpp"
#include "vector.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ptload {
inline namespace v0 {
namespace detail {

/// Drops sign-extension bytes that carry no information (keeps at least one byte).
inline std::size_t minimal_twos_length(const std::uint8_t* p, std::size_t n) {
    while (n > 1) {
        std::uint8_t top = p[n - 1], next = p[n - 2];
        if ((top == 0x00 && !(next & 0x80)) || (top == 0xFF && (next & 0x80))) --n;
        else break;
    }
    return n;
}

/// The value as int64 if n (after minimisation) is at most 8 bytes.
inline bool twos_to_int64(const std::uint8_t* p, std::size_t n, std::int64_t& out) {
    if (n == 0) {
        out = 0;
        return true;
    }
    n = minimal_twos_length(p, n);
    if (n > 8) return false;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    if (n < 8 && (p[n - 1] & 0x80)) v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
    out = static_cast<std::int64_t>(v);
    return true;
}

/// Digits of `base` (2 to 36; no sign, no '_') to two's complement LE bytes, negated if
/// `negative`.
inline vector<std::uint8_t> digits_to_twos(std::string_view digits, unsigned base, bool negative) {
    vector<std::uint32_t> mag;  // little-endian base 2^32
    for (char ch : digits) {
        unsigned d = ch <= '9' ? static_cast<unsigned>(ch - '0') : static_cast<unsigned>((ch | 0x20) - 'a' + 10);
        std::uint64_t carry = d;
        for (auto& limb : mag) {
            std::uint64_t v = static_cast<std::uint64_t>(limb) * base + carry;
            limb = static_cast<std::uint32_t>(v);
            carry = v >> 32;
        }
        if (carry) mag.push_back(static_cast<std::uint32_t>(carry));
    }
    vector<std::uint8_t> bytes;
    for (auto limb : mag)
        for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<std::uint8_t>(limb >> (8 * i)));
    bytes.push_back(0);  // room for the sign bit
    if (negative) {
        unsigned carry = 1;
        for (auto& b : bytes) {
            unsigned v = static_cast<std::uint8_t>(~b) + carry;
            b = static_cast<std::uint8_t>(v);
            carry = v >> 8;
        }
    }
    bytes.resize(minimal_twos_length(bytes.data(), bytes.size()));
    return bytes;
}

inline vector<std::uint8_t> decimal_to_twos(std::string_view digits, bool negative) {
    return digits_to_twos(digits, 10, negative);
}

/// Two's complement LE bytes to decimal text with a '-' when negative.
inline std::string twos_to_decimal(const std::uint8_t* p, std::size_t n) {
    if (n == 0) return "0";
    bool negative = (p[n - 1] & 0x80) != 0;
    vector<std::uint8_t> mag(p, p + n);
    if (negative) {
        unsigned carry = 1;
        for (auto& b : mag) {
            unsigned v = static_cast<std::uint8_t>(~b) + carry;
            b = static_cast<std::uint8_t>(v);
            carry = v >> 8;
        }
    }
    vector<std::uint32_t> limbs((mag.size() + 3) / 4, 0);
    for (std::size_t i = 0; i < mag.size(); ++i) limbs[i / 4] |= static_cast<std::uint32_t>(mag[i]) << (8 * (i % 4));
    std::string out;
    // Repeated division by 10^9 yields nine digits per pass.
    while (!limbs.empty()) {
        std::uint64_t rem = 0;
        for (std::size_t i = limbs.size(); i-- > 0;) {
            std::uint64_t cur = (rem << 32) | limbs[i];
            limbs[i] = static_cast<std::uint32_t>(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
        for (int d = 0; d < 9; ++d) {
            out += static_cast<char>('0' + rem % 10);
            rem /= 10;
            if (limbs.empty() && rem == 0) break;
        }
    }
    while (out.size() > 1 && out.back() == '0') out.pop_back();
    if (negative) out += '-';
    return std::string(out.rbegin(), out.rend());
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
