// scan.hpp: what a file would import if Python loaded it, found without loading it.
//
//     ptload::file_source src{"model.pt"};
//     ptload::scan_report r = ptload::scan(src);
//     std::fputs(ptload::scan_text(r, "model.pt").c_str(), stdout);
//     return r.exit_code();                    // 0 clean, 1 dangerous, 2 unreadable
//
// Every pickle Python or torch could unpickle is walked (pickle/disassemble.hpp) without
// building values and without reading tensor data: each record of a zip whose name ends in .pkl
// or whose bytes are a pickle (zip and TorchScript archives, npz), in the central directory and
// in local headers the directory does not list, under either name when they disagree; the
// pickles of a legacy stream (magic number, protocol, sys_info, main object, storage keys, never
// the raw storages after them); the members of torch 0.1's tar format; plain pickles and the
// pickles that follow one; object arrays of .npy files; and the streams nested in
// torch.storage._load_from_bytes calls. Where readers have disagreed about a file (local and
// central names, duplicate names, flag bits, CRCs, bytes after STOP, pickle/zip polyglots) every
// view is scanned and the disagreement is reported. Work is linear in the file and memory is
// bounded by the pickles' size and the limits policy.
#ifndef PTLOAD_SCAN_HPP
#define PTLOAD_SCAN_HPP

#include "detail/checked.hpp"
#include "detail/tar_octal.hpp"
#include "detail/utf8.hpp"
#include "error.hpp"
#include "pickle/disassemble.hpp"
#include "policies/limits.hpp"
#include "policies/source.hpp"
#include "torch/detect.hpp"
#include "zip/inflate.hpp"
#include "zip/reader.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ptload {
inline namespace v0 {

/// The outcome of scanning one file.
struct scan_report {
    std::vector<scan_finding> findings;  ///< globals, persistent ids and structure, first seen first
    std::vector<error> errors;           ///< what could not be read to its end

    bool dangerous() const noexcept {
        for (const auto& f : findings)
            if (f.rating == scan_verdict::dangerous) return true;
        return false;
    }
    bool unreadable() const noexcept { return !errors.empty(); }
    /// "dangerous" (something dangerous was seen, even before an error), "unreadable", or "clean".
    const char* status() const noexcept { return dangerous() ? "dangerous" : unreadable() ? "unreadable" : "clean"; }
    /// The process exit status of `ptload scan`: 1 dangerous, 2 unreadable, 0 clean.
    int exit_code() const noexcept { return dangerous() ? 1 : unreadable() ? 2 : 0; }
};

namespace detail {

inline bool scan_ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// A structure finding: not a verdict on code, a fact about the container worth knowing.
inline void scan_note(scan_sink& sink, std::string where, std::uint64_t offset, std::string what,
                      scan_verdict rating = scan_verdict::unknown) {
    scan_finding f;
    f.item = scan_item::structure;
    f.rating = rating;
    f.why = std::move(what);
    f.where = std::move(where);
    f.offset = offset;
    f.stream_offset = offset;
    sink.add(std::move(f));
}

template <class Limits>
struct scan_memory;

/// Called by the disassembler for each literal argument of torch.storage._load_from_bytes.
template <class Limits>
struct scan_nested {
    std::size_t nesting = 0;
    status operator()(const std::uint8_t* p, std::size_t n, std::uint64_t base, const std::string& where,
                      scan_sink& sink);
};

/// Pickles of a stream held in memory (a zip record, nested bytes, a .npy payload).
template <class Limits>
struct scan_memory {
    const std::uint8_t* p;
    std::uint64_t n;
    std::uint64_t base;  ///< file offset of p[0], or no_offset
    std::size_t nesting;
    std::uint64_t end() const noexcept { return n; }
    result<pickle::walk_outcome> operator()(std::uint64_t at, const std::string& where, scan_sink& sink) {
        scan_nested<Limits> nested{nesting};
        pickle::disassembler<Limits, scan_nested<Limits>> d(p + at, static_cast<std::size_t>(n - at),
                                                            base == no_offset ? no_offset : base + at, at, where, sink,
                                                            nested);
        return d.run();
    }
};

/// Pickles read from a source through a window that grows only while a pickle needs more, so
/// the storages of a legacy file (or a tar member) are never read.
template <class Limits, class Source>
struct scan_window {
    Source& src;
    std::uint64_t limit;  ///< end of the region the pickles lie in (the file, a tar member)
    std::vector<std::uint8_t> buf;
    std::uint64_t buf_start = 0;
    std::uint64_t end() const noexcept { return limit; }
    result<pickle::walk_outcome> operator()(std::uint64_t at, const std::string& where, scan_sink& sink) {
        scan_nested<Limits> nested{0};
        if constexpr (has_data<Source>::value) {
            pickle::disassembler<Limits, scan_nested<Limits>> d(src.data() + at, static_cast<std::size_t>(limit - at), at,
                                                                at, where, sink, nested);
            return d.run();
        } else {
            std::uint64_t want = std::min<std::uint64_t>(limit - at, 64 * 1024);
            for (;;) {
                if (!(at >= buf_start && at + want <= buf_start + buf.size())) {
                    if (want > SIZE_MAX) return detail::failure(errc::limit_tensor, at, "pickle larger than the address space", where);
                    buf.resize(static_cast<std::size_t>(want));
                    buf_start = at;
                    PTLOAD_TRY(src.read_at(at, buf.data(), buf.size()));
                }
                const std::uint64_t avail = std::min(buf_start + buf.size(), limit) - at;
                scan_sink attempt;
                pickle::disassembler<Limits, scan_nested<Limits>> d(buf.data() + (at - buf_start),
                                                                    static_cast<std::size_t>(avail), at, at, where,
                                                                    attempt, nested);
                auto r = d.run();
                if (!r && r.err().code == errc::truncated && avail < limit - at) {  // the window cut it short
                    want = avail > (limit - at) / 4 ? limit - at : avail * 4;
                    continue;
                }
                sink.merge(std::move(attempt));
                return r;
            }
        }
    }
};

/// One stream of pickles from `start`: torch's legacy sequence when the first pickle is the
/// magic number (and `legacy` allows it), else a pickle and whatever pickles follow its STOP
/// (pickle.load reads one; a second load, or another tool, reads the next). Returns the error
/// that stopped a pickle torch or pickle.load would read; what follows STOP is only noted.
template <class Limits, class Reader>
status scan_stream(Reader& read, std::uint64_t start, const std::string& label, bool legacy, scan_sink& sink) {
    const auto name = [&](const char* what) { return label.empty() ? std::string(what) : label + ": " + what; };
    auto first = read(start, legacy ? name("pickle") : (label.empty() ? std::string("pickle") : label), sink);
    if (!first) return std::move(first).pass_error();
    std::uint64_t pos = start + first->end;
    if (legacy && first->value.t == pickle::detail::shadow::type::magic) {
        // Renamed after the fact: the magic number pickle names no globals when it is one.
        static const char* const parts[] = {"legacy protocol version", "legacy sys_info", "legacy main pickle",
                                            "legacy storage keys"};
        for (const char* part : parts) {
            auto r = read(pos, name(part), sink);
            if (!r) return std::move(r).pass_error();
            pos += r->end;
        }
        return {};  // raw storage bytes follow; torch never unpickles them
    }
    const std::uint64_t end = read.end();
    for (int k = 2; pos < end; ++k) {
        if (k == 2)
            scan_note(sink, label.empty() ? "pickle" : label, pos,
                      std::to_string(end - pos) + " bytes after STOP; pickle.load stops at STOP, a second load reads on");
        const std::string where = name(("pickle " + std::to_string(k) + " after STOP").c_str());
        auto r = read(pos, where, sink);
        if (!r) {
            scan_note(sink, where, r.err().offset, "not a complete pickle: " + r.err().what());
            break;
        }
        pos += r->end;
    }
    return {};
}

template <class Limits>
status scan_nested<Limits>::operator()(const std::uint8_t* p, std::size_t n, std::uint64_t base,
                                       const std::string& where, scan_sink& sink) {
    if (nesting + 1 > Limits::max_stream_nesting)
        return detail::failure(errc::limit_depth, base, {"torch streams nested more than limits::max_stream_nesting (",
                                                         Limits::max_stream_nesting, ") deep"},
                               where);
    scan_memory<Limits> inner{p, n, base, nesting + 1};
    return scan_stream<Limits>(inner, 0, where, true, sink);
}

// ---------------------------------------------------------------------------------------- npy

/// The payload offset of a .npy file and whether its dtype is object ('|O'), whose elements
/// numpy.load(allow_pickle=True) unpickles. False when the header is malformed.
inline bool npy_header(const std::uint8_t* p, std::uint64_t n, std::uint64_t& payload, bool& object) {
    if (n < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0) return false;
    std::uint64_t len = 0, at = 0;
    if (p[6] == 1) {
        len = le16(p + 8);
        at = 10;
    } else if ((p[6] == 2 || p[6] == 3) && n >= 12) {
        len = p[8] | std::uint64_t{p[9]} << 8 | std::uint64_t{p[10]} << 16 | std::uint64_t{p[11]} << 24;
        at = 12;
    } else {
        return false;
    }
    if (len > n - at) return false;
    std::string_view header(reinterpret_cast<const char*>(p + at), static_cast<std::size_t>(len));
    const std::size_t d = header.find("'descr'");
    if (d == std::string_view::npos) return false;
    const std::size_t q = header.find('\'', header.find(':', d));
    object = q != std::string_view::npos && header.substr(q, 4) == "'|O'";
    payload = at + len;
    return true;
}

template <class Limits>
status scan_npy(const std::uint8_t* p, std::uint64_t n, std::uint64_t base, const std::string& where, scan_sink& sink) {
    std::uint64_t payload = 0;
    bool object = false;
    if (!npy_header(p, n, payload, object))
        return detail::failure(errc::bad_format, base, "malformed .npy header", where);
    if (!object) return {};
    scan_memory<Limits> mem{p + payload, n - payload, base == no_offset ? no_offset : base + payload, 0};
    return scan_stream<Limits>(mem, 0, where + ": object array", false, sink);
}

// ---------------------------------------------------------------------------------------- zip

/// A zip entry as the central directory and its local header each describe it.
struct scan_zip_entry {
    std::string name, local_name;
    std::uint64_t record = 0;          ///< central-directory record offset
    std::uint64_t header_offset = 0;   ///< local header, after any prefix shift
    std::uint64_t data_offset = 0;
    std::uint64_t compressed_size = 0, size = 0;
    std::uint32_t crc32 = 0;
    std::uint16_t flags = 0, local_flags = 0, method = 0, local_method = 0;
    bool local_ok = false;
};

template <class Source>
result<std::vector<std::uint8_t>> scan_read(Source& src, std::uint64_t at, std::uint64_t n) {
    if (at > src.size() || n > src.size() - at) return detail::failure(errc::truncated, at, "range runs past the end of the file");
    if (n > SIZE_MAX) return detail::failure(errc::limit_tensor, at, "range larger than the address space");
    std::vector<std::uint8_t> out(static_cast<std::size_t>(n));
    if (n) PTLOAD_TRY(src.read_at(at, out.data(), out.size()));
    return out;
}

/// The bytes of an entry as torch's reader takes them: the central directory's method and
/// sizes, from the data offset its local header gives, whatever the flag bits say.
template <class Limits, class Source>
result<std::vector<std::uint8_t>> scan_entry_bytes(Source& src, const scan_zip_entry& e, std::uint64_t& inflated) {
    if (e.method == 0) return scan_read(src, e.data_offset, e.compressed_size);
    if (e.method != 8)
        return detail::failure(errc::unsupported, e.header_offset,
                               {"compression method ", e.method, " (torch reads only stored and deflate)"},
                               zip_printable(e.name));
    std::uint64_t cap = 0;
    if (!checked_mul(src.size(), std::uint64_t{Limits::max_inflate_per_file_byte}, cap)) cap = UINT64_MAX;
    if (e.size > 64 * 1024 && (e.compressed_size == 0 || e.size / Limits::max_inflate_ratio > e.compressed_size))
        return detail::failure(errc::limit_inflate, e.header_offset, "inflates beyond limits::max_inflate_ratio",
                               zip_printable(e.name));
    if (e.size > cap - std::min(cap, inflated))
        return detail::failure(errc::limit_inflate, e.header_offset, "deflated records inflate beyond limits::max_inflate_per_file_byte",
                               zip_printable(e.name));
    inflated += e.size;
    auto in = scan_read(src, e.data_offset, e.compressed_size);
    if (!in) return in;
    std::vector<std::uint8_t> out(static_cast<std::size_t>(e.size));
    auto st = inflate_raw(in->data(), in->size(), out.data(), out.size());
    if (!st) {
        error err = std::move(st).err();
        err.offset += e.data_offset;
        err.context = zip_printable(e.name);
        return err;
    }
    return out;
}

/// Whether torch could unpickle a record with this name: records under data/ (and .data/) are
/// raw storages, which nothing unpickles.
inline bool scan_storage_record(std::string_view name) {
    return name.find("/data/") != std::string_view::npos || name.compare(0, 5, "data/") == 0 ||
           name.find(".data/") != std::string_view::npos;
}

/// Looks at one entry: reports what its headers disagree on, and scans it when it is (or holds)
/// a pickle. `scanned` holds data offsets already scanned.
template <class Limits, class Source>
void scan_zip_record(Source& src, const scan_zip_entry& e, bool listed, scan_sink& sink,
                     std::unordered_set<std::uint64_t>& scanned, std::uint64_t& inflated) {
    const std::string name = zip_printable(e.name);
    std::string where = name;
    if (listed && e.local_ok && e.local_name != e.name) {
        const std::string local = zip_printable(e.local_name);
        scan_note(sink, name, e.header_offset,
                  "local header names the entry \"" + local + "\", the central directory \"" + name +
                      "\" (readers that walk local headers see another archive)");
        where = name + " (local header: " + local + ")";
    }
    if (!listed) scan_note(sink, name, e.header_offset, "local header that the central directory does not list");
    const std::uint16_t refused = 0x0001 | 0x0020 | 0x0040 | 0x2000;
    if ((e.flags | e.local_flags) & refused) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%x", static_cast<unsigned>((e.flags | e.local_flags) & refused));
        scan_note(sink, name, e.header_offset,
                  std::string("flag bits ") + hex + " (encryption/patch) set; the data is scanned as if they were not");
    }
    if (listed && e.local_ok && e.local_method != e.method)
        scan_note(sink, name, e.header_offset,
                  "local header says method " + std::to_string(e.local_method) + ", the central directory " +
                      std::to_string(e.method));
    if (!e.local_ok) return;
    const bool by_name = scan_ends_with(e.name, ".pkl") || scan_ends_with(e.local_name, ".pkl");
    if (!by_name && (scan_storage_record(e.name) && scan_storage_record(e.local_name))) return;
    if (!scanned.insert(e.data_offset).second) return;

    // Cheap look at the first bytes before reading a record that is not named as a pickle.
    if (!by_name && e.method == 0) {
        std::uint8_t head[6] = {};
        if (e.compressed_size < 2 || !src.read_at(e.data_offset, head, e.compressed_size < 6 ? 2 : 6)) return;
        const bool pickle_head = head[0] == 0x80 && head[1] >= 2 && head[1] <= 5;
        if (!pickle_head && std::memcmp(head, "\x93NUMPY", 6) != 0) return;
    }
    auto bytes = scan_entry_bytes<Limits>(src, e, inflated);
    if (!bytes) {
        if (by_name) sink.add_error(std::move(bytes).err());
        else scan_note(sink, where, e.header_offset, "could not be read: " + bytes.err().what());
        return;
    }
    if (e.crc32 != 0 && crc32(bytes->data(), bytes->size()) != e.crc32)
        scan_note(sink, where, e.header_offset, "CRC-32 does not match the data (torch does not check it)");
    const std::uint64_t base = e.method == 0 ? e.data_offset : no_offset;
    const std::uint8_t* p = bytes->data();
    const std::uint64_t n = bytes->size();
    status st;
    if (n >= 6 && std::memcmp(p, "\x93NUMPY", 6) == 0) {
        st = scan_npy<Limits>(p, n, base, where, sink);
    } else if (by_name || (n >= 2 && p[0] == 0x80 && p[1] >= 2 && p[1] <= 5)) {
        scan_memory<Limits> mem{p, n, base, 0};
        st = scan_stream<Limits>(mem, 0, where, false, sink);
    }
    if (!st) {
        if (by_name) sink.add_error(std::move(st).err());
        else scan_note(sink, where, e.header_offset, "not a complete pickle: " + st.err().what());
    }
}

/// Reads the local header of e (at e.header_offset) into its local_* fields.
template <class Source>
void scan_local_header(Source& src, scan_zip_entry& e) {
    std::uint8_t h[30] = {};
    if (e.header_offset > src.size() || src.size() - e.header_offset < 30 || !src.read_at(e.header_offset, h, 30) ||
        detail::le32(h) != zip_local_sig)
        return;
    e.local_flags = le16(h + 6);
    e.local_method = le16(h + 8);
    const std::uint64_t vars = std::uint64_t{le16(h + 26)} + le16(h + 28);
    if (vars > src.size() - e.header_offset - 30) return;
    std::vector<std::uint8_t> nm(le16(h + 26));
    if (!nm.empty() && !src.read_at(e.header_offset + 30, nm.data(), nm.size())) return;
    e.local_name.assign(nm.begin(), nm.end());
    e.data_offset = e.header_offset + 30 + vars;
    if (e.compressed_size > src.size() - e.data_offset) return;
    e.local_ok = true;
}

/// Every end-of-central-directory record in the last 64 KiB, last first, parsed as Python's
/// zipfile and miniz would (zip64 records followed; data prepended to the archive allowed for).
struct scan_zip_directory {
    std::uint64_t eocd = 0, offset = 0, size = 0, count = 0, shift = 0;
};

template <class Source>
std::vector<scan_zip_directory> scan_find_directories(Source& src) {
    std::vector<scan_zip_directory> out;
    const std::uint64_t size = src.size();
    if (size < 22) return out;
    const std::uint64_t tail_len = std::min<std::uint64_t>(size, 22 + 0xFFFF);
    std::vector<std::uint8_t> tail(static_cast<std::size_t>(tail_len));
    if (!src.read_at(size - tail_len, tail.data(), tail.size())) return out;
    for (std::size_t pos = tail.size() - 22 + 1; pos-- > 0 && out.size() < 4;) {
        if (le32(tail.data() + pos) != zip_eocd_sig) continue;
        const std::uint8_t* e = tail.data() + pos;
        scan_zip_directory d;
        d.eocd = size - tail_len + pos;
        d.count = le16(e + 10);
        d.size = le32(e + 12);
        d.offset = le32(e + 16);
        std::uint64_t cd_end_limit = d.eocd;
        if (d.eocd >= 20) {
            std::uint8_t loc[20] = {};
            std::uint8_t r[56] = {};
            if (src.read_at(d.eocd - 20, loc, 20) && le32(loc) == zip64_locator_sig) {
                const std::uint64_t z = le64(loc + 8);
                if (z <= d.eocd - 20 && d.eocd - 20 - z >= 56 && src.read_at(z, r, 56) && le32(r) == zip64_eocd_sig) {
                    d.count = le64(r + 32);
                    d.size = le64(r + 40);
                    d.offset = le64(r + 48);
                    cd_end_limit = z;
                }
            }
        }
        if (d.size > cd_end_limit) continue;
        std::uint8_t sig[4] = {};
        if (d.offset <= cd_end_limit - d.size && d.size >= 4 && src.read_at(d.offset, sig, 4) &&
            le32(sig) == zip_central_sig) {
            d.shift = 0;
        } else if (d.size >= 4 && src.read_at(cd_end_limit - d.size, sig, 4) && le32(sig) == zip_central_sig &&
                   cd_end_limit - d.size > d.offset) {
            d.shift = cd_end_limit - d.size - d.offset;  // bytes prepended to the archive
            d.offset += d.shift;
        } else if (d.size == 0 && d.count == 0) {
            d.offset = cd_end_limit;
        } else {
            continue;
        }
        bool same = false;
        for (const auto& o : out) same = same || (o.offset == d.offset && o.size == d.size);
        if (!same) out.push_back(d);
    }
    return out;
}

/// The entries of one central directory; stops (with an error) at the first record that does
/// not parse, keeping the ones before it.
template <class Source>
std::vector<scan_zip_entry> scan_directory_entries(Source& src, const scan_zip_directory& d, scan_sink& sink) {
    std::vector<scan_zip_entry> out;
    auto cd = scan_read(src, d.offset, d.size);
    if (!cd) {
        sink.add_error(std::move(cd).err());
        return out;
    }
    std::uint64_t pos = 0;
    for (std::uint64_t i = 0; i < d.count; ++i) {
        const std::uint64_t at = d.offset + pos;
        if (d.size - pos < 46 || le32(cd->data() + pos) != zip_central_sig) {
            sink.add_error(make_error(errc::bad_zip, at, "central directory record " + std::to_string(i) + " of " +
                                                             std::to_string(d.count) + " is missing or malformed"));
            break;
        }
        const std::uint8_t* p = cd->data() + pos;
        const std::uint16_t name_len = le16(p + 28), extra_len = le16(p + 30), comment_len = le16(p + 32);
        const std::uint64_t record_len = 46 + std::uint64_t{name_len} + extra_len + comment_len;
        if (record_len > d.size - pos) {
            sink.add_error(make_error(errc::bad_zip, at, "central directory record runs past the directory"));
            break;
        }
        scan_zip_entry e;
        e.record = at;
        e.name.assign(reinterpret_cast<const char*>(p + 46), name_len);
        e.flags = le16(p + 8);
        e.method = le16(p + 10);
        e.crc32 = le32(p + 16);
        const std::uint32_t c32 = le32(p + 20), s32 = le32(p + 24), o32 = le32(p + 42);
        zip64_fields f{s32, c32, o32, le16(p + 34)};
        if (!zip_apply_zip64(f, s32 == zip_max32, c32 == zip_max32, o32 == zip_max32, false, p + 46 + name_len,
                             extra_len, at + 46 + name_len, e.name)) {
            sink.add_error(make_error(errc::bad_zip, at, "zip64 extra field is malformed", zip_printable(e.name)));
            break;
        }
        e.size = f.size;
        e.compressed_size = f.compressed_size;
        e.header_offset = f.header_offset + d.shift;
        if (e.header_offset < f.header_offset) e.header_offset = UINT64_MAX;  // the shift wrapped: no such header
        scan_local_header(src, e);
        if (!e.local_ok) {
            const bool pkl = scan_ends_with(e.name, ".pkl");
            error err = make_error(errc::bad_zip, e.header_offset, "no valid local header (or data) for the entry",
                                   zip_printable(e.name));
            if (pkl) sink.add_error(std::move(err));
            else scan_note(sink, zip_printable(e.name), e.header_offset, err.what());
        }
        out.push_back(std::move(e));
        pos += record_len;
    }
    return out;
}

template <class Limits, class Source>
void scan_zip(Source& src, scan_sink& sink, bool must_be_zip) {
    auto dirs = scan_find_directories(src);
    if (dirs.empty()) {
        if (must_be_zip)
            sink.add_error(make_error(errc::bad_zip, 0, "no usable end-of-central-directory record (not a zip, or truncated)"));
        return;
    }
    if (dirs.size() > 1)
        scan_note(sink, "zip", dirs[1].eocd,
                  std::to_string(dirs.size()) + " end-of-central-directory records lead to different directories; "
                                                "every one is scanned");
    std::unordered_set<std::uint64_t> scanned;
    std::uint64_t inflated = 0;
    for (const auto& d : dirs) {
        if (d.shift)
            scan_note(sink, "zip", d.offset, std::to_string(d.shift) + " bytes precede the archive its offsets describe");
        std::vector<scan_zip_entry> entries = scan_directory_entries(src, d, sink);

        // duplicate names: readers disagree on which one wins, so every one is scanned
        std::vector<std::size_t> order(entries.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return entries[a].name < entries[b].name; });
        for (std::size_t i = 1; i < order.size(); ++i)
            if (entries[order[i]].name == entries[order[i - 1]].name &&
                (i == 1 || entries[order[i - 2]].name != entries[order[i]].name))
                scan_note(sink, zip_printable(entries[order[i]].name), entries[order[i]].header_offset,
                          "several entries have this name (readers disagree on which wins); every one is scanned");

        for (const auto& e : entries) scan_zip_record<Limits>(src, e, true, sink, scanned, inflated);

        // local headers the directory does not list, walked the way streaming readers walk them
        std::uint64_t pos = d.shift;
        while (pos <= d.offset && d.offset - pos >= 30) {
            scan_zip_entry e;
            e.header_offset = pos;
            // Set before the read: g++ 12 for s390x and armhf cannot see that a read that succeeds
            // fills it (-Wmaybe-uninitialized) once a memory source's read_at is inlined.
            std::uint8_t h[30] = {};
            if (!src.read_at(pos, h, 30) || le32(h) != zip_local_sig) break;
            const std::uint32_t c32 = le32(h + 18);
            const std::uint64_t known = [&]() -> std::uint64_t {
                for (const auto& k : entries)
                    if (k.header_offset == pos && k.local_ok) return k.data_offset + k.compressed_size;
                return 0;
            }();
            if (known) {
                pos = known;
            } else {
                e.compressed_size = c32;
                e.size = le32(h + 22);
                e.crc32 = le32(h + 14);
                e.method = le16(h + 8);
                e.flags = le16(h + 6);
                scan_local_header(src, e);
                if (!e.local_ok) break;
                e.name = e.local_name;
                if ((e.flags & 0x0008) && c32 == 0) {
                    scan_note(sink, zip_printable(e.name), pos,
                              "local header the central directory does not list, of unknown size; not scanned");
                    break;
                }
                scan_zip_record<Limits>(src, e, false, sink, scanned, inflated);
                pos = e.data_offset + e.compressed_size;
            }
            // a data descriptor, with or without its signature
            std::uint8_t sig[4] = {};
            if (d.offset - pos >= 4 && src.read_at(pos, sig, 4)) {
                if (le32(sig) == zip_descriptor_sig) pos += 16;
                else if (le32(sig) != zip_local_sig && le32(sig) != zip_central_sig && d.offset - pos >= 12) pos += 12;
            }
            if (pos > d.offset) break;
        }
    }
}

// ---------------------------------------------------------------------------------------- tar

template <class Limits, class Source>
status scan_tar_storages(scan_window<Limits, Source>& w, std::uint64_t at, const std::string& label, scan_sink& sink) {
    auto count = w(at, label + ": storage count", sink);
    if (!count) return std::move(count).pass_error();
    at += count->end;
    if (count->value.t != pickle::detail::shadow::type::integer)
        return detail::failure(errc::bad_format, at, "storage count is not an int", label);
    for (std::uint64_t i = 0; i < count->value.a; ++i) {
        auto header = w(at, label + ": storage header", sink);
        if (!header) return std::move(header).pass_error();
        at += header->end;
        if (!header->storage_element)
            return detail::failure(errc::bad_storage, at, "storage header names no storage class, so its data cannot be skipped",
                                   label);
        std::uint8_t numel_bytes[8] = {};
        if (w.limit - at < 8) return detail::failure(errc::truncated, at, "storage size runs past the member", label);
        PTLOAD_TRY(w.src.read_at(at, numel_bytes, 8));
        std::uint64_t numel = 0, bytes = 0;
        for (int b = 7; b >= 0; --b) numel = (numel << 8) | numel_bytes[b];
        if (!checked_mul(numel, std::uint64_t{header->storage_element}, bytes) || bytes > w.limit - at - 8)
            return detail::failure(errc::truncated, at, "storage data runs past the member", label);
        at += 8 + bytes;
    }
    auto views = w(at, label + ": storage views", sink);
    if (!views) return std::move(views).pass_error();
    return {};
}

template <class Limits, class Source>
status scan_tar_tensors(scan_window<Limits, Source>& w, std::uint64_t at, const std::string& label, scan_sink& sink) {
    auto count = w(at, label + ": tensor count", sink);
    if (!count) return std::move(count).pass_error();
    at += count->end;
    if (count->value.t != pickle::detail::shadow::type::integer)
        return detail::failure(errc::bad_format, at, "tensor count is not an int", label);
    for (std::uint64_t i = 0; i < count->value.a; ++i) {
        auto header = w(at, label + ": tensor header", sink);
        if (!header) return std::move(header).pass_error();
        at += header->end;
        std::uint8_t nd[4] = {};
        if (w.limit - at < 8) return detail::failure(errc::truncated, at, "tensor metadata runs past the member", label);
        PTLOAD_TRY(w.src.read_at(at, nd, 4));
        const std::uint32_t ndim = le32(nd);
        if (ndim > Limits::max_tensor_rank) return detail::failure(errc::limit_tensor, at, "tensor rank too large", label);
        const std::uint64_t meta = 8 + (2 * std::uint64_t{ndim} + 1) * 8;
        if (meta > w.limit - at) return detail::failure(errc::truncated, at, "tensor metadata runs past the member", label);
        at += meta;
    }
    return {};
}

/// torch 0.1's tar: members sys_info and pickle are pickles; storages and tensors interleave
/// pickles with raw data that is skipped by its declared size. Every member with one of these
/// names is scanned (tarfile takes the last of duplicates), and pax/GNU long names apply.
template <class Limits, class Source>
void scan_tar(Source& src, scan_sink& sink) {
    const std::uint64_t size = src.size();
    std::uint64_t off = 0;
    std::string long_name;
    std::vector<std::string> seen;
    std::uint8_t h[512] = {};
    while (off <= size && size - off >= 512) {
        if (!src.read_at(off, h, 512)) break;
        bool zero = true;
        for (auto b : h) zero = zero && b == 0;
        if (zero) return;
        if (!is_tar_header(h, 512)) {
            sink.add_error(make_error(errc::bad_format, off, "bad tar header checksum"));
            return;
        }
        std::uint64_t len = 0;
        if (!tar_octal(h + 124, 12, len, false)) {
            sink.add_error(make_error(errc::bad_format, off, "bad tar member size"));
            return;
        }
        const std::uint64_t data = off + 512;
        if (len > size - data) {
            sink.add_error(make_error(errc::truncated, off, "tar member runs past the end of the file"));
            return;
        }
        const char type = static_cast<char>(h[156]);
        std::string name(reinterpret_cast<const char*>(h), strnlen(reinterpret_cast<const char*>(h), 100));
        if (!long_name.empty()) {
            name = long_name;
            long_name.clear();
        }
        if ((type == 'x' || type == 'L') && len <= 1 << 20) {
            auto body = scan_read(src, data, len);
            if (body) {
                std::string text(body->begin(), body->end());
                if (type == 'L') {
                    long_name = text.substr(0, text.find('\0'));
                } else {
                    const std::size_t p = text.find(" path=");
                    if (p != std::string::npos) long_name = text.substr(p + 6, text.find('\n', p) - (p + 6));
                }
            }
        }
        if (name.compare(0, 2, "./") == 0) name.erase(0, 2);
        if (type == '0' || type == 0) {
            const bool known = name == "sys_info" || name == "pickle" || name == "storages" || name == "tensors";
            if (known) {
                if (std::find(seen.begin(), seen.end(), name) != seen.end())
                    scan_note(sink, "tar " + name, off, "tar member appears more than once; every copy is scanned");
                seen.push_back(name);
                scan_window<Limits, Source> w{src, data + len, {}, 0};
                const std::string label = "tar " + name;
                status st;
                if (name == "storages") st = scan_tar_storages(w, data, label, sink);
                else if (name == "tensors") st = scan_tar_tensors(w, data, label, sink);
                else st = scan_stream<Limits>(w, data, label, false, sink);
                if (!st) sink.add_error(std::move(st).err());
            }
        }
        std::uint64_t next = 0;
        if (!checked_add(data, (len + 511) / 512 * 512, next) || next <= off) return;
        off = next;
    }
}

} // namespace detail

/// Scans every pickle of a file for what it would import, without building values or reading
/// tensor data. Never fails: what cannot be read is in report.errors.
///     ptload::file_source src{"model.pt"};
///     auto report = ptload::scan(src);
///     if (report.dangerous()) ...
template <class Limits = default_limits, class Source>
scan_report scan(Source& src) {
    static_assert(check_source<Source>(), "scan needs a byte source (see ptload/policies/source.hpp)");
    scan_sink sink;
    const std::uint64_t size = src.size();
    std::uint8_t head[512] = {};
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size, sizeof head));
    status read_head = n ? src.read_at(0, head, n) : status{};
    if (!read_head) {
        sink.add_error(std::move(read_head).err());
    } else {
        const file_kind kind = detect(head, n, size);
        if (kind == file_kind::zip) {
            detail::scan_zip<Limits>(src, sink, true);
            // The reverse polyglot: the same bytes read as a pickle from offset 0.
            scan_sink probe;
            detail::scan_window<Limits, Source> w{src, std::min<std::uint64_t>(size, 1 << 20), {}, 0};
            auto r = w(0, "pickle view of the zip", probe);
            if (r) {
                detail::scan_note(sink, "pickle view of the zip", 0,
                                  "the file is also a pickle from byte 0 (a zip/pickle polyglot; its leading PERSID "
                                  "stops pickle.load unless the unpickler resolves persistent ids)");
                sink.merge(std::move(probe));
            }
        } else if (kind == file_kind::tar) {
            detail::scan_tar<Limits>(src, sink);
        } else if (kind == file_kind::pickle_or_legacy) {
            detail::scan_window<Limits, Source> w{src, size, {}, 0};
            status st = detail::scan_stream<Limits>(w, 0, "", true, sink);
            if (!st) sink.add_error(std::move(st).err());
            // A pickle with an end-of-central-directory record: zipfile.is_zipfile says zip.
            scan_sink zip_view;
            detail::scan_zip<Limits>(src, zip_view, false);
            if (!zip_view.findings().empty() || !zip_view.errors().empty()) {
                detail::scan_note(sink, "zip view of the pickle", 0,
                                  "the file is a pickle from byte 0 and also a zip (a pickle/zip polyglot); both are scanned");
                sink.merge(std::move(zip_view));
            }
        } else if (kind == file_kind::numpy_npy) {
            std::vector<std::uint8_t> all;
            const std::uint8_t* p = nullptr;
            if constexpr (detail::has_data<Source>::value) {
                p = src.data();
            } else {
                auto bytes = detail::scan_read(src, 0, size);
                if (bytes) all = std::move(*bytes);
                p = all.data();
            }
            if (p || size == 0) {
                status st = detail::scan_npy<Limits>(p, size, 0, "npy", sink);
                if (!st) sink.add_error(std::move(st).err());
            }
        } else {
            sink.add_error(describe_unreadable(kind, head, n, size));
        }
    }
    scan_report report;
    report.errors = sink.take_errors();
    report.findings = sink.take_findings();
    return report;
}

// ---------------------------------------------------------------------------------------- output

namespace detail {

/// Text fit for a terminal or JSON: valid UTF-8 is kept; control bytes and bytes that are not
/// UTF-8 become \xNN.
inline std::string scan_printable(std::string_view s) {
    std::string out;
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    for (std::size_t i = 0; i < s.size();) {
        std::size_t bad = 0;
        const std::size_t len = p[i] >= 0x20 && p[i] != 0x7F ? utf8_sequence(p + i, s.size() - i, false, bad) : 0;
        if (len) {
            out.append(s.data() + i, len);
            i += len;
            continue;
        }
        static constexpr char hex[] = "0123456789abcdef";
        out += "\\x";
        out += hex[p[i] >> 4];
        out += hex[p[i] & 15];
        ++i;
    }
    return out;
}

inline void scan_json_string(std::string& out, std::string_view s) {
    const std::string t = scan_printable(s);
    out += '"';
    for (char c : t) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
}

inline std::string scan_subject(const scan_finding& f) {
    if (f.item == scan_item::structure) return "";
    if (f.item == scan_item::persistent_id) return f.name;
    return f.module.empty() ? f.name : f.module + "." + f.name;
}

} // namespace detail

/// A report for people: one line per finding and per error.
///     model.pt: dangerous
///       dangerous  global  posix.system  at byte 28 in pickle: never legitimate in a checkpoint ...
inline std::string scan_text(const scan_report& r, std::string_view path) {
    std::string out = detail::scan_printable(path) + ": " + r.status() + "\n";
    for (const auto& f : r.findings) {
        out += "  ";
        out += f.item == scan_item::structure ? "note" : scan_verdict_name(f.rating);
        out += "  ";
        out += scan_item_name(f.item);
        const std::string subject = detail::scan_subject(f);
        if (!subject.empty()) out += "  " + detail::scan_printable(subject);
        if (!f.written.empty()) out += " (written " + detail::scan_printable(f.written) + ")";
        if (f.offset != no_offset) out += "  at byte " + std::to_string(f.offset);
        else if (f.stream_offset != no_offset) out += "  at " + std::to_string(f.stream_offset);
        if (!f.where.empty()) out += " in " + detail::scan_printable(f.where);
        if (f.count > 1) out += " (x" + std::to_string(f.count) + ")";
        if (!f.why.empty()) out += ": " + detail::scan_printable(f.why);
        out += '\n';
    }
    for (const auto& e : r.errors) out += "  error  " + detail::scan_printable(e.what()) + "\n";
    return out;
}

/// The same as one JSON object: {"file", "status", "findings": [...], "errors": [...]}.
inline std::string scan_json(const scan_report& r, std::string_view path) {
    std::string out = "{\"file\":";
    detail::scan_json_string(out, path);
    out += ",\"status\":\"";
    out += r.status();
    out += "\",\"findings\":[";
    for (std::size_t i = 0; i < r.findings.size(); ++i) {
        const scan_finding& f = r.findings[i];
        if (i) out += ',';
        out += "{\"kind\":\"";
        out += scan_item_name(f.item);
        out += "\",\"verdict\":\"";
        out += scan_verdict_name(f.rating);
        out += "\",\"module\":";
        detail::scan_json_string(out, f.module);
        out += ",\"name\":";
        detail::scan_json_string(out, f.name);
        if (!f.written.empty()) {
            out += ",\"written\":";
            detail::scan_json_string(out, f.written);
        }
        out += ",\"where\":";
        detail::scan_json_string(out, f.where);
        out += ",\"offset\":";
        out += f.offset == no_offset ? std::string("null") : std::to_string(f.offset);
        out += ",\"stream_offset\":";
        out += f.stream_offset == no_offset ? std::string("null") : std::to_string(f.stream_offset);
        out += ",\"count\":" + std::to_string(f.count) + ",\"why\":";
        detail::scan_json_string(out, f.why);
        out += '}';
    }
    out += "],\"errors\":[";
    for (std::size_t i = 0; i < r.errors.size(); ++i) {
        const error& e = r.errors[i];
        if (i) out += ',';
        out += "{\"code\":\"";
        out += errc_name(e.code);
        out += "\",\"offset\":";
        out += e.offset == no_offset ? std::string("null") : std::to_string(e.offset);
        out += ",\"context\":";
        detail::scan_json_string(out, e.context);
        out += ",\"message\":";
        detail::scan_json_string(out, e.message);
        out += '}';
    }
    out += "]}";
    return out;
}

} // namespace v0
} // namespace ptload

#endif
