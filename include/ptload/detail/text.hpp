// detail/text.hpp: the text arguments of protocol-0 opcodes, parsed as CPython parses them:
// INT/LONG (int(text, 0)), FLOAT (float(text)), STRING (quoted, codecs.escape_decode) and
// UNICODE (raw-unicode-escape).
#ifndef PTLOAD_DETAIL_TEXT_HPP
#define PTLOAD_DETAIL_TEXT_HPP

#include "bigint.hpp"
#include "utf8.hpp"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

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
    std::vector<std::uint8_t> big;   ///< two's complement LE when !small
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
    std::string digits;
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
    if (base == 10 && digits.size() > 1 && digits[0] == '0' && digits.find_first_not_of('0') != std::string::npos)
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

/// Python's float(text) for the repr forms pickle writes (and the usual variants).
inline bool parse_python_float(std::string_view text, double& out) {
    std::string_view s = strip(text);
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    if (s.empty() || s[0] == '+' || s[0] == '-') return false;
    std::string clean;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_') {  // only between digits
            if (i == 0 || i + 1 == s.size() || digit_value(s[i - 1]) > 9 || digit_value(s[i + 1]) > 9) return false;
            continue;
        }
        clean += s[i];
    }
    double v = 0;
    auto res = std::from_chars(clean.data(), clean.data() + clean.size(), v);
    if (res.ptr != clean.data() + clean.size()) return false;
    if (res.ec == std::errc::invalid_argument) return false;
    // out-of-range decimals: Python gives inf or 0.0 (subnormal/underflow) like strtod
    if (res.ec == std::errc::result_out_of_range) {
        std::string tmp(clean);
        v = std::strtod(tmp.c_str(), nullptr);
    }
    out = negative ? -v : v;
    return true;
}

/// codecs.escape_decode as used by the STRING opcode. Returns false on a malformed escape.
inline bool python_escape_decode(std::string_view s, std::string& out) {
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
inline bool raw_unicode_escape_decode(std::string_view s, std::string& out, bool& has_surrogates) {
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
