// print.hpp: a human-readable tree of a loaded value (what `ptload dump FILE` prints).
//     std::fputs(ptload::to_tree(doc.root()).c_str(), stdout);
#ifndef PTLOAD_PRINT_HPP
#define PTLOAD_PRINT_HPP

#include "detail/bigint.hpp"
#include "json.hpp"
#include "torch/tensor.hpp"
#include "value.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace ptload {
inline namespace v0 {

/// Options for to_tree.
struct tree_options {
    std::size_t max_items = 64;   ///< items shown per container before "... N more"
    std::string_view more_hint;   ///< said after "... N more", e.g. how to see the rest
    std::size_t max_text = 80;    ///< characters of a str/bytes (or a class, global, device name) shown
    std::size_t max_lines = 100000;
    std::size_t max_indent = 64;  ///< deeper lines are indented this far and say their depth
    std::uint64_t max_bytes = 0;  ///< output bound; 0: the document's (walk_limits_for)
};

namespace detail {

/// repr(float) as Python writes it: the fewest significant digits that read back as the same
/// double ("0.9", not "0.90000000000000002"), positional from 1e-4 up to 1e16 and with an
/// exponent of at least two digits otherwise ("1e-05", "1e+16"), "inf", "-inf", "nan", "-0.0".
/// `dot_zero` adds ".0" to integral positional values, as float repr does (complex repr does not).
/// The digits come from printf and strtod, which agree with each other in any locale; the
/// decimal point written here is always '.'.
inline std::string float_repr(double x, bool dot_zero = true) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
    if (x == 0) return std::signbit(x) ? (dot_zero ? "-0.0" : "-0") : (dot_zero ? "0.0" : "0");
    char buf[40];
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*e", precision - 1, x);
        if (std::strtod(buf, nullptr) == x) break;
    }
    // buf is "-d.ddde-05" (the point is the locale's, possibly absent): split digits and exponent.
    std::string digits;
    const char* p = buf;
    bool negative = *p == '-';
    if (negative) ++p;
    for (; *p && *p != 'e'; ++p)
        if (*p >= '0' && *p <= '9') digits += *p;
    int exponent = *p == 'e' ? std::atoi(p + 1) : 0;
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    std::string out = negative ? "-" : "";
    const int count = static_cast<int>(digits.size());
    if (exponent < -4 || exponent >= 16) {
        out += digits[0];
        if (count > 1) out += "." + digits.substr(1);
        char e[16];
        std::snprintf(e, sizeof e, "e%c%02d", exponent < 0 ? '-' : '+', exponent < 0 ? -exponent : exponent);
        return out + e;
    }
    if (exponent < 0) return out + "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
    if (count <= exponent + 1)
        return out + digits + std::string(static_cast<std::size_t>(exponent + 1 - count), '0') + (dot_zero ? ".0" : "");
    return out + digits.substr(0, static_cast<std::size_t>(exponent + 1)) + "." + digits.substr(static_cast<std::size_t>(exponent + 1));
}

/// "1 item", "3 items".
inline std::string plural_count(std::size_t count, const char* noun) {
    return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

/// A name from the document, cut to max_text characters.
inline std::string clipped(std::string_view text, const tree_options& o) {
    if (text.size() <= o.max_text) return std::string(text);
    return std::string(text.substr(0, o.max_text)) + "... (" + std::to_string(text.size()) + " bytes)";
}

inline std::string short_scalar(const document_data& doc, node_id id, const tree_options& o) {
    const node& n = doc.at(id);
    std::string s;
    switch (n.k) {
    case kind::none: return "None";
    case kind::boolean: return n.i ? "True" : "False";
    case kind::integer: return std::to_string(n.i);
    case kind::big_integer: {
        auto t = doc.text(id);
        return twos_to_decimal(reinterpret_cast<const std::uint8_t*>(t.data()), t.size());
    }
    case kind::floating: return float_repr(n.f);
    case kind::complex: {  // Python: "(1+2j)", "2j" when the real part is +0, "(nan-infj)"
        std::string im = float_repr(n.c.im, false);
        if (n.c.re == 0 && !std::signbit(n.c.re)) return im + "j";
        return "(" + float_repr(n.c.re, false) + (im[0] == '-' ? "" : "+") + im + "j)";
    }
    case kind::string:
    case kind::bytes:
    case kind::bytearray: {
        auto t = doc.text(id);
        std::string body(t.substr(0, o.max_text));
        std::string q;
        json_string(q, body);
        if (n.k == kind::bytes) q = "b" + q;
        if (n.k == kind::bytearray) q = "bytearray(" + q + ")";
        if (t.size() > o.max_text) q += "... (" + std::to_string(t.size()) + " bytes)";
        return q;
    }
    case kind::global: return "<global " + clipped(doc.text(id), o) + ">";
    case kind::device: return "device('" + clipped(doc.text(id), o) + "')";
    case kind::dtype: return "torch." + std::string(name(static_cast<dtype>(n.tag)));
    case kind::numpy_dtype: return "dtype('" + clipped(doc.text(id), o) + "')";
    case kind::tensor: {
        tensor t(&doc, n.aux);
        s = "tensor " + std::string(name(t.dtype())) + " [";
        for (std::size_t i = 0; i < t.rank(); ++i) s += (i ? ", " : "") + std::to_string(t.shape()[i]);
        s += "] " + clipped(t.device(), o);
        if (t.is_parameter()) s += " parameter";
        if (t.requires_grad()) s += " requires_grad";
        if (!t.is_contiguous()) s += " strided";
        return s;
    }
    case kind::storage: {
        const storage& st = doc.storage_at(n.aux);
        return "storage " + std::string(name(st.desc.type)) + " x" + std::to_string(st.desc.numel) + " " + clipped(st.device, o);
    }
    default: return {};
    }
}

} // namespace detail

/// An indented tree, one value per line; shared and cyclic containers are printed once, so the
/// tree grows with the document, not with the paths through it. Iterative; every line is
/// bounded (max_text, max_indent), and so are the lines and bytes in all (max_lines, max_bytes).
inline std::string to_tree(const value& v, const tree_options& o = {}) {
    if (!v.valid()) return "<missing>\n";
    const document_data& doc = *v.doc();
    const std::uint64_t max_bytes = o.max_bytes ? o.max_bytes : walk_limits_for(doc).max_output;
    struct item {
        node_id id;
        std::size_t depth;
        std::string label;
    };
    std::vector<item> stack{{v.id(), 0, ""}};
    std::unordered_set<node_id> seen;
    std::string out;
    std::size_t lines = 0;
    while (!stack.empty()) {
        item it = std::move(stack.back());
        stack.pop_back();
        if (++lines > o.max_lines) {
            out += "...\n";
            break;
        }
        if (out.size() > max_bytes) {
            out += "... (output limit reached)\n";
            break;
        }
        out.append(2 * (it.depth < o.max_indent ? it.depth : o.max_indent), ' ');
        if (it.depth > o.max_indent) out += "(depth " + std::to_string(it.depth) + ") ";
        out += it.label;
        if (it.id == null_node) {  // an elision line
            out += "\n";
            continue;
        }
        const detail::node& n = doc.at(it.id);
        std::string scalar = detail::short_scalar(doc, it.id, o);
        if (!scalar.empty()) {
            out += scalar + "\n";
            continue;
        }
        bool container = n.k == kind::list || n.k == kind::tuple || n.k == kind::dict || n.k == kind::ordered_dict ||
                         n.k == kind::set || n.k == kind::frozenset || n.k == kind::object || n.k == kind::torch_size ||
                         n.k == kind::slice || n.k == kind::range || n.k == kind::ndarray || n.k == kind::numpy_scalar ||
                         n.k == kind::sparse_tensor || n.k == kind::nested_tensor;
        if (!container) {
            out += std::string(kind_name(n.k)) + "\n";
            continue;
        }
        if (!seen.insert(it.id).second) {
            out += std::string(kind_name(n.k)) + " (shown above)\n";
            continue;
        }
        bool mapping = n.k == kind::dict || n.k == kind::ordered_dict;
        std::size_t count = doc.edge_count(it.id) / (mapping ? 2 : 1);
        std::string head = n.k == kind::object ? "object " + detail::clipped(doc.text(doc.edge(it.id, obj_class)), o) : kind_name(n.k);
        if (n.k == kind::ndarray && doc.edge(it.id, 0) != null_node) head += " " + detail::clipped(doc.text(doc.edge(it.id, 0)), o);
        out += head + (n.k == kind::object || n.k == kind::ndarray ? "" : " (" + detail::plural_count(count, "item") + ")") + "\n";
        std::vector<item> children;
        if (n.k == kind::object) {
            static const char* fields[] = {"class: ", "args: ", "kwargs: ", "state: ", "items: ", "dict_items: "};
            for (std::size_t f = 1; f < obj_fields; ++f)
                if (doc.edge(it.id, f) != null_node) children.push_back({doc.edge(it.id, f), it.depth + 1, fields[f]});
        } else if (n.k == kind::ndarray) {
            if (doc.edge(it.id, 1) != null_node) children.push_back({doc.edge(it.id, 1), it.depth + 1, "shape: "});
        } else {
            std::size_t shown = count < o.max_items ? count : o.max_items;
            for (std::size_t i = 0; i < shown; ++i) {
                if (mapping) {
                    node_id key = doc.edge(it.id, 2 * i);
                    std::string label = detail::short_scalar(doc, key, o);
                    if (label.empty()) label = kind_name(doc.at(key).k);
                    children.push_back({doc.edge(it.id, 2 * i + 1), it.depth + 1, label + ": "});
                } else {
                    children.push_back({doc.edge(it.id, i), it.depth + 1, ""});
                }
            }
            if (shown < count) {
                std::string more = "... " + std::to_string(count - shown) + " more";
                if (!o.more_hint.empty()) more += " (" + std::string(o.more_hint) + ")";
                children.push_back({null_node, it.depth + 1, std::move(more)});
            }
            if (n.k == kind::ordered_dict && n.aux != null_node) children.push_back({n.aux, it.depth + 1, "attrs: "});
        }
        for (auto c = children.rbegin(); c != children.rend(); ++c) stack.push_back(std::move(*c));
    }
    return out;
}

} // namespace v0
} // namespace ptload

#endif
