// policies/decode.hpp: how Python-2 `str` values (STRING, BINSTRING, SHORT_BINSTRING) become
// values: torch.load's `encoding` and `errors` arguments (FORMAT.md 1.5). torch.load's default
// is utf-8/strict; Python 2 era numpy arrays need latin1; `as_bytes` keeps them as bytes.
//
// A user-defined decoding policy is a type with
//     using ptload_role = ptload::role::decoding;
//     static constexpr bool keep_bytes = false;   // true: produce bytes values, never decode
//     // decode to UTF-8 into out; return n on success or the offset of the first bad byte
//     static std::size_t decode(const std::uint8_t* p, std::size_t n, std::string& out);
//     static constexpr const char* name = "cp1252";
#ifndef PTLOAD_POLICIES_DECODE_HPP
#define PTLOAD_POLICIES_DECODE_HPP

#include "../detail/utf8.hpp"
#include "../memory.hpp"
#include "roles.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

namespace ptload {
inline namespace v0 {

enum class encoding : std::uint8_t { utf8, latin1, ascii, bytes };
enum class on_error : std::uint8_t { strict, replace };

/// The built-in decodings, as torch.load(encoding=E, errors=M).
template <encoding E, on_error M = on_error::strict>
struct decoding {
    using ptload_role = role::decoding;
    static constexpr bool keep_bytes = E == encoding::bytes;
    static constexpr const char* name = E == encoding::utf8     ? "utf-8"
                                        : E == encoding::latin1 ? "latin1"
                                        : E == encoding::ascii  ? "ascii"
                                                                : "bytes";
    template <class String>  // any std::basic_string of char
    static std::size_t decode(const std::uint8_t* p, std::size_t n, String& out) {
        constexpr bool replace = M == on_error::replace;
        switch (E) {
        case encoding::utf8: return detail::utf8_decode(p, n, replace, out);
        case encoding::ascii: return detail::ascii_decode(p, n, replace, out);
        case encoding::latin1: detail::latin1_decode(p, n, out); return n;
        case encoding::bytes: break;
        }
        out.assign(reinterpret_cast<const char*>(p), n);
        return n;
    }
};

/// torch.load's default.
using utf8 = decoding<encoding::utf8>;
using latin1 = decoding<encoding::latin1>;
using ascii = decoding<encoding::ascii>;
/// Keep Python-2 str as bytes (encoding='bytes').
using as_bytes = decoding<encoding::bytes>;

namespace detail {
template <class D, class = void>
struct is_decoding : std::false_type {};
template <class D>
struct is_decoding<D, std::void_t<decltype(D::keep_bytes), decltype(D::name),
                                  decltype(std::size_t{D::decode(static_cast<const std::uint8_t*>(nullptr),
                                                                 std::size_t{}, std::declval<std::string&>())})>>
    : std::true_type {};

/// Whether decoding D can write into a String (the built-in ones take any basic_string).
template <class D, class String, class = void>
struct decodes_into : std::false_type {};
template <class D, class String>
struct decodes_into<D, String,
                    std::void_t<decltype(D::decode(static_cast<const std::uint8_t*>(nullptr), std::size_t{},
                                                   std::declval<String&>()))>> : std::true_type {};

/// A decoding policy as values, the form the loaders take it in: only Python-2 str opcodes,
/// rare in the files of this century, decode, so one compiled pipeline serves every decoding
/// at the cost of an indirect call per such string.
struct decoding_ops {
    const char* name;
    bool keep_bytes;
    /// UTF-8 into `out`; returns n on success, else the offset of the first bad byte.
    std::size_t (*decode)(const std::uint8_t* p, std::size_t n, string& out);
};

/// D::decode into ptload's memory, through a std::string when D writes only that.
template <class D>
std::size_t decode_with(const std::uint8_t* p, std::size_t n, string& out) {
    if constexpr (decodes_into<D, string>::value) {
        return D::decode(p, n, out);
    } else {
        std::string decoded;
        const std::size_t done = D::decode(p, n, decoded);
        out.assign(decoded.data(), decoded.size());
        return done;
    }
}

template <class D>
constexpr decoding_ops decoding_ops_of() noexcept {
    return {D::name, D::keep_bytes, &decode_with<D>};
}
} // namespace detail

} // namespace v0
} // namespace ptload

#endif
