// json.hpp: the canonical JSON of a loaded document (docs/CANONICAL-JSON.md), the form in
// which ptload is compared with real torch and Python pickle, file by file.
//
// It is written along the shared walk (walk.hpp), which is iterative, so nesting depth cannot
// exhaust the C stack. Every container is written once and met again as {"same_as": k}, so the
// output grows with the document's edges, not with the paths through it; it is still capped
// (walk_limits), since a long string fetched from the memo many times is written in full each
// time. Hashes are
// computed once per storage, array or distinct tensor view, and a view may not name more
// logical bytes than its storage allows (a zero stride can name 2^62 elements over one).
#ifndef PTLOAD_JSON_HPP
#define PTLOAD_JSON_HPP

#include "detail/bigint.hpp"
#include "detail/checked.hpp"
#include "detail/sha256.hpp"
#include "detail/utf8.hpp"
#include "error.hpp"
#include "policies/limits.hpp"
#include "torch/globals.hpp"
#include "torch/tensor.hpp"
#include "value.hpp"
#include "walk.hpp"
#include "walk_limits.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ptload {
inline namespace v0 {


namespace detail {

/// Appends s as a JSON string. Lone surrogates (kept as 3-byte WTF-8) become \udXXX escapes.
inline void json_string(std::string& out, std::string_view s) {
    static const char* hex = "0123456789abcdef";
    out += '"';
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
            } else if (c == 0xED && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0xA0) {
                std::uint32_t cp = ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
                                   (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
                out += "\\u";
                for (int k = 3; k >= 0; --k) out += hex[(cp >> (4 * k)) & 15];
                i += 2;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
}

inline void json_hex(std::string& out, const void* data, std::size_t n) {
    static const char* hex = "0123456789abcdef";
    auto p = static_cast<const std::uint8_t*>(data);
    out.reserve(out.size() + 2 * n + 2);
    out += '"';
    for (std::size_t i = 0; i < n; ++i) {
        out += hex[p[i] >> 4];
        out += hex[p[i] & 15];
    }
    out += '"';
}

/// A double's IEEE-754 bits as a quoted string of 16 lowercase hex digits.
inline void json_float_bits(std::string& out, double d) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, 8);
    static const char* hex = "0123456789abcdef";
    out += '"';
    for (int k = 15; k >= 0; --k) out += hex[(bits >> (4 * k)) & 15];
    out += '"';
}

inline void json_float(std::string& out, double d) {
    out += "{\"float\":";
    json_float_bits(out, d);
    out += "}";
}

/// Applies the neg and conj view bits to one little-endian element: the hash covers logical
/// values, as torch's resolve_neg()/resolve_conj() would produce them.
inline void logical_value(const tensor& t, std::uint8_t* e, std::size_t esize) {
    dtype_class cls = info(t.dtype()).cls;
    auto negate_int = [&](std::uint8_t* p, std::size_t n) {  // two's complement
        unsigned carry = 1;
        for (std::size_t i = 0; i < n; ++i) {
            unsigned v = static_cast<std::uint8_t>(~p[i]) + carry;
            p[i] = static_cast<std::uint8_t>(v);
            carry = v >> 8;
        }
    };
    if (cls == dtype_class::complex) {
        std::size_t half = esize / 2;
        if (t.is_neg()) e[half - 1] ^= 0x80;            // -re
        if (t.is_neg() != t.is_conj()) e[esize - 1] ^= 0x80;  // -im for neg or conj, not both
    } else if (t.is_neg()) {
        if (cls == dtype_class::floating) e[esize - 1] ^= 0x80;
        else if (cls == dtype_class::integer || cls == dtype_class::unsigned_integer) negate_int(e, esize);
    }
}

/// Refuses a view whose logical bytes (one per value for packed sub-byte dtypes) exceed
/// max_view_expansion * storage bytes + view_slack: hashing or copying it would cost time and
/// memory that the file does not pay for.
inline status check_view(const tensor& t, const walk_limits& l) {
    std::uint64_t per = values_per_byte(t.dtype()) > 1 ? 1 : element_size(t.dtype());
    std::uint64_t logical = 0, allowed = 0, stored = t.storage_nbytes();
    bool fits = checked_mul(t.numel(), per, logical);
    if (!checked_mul(stored, l.max_view_expansion, allowed) || !checked_add(allowed, l.view_slack, allowed))
        allowed = ~std::uint64_t{0};
    if (fits && logical <= allowed) return {};
    return detail::failure(errc::limit_view, no_offset,
                           {"a ", name(t.dtype()), " view of ", t.numel(), " elements over a ", stored,
                            "-byte storage exceeds limits::max_view_expansion x storage bytes + limits::view_slack (",
                            allowed, " bytes)"});
}

/// SHA-256 of a storage's bytes with each element little-endian (they are held in host order).
inline std::string storage_sha256(const storage& s) {
    sha256 h;
    const std::uint8_t* p = s.bytes.data();
    auto n = static_cast<std::size_t>(s.bytes.size());
    std::size_t unit = byte_order_unit(s.desc.type);
    if (host_is_little_endian() || unit < 2) {
        h.update(p, n);
        return h.hex();
    }
    std::uint8_t buf[4096];
    std::size_t done = 0;
    while (n - done >= unit) {
        std::size_t chunk = (n - done) / unit * unit;
        if (chunk > sizeof buf / unit * unit) chunk = sizeof buf / unit * unit;
        for (std::size_t i = 0; i < chunk; i += unit)
            for (std::size_t k = 0; k < unit; ++k) buf[i + k] = p[done + i + unit - 1 - k];
        h.update(buf, chunk);
        done += chunk;
    }
    h.update(p + done, n - done);
    return h.hex();
}

/// SHA-256 of a tensor's logical elements, row-major, each element little-endian. `stored` is
/// the dtype of the tensor's storage, whose elements are in host order: a tensor of a wider
/// dtype laid over a byte storage (the v3 dtypes) sees bytes that were never swapped, in the
/// file's little-endian order. The caller bounds the work first (check_view).
inline std::string tensor_sha256(const tensor& t, dtype stored) {
    sha256 h;
    std::size_t esize = element_size(t.dtype());
    dtype_class cls = info(t.dtype()).cls;
    bool swap = !host_is_little_endian() && esize > 1 && byte_order_unit(stored) > 1;
    bool complex = cls == dtype_class::complex;
    auto b = t.bytes();
    if (b && !swap && cls != dtype_class::boolean && !t.is_neg() && !t.is_conj()) {
        h.update(b->data(), b->size());
        return h.hex();
    }
    if (values_per_byte(t.dtype()) > 1) {  // int_repr(): one byte per packed value
        t.for_each_position([&](std::int64_t pos) {
            std::uint8_t v = t.packed_value(pos);
            h.update(&v, 1);
        });
        return h.hex();
    }
    std::uint8_t buf[16];
    (void)t.for_each_element([&](const std::uint8_t* e) {  // the caller made the storage resident
        if (cls == dtype_class::boolean) {
            buf[0] = e[0] ? 1 : 0;
        } else if (swap) {  // per element; complex halves separately
            std::size_t part = complex ? esize / 2 : esize;
            for (std::size_t off = 0; off < esize; off += part)
                for (std::size_t k = 0; k < part; ++k) buf[off + k] = e[off + part - 1 - k];
        } else {
            std::memcpy(buf, e, esize);
        }
        if (t.is_neg() || t.is_conj()) logical_value(t, buf, esize);
        h.update(buf, esize);
    });
    return h.hex();
}

/// Hash of an ndarray's C-order element bytes (Fortran-ordered data is reordered).
inline std::string ndarray_sha256(const document_data& doc, node_id arr) {
    node_id data = slot_child(doc, arr, walk_slot::data), shape = slot_child(doc, arr, walk_slot::shape);
    std::string_view bytes = doc.text(data);
    sha256 h;
    if (!doc.fortran_order(arr) || doc.edge_count(shape) < 2) {
        h.update(bytes.data(), bytes.size());
        return h.hex();
    }
    std::size_t rank = doc.edge_count(shape);
    std::vector<std::int64_t> dims(rank), index(rank, 0), stride(rank);
    std::uint64_t count = 1;
    for (std::size_t i = 0; i < rank; ++i) count *= static_cast<std::uint64_t>(dims[i] = doc.at(doc.edge(shape, i)).i);
    if (!count) return h.hex();
    if (count > bytes.size() || bytes.size() % count) {  // zero-size items: nothing to reorder
        h.update(bytes.data(), bytes.size());
        return h.hex();
    }
    std::size_t item = bytes.size() / count;
    std::int64_t s = 1;
    for (std::size_t i = 0; i < rank; ++i) {  // column-major strides
        stride[i] = s;
        s *= dims[i];
    }
    for (std::uint64_t done = 0; done < count; ++done) {
        std::int64_t pos = 0;
        for (std::size_t i = 0; i < rank; ++i) pos += index[i] * stride[i];
        h.update(bytes.data() + static_cast<std::size_t>(pos) * item, item);
        for (std::size_t d = rank; d-- > 0;) {
            if (++index[d] < dims[d]) break;
            index[d] = 0;
        }
    }
    return h.hex();
}

/// The canonical JSON of what the walk (walk.hpp) reaches, in its order, numbering
/// identity-bearing values and storages. A value is written as the walk enters it and a
/// container closed as the walk leaves it; what stands between a container's children (commas,
/// field names, the brackets of a mapping's [key, value] pairs) is written before each child.
class canonical_writer {
public:
    canonical_writer(const document_data& doc, const walk_limits& limits) : doc_(doc), limits_(limits) {}

    /// One value; several runs (a TorchScript archive's data and constants) share numbering and
    /// the output bound.
    result<std::string> run(node_id root) {
        out_.clear();
        walker<canonical_writer>(doc_, *this, map_keys::walked).run(root);
        if (!going()) return error_;
        written_ += out_.size();
        return std::move(out_);
    }

    // The walk's visitor: a container's mark is the form it was opened in.
    walk_action enter(const walk_event& e, std::uint32_t& mark) {
        form f = form::value;
        const bool more = e.parent == null_node || field(e, f);
        // Checked between a field's name and its value: writing a tensor or a storage can fail
        // on its own, and output already past the bound is the error to report then.
        if (!going()) return walk_action::stop;
        if (!more) return walk_action::skip;
        mark = static_cast<std::uint32_t>(f);
        const walk_action a = f == form::bare ? open_bare(e.id) : open(e.id, f == form::value);
        return going() ? a : walk_action::stop;
    }
    void leave(node_id id, std::uint32_t mark) { close(id, static_cast<form>(mark)); }

private:
    /// How a value is written where the walk reaches it.
    enum class form : std::uint32_t {
        value,       ///< as itself, numbered when it bears identity
        unnumbered,  ///< as itself, never numbered: attributes set by BUILD, which no pickle can refer to
        bare,        ///< its items (or a mapping's [key, value] pairs) in brackets: an object's args, an
                     ///< array's shape
    };

    void fail(error e) {
        if (!failed_) error_ = std::move(e);
        failed_ = true;
    }
    /// False once writing failed or the output passed its bound; error_ says which.
    bool going() {
        if (!failed_ && written_ + out_.size() > limits_.max_output)
            fail(make_error(errc::limit_output, no_offset,
                            "canonical JSON would exceed " + std::to_string(limits_.max_output) +
                                " bytes (limits::max_dump_bytes, dump_slack + dump_bytes_per_input_byte x pickle bytes)"));
        return !failed_;
    }
    /// True (and writes same_as) when this identity-bearing value was met before.
    bool seen(node_id id) {
        auto it = identity_.find(id);
        if (it != identity_.end()) {
            out_ += "{\"same_as\":" + std::to_string(it->second) + "}";
            return true;
        }
        identity_.emplace(id, next_identity_++);
        return false;
    }
    std::uint64_t storage_id(std::uint32_t index) {
        auto it = storages_.find(index);
        if (it != storages_.end()) return it->second;
        storages_.emplace(index, next_storage_);
        return next_storage_++;
    }
    /// Attributes set by BUILD are written unless there are none.
    bool shows_attrs(node_id attrs) const noexcept { return attrs != null_node && item_count(doc_, attrs); }
    static bool per_channel(const detail::tensor_record& r) noexcept {
        return r.quant != qscheme::none && r.quant != qscheme::per_tensor_affine &&
               r.quant != qscheme::per_tensor_symmetric;
    }
    /// `,"name":` (without the comma for the first field of its braces).
    void label(const char* name, bool first = false) {
        if (!first) out_ += ',';
        out_ += '"';
        out_ += name;
        out_ += "\":";
    }

    /// Writes what precedes a child in its container and sets the child's form; false when
    /// nothing more is written of the child (a field the canonical form leaves out, or one
    /// written here whole).
    bool field(const walk_event& e, form& f) {
        const walk_step& s = e.step;
        const bool bare = static_cast<form>(e.parent_mark) == form::bare;
        if (s.kind == step_kind::entry) {  // [key,value],[key,value]: the last pair closes with its mapping
            if (s.slot == walk_slot::key) out_ += s.index ? "],[" : "[";
            else out_ += ',';
            return true;
        }
        if (s.kind == step_kind::item && (s.slot == walk_slot::none || bare)) {
            if (s.index) out_ += ',';
            return true;
        }
        if (bare) return false;  // a bare container shows its items only
        switch (doc_.at(e.parent).k) {
        case kind::ordered_dict:  // attrs
            if (!shows_attrs(e.id)) return false;
            if (item_count(doc_, e.parent)) out_ += ']';
            out_ += "],\"attrs\":";
            f = form::unnumbered;
            return true;
        case kind::object:
            if (s.slot == walk_slot::kwargs && !item_count(doc_, e.id)) return false;
            label(slot_name(s.slot));
            if (s.slot == walk_slot::args || s.slot == walk_slot::items || s.slot == walk_slot::dict_items)
                f = form::bare;
            return true;
        case kind::ndarray:
            if (s.slot == walk_slot::dtype) return false;  // in the array's head
            if (s.slot == walk_slot::data && doc_.at(e.id).k != kind::list) {
                auto cached = hashes_.find(hash_key('a', e.parent));
                if (cached == hashes_.end())
                    cached = hashes_.emplace(hash_key('a', e.parent), ndarray_sha256(doc_, e.parent)).first;
                out_ += ",\"sha256\":\"" + cached->second + "\"";
                return false;
            }
            // an object array's items in C order (Fortran object arrays: as pickled)
            label(s.slot == walk_slot::data ? "items" : slot_name(s.slot));
            f = form::bare;
            return true;
        case kind::tensor: {
            const detail::tensor_record& r = doc_.tensor_at(doc_.tensor_index(e.parent));
            if (s.slot == walk_slot::attrs) {
                if (!shows_attrs(e.id)) return false;
                if (per_channel(r)) axis(r);  // closes the quant that scales and zero_points are in
                f = form::unnumbered;
            } else if (!per_channel(r)) {
                return false;
            }
            label(slot_name(s.slot));
            return true;
        }
        case kind::sparse_tensor:
            label(slot_name(s.slot));
            if (s.slot == walk_slot::coalesced) {
                const detail::node& c = doc_.at(e.id);
                out_ += c.k == kind::boolean && c.i ? "true" : "false";
                return false;
            }
            if (s.slot == walk_slot::size) f = form::bare;
            return true;
        default:  // numpy scalar, nested tensor: named items in braces of their own
            label(slot_name(s.slot), s.index == 0);
            if (s.slot == walk_slot::dtype) {
                json_string(out_, doc_.text(e.id));
                return false;
            }
            return true;
        }
    }

    /// Writes a value, or opens a container the walk then descends into.
    walk_action open(node_id id, bool numbered) {
        if (id == null_node) {  // an empty edge (a damaged document)
            out_ += "null";
            return walk_action::skip;
        }
        const detail::node& n = doc_.at(id);
        switch (n.k) {
        case kind::none: out_ += "null"; break;
        case kind::boolean: out_ += n.i ? "true" : "false"; break;
        case kind::integer: out_ += std::to_string(n.i); break;
        case kind::big_integer: {
            auto t = doc_.text(id);
            out_ += twos_to_decimal(reinterpret_cast<const std::uint8_t*>(t.data()), t.size());
            break;
        }
        case kind::floating: json_float(out_, n.f); break;
        case kind::complex:
            out_ += "{\"complex\":[";
            json_float_bits(out_, n.c.re);
            out_ += ",";
            json_float_bits(out_, n.c.im);
            out_ += "]}";
            break;
        case kind::string: json_string(out_, doc_.text(id)); break;
        case kind::bytes:
        case kind::bytearray: {
            if (n.k == kind::bytearray && numbered && seen(id)) break;
            out_ += n.k == kind::bytes ? "{\"bytes\":" : "{\"bytearray\":";
            auto t = doc_.text(id);
            json_hex(out_, t.data(), t.size());
            out_ += "}";
            break;
        }
        case kind::tuple:
        case kind::frozenset:
        case kind::torch_size:
        case kind::slice:
        case kind::range:
            // Numbered like lists, but an empty tuple, frozenset or torch.Size never is: CPython
            // hands out one shared empty tuple, so Python's identity cannot be followed there.
            if (numbered && (item_count(doc_, id) || n.k == kind::slice || n.k == kind::range) && seen(id)) break;
            out_ += n.k == kind::tuple       ? "{\"tuple\":["
                    : n.k == kind::frozenset  ? "{\"frozenset\":["
                    : n.k == kind::torch_size ? "{\"torch_size\":["
                    : n.k == kind::slice      ? "{\"slice\":["
                                              : "{\"range\":[";
            return walk_action::descend;
        case kind::list:
        case kind::set:
        case kind::dict:
        case kind::ordered_dict:
            if (numbered && seen(id)) break;
            out_ += n.k == kind::list  ? "["
                    : n.k == kind::set  ? "{\"set\":["
                    : n.k == kind::dict ? "{\"dict\":["
                                        : "{\"ordered_dict\":[";
            return walk_action::descend;
        case kind::global: {
            // layouts and qschemes are values of their own in torch, not classes
            const torch_global role = torch_global_of(doc_, id);
            if (role == torch_global::get_layout || role == torch_global::qscheme) {
                out_ += role == torch_global::get_layout ? "{\"layout\":" : "{\"qscheme\":";
                json_string(out_, doc_.global_name(id));
            } else {
                out_ += "{\"global\":";
                json_string(out_, doc_.text(id));
            }
            out_ += "}";
            break;
        }
        case kind::object:
            if (numbered && seen(id)) break;
            out_ += "{\"object\":{\"class\":";
            json_string(out_, doc_.text(slot_child(doc_, id, walk_slot::cls)));
            if (slot_child(doc_, id, walk_slot::args) == null_node) out_ += ",\"args\":[]";
            return walk_action::descend;
        case kind::device:
            out_ += "{\"device\":";
            json_string(out_, doc_.text(id));
            out_ += "}";
            break;
        case kind::dtype:
            out_ += "{\"dtype\":\"";
            out_ += name(doc_.dtype_of(id));
            out_ += "\"}";
            break;
        case kind::numpy_dtype:
            out_ += "{\"numpy_dtype\":";
            json_string(out_, doc_.text(id));
            out_ += "}";
            break;
        case kind::numpy_scalar: out_ += "{\"numpy_scalar\":{"; return walk_action::descend;
        case kind::ndarray: {
            if (numbered && seen(id)) break;
            const node_id dt = slot_child(doc_, id, walk_slot::dtype);
            if (dt == null_node) {  // never built: an empty array placeholder
                out_ += "{\"ndarray\":null}";
                break;
            }
            out_ += "{\"ndarray\":{\"dtype\":";
            json_string(out_, doc_.text(dt));
            return walk_action::descend;
        }
        case kind::tensor: return tensor_json(id);
        case kind::storage: storage_json(id); break;
        case kind::sparse_tensor:
            out_ += "{\"sparse_tensor\":{\"layout\":\"";
            out_ += layout_name(doc_.layout_of(id));
            out_ += "\"";
            return walk_action::descend;
        case kind::nested_tensor: out_ += "{\"nested_tensor\":{"; return walk_action::descend;
        }
        return walk_action::skip;
    }
    /// Only the items of a sequence, or the [key, value] pairs of a mapping, in brackets.
    walk_action open_bare(node_id id) {
        out_ += '[';
        if (id != null_node && has_children(doc_.at(id).k)) return walk_action::descend;
        out_ += ']';
        return walk_action::skip;
    }
    /// Closes a container opened in form `f`.
    void close(node_id id, form f) {
        const detail::node& n = doc_.at(id);
        const bool mapping = n.k == kind::dict || n.k == kind::ordered_dict;
        if (mapping && !(n.k == kind::ordered_dict && f != form::bare && shows_attrs(doc_.ordered_dict_attrs(id))) &&
            item_count(doc_, id))
            out_ += ']';  // the last [key, value] pair (attrs, when shown, closed the pairs already)
        if (f == form::bare) {
            out_ += ']';
            return;
        }
        switch (n.k) {
        case kind::list: out_ += ']'; return;
        case kind::ordered_dict: out_ += shows_attrs(doc_.ordered_dict_attrs(id)) ? "}" : "]}"; return;
        case kind::tensor: {
            const detail::tensor_record& r = doc_.tensor_at(doc_.tensor_index(id));
            if (per_channel(r) && !shows_attrs(r.attrs)) axis(r);
            out_ += "}}";
            return;
        }
        case kind::object:
        case kind::ndarray:
        case kind::sparse_tensor:
        case kind::nested_tensor:
        case kind::numpy_scalar: out_ += "}}"; return;
        default: out_ += "]}"; return;  // tuple, set, frozenset, torch.Size, slice, range, dict
        }
    }

    void dims(span<const std::int64_t> d) {
        out_ += "[";
        for (std::size_t i = 0; i < d.size(); ++i) {
            if (i) out_ += ",";
            out_ += std::to_string(d[i]);
        }
        out_ += "]";
    }
    /// The end of a per-channel quant: after its scales and zero_points.
    void axis(const detail::tensor_record& r) { out_ += ",\"axis\":" + std::to_string(r.axis) + "}"; }
    /// A tensor's fields; the walk descends for the per-channel scales and zero_points, and
    /// for the attributes set by BUILD.
    walk_action tensor_json(node_id id) {
        const std::uint32_t index = doc_.tensor_index(id);
        tensor t(&doc_, index);
        const detail::tensor_record& r = doc_.tensor_at(index);
        out_ += "{\"tensor\":{\"dtype\":\"";
        out_ += name(t.dtype());
        out_ += "\",\"shape\":";
        dims(t.shape());
        out_ += ",\"stride\":";
        dims(t.strides());
        out_ += ",\"offset\":" + std::to_string(t.offset());
        out_ += ",\"device\":";
        json_string(out_, t.device());
        out_ += std::string(",\"requires_grad\":") + (t.requires_grad() ? "true" : "false");
        out_ += std::string(",\"parameter\":") + (t.is_parameter() ? "true" : "false");
        if (t.has_storage()) {
            const storage& s = doc_.storage_at(t.storage_index());
            out_ += ",\"storage\":{\"id\":" + std::to_string(storage_id(t.storage_index())) + ",\"dtype\":\"";
            out_ += name(s.desc.type);
            out_ += "\",\"nbytes\":" + std::to_string(s.nbytes()) + "}";
            const std::string* hash = tensor_hash(t);
            if (!hash) return walk_action::skip;
            out_ += ",\"sha256\":\"" + *hash + "\"";
        } else {
            out_ += ",\"storage\":null,\"sha256\":null";
        }
        if (r.cls != null_node) {
            out_ += ",\"class\":";
            json_string(out_, doc_.text(r.cls));
        }
        if (r.quant == qscheme::per_tensor_affine || r.quant == qscheme::per_tensor_symmetric) {
            out_ += ",\"quant\":{\"qscheme\":\"";
            out_ += qscheme_name(r.quant);
            out_ += "\",\"scale\":";
            json_float(out_, r.scale);
            out_ += ",\"zero_point\":" + std::to_string(r.zero_point) + "}";
        } else if (per_channel(r)) {
            out_ += ",\"quant\":{\"qscheme\":\"";
            out_ += qscheme_name(r.quant);
            out_ += "\"";
        }
        if (per_channel(r) || shows_attrs(r.attrs)) return walk_action::descend;
        out_ += "}}";
        return walk_action::skip;
    }
    void storage_json(node_id id) {
        const std::uint32_t index = doc_.storage_index(id);
        const storage& s = doc_.storage_at(index);
        out_ += "{\"storage\":{\"id\":" + std::to_string(storage_id(index)) + ",\"dtype\":\"";
        out_ += name(s.desc.type);
        out_ += "\",\"nbytes\":" + std::to_string(s.nbytes()) + ",\"device\":";
        json_string(out_, s.device);
        auto cached = hashes_.find(hash_key('s', index));
        if (cached == hashes_.end()) {
            if (auto read = doc_.storage_data(index); !read) return fail(std::move(read).err());
            cached = hashes_.emplace(hash_key('s', index), storage_sha256(s)).first;
        }
        out_ += ",\"sha256\":\"" + cached->second + "\"}}";
    }

    /// Hashes are cached under a tag and the bytes of what determines them.
    static std::string hash_key(char tag, std::uint32_t index) {
        std::string k(1, tag);
        k.append(reinterpret_cast<const char*>(&index), sizeof index);
        return k;
    }
    /// The hash of a tensor's logical elements, computed once per distinct view (tied weights
    /// and memo references name the same view many times); null after fail() for an oversized view.
    const std::string* tensor_hash(const tensor& t) {
        std::string key = hash_key('t', t.storage_index());
        auto put = [&key](const void* p, std::size_t n) { key.append(static_cast<const char*>(p), n); };
        std::int64_t offset = t.offset();
        std::uint8_t bits[3] = {static_cast<std::uint8_t>(t.dtype()), t.is_neg(), t.is_conj()};
        put(&offset, sizeof offset);
        put(bits, sizeof bits);
        put(t.shape().data(), t.rank() * sizeof(std::int64_t));
        put(t.strides().data(), t.rank() * sizeof(std::int64_t));
        auto cached = hashes_.find(key);
        if (cached != hashes_.end()) return &cached->second;
        if (auto ok = check_view(t, limits_); !ok) {
            fail(std::move(ok).err());
            return nullptr;
        }
        if (auto read = t.storage_data(); !read) {
            fail(std::move(read).err());
            return nullptr;
        }
        return &hashes_.emplace(std::move(key), tensor_sha256(t, doc_.storage_at(t.storage_index()).desc.type)).first->second;
    }

    const document_data& doc_;
    walk_limits limits_;
    std::uint64_t written_ = 0;  // by earlier runs
    bool failed_ = false;
    error error_;
    std::unordered_map<std::string, std::string> hashes_;
    std::string out_;
    std::unordered_map<node_id, std::uint64_t> identity_;
    std::uint64_t next_identity_ = 0;
    std::unordered_map<std::uint32_t, std::uint64_t> storages_;
    std::uint64_t next_storage_ = 0;
};

} // namespace detail

/// The canonical JSON of a value (docs/CANONICAL-JSON.md) within explicit bounds.
inline result<std::string> to_canonical_json(const value& v, const walk_limits& limits) {
    if (!v.valid()) return v.missing_error();
    detail::canonical_writer w(*v.doc(), limits);
    return w.run(v.id());
}
/// The canonical JSON of a value within the default bounds for its document.
inline result<std::string> to_canonical_json(const value& v) {
    if (!v.valid()) return v.missing_error();
    return to_canonical_json(v, walk_limits_for(*v.doc()));
}
/// The canonical JSON of a value; `limit` replaces the default output bound.
inline result<std::string> to_canonical_json(const value& v, std::uint64_t limit) {
    if (!v.valid()) return v.missing_error();
    walk_limits l = walk_limits_for(*v.doc());
    l.max_output = limit;
    return to_canonical_json(v, l);
}

} // namespace v0
} // namespace ptload

#endif
