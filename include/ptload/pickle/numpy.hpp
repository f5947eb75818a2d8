// pickle/numpy.hpp: numpy arrays, dtypes and scalars as they appear in pickles (FORMAT.md 7),
// built as inert values: an ndarray keeps its dtype, shape and raw element bytes.
//
// Pickle encoding: `numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')` REDUCE makes
// an empty array, then BUILD `(version, shape, dtype, is_fortran, rawdata)` fills it.
// `numpy.dtype('f4', False, True)` REDUCE, then BUILD `(3, '<', subarray, names, fields, elsize,
// alignment, flags)`. `numpy.core.multiarray.scalar(dtype, raw_bytes)` REDUCE.
#ifndef PTLOAD_PICKLE_NUMPY_HPP
#define PTLOAD_PICKLE_NUMPY_HPP

#include "../error.hpp"
#include "../detail/utf8.hpp"
#include "../value.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <string>
#include <string_view>

namespace ptload {
inline namespace v0 {
namespace pickle {

// The functions the pickle machine calls are templates only so that a file that includes
// ptload without loading does not compile them.

/// Edges of an ndarray node.
enum ndarray_field : std::uint32_t { nd_dtype, nd_shape, nd_data, nd_fields };

/// str.encode('latin-1') of UTF-8 text: numpy re-encodes a Python 2 str it gets as raw data
/// (encoding='latin1'). False when a character is above U+00FF.
inline bool latin1_bytes(std::string_view text, detail::string& out) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) out += static_cast<char>(c);
        else if ((c == 0xC2 || c == 0xC3) && i + 1 < text.size()) out += static_cast<char>(((c & 0x1F) << 6) | (text[++i] & 0x3F));
        else return false;
    }
    return true;
}

/// A numpy dtype node from its type string ('f4', 'U20', 'O8'); BUILD sets the byte order.
template <class = void>
node_id make_numpy_dtype(document_data& doc, std::string_view type) {
    // Until BUILD says otherwise: '|' for one-byte and non-numeric kinds, '<' elsewhere.
    detail::string descr;
    char k = type.empty() ? '?' : type[0];
    bool one_byte = type.size() == 2 && type[1] == '1';
    descr += (one_byte || k == 'O' || k == 'S' || k == 'V' || k == 'b') ? '|' : '<';
    descr.append(type);
    if (k == 'O') descr = "|O";
    if (k == 'U' && type.size() > 1) {  // pickled with the byte size; dtype.str counts characters
        std::uint64_t bytes = 0;
        for (char c : type.substr(1)) bytes = bytes * 10 + static_cast<std::uint64_t>(c - '0');
        descr = "<U" + std::to_string(bytes / 4);
    }
    return doc.make_text(kind::numpy_dtype, descr.data(), descr.size());
}

/// BUILD on a numpy dtype: (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]).
template <class = void>
status build_numpy_dtype(document_data& doc, node_id dt, node_id state) {
    if (doc.at(state).k != kind::tuple || doc.edge_count(state) < 2)
        return detail::failure(errc::bad_operand, no_offset, "numpy dtype state is not a tuple");
    node_id order = doc.edge(state, 1);
    if (doc.at(order).k != kind::string && doc.at(order).k != kind::bytes)
        return detail::failure(errc::bad_operand, no_offset, "numpy dtype byte order is not a string");
    std::string_view o = doc.text(order);
    detail::string descr(doc.text(dt));
    if (o.size() == 1 && (o[0] == '<' || o[0] == '>' || o[0] == '|')) descr[0] = o[0];
    // flexible types carry their size in the state (elsize): 'U' counts 4-byte characters
    if (doc.edge_count(state) >= 6 && doc.at(doc.edge(state, 5)).k == kind::integer) {
        std::int64_t elsize = doc.at(doc.edge(state, 5)).i;
        char k = descr.size() > 1 ? descr[1] : '?';
        if (elsize >= 0 && (k == 'U' || k == 'S' || k == 'V'))
            descr = descr.substr(0, 2) + detail::string(std::to_string(k == 'U' ? elsize / 4 : elsize));
    }
    node_id fresh = doc.make_text(kind::numpy_dtype, descr.data(), descr.size());
    doc.at(dt).s = doc.at(fresh).s;  // the dtype node keeps its identity, new text
    return {};
}

/// Element size of a numpy descriptor ("<f4" -> 4), 0 when unknown or variable.
inline std::uint64_t numpy_itemsize(std::string_view descr) {
    if (descr.size() < 3) return 0;
    std::uint64_t n = 0;
    for (char c : descr.substr(2)) {
        if (c < '0' || c > '9') return 0;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return descr[1] == 'U' ? n * 4 : n;
}

/// BUILD on an ndarray: (version, shape, dtype, is_fortran, rawdata) or the 4-tuple without version.
template <class = void>
status build_ndarray(document_data& doc, node_id arr, node_id state) {
    if (doc.at(state).k != kind::tuple) return detail::failure(errc::bad_operand, no_offset, "ndarray state is not a tuple");
    std::size_t n = doc.edge_count(state);
    std::size_t at = n == 5 ? 1 : n == 4 ? 0 : 99;
    if (at == 99) return detail::failure(errc::bad_operand, no_offset, {"ndarray state has ", n, " items"});
    node_id shape = doc.edge(state, at), dt = doc.edge(state, at + 1), fortran = doc.edge(state, at + 2),
            data = doc.edge(state, at + 3);
    if (doc.at(shape).k != kind::tuple) return detail::failure(errc::bad_operand, no_offset, "ndarray shape is not a tuple");
    if (doc.at(dt).k != kind::numpy_dtype) return detail::failure(errc::bad_operand, no_offset, "ndarray dtype is not a numpy dtype");
    std::uint64_t count = 1;
    for (std::size_t i = 0; i < doc.edge_count(shape); ++i) {
        const auto& d = doc.at(doc.edge(shape, i));
        if (d.k != kind::integer || d.i < 0) return detail::failure(errc::bad_operand, no_offset, "ndarray shape entry is not a size");
        auto dim = static_cast<std::uint64_t>(d.i);
        if (dim && count > ~std::uint64_t{0} / dim) return detail::failure(errc::bad_tensor, no_offset, "ndarray element count overflows");
        count *= dim;
    }
    kind dk = doc.at(data).k;
    std::string_view descr = doc.text(dt);
    if (dk == kind::list) {
        if (doc.edge_count(data) != count)
            return detail::failure(errc::bad_tensor, no_offset, "object ndarray item count does not match its shape");
    } else if (dk == kind::bytes || dk == kind::bytearray || dk == kind::string) {
        if (dk == kind::string) {  // Python 2 str with encoding=latin1: the latin-1 code points are the bytes
            detail::string raw;
            if (!latin1_bytes(doc.text(data), raw))
                return detail::failure(errc::decode_error, no_offset,
                                       "ndarray data str is not latin-1 (numpy re-encodes it; load with encoding latin1)");
            data = doc.make_text(kind::bytes, raw.data(), raw.size());
        }
        std::uint64_t item = numpy_itemsize(descr);
        if (item && count > ~std::uint64_t{0} / item)
            return detail::failure(errc::bad_tensor, no_offset, "ndarray byte count overflows");
        if (item && doc.text(data).size() != count * item)
            return detail::failure(errc::bad_tensor, no_offset,
                                   {"ndarray holds ", doc.text(data).size(), " bytes, shape and dtype need ",
                                    count * item});
    } else {
        return detail::failure(errc::bad_operand, no_offset, "ndarray data is neither bytes nor a list");
    }
    if (descr.size() > 1 && descr[0] == '>' && dk != kind::list) {
        // numpy swaps a non-native array to the host's order when it unpickles it (the dtype
        // object itself keeps its order); ptload's host order for arrays is little-endian.
        detail::string swapped(doc.text(data));
        char k = descr[1];
        std::size_t unit = k == 'U' ? 4 : k == 'c' ? numpy_itemsize(descr) / 2 : numpy_itemsize(descr);
        if (k != 'S' && k != 'V' && unit > 1)
            for (std::size_t i = 0; i + unit <= swapped.size(); i += unit)
                for (std::size_t a = i, b = i + unit - 1; a < b; ++a, --b) std::swap(swapped[a], swapped[b]);
        data = doc.make_text(kind::bytes, swapped.data(), swapped.size());
        detail::string little = "<" + detail::string(descr.substr(1));
        dt = doc.make_text(kind::numpy_dtype, little.data(), little.size());
    }
    doc.set_edge(arr, nd_dtype, dt);
    doc.set_edge(arr, nd_shape, shape);
    doc.set_edge(arr, nd_data, data);
    doc.set_fortran_order(arr, doc.at(fortran).k == kind::boolean && doc.at(fortran).i);
    return {};
}

/// numpy.core.multiarray.scalar(dtype, raw): the Python value of .item().
template <class = void>
result<node_id> make_numpy_scalar(document_data& doc, node_id dt, node_id raw) {
    if (doc.at(dt).k != kind::numpy_dtype) return detail::failure(errc::bad_operand, no_offset, "numpy scalar dtype is not a numpy dtype");
    detail::string descr(doc.text(dt));
    node_id val = raw;
    kind rk = doc.at(raw).k;
    if (descr != "|O") {
        detail::string bytes;
        if (rk == kind::bytes) bytes = detail::string(doc.text(raw));
        else if (rk == kind::string) {  // py2 str via latin1
            if (!latin1_bytes(doc.text(raw), bytes))
                return detail::failure(errc::decode_error, no_offset, "numpy scalar data str is not latin-1 (load with encoding latin1)");
        } else return detail::failure(errc::bad_operand, no_offset, "numpy scalar data is not bytes");
        std::uint64_t item = numpy_itemsize(descr);
        char k = descr[1];
        if (k != 'U' && k != 'S' && k != 'V' && bytes.size() != item)
            return detail::failure(errc::bad_tensor, no_offset,
                                   {"numpy scalar of ", descr, " has ", bytes.size(), " bytes"});
        if (descr[0] == '>' && k != 'U' && k != 'S' && k != 'V') {  // to little-endian
            if (k == 'c') {
                std::size_t h = bytes.size() / 2;
                detail::string re = bytes.substr(0, h), im = bytes.substr(h);
                bytes = detail::string(re.rbegin(), re.rend()) + detail::string(im.rbegin(), im.rend());
            } else {
                bytes = detail::string(bytes.rbegin(), bytes.rend());
            }
        }
        if (descr[0] == '>' && k == 'U')
            for (std::size_t i = 0; i + 4 <= bytes.size(); i += 4) std::swap(bytes[i], bytes[i + 3]), std::swap(bytes[i + 1], bytes[i + 2]);
        auto u = [&](std::size_t i) { return static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])); };
        auto le = [&](std::size_t off, std::size_t n) {
            std::uint64_t v = 0;
            for (std::size_t i = 0; i < n; ++i) v |= u(off + i) << (8 * i);
            return v;
        };
        auto to_double = [&](std::size_t off, std::size_t n) -> double {
            if (n == 8) {
                std::uint64_t b = le(off, 8);
                double d;
                std::memcpy(&d, &b, 8);
                return d;
            }
            if (n == 4) {
                auto b = static_cast<std::uint32_t>(le(off, 4));
                float f;
                std::memcpy(&f, &b, 4);
                return f;
            }
            // half precision
            auto h = static_cast<std::uint32_t>(le(off, 2));
            std::uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
            double v;
            if (exp == 0) v = man * (1.0 / (1 << 24));
            else if (exp == 31) v = std::numeric_limits<double>::infinity();
            else v = (1.0 + man / 1024.0) * ((exp >= 15) ? double(1u << (exp - 15)) : 1.0 / double(1u << (15 - exp)));
            if (exp == 31 && man) {
                std::uint64_t nan = 0x7ff8000000000000ull | (std::uint64_t(man) << 42);
                std::memcpy(&v, &nan, 8);
            }
            return sign ? -v : v;
        };
        std::size_t n = bytes.size();
        switch (k) {
        case 'b': val = doc.make_bool(n && bytes[0] != 0); break;
        case 'i': {
            std::uint64_t v = le(0, n);
            if (n < 8 && n && (v >> (8 * n - 1)) & 1) v |= ~std::uint64_t{0} << (8 * n);
            val = doc.make_int(static_cast<std::int64_t>(v));
            break;
        }
        case 'u': {
            std::uint64_t v = le(0, n);
            if (v > static_cast<std::uint64_t>(INT64_MAX)) {
                detail::string b2 = bytes + '\0';
                val = doc.make_text(kind::big_integer, b2.data(), b2.size());
            } else {
                val = doc.make_int(static_cast<std::int64_t>(v));
            }
            break;
        }
        case 'f':
            if (n != 2 && n != 4 && n != 8)
                return detail::failure(errc::unsupported, no_offset, {"numpy scalar ", descr});
            val = doc.make_float(to_double(0, n));
            break;
        case 'c':
            if (n != 8 && n != 16) return detail::failure(errc::unsupported, no_offset, {"numpy scalar ", descr});
            val = doc.make_complex(to_double(0, n / 2), to_double(n / 2, n / 2));
            break;
        case 'S': {
            std::size_t len = n;
            while (len && bytes[len - 1] == 0) --len;  // numpy strips trailing NULs in .item()
            val = doc.make_text(kind::bytes, bytes.data(), len);
            break;
        }
        case 'U': {
            detail::string s;
            std::size_t len = n / 4;
            while (len && le((len - 1) * 4, 4) == 0) --len;
            bool sur = false;
            for (std::size_t i = 0; i < len; ++i) {
                auto cp = static_cast<std::uint32_t>(le(i * 4, 4));
                if (cp > 0x10FFFF) return detail::failure(errc::decode_error, no_offset, "numpy str scalar holds a non-code point");
                if (cp >= 0xD800 && cp <= 0xDFFF) sur = true;
                detail::append_utf8(s, cp);
            }
            val = doc.make_text(kind::string, s.data(), s.size(), sur);
            break;
        }
        case 'V': val = doc.make_text(kind::bytes, bytes.data(), bytes.size()); break;
        default: return detail::failure(errc::unsupported, no_offset, {"numpy scalar of dtype ", descr});
        }
    }
    node_id fields[2] = {dt, val};
    return doc.make_seq(kind::numpy_scalar, fields, 2);
}

} // namespace pickle
} // namespace v0
} // namespace ptload

#endif
