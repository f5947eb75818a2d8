// detail/text.hpp: the text arguments of protocol-0 opcodes, parsed as CPython parses them:
// INT/LONG (int(text, 0)), FLOAT (float(text)), STRING (quoted, codecs.escape_decode) and
// UNICODE (raw-unicode-escape).
#ifndef PTLOAD_DETAIL_TEXT_HPP
#define PTLOAD_DETAIL_TEXT_HPP

#include "bigint.hpp"
#include "pow2.hpp"
#include "utf8.hpp"
#include "vector.hpp"

#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

namespace ptload {
inline namespace v0 {
namespace detail {

inline bool is_py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

inline std::string_view strip(std::string_view s) {
    while (!s.empty() && is_py_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_py_space(s.back())) s.remove_suffix(1);
    return s;
}

/// The outcome of parsing an integer literal.
struct parsed_int {
    enum status_t { ok, bad, too_long } status = bad;
    bool small = true;               ///< value fits int64
    std::int64_t value = 0;
    vector<std::uint8_t> big;   ///< two's complement LE when !small
};

inline int digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return 99;
}

/// Python's int(text, 0): optional sign, 0x/0o/0b prefixes, '_' between digits.
inline parsed_int parse_python_int(std::string_view text, std::size_t max_digits) {
    parsed_int r;
    std::string_view s = strip(text);
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    int base = 10;
    if (s.size() >= 2 && s[0] == '0') {
        char p = static_cast<char>(s[1] | 0x20);
        if (p == 'x') base = 16;
        else if (p == 'o') base = 8;
        else if (p == 'b') base = 2;
        if (base != 10) {
            s.remove_prefix(2);
            if (!s.empty() && s[0] == '_') s.remove_prefix(1);
        }
    }
    string digits;
    bool last_underscore = true;  // no leading '_', no doubled '_'
    for (char c : s) {
        if (c == '_') {
            if (last_underscore) return r;
            last_underscore = true;
            continue;
        }
        if (digit_value(c) >= base) return r;
        digits += c;
        last_underscore = false;
    }
    if (digits.empty() || last_underscore) return r;
    // base 0 forbids leading zeros in a non-zero decimal ("010" is an error in Python 3)
    if (base == 10 && digits.size() > 1 && digits[0] == '0' && digits.find_first_not_of('0') != string::npos)
        return r;
    if (digits.size() > max_digits) {
        r.status = parsed_int::too_long;
        return r;
    }
    r.big = digits_to_twos(digits, static_cast<unsigned>(base), negative);
    r.status = parsed_int::ok;
    r.small = twos_to_int64(r.big.data(), r.big.size(), r.value);
    if (r.small) r.big.clear();
    return r;
}

/// An unsigned integer in 32-bit limbs, least significant first, never with a zero top limb:
/// just the operations exact decimal-to-binary conversion needs. Callers bound the sizes.
class decimal_bignum {
public:
    explicit decimal_bignum(std::uint32_t v) {
        if (v) limbs_.push_back(v);
    }
    bool is_zero() const noexcept { return limbs_.empty(); }
    /// *this = *this * m + a
    void mul_add(std::uint32_t m, std::uint32_t a) {
        std::uint64_t carry = a;
        for (auto& l : limbs_) {
            std::uint64_t v = std::uint64_t{l} * m + carry;
            l = static_cast<std::uint32_t>(v);
            carry = v >> 32;
        }
        if (carry) limbs_.push_back(static_cast<std::uint32_t>(carry));
    }
    void mul_pow10(std::uint32_t e) {
        for (; e >= 9; e -= 9) mul_add(1000000000u, 0);
        std::uint32_t p = 1;
        while (e--) p *= 10;
        mul_add(p, 0);
    }
    void shift_left(std::uint32_t bits) {
        if (is_zero()) return;
        std::uint32_t words = bits / 32, b = bits % 32;
        if (b) {
            std::uint32_t carry = 0;
            for (auto& l : limbs_) {
                std::uint32_t next = l >> (32 - b);
                l = (l << b) | carry;
                carry = next;
            }
            if (carry) limbs_.push_back(carry);
        }
        if (words) {  // whole words of zeros below
            const std::size_t n = limbs_.size();
            limbs_.resize(n + words);
            std::memmove(limbs_.data() + words, limbs_.data(), n * sizeof(std::uint32_t));
            std::memset(limbs_.data(), 0, words * sizeof(std::uint32_t));
        }
    }
    void shift_right_one() {
        for (std::size_t i = 0; i < limbs_.size(); ++i)
            limbs_[i] = (limbs_[i] >> 1) | (i + 1 < limbs_.size() ? limbs_[i + 1] << 31 : 0u);
        trim();
    }
    std::uint32_t bit_length() const noexcept {
        if (is_zero()) return 0;
        std::uint32_t top = limbs_.back(), n = 0;
        while (top) {
            ++n;
            top >>= 1;
        }
        return static_cast<std::uint32_t>(32 * (limbs_.size() - 1)) + n;
    }
    int compare(const decimal_bignum& o) const noexcept {
        if (limbs_.size() != o.limbs_.size()) return limbs_.size() < o.limbs_.size() ? -1 : 1;
        for (std::size_t i = limbs_.size(); i-- > 0;)
            if (limbs_[i] != o.limbs_[i]) return limbs_[i] < o.limbs_[i] ? -1 : 1;
        return 0;
    }
    /// *this -= o, where o <= *this.
    void subtract(const decimal_bignum& o) {
        std::int64_t borrow = 0;
        for (std::size_t i = 0; i < limbs_.size(); ++i) {
            std::int64_t v = std::int64_t{limbs_[i]} - (i < o.limbs_.size() ? std::int64_t{o.limbs_[i]} : 0) - borrow;
            borrow = v < 0;
            limbs_[i] = static_cast<std::uint32_t>(v + (borrow << 32));
        }
        trim();
    }

private:
    void trim() {
        while (!limbs_.empty() && !limbs_.back()) limbs_.pop_back();
    }
    vector<std::uint32_t> limbs_;
};

/// The double nearest to digits x 10^exp10 (ties to even), digits being decimal digits without
/// leading zeros. Exact big-integer arithmetic, so the result never depends on the C library, its locale or the
/// FPU's precision; the caller keeps digits.size() and exp10 within a few hundred of the
/// double range, which bounds the work.
inline double decimal_to_double(std::string_view digits, std::int64_t exp10) {
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    // Exact operands and one correctly rounded operation (Clinger's fast path).
    if (digits.size() <= 15 && exp10 >= -22 && exp10 <= 22) {
        static constexpr double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                           1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
        std::uint64_t m = 0;
        for (char c : digits) m = m * 10 + static_cast<std::uint64_t>(c - '0');
        auto d = static_cast<double>(m);
        return exp10 < 0 ? d / pow10[-exp10] : d * pow10[exp10];
    }
#endif
    // value = num / den exactly; then q = floor(num * 2^scale / den) with 54 or 55 bits and
    // `sticky` for a nonzero remainder, which is all round-to-nearest-even needs.
    decimal_bignum num(0), den(1);
    for (char c : digits) num.mul_add(10, static_cast<std::uint32_t>(c - '0'));
    if (exp10 > 0) num.mul_pow10(static_cast<std::uint32_t>(exp10));
    else den.mul_pow10(static_cast<std::uint32_t>(-exp10));
    std::int64_t scale = 54 - (std::int64_t{num.bit_length()} - std::int64_t{den.bit_length()});
    if (scale > 0) num.shift_left(static_cast<std::uint32_t>(scale));
    else den.shift_left(static_cast<std::uint32_t>(-scale));
    den.shift_left(55);
    std::uint64_t q = 0;
    for (int bit = 55; bit >= 0; --bit) {
        if (num.compare(den) >= 0) {
            num.subtract(den);
            q |= std::uint64_t{1} << bit;
        }
        den.shift_right_one();
    }
    bool sticky = !num.is_zero();
    int q_bits = 0;
    for (std::uint64_t t = q; t; t >>= 1) ++q_bits;
    // value ~ q * 2^-scale; keep 53 bits, fewer where the result is subnormal
    std::int64_t shift = q_bits - 53, exp2 = -scale + shift;
    if (exp2 < -1074) {
        shift += -1074 - exp2;
        exp2 = -1074;
    }
    if (shift > 60) return 0.0;  // below half the smallest subnormal
    std::uint64_t m = q >> shift, rest = q & ((std::uint64_t{1} << shift) - 1), half = std::uint64_t{1} << (shift - 1);
    if (rest > half || (rest == half && (sticky || (m & 1)))) ++m;
    if (m == std::uint64_t{1} << 53) {
        m >>= 1;
        ++exp2;
    }
    if (exp2 > 1023 - 52) return std::numeric_limits<double>::infinity();
    return static_cast<double>(m) * pow2(static_cast<int>(exp2));  // exact: m has at most 53 bits
}

inline bool ascii_iequals(std::string_view s, std::string_view lower) {
    if (s.size() != lower.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i)
        if ((s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] | 0x20) : s[i]) != lower[i]) return false;
    return true;
}

/// Python's float(text): surrounding whitespace, a sign, then "inf", "infinity" or "nan" in any
/// case, or a decimal with optional point and exponent, '_' allowed only between two digits.
/// Correctly rounded and locale-independent on every platform (no strtod, no from_chars).
inline bool parse_python_float(std::string_view text, double& out) {
    std::string_view s = strip(text);
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    if (ascii_iequals(s, "inf") || ascii_iequals(s, "infinity")) {
        out = negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
        return true;
    }
    if (ascii_iequals(s, "nan")) {  // CPython's NaN: quiet, no payload, the sign as written
        std::uint64_t bits = (negative ? 0xfff8000000000000ull : 0x7ff8000000000000ull);
        std::memcpy(&out, &bits, sizeof out);
        return true;
    }
    auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
    auto underscore_ok = [&](std::size_t i) { return i > 0 && i + 1 < s.size() && is_digit(s[i - 1]) && is_digit(s[i + 1]); };
    // Any halfway point between two doubles has at most 767 significant digits, so digits past
    // the 800th only matter as "some were nonzero": a final 1 stands in for them.
    constexpr std::size_t kept_digits = 800;
    string digits;
    std::int64_t exp10 = 0;
    bool any_digit = false, point = false, inexact = false;
    std::size_t i = 0;
    for (; i < s.size(); ++i) {
        char c = s[i];
        if (is_digit(c)) {
            any_digit = true;
            if (digits.empty() && c == '0') {
                if (point) --exp10;
            } else if (digits.size() < kept_digits) {
                digits += c;
                if (point) --exp10;
            } else {
                inexact = inexact || c != '0';
                if (!point) ++exp10;
            }
        } else if (c == '_') {
            if (!underscore_ok(i)) return false;
        } else if (c == '.' && !point) {
            point = true;
        } else {
            break;
        }
    }
    if (!any_digit) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        bool exp_negative = false, exp_digit = false;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) exp_negative = s[i++] == '-';
        std::int64_t e = 0;
        for (; i < s.size(); ++i) {
            if (is_digit(s[i])) {
                exp_digit = true;
                if (e < 100000000) e = e * 10 + (s[i] - '0');  // far past any double's range
            } else if (s[i] != '_' || !underscore_ok(i)) {
                break;
            }
        }
        if (!exp_digit) return false;
        exp10 += exp_negative ? -e : e;
    }
    if (i != s.size()) return false;
    double v = 0;
    if (!digits.empty()) {
        if (inexact) {
            digits += '1';
            --exp10;
        }
        // the value lies in [10^(magnitude-1), 10^magnitude)
        std::int64_t magnitude = static_cast<std::int64_t>(digits.size()) + exp10;
        if (magnitude > 310) v = std::numeric_limits<double>::infinity();
        else if (magnitude >= -325) v = decimal_to_double(digits, exp10);
    }
    out = negative ? -v : v;
    return true;
}

/// codecs.escape_decode as used by the STRING opcode. Returns false on a malformed escape.
/// (`String`: any std::basic_string of char.)
template <class String>
bool python_escape_decode(std::string_view s, String& out) {
    out.clear();
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++i == s.size()) return false;  // trailing backslash
        char e = s[i];
        switch (e) {
        case '\n': break;  // line continuation
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 't': out += '\t'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 'v': out += '\v'; break;
        case 'a': out += '\a'; break;
        case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
            int v = e - '0';
            for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k) v = v * 8 + (s[++i] - '0');
            out += static_cast<char>(v & 0xFF);
            break;
        }
        case 'x': {
            if (i + 2 >= s.size()) return false;  // needs exactly two hex digits
            int hi = digit_value(s[i + 1]), lo = digit_value(s[i + 2]);
            if (hi > 15 || lo > 15) return false;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
            break;
        }
        default:  // unknown escapes stay as written
            out += '\\';
            out += e;
        }
    }
    return true;
}

/// raw-unicode-escape (the UNICODE opcode): bytes are Latin-1 code points except \uXXXX and
/// \UXXXXXXXX. Sets has_surrogates when a lone surrogate code point is produced.
/// (`String`: any std::basic_string of char.)
template <class String>
bool raw_unicode_escape_decode(std::string_view s, String& out, bool& has_surrogates) {
    out.clear();
    out.reserve(s.size());
    has_surrogates = false;
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c != '\\') {
            append_utf8(out, c);
            ++i;
            continue;
        }
        // A run of backslashes is literal; only an odd run followed by u/U starts an escape
        // (CPython's raw-unicode-escape decoder), and then the last backslash is consumed.
        std::size_t run = 0;
        while (i < s.size() && s[i] == '\\') {
            ++run;
            ++i;
        }
        bool escape = (run & 1) && i < s.size() && (s[i] == 'u' || s[i] == 'U');
        out.append(escape ? run - 1 : run, '\\');
        if (!escape) continue;
        std::size_t width = s[i] == 'u' ? 4 : 8;
        if (i + 1 + width > s.size()) return false;
        std::uint32_t cp = 0;
        for (std::size_t k = 0; k < width; ++k) {
            int d = digit_value(s[i + 1 + k]);
            if (d > 15) return false;
            cp = cp * 16 + static_cast<std::uint32_t>(d);
        }
        if (cp > 0x10FFFF) return false;
        if (cp >= 0xD800 && cp <= 0xDFFF) has_surrogates = true;
        append_utf8(out, cp);
        i += 1 + width;
    }
    return true;
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
