// convert.hpp: a checkpoint's tensors written out as a .safetensors file or a numpy .npz
// archive, one tensor at a time, so memory follows the largest tensor, not the checkpoint.
//
//     auto doc = ptload::open_file("model.pt");      // lazy: a storage is read when written
//     std::FILE* f = std::fopen("model.safetensors", "wb");
//     ptload::file_sink out(f);
//     auto done = ptload::write_safetensors(*doc, out);   // result<convert_summary>
//
// Tensors are named as `ptload ls` names them (list_tensors). Each is written as its own
// row-major contiguous array with little-endian elements, whatever the host: views and tensors
// that share a storage are copied out one by one, the neg/conj view bits are applied (the
// logical values, as torch's resolve_neg()/resolve_conj() give them) and bools are 0 or 1.
// Every tensor is checked before the first byte is written, so a refusal (a dtype the format
// has no equivalent for, a name that matches nothing) writes nothing; a read that fails later
// leaves a partial output, which the caller discards (the CLI writes to a temporary file).
#ifndef PTLOAD_CONVERT_HPP
#define PTLOAD_CONVERT_HPP

#include "detail/checked.hpp"
#include "detail/crc32.hpp"
#include "detail/utf8.hpp"
#include "error.hpp"
#include "json.hpp"
#include "listing.hpp"
#include "policies/limits.hpp"
#include "span.hpp"
#include "torch/dtype.hpp"
#include "torch/tensor.hpp"
#include "value.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ptload {
inline namespace v0 {

/// Where converted bytes go, in order. A virtual call per write is nothing next to the bytes
/// of a tensor, and it keeps the writers compiled once rather than once per destination.
class byte_sink {
public:
    virtual ~byte_sink() = default;
    /// Appends n bytes; false when they could not all be written.
    virtual bool write(const void* p, std::size_t n) = 0;
};

/// A stdio stream the caller opened for writing (and flushes and closes: a full disk may only
/// show then).
class file_sink final : public byte_sink {
public:
    explicit file_sink(std::FILE* f) noexcept : f_(f) {}
    bool write(const void* p, std::size_t n) override { return n == 0 || (f_ && std::fwrite(p, 1, n, f_) == n); }

private:
    std::FILE* f_;
};

/// Everything in memory (small outputs, tests).
class memory_sink final : public byte_sink {
public:
    bool write(const void* p, std::size_t n) override {
        const auto* b = static_cast<const std::uint8_t*>(p);
        bytes.insert(bytes.end(), b, b + n);
        return true;
    }
    std::vector<std::uint8_t> bytes;
};

enum class convert_format : std::uint8_t { safetensors, npz };

struct convert_options {
    /// The tensors to write, by the names `ptload ls` prints; empty: every tensor. A name that
    /// matches no tensor is an error.
    std::vector<std::string> select;
    /// A broadcast view (zero or overlapping strides) is written in full, as .contiguous()
    /// would make it; beyond this many times its storage's bytes (plus limits::view_slack) it
    /// is refused (errc::limit_view), as tensor::contiguous_copy refuses it.
    std::uint64_t max_view_expansion = default_limits::max_view_expansion;
    /// npz: zip64 size and offset fields on every entry and a zip64 end record, as Python's
    /// zipfile writes with force_zip64; without it they appear only where a size or an offset
    /// reaches 4 GiB or the entries number 65535 or more.
    bool force_zip64 = false;
    /// Told as tensors are written: `done` of `total` tensor bytes, first with done = 0, then
    /// after each tensor (as load_options::progress reports storages).
    void (*progress)(void* context, std::uint64_t done, std::uint64_t total) = nullptr;
    void* progress_context = nullptr;
};

/// What a conversion wrote.
struct convert_summary {
    std::size_t tensors = 0;
    std::uint64_t bytes = 0;  ///< the whole output
};

/// The safetensors dtype of a torch dtype ("F32"), or empty when safetensors has no exact
/// equivalent (complex, quantized, the fnuz float8 kinds, ...).
constexpr std::string_view safetensors_dtype(dtype t) noexcept {
    switch (t) {
    case dtype::bool_: return "BOOL";
    case dtype::uint8: return "U8";
    case dtype::int8: return "I8";
    case dtype::int16: return "I16";
    case dtype::uint16: return "U16";
    case dtype::int32: return "I32";
    case dtype::uint32: return "U32";
    case dtype::int64: return "I64";
    case dtype::uint64: return "U64";
    case dtype::float16: return "F16";
    case dtype::bfloat16: return "BF16";
    case dtype::float32: return "F32";
    case dtype::float64: return "F64";
    case dtype::float8_e4m3fn: return "F8_E4M3";
    case dtype::float8_e5m2: return "F8_E5M2";
    default: return {};
    }
}

/// The .npy descr of a torch dtype ("<f4"), or empty when numpy has no such dtype (bfloat16,
/// float8) or the values are not plain numbers (quantized, bits).
constexpr std::string_view npy_descr(dtype t) noexcept {
    switch (t) {
    case dtype::bool_: return "|b1";
    case dtype::uint8: return "|u1";
    case dtype::int8: return "|i1";
    case dtype::int16: return "<i2";
    case dtype::uint16: return "<u2";
    case dtype::int32: return "<i4";
    case dtype::uint32: return "<u4";
    case dtype::int64: return "<i8";
    case dtype::uint64: return "<u8";
    case dtype::float16: return "<f2";
    case dtype::float32: return "<f4";
    case dtype::float64: return "<f8";
    case dtype::complex64: return "<c8";
    case dtype::complex128: return "<c16";
    default: return {};
    }
}

namespace detail {

/// One tensor to write: its name, the tensor, and the bytes its elements take.
struct convert_item {
    std::string name;
    tensor t;
    std::uint64_t nbytes;
};

inline error convert_error(errc code, const std::string& name, std::string message) {
    return make_error(code, no_offset, std::move(message), "tensor '" + name + "'");
}

/// A read's error, saying which tensor was being written.
inline error in_tensor(error e, const std::string& name) {
    e.context = "tensor '" + name + "'" + (e.context.empty() ? "" : ", " + e.context);
    return e;
}

/// Why `t` cannot be written in `format`, or nothing when it can.
inline status check_convertible(const std::string& name, const tensor& t, convert_format format) {
    const dtype d = t.dtype();
    const std::string dn(ptload::name(d));
    const dtype_class cls = info(d).cls;
    if (format == convert_format::safetensors && safetensors_dtype(d).empty()) {
        std::string why = dn + " has no safetensors dtype";
        if (cls == dtype_class::complex && !npy_descr(d).empty())
            why += ": convert to .npz instead, or leave the tensor out (--select)";
        else if (cls == dtype_class::quantized) why += ": dequantize it in torch first, or leave the tensor out (--select)";
        else why += "; leave the tensor out (--select)";
        return convert_error(errc::unsupported, name, why);
    }
    if (format == convert_format::npz && npy_descr(d).empty()) {
        std::string why = "numpy has no " + dn + " dtype";
        if (!safetensors_dtype(d).empty()) why += ": convert to .safetensors instead, or leave the tensor out (--select)";
        else if (cls == dtype_class::quantized) why += ": dequantize it in torch first, or leave the tensor out (--select)";
        else why += "; leave the tensor out (--select)";
        return convert_error(errc::unsupported, name, why);
    }
    // torch gives a tensor loaded to the meta device no data, even when the file holds some.
    if (!t.has_storage() || t.device() == "meta")
        return convert_error(errc::bad_tensor, name, "the tensor has no data (a meta tensor, or --map-location meta)");
    return {};
}

/// The tensors opts selects, in listing order, each checked to be writable in `format`.
inline result<std::vector<convert_item>> plan_conversion(const document& doc, const convert_options& opts,
                                                         convert_format format) {
    std::vector<tensor_row> rows = list_tensors(doc);
    // Selected names -> whether a tensor matched. The views point into opts.select, which
    // does not change while this runs.
    std::unordered_map<std::string_view, bool> wanted;
    for (const auto& s : opts.select) wanted.emplace(s, false);
    std::unordered_set<std::string_view> names;  // views into rows, which no longer grows
    std::vector<convert_item> items;
    for (const auto& row : rows) {
        if (!wanted.empty()) {
            auto w = wanted.find(row.name);
            if (w == wanted.end()) continue;
            w->second = true;
        }
        auto t = row.tensor_value.as_tensor();
        if (!t) return std::move(t).pass_error();
        if (!names.insert(row.name).second)
            return convert_error(errc::unsupported, row.name,
                                 "two tensors have this name (keys that contain dots, or names cut to their last keys)");
        if (format == convert_format::safetensors && row.name == "__metadata__")
            return convert_error(errc::unsupported, row.name, "safetensors keeps this name for the file's metadata");
        items.push_back({row.name, *t, 0});
    }
    std::string missing;
    for (const auto& s : opts.select)  // in the order given, each once
        if (auto w = wanted.find(s); w != wanted.end() && !w->second) {
            missing += missing.empty() ? "'" : ", '";
            missing += s;
            missing += "'";
            w->second = true;
        }
    if (!missing.empty())
        return detail::failure(errc::not_found, no_offset, {"no tensor named ", missing,
                                                            " (`ptload ls` lists the names)"});
    for (auto& item : items) {
        PTLOAD_TRY(check_convertible(item.name, item.t, format));
        auto nbytes = item.t.contiguous_nbytes(opts.max_view_expansion);  // what contiguous_copy would refuse
        if (!nbytes) return in_tensor(std::move(nbytes).err(), item.name);
        item.nbytes = *nbytes;
    }
    return items;
}

/// A tensor's elements as the output holds them: row-major, each little-endian, neg/conj
/// applied, bools 0 or 1. In place (the storage's own bytes) when they already are that;
/// otherwise in `owned`.
struct tensor_payload {
    span<const std::uint8_t> bytes;
    std::unique_ptr<std::uint8_t[]> owned;
};

inline result<std::unique_ptr<std::uint8_t[]>> allocate_bytes(const convert_item& item, std::uint64_t n) {
    std::unique_ptr<std::uint8_t[]> p(new (std::nothrow) std::uint8_t[n ? static_cast<std::size_t>(n) : 1]);
    if (!p) return convert_error(errc::io_error, item.name, "no memory for " + std::to_string(n) + " bytes");
    return p;
}

/// Reads one tensor's elements. A storage that a lazy load left in the source stays there
/// (tensor::read_into reads what the tensor touches and keeps nothing), so memory is the
/// tensor's bytes, plus for a strided view the span of the storage it covers. The exception is
/// a legacy storage view (torch < 1.6 files): reading it makes its root storage resident, and
/// the document keeps that.
inline status read_payload(const document& doc, const convert_item& item, std::uint64_t max_expansion, tensor_payload& out) {
    const tensor& t = item.t;
    const std::size_t esize = element_size(t.dtype());
    const std::size_t n = static_cast<std::size_t>(item.nbytes);  // checked against SIZE_MAX by the plan
    const dtype_class cls = info(t.dtype()).cls;
    // Storages hold host order, except a wider dtype laid over a byte storage (the v3 dtypes),
    // whose bytes were never swapped and are still the file's little-endian ones.
    const dtype stored = doc.storage_at(t.storage_index()).desc.type;
    const bool swap = !host_is_little_endian() && esize > 1 && byte_order_unit(stored) > 1;
    const bool rewrite = swap || cls == dtype_class::boolean || t.is_neg() || t.is_conj();
    out.owned.reset();
    if (t.is_contiguous() && t.is_resident() && !rewrite) {
        auto b = t.bytes();
        if (!b) return in_tensor(std::move(b).err(), item.name);
        out.bytes = *b;
        return {};
    }
    auto buffer = allocate_bytes(item, n);
    if (!buffer) return std::move(buffer).pass_error();
    out.owned = std::move(*buffer);
    if (auto read = t.read_into(out.owned.get(), n, max_expansion); !read) return in_tensor(std::move(read).err(), item.name);
    std::uint8_t* p = out.owned.get();
    if (swap) byteswap_elements(p, n, t.dtype());
    if (cls == dtype_class::boolean)
        for (std::size_t i = 0; i < n; ++i) p[i] = p[i] ? 1 : 0;
    if (t.is_neg() || t.is_conj())
        for (std::size_t i = 0; i < n; i += esize) logical_value(t, p + i, esize);
    out.bytes = span<const std::uint8_t>(p, n);
    return {};
}

/// Tensor bytes written of a conversion's total, for convert_options::progress.
class convert_progress {
public:
    template <class Plan>
    convert_progress(const convert_options& o, const Plan& plan) noexcept : fn_(o.progress), context_(o.progress_context) {
        if (!fn_) return;
        for (const auto& item : plan)  // saturating: a total past 2^64 cannot be written anyway
            if (!checked_add(total_, item.nbytes, total_)) total_ = ~std::uint64_t{0};
        fn_(context_, 0, total_);
    }
    void tensor_written(std::uint64_t nbytes) noexcept {
        done_ += nbytes;
        if (fn_) fn_(context_, done_, total_);
    }

private:
    void (*fn_)(void*, std::uint64_t, std::uint64_t);
    void* context_;
    std::uint64_t done_ = 0, total_ = 0;
};

/// The sink, with the count of bytes written and the error that says where it failed.
class counted_sink {
public:
    explicit counted_sink(byte_sink& s) noexcept : s_(s) {}
    status put(const void* p, std::size_t n) {
        if (!s_.write(p, n))
            return detail::failure(errc::io_error, written_, {"could not write the output (", n, " bytes after ",
                                                              written_, ")"});
        written_ += n;
        return {};
    }
    status put(std::string_view s) { return put(s.data(), s.size()); }
    std::uint64_t written() const noexcept { return written_; }

private:
    byte_sink& s_;
    std::uint64_t written_ = 0;
};

/// Appends v as `bytes` little-endian bytes.
inline void put_le(std::string& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFFu);
}

/// The NPY preamble of an array: magic, version, header length and the header dict, padded
/// with spaces and a newline to a multiple of 64 bytes, as numpy.save writes it. Version 2.0
/// (a 4-byte length) only when the header does not fit in 65535 bytes.
inline std::string npy_preamble(std::string_view descr, span<const std::int64_t> shape) {
    std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (";
    for (std::size_t i = 0; i < shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(shape[i]);
    dict += shape.size() == 1 ? ",), }" : "), }";
    auto padded = [&](std::size_t fixed) {  // header text + padding + '\n'
        std::size_t total = fixed + dict.size() + 1;
        return dict.size() + 1 + (64 - total % 64) % 64;
    };
    const bool v2 = padded(10) > 0xFFFF;
    const std::size_t header = padded(v2 ? 12 : 10);
    std::string out("\x93NUMPY", 6);
    out += static_cast<char>(v2 ? 2 : 1);
    out += '\0';
    put_le(out, header, v2 ? 4 : 2);
    out += dict;
    out.append(header - dict.size() - 1, ' ');
    out += '\n';
    return out;
}

/// Whether a name may be a zip entry that tools extract safely: not absolute, no `..`
/// component, no NUL, no drive letter, and short enough for the 16-bit length field.
inline bool safe_entry_name(std::string_view name) {
    if (name.size() > 0xFFFF - 4 || name.find('\0') != std::string_view::npos) return false;
    if (!name.empty() && (name[0] == '/' || name[0] == '\\')) return false;
    if (name.size() >= 2 && name[1] == ':') return false;
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t end = name.find_first_of("/\\", start);
        if (end == std::string_view::npos) end = name.size();
        if (name.substr(start, end - start) == "..") return false;
        start = end + 1;
    }
    return true;
}

/// What the central directory needs of one written entry.
struct zip_written {
    std::string name;
    std::uint32_t crc;
    std::uint64_t size;    ///< stored: compressed = uncompressed
    std::uint64_t offset;  ///< of the local header
    std::uint16_t flags;
};

inline constexpr std::uint64_t zip32_max = 0xFFFFFFFFu;  // a 32-bit field at this value points to zip64
inline constexpr std::uint16_t zip_dos_date = 0x21;      // 1980-01-01: the output depends on the input only

} // namespace detail

/// Writes the tensors as a .safetensors file: an 8-byte little-endian header length N, N bytes
/// of JSON ({"__metadata__":{"format":"pt"},"NAME":{"dtype":"F32","shape":[8,4],
/// "data_offsets":[BEGIN,END]},...}, padded with spaces to a multiple of 8), then the tensors'
/// bytes packed in listing order. Refuses (errc::unsupported, naming the tensor) dtypes that
/// safetensors has no equivalent for: complex, quantized, bits, the fnuz float8 kinds.
inline result<convert_summary> write_safetensors(const document& doc, byte_sink& sink, const convert_options& opts = {}) {
    auto plan = detail::plan_conversion(doc, opts, convert_format::safetensors);
    if (!plan) return std::move(plan).pass_error();
    std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
    std::uint64_t offset = 0;
    for (const auto& item : *plan) {
        header += ',';
        detail::json_string(header, item.name);
        header += ":{\"dtype\":\"";
        header += safetensors_dtype(item.t.dtype());
        header += "\",\"shape\":[";
        for (std::size_t i = 0; i < item.t.rank(); ++i) header += (i ? "," : "") + std::to_string(item.t.shape()[i]);
        header += "],\"data_offsets\":[" + std::to_string(offset) + ",";
        if (!detail::checked_add(offset, item.nbytes, offset))
            return detail::convert_error(errc::limit_tensor, item.name, "the tensors' bytes add up past 2^64");
        header += std::to_string(offset) + "]}";
    }
    header += '}';
    header.append((8 - header.size() % 8) % 8, ' ');
    detail::counted_sink out(sink);
    std::string length;
    detail::put_le(length, header.size(), 8);
    PTLOAD_TRY(out.put(length));
    PTLOAD_TRY(out.put(header));
    detail::tensor_payload payload;
    detail::convert_progress progress(opts, *plan);
    for (const auto& item : *plan) {
        PTLOAD_TRY(detail::read_payload(doc, item, opts.max_view_expansion, payload));
        PTLOAD_TRY(out.put(payload.bytes.data(), payload.bytes.size()));
        payload.owned.reset();  // one tensor's bytes at a time
        progress.tensor_written(item.nbytes);
    }
    return convert_summary{plan->size(), out.written()};
}

/// Writes the tensors as a numpy .npz archive (what numpy.savez writes): a zip of stored
/// (uncompressed) entries NAME.npy, each an NPY 1.0 array in C order. The CRC-32 of an entry is
/// computed from its bytes in memory before its local header is written, so no data
/// descriptors are needed. Refuses (errc::unsupported, naming the tensor) dtypes numpy has no
/// equivalent for: bfloat16, float8, complex32, quantized, bits; and names that would not be
/// safe entry paths (absolute, with a `..` component).
inline result<convert_summary> write_npz(const document& doc, byte_sink& sink, const convert_options& opts = {}) {
    auto plan = detail::plan_conversion(doc, opts, convert_format::npz);
    if (!plan) return std::move(plan).pass_error();
    for (const auto& item : *plan)
        if (!detail::safe_entry_name(item.name))
            return detail::convert_error(errc::unsupported, item.name,
                                         "the name is not a safe zip entry path (absolute, a '..' part, or too long); "
                                         "convert to .safetensors, or leave the tensor out (--select)");
    using detail::put_le;
    using detail::zip32_max;
    detail::counted_sink out(sink);
    std::vector<detail::zip_written> entries;
    entries.reserve(plan->size());
    detail::tensor_payload payload;
    std::string head;
    detail::convert_progress progress(opts, *plan);
    for (const auto& item : *plan) {
        std::string preamble = detail::npy_preamble(npy_descr(item.t.dtype()), item.t.shape());
        PTLOAD_TRY(detail::read_payload(doc, item, opts.max_view_expansion, payload));
        detail::zip_written e;
        e.name = item.name + ".npy";
        e.size = preamble.size() + item.nbytes;
        e.offset = out.written();
        e.crc = detail::crc32_update(detail::crc32(preamble.data(), preamble.size()), payload.bytes.data(), payload.bytes.size());
        bool has_surrogates = false;
        const auto* name = reinterpret_cast<const std::uint8_t*>(e.name.data());
        bool ascii = true;
        for (char c : e.name) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
        // bit 11: the name is UTF-8 (readers take it as code page 437 otherwise)
        e.flags = !ascii && detail::utf8_validate(name, e.name.size(), false, has_surrogates) == e.name.size() ? 0x800 : 0;
        const bool zip64 = opts.force_zip64 || e.size >= zip32_max;
        head.clear();
        put_le(head, 0x04034b50u, 4);
        put_le(head, zip64 ? 45 : 20, 2);  // version needed: 4.5 for zip64
        put_le(head, e.flags, 2);
        put_le(head, 0, 2);  // stored
        put_le(head, 0, 2);  // time
        put_le(head, detail::zip_dos_date, 2);
        put_le(head, e.crc, 4);
        put_le(head, zip64 ? zip32_max : e.size, 4);
        put_le(head, zip64 ? zip32_max : e.size, 4);
        put_le(head, e.name.size(), 2);
        put_le(head, zip64 ? 20 : 0, 2);
        head += e.name;
        if (zip64) {  // a local header's zip64 field holds both sizes
            put_le(head, 1, 2);
            put_le(head, 16, 2);
            put_le(head, e.size, 8);
            put_le(head, e.size, 8);
        }
        PTLOAD_TRY(out.put(head));
        PTLOAD_TRY(out.put(preamble));
        PTLOAD_TRY(out.put(payload.bytes.data(), payload.bytes.size()));
        payload.owned.reset();
        entries.push_back(std::move(e));
        progress.tensor_written(item.nbytes);
    }
    const std::uint64_t directory = out.written();
    for (const auto& e : entries) {
        // A central zip64 field holds only the values whose 32-bit fields are 0xFFFFFFFF.
        const bool big_size = opts.force_zip64 || e.size >= zip32_max;
        const bool big_offset = opts.force_zip64 || e.offset >= zip32_max;
        std::string extra;
        if (big_size || big_offset) {
            put_le(extra, 1, 2);
            put_le(extra, (big_size ? 16 : 0) + (big_offset ? 8 : 0), 2);
            if (big_size) {
                put_le(extra, e.size, 8);
                put_le(extra, e.size, 8);
            }
            if (big_offset) put_le(extra, e.offset, 8);
        }
        const int version = extra.empty() ? 20 : 45;
        head.clear();
        put_le(head, 0x02014b50u, 4);
        put_le(head, version, 2);  // made by (MS-DOS attributes)
        put_le(head, version, 2);  // needed
        put_le(head, e.flags, 2);
        put_le(head, 0, 2);
        put_le(head, 0, 2);
        put_le(head, detail::zip_dos_date, 2);
        put_le(head, e.crc, 4);
        put_le(head, big_size ? zip32_max : e.size, 4);
        put_le(head, big_size ? zip32_max : e.size, 4);
        put_le(head, e.name.size(), 2);
        put_le(head, extra.size(), 2);
        put_le(head, 0, 2);  // comment
        put_le(head, 0, 2);  // disk
        put_le(head, 0, 2);  // internal attributes
        put_le(head, 0, 4);  // external attributes
        put_le(head, big_offset ? zip32_max : e.offset, 4);
        head += e.name;
        head += extra;
        PTLOAD_TRY(out.put(head));
    }
    const std::uint64_t directory_size = out.written() - directory;
    const std::uint64_t count = entries.size();
    head.clear();
    if (opts.force_zip64 || count >= 0xFFFF || directory >= zip32_max || directory_size >= zip32_max) {
        const std::uint64_t record = out.written();
        put_le(head, 0x06064b50u, 4);  // zip64 end of central directory record
        put_le(head, 44, 8);
        put_le(head, 45, 2);
        put_le(head, 45, 2);
        put_le(head, 0, 4);
        put_le(head, 0, 4);
        put_le(head, count, 8);
        put_le(head, count, 8);
        put_le(head, directory_size, 8);
        put_le(head, directory, 8);
        put_le(head, 0x07064b50u, 4);  // its locator
        put_le(head, 0, 4);
        put_le(head, record, 8);
        put_le(head, 1, 4);
    }
    put_le(head, 0x06054b50u, 4);
    put_le(head, 0, 2);
    put_le(head, 0, 2);
    put_le(head, count < 0xFFFF ? count : 0xFFFF, 2);
    put_le(head, count < 0xFFFF ? count : 0xFFFF, 2);
    put_le(head, directory_size < zip32_max ? directory_size : zip32_max, 4);
    put_le(head, directory < zip32_max ? directory : zip32_max, 4);
    put_le(head, 0, 2);
    PTLOAD_TRY(out.put(head));
    return convert_summary{plan->size(), out.written()};
}

/// write_safetensors or write_npz.
inline result<convert_summary> write_converted(const document& doc, byte_sink& sink, convert_format format,
                                               const convert_options& opts = {}) {
    return format == convert_format::npz ? write_npz(doc, sink, opts) : write_safetensors(doc, sink, opts);
}

} // namespace v0
} // namespace ptload

#endif
