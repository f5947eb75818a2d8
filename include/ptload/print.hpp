// print.hpp: a human-readable tree of a loaded value (what `ptload dump FILE` prints).
//     std::fputs(ptload::to_tree(doc.root()).c_str(), stdout);
#ifndef PTLOAD_PRINT_HPP
#define PTLOAD_PRINT_HPP

#include "detail/bigint.hpp"
#include "json.hpp"
#include "torch/tensor.hpp"
#include "value.hpp"
#include "walk.hpp"

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
    case kind::dtype: return "torch." + std::string(name(doc.dtype_of(id)));
    case kind::numpy_dtype: return "dtype('" + clipped(doc.text(id), o) + "')";
    case kind::tensor: {
        tensor t(&doc, doc.tensor_index(id));
        s = "tensor " + std::string(name(t.dtype())) + " [";
        for (std::size_t i = 0; i < t.rank(); ++i) s += (i ? ", " : "") + std::to_string(t.shape()[i]);
        s += "] " + clipped(t.device(), o);
        if (t.is_parameter()) s += " parameter";
        if (t.requires_grad()) s += " requires_grad";
        if (!t.is_contiguous()) s += " strided";
        return s;
    }
    case kind::storage: {
        const storage& st = doc.storage_at(doc.storage_index(id));
        return "storage " + std::string(name(st.desc.type)) + " x" + std::to_string(st.desc.numel) + " " + clipped(st.device, o);
    }
    default: return {};
    }
}

} // namespace detail

namespace detail {

/// The visitor of to_tree: one line per value reached, containers written once.
class tree_printer {
public:
    tree_printer(const document_data& doc, const tree_options& o, std::uint64_t max_bytes)
        : doc_(doc), o_(o), max_bytes_(max_bytes) {}

    walk_action enter(const walk_event& e, std::uint32_t&) {
        // An array's dtype is in its header line and its data is not shown.
        if (e.step.kind == step_kind::slot && (e.step.slot == walk_slot::dtype || e.step.slot == walk_slot::data))
            return walk_action::skip;
        if ((e.step.kind == step_kind::entry || e.step.kind == step_kind::item) && e.step.index >= o_.max_items) {
            if (!line(e.depth)) return walk_action::stop;
            out_ += "... " + std::to_string(item_count(doc_, e.parent) - o_.max_items) + " more";
            if (!o_.more_hint.empty()) out_ += " (" + std::string(o_.more_hint) + ")";
            out_ += "\n";
            return walk_action::skip_items;
        }
        if (!line(e.depth)) return walk_action::stop;
        label(e.step);
        if (e.id == null_node) {
            out_ += "\n";
            return walk_action::skip;
        }
        const node& n = doc_.at(e.id);
        std::string scalar = short_scalar(doc_, e.id, o_);
        if (!scalar.empty()) {
            out_ += scalar + "\n";
            return walk_action::skip;
        }
        if (!has_children(n.k)) {  // tensors and storages were written by short_scalar above
            out_ += std::string(kind_name(n.k)) + "\n";
            return walk_action::skip;
        }
        // The empty tuple is one value that every EMPTY_TUPLE shares, as in CPython: not a
        // container shown before.
        const bool shared_constant = n.k == kind::tuple && item_count(doc_, e.id) == 0;
        if (!shared_constant && !seen_.insert(e.id).second) {
            out_ += std::string(kind_name(n.k)) + " (shown above)\n";
            return walk_action::skip;
        }
        std::string head = n.k == kind::object ? "object " + clipped(doc_.text(slot_child(doc_, e.id, walk_slot::cls)), o_)
                                               : kind_name(n.k);
        if (n.k == kind::ndarray)
            if (node_id dt = slot_child(doc_, e.id, walk_slot::dtype); dt != null_node) head += " " + clipped(doc_.text(dt), o_);
        out_ += head;
        if (n.k != kind::object && n.k != kind::ndarray) out_ += " (" + plural_count(item_count(doc_, e.id), "item") + ")";
        out_ += "\n";
        return walk_action::descend;
    }
    void leave(node_id, std::uint32_t) noexcept {}

    std::string take() { return std::move(out_); }

private:
    /// Starts a line at `depth`, or ends the print when it has said enough.
    bool line(std::size_t depth) {
        if (++lines_ > o_.max_lines) {
            out_ += "...\n";
            return false;
        }
        if (out_.size() > max_bytes_) {
            out_ += "... (output limit reached)\n";
            return false;
        }
        out_.append(2 * (depth < o_.max_indent ? depth : o_.max_indent), ' ');
        if (depth > o_.max_indent) out_ += "(depth " + std::to_string(depth) + ") ";
        return true;
    }
    /// "key: " for a mapping entry, "state: " for an object's field, nothing for an item.
    void label(const walk_step& s) {
        if (s.kind == step_kind::entry) {
            std::string key = short_scalar(doc_, s.key, o_);
            out_ += key.empty() ? std::string(kind_name(doc_.at(s.key).k)) : key;
            out_ += ": ";
        } else if (s.kind == step_kind::slot) {
            out_ += slot_name(s.slot);
            out_ += ": ";
        }
    }

    const document_data& doc_;
    const tree_options& o_;
    std::uint64_t max_bytes_;
    std::string out_;
    std::size_t lines_ = 0;
    std::unordered_set<node_id> seen_;
};

} // namespace detail

/// An indented tree, one value per line; shared and cyclic containers are printed once, so the
/// tree grows with the document, not with the paths through it. Iterative; every line is
/// bounded (max_text, max_indent), and so are the lines and bytes in all (max_lines, max_bytes).
inline std::string to_tree(const value& v, const tree_options& o = {}) {
    if (!v.valid()) return "<missing>\n";
    const document_data& doc = *v.doc();
    detail::tree_printer printer(doc, o, o.max_bytes ? o.max_bytes : walk_limits_for(doc).max_output);
    walk(doc, v.id(), printer);
    return printer.take();
}

} // namespace v0
} // namespace ptload

#endif
