// tests/fuzz/drive.hpp: what each fuzz target does with one input, shared by the libFuzzer
// entry points (tests/fuzz/fuzz_*.cpp), the replay of committed crash inputs
// (tests/test_fuzz_regressions.cpp) and the truncation and byte-flip tests
// (tests/test_robustness.cpp).
//
// Every drive_* function takes arbitrary bytes and must return normally whatever they are: a
// load may fail with an error, but nothing may crash, hang, leak, read out of bounds or throw.
// Where a result can be checked against another view of the same data (the canonical JSON is
// well-formed JSON, a contiguous copy of a contiguous tensor equals its bytes, a streamed source
// gives the same outcome as one in memory) the check aborts on disagreement, so a fuzzer reports
// wrong answers as well as crashes.
#ifndef PTLOAD_TESTS_FUZZ_DRIVE_HPP
#define PTLOAD_TESTS_FUZZ_DRIVE_HPP

#include <ptload/all.hpp>
#include <ptload/zip/inflate.hpp>
#include <ptload/zip/reader.hpp>

#if __has_include(<ptload/scan.hpp>)
#include <ptload/scan.hpp>
#define PTLOAD_FUZZ_HAS_SCAN 1
#else
#define PTLOAD_FUZZ_HAS_SCAN 0
#endif

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace ptload_fuzz {

/// Stops the process with a message: a fuzzer records the input, a test run fails loudly.
[[noreturn]] inline void fail_check(const char* what) {
    std::fprintf(stderr, "ptload fuzz check failed: %s\n", what);
    std::abort();
}

#define PTLOAD_FUZZ_CHECK(cond)                                                \
    do {                                                                       \
        if (!(cond)) ::ptload_fuzz::fail_check(#cond " (" __FILE__ ")");       \
    } while (0)

/// A byte source without data(): the loaders then read through read_at into their own buffers,
/// the path a file_source takes, instead of reading in place.
class stream_source {
public:
    stream_source(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}
    std::uint64_t size() const noexcept { return size_; }
    ptload::status read_at(std::uint64_t offset, void* dst, std::size_t n) const {
        if (offset > size_ || n > size_ - offset)
            return ptload::make_error(ptload::errc::truncated, offset, "read past the end of the input");
        if (n) std::memcpy(dst, data_ + offset, n);
        return {};
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
};

/// Whether `s` is one well-formed JSON value (RFC 8259 syntax, ASCII or UTF-8 text). Iterative:
/// the canonical JSON of a deep document nests deeply.
inline bool json_well_formed(std::string_view s) {
    std::vector<char> open;  // '{' or '['
    std::size_t i = 0;
    const std::size_t n = s.size();
    auto ws = [&] {
        while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
    };
    auto string = [&]() -> bool {
        if (i >= n || s[i] != '"') return false;
        for (++i; i < n; ++i) {
            const unsigned char c = static_cast<unsigned char>(s[i]);
            if (c == '"') {
                ++i;
                return true;
            }
            if (c < 0x20) return false;
            if (c == '\\') {
                if (++i >= n) return false;
                const char e = s[i];
                if (e == 'u') {
                    for (int k = 0; k < 4; ++k)
                        if (++i >= n || !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
                } else if (!std::strchr("\"\\/bfnrt", e) || e == 0) {
                    return false;
                }
            }
        }
        return false;
    };
    auto number = [&]() -> bool {
        const std::size_t start = i;
        if (i < n && s[i] == '-') ++i;
        if (i >= n || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
        if (s[i] == '0') ++i;
        else
            while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        if (i < n && s[i] == '.') {
            ++i;
            if (i >= n || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
            while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
            ++i;
            if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
            if (i >= n || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
            while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        }
        return i > start;
    };
    auto literal = [&](std::string_view word) -> bool {
        if (s.substr(i, word.size()) != word) return false;
        i += word.size();
        return true;
    };
    // States: expecting a value; after a value (',' or a closer, or the end at depth 0).
    bool want_value = true;
    for (;;) {
        ws();
        if (want_value) {
            if (i >= n) return false;
            const char c = s[i];
            if (c == '{' || c == '[') {
                open.push_back(c);
                ++i;
                ws();
                if (i < n && s[i] == (c == '{' ? '}' : ']')) {  // empty container
                    open.pop_back();
                    ++i;
                    want_value = false;
                    continue;
                }
                if (c == '{') {
                    if (!string()) return false;
                    ws();
                    if (i >= n || s[i] != ':') return false;
                    ++i;
                }
                continue;
            }
            bool ok = c == '"' ? string()
                      : c == 't' ? literal("true")
                      : c == 'f' ? literal("false")
                      : c == 'n' ? literal("null")
                                 : number();
            if (!ok) return false;
            want_value = false;
            continue;
        }
        if (open.empty()) return i == n;
        if (i >= n) return false;
        if (s[i] == ',') {
            ++i;
            if (open.back() == '{') {
                ws();
                if (!string()) return false;
                ws();
                if (i >= n || s[i] != ':') return false;
                ++i;
            }
            want_value = true;
            continue;
        }
        if (s[i] != (open.back() == '{' ? '}' : ']')) return false;
        open.pop_back();
        ++i;
    }
}

/// Every accessor of one tensor: bytes, contiguous copy, float32 conversion, packed values.
inline void walk_tensor(const ptload::tensor& t) {
    (void)t.dtype();
    (void)t.device();
    (void)t.attrs();
    const std::uint64_t numel = t.numel();
    auto bytes = t.bytes();
    auto copy = t.contiguous_copy();
    if (bytes && copy) {
        // Both are the elements in row-major order when the tensor is contiguous.
        PTLOAD_FUZZ_CHECK(bytes->size() == copy->size());
        PTLOAD_FUZZ_CHECK(bytes->size() == 0 || std::memcmp(bytes->data(), copy->data(), bytes->size()) == 0);
    }
    if (copy) PTLOAD_FUZZ_CHECK(copy->size() == numel * ptload::element_size(t.dtype()));
    auto floats = t.to_float32();
    if (floats) PTLOAD_FUZZ_CHECK(floats->size() == numel);
    if (t.has_storage() && numel <= (std::uint64_t{1} << 16)) {
        // The loader checks every view against its storage: every element position must lie in
        // it (packed sub-byte dtypes count values, not bytes).
        const std::uint64_t per = ptload::values_per_byte(t.dtype());
        const std::uint64_t esize = ptload::element_size(t.dtype());
        const std::uint64_t stored = t.storage_bytes().size();
        t.for_each_position([&](std::int64_t pos) {
            PTLOAD_FUZZ_CHECK(pos >= 0);
            const auto p = static_cast<std::uint64_t>(pos);
            if (per > 1) {
                PTLOAD_FUZZ_CHECK(p / per < stored);
                (void)t.packed_value(pos);
            } else {
                PTLOAD_FUZZ_CHECK(esize == 0 || (p < stored / esize));
            }
        });
    }
}

/// The walks a user can make over a loaded document: canonical JSON, the tree print, the tensor
/// listing, every tensor record, and the value accessors on every node.
inline void walk_document(const ptload::document& doc) {
    auto json = ptload::canonical_json(doc);
    if (json) PTLOAD_FUZZ_CHECK(json_well_formed(*json));
    (void)ptload::to_tree(doc.root());
    if (doc.is_torchscript()) (void)ptload::to_tree(doc.constants());

    for (const ptload::tensor_row& row : ptload::list_tensors(doc)) {
        auto t = row.tensor_value.as_tensor();
        PTLOAD_FUZZ_CHECK(t.has_value());
        walk_tensor(*t);
    }
    // Tensors the listing does not reach (inside sets, ndarrays, object args) too.
    for (std::size_t i = 0; i < doc.tensor_count(); ++i) walk_tensor(doc.tensor_at(i));

    for (std::size_t id = 0; id < doc.node_count(); ++id) {
        const ptload::value v = doc.get(static_cast<ptload::node_id>(id));
        (void)v.as_bool();
        (void)v.as_int();
        (void)v.as_double();
        (void)v.as_string();
        (void)v.as_bytes();
        (void)v.class_name();
        (void)v.attrs();
        const std::size_t size = v.size();
        const std::size_t shown = size < 4 ? size : 4;
        for (std::size_t k = 0; k < shown; ++k) {
            if (v.is_mapping()) {
                (void)v.key_at(k);
                (void)v.value_at(k);
            } else {
                (void)v[k];
            }
        }
        (void)v[size];  // one past the end: a missing value, not a read past the edges
        if (v.is_mapping()) {
            (void)v["weight"];
            (void)v.at_int_key(0);
        }
    }
}

/// A failed load must say why: a real error code and a message.
template <class R>
ptload::errc outcome_of(const R& r) {
    if (r.has_value()) return ptload::errc::ok;
    PTLOAD_FUZZ_CHECK(r.err().code != ptload::errc::ok);
    PTLOAD_FUZZ_CHECK(!r.err().message.empty());
    return r.err().code;
}

/// (a) torch.load of the bytes (any format, plain pickles too), then every walk; returns
/// errc::ok or the load's error code.
inline ptload::errc load_and_walk(const std::uint8_t* data, std::size_t size) {
    ptload::memory_source mem(data, size);
    auto doc = ptload::load_any(mem);
    const ptload::errc code = outcome_of(doc);
    if (doc) walk_document(*doc);
    // A source without data() takes the copying paths; it must reach the same outcome.
    if (size <= (std::size_t{1} << 20)) {
        stream_source stream(data, size);
        auto again = ptload::load_any(stream);
        PTLOAD_FUZZ_CHECK(outcome_of(again) == code);
    }
    // The other storage modes read the same storages at other times. Mapped reads them all
    // before returning: the same outcome. Lazy reads them when touched: its load fails only
    // where the eager one failed first, and where the eager one loads, the lazy document reads
    // the same values (the storages' faults surface as the walk touches them).
    ptload::load_options o;
    o.storages = ptload::storage_mode::mapped;
    auto mapped = ptload::load_any(mem, o);
    PTLOAD_FUZZ_CHECK(outcome_of(mapped) == code);
    o.storages = ptload::storage_mode::lazy;
    auto lazy = ptload::load_any(ptload::memory_source(data, size), o);
    if (!lazy) PTLOAD_FUZZ_CHECK(lazy.err().code == code);
    if (doc) {
        PTLOAD_FUZZ_CHECK(lazy && mapped);
        // read_into on the untouched lazy document reads just the span each view covers from
        // the source: the same elements as the eager document's contiguous copy, nothing kept.
        auto eager_rows = ptload::list_tensors(*doc);
        auto lazy_rows = ptload::list_tensors(*lazy);
        PTLOAD_FUZZ_CHECK(eager_rows.size() == lazy_rows.size());
        for (std::size_t i = 0; i < eager_rows.size() && i < lazy_rows.size(); ++i) {
            auto eager = eager_rows[i].tensor_value.as_tensor();
            auto lazily = lazy_rows[i].tensor_value.as_tensor();
            if (!eager || !lazily || ptload::values_per_byte(eager->dtype()) != 1 || eager->numel() > (1u << 16)) continue;
            auto copy = eager->contiguous_copy();
            if (!copy) continue;
            std::vector<std::uint8_t> into(copy->size());
            auto read = lazily->read_into(into.data(), into.size());
            PTLOAD_FUZZ_CHECK(read);
            PTLOAD_FUZZ_CHECK(into.empty() || std::memcmp(into.data(), copy->data(), into.size()) == 0);
        }
        auto want = ptload::canonical_json(*doc);
        auto got_lazy = ptload::canonical_json(*lazy);
        auto got_mapped = ptload::canonical_json(*mapped);
        PTLOAD_FUZZ_CHECK(outcome_of(got_lazy) == outcome_of(want) && outcome_of(got_mapped) == outcome_of(want));
        if (want) PTLOAD_FUZZ_CHECK(*got_lazy == *want && *got_mapped == *want);
    }
    // torch.save's per-tensor opcode runs taken one opcode at a time: the same outcome to the
    // letter (code, offset, message, context) and the same values.
    ptload::load_options one_by_one;
    one_by_one.fused_runs = false;
    auto plain = ptload::load_any(mem, one_by_one);
    PTLOAD_FUZZ_CHECK(outcome_of(plain) == code);
    if (!doc && !plain) {
        PTLOAD_FUZZ_CHECK(plain.err().offset == doc.err().offset && plain.err().message == doc.err().message &&
                          plain.err().context == doc.err().context);
    } else if (doc && plain) {
        auto want = ptload::canonical_json(*doc);
        auto got = ptload::canonical_json(*plain);
        PTLOAD_FUZZ_CHECK(outcome_of(got) == outcome_of(want));
        if (want && got) PTLOAD_FUZZ_CHECK(*got == *want);
        PTLOAD_FUZZ_CHECK(doc->node_count() == plain->node_count());
    }
    // Strict mode (the same compiled loader, with the allowlist on) only refuses: where it
    // loads, the default load reads the same values; where only the default load succeeds,
    // strict mode failed for a global (or an object array) it does not allow.
    auto strict = ptload::load_any<ptload::strict>(mem);
    if (strict) {
        PTLOAD_FUZZ_CHECK(doc);
        if (doc) {
            auto want = ptload::canonical_json(*doc);
            auto got = ptload::canonical_json(*strict);
            PTLOAD_FUZZ_CHECK(outcome_of(got) == outcome_of(want));
            if (want && got) PTLOAD_FUZZ_CHECK(*got == *want);
        }
    } else if (doc) {
        PTLOAD_FUZZ_CHECK(strict.err().code == ptload::errc::disallowed_global);
    }
    return code;
}

inline int drive_load(const std::uint8_t* data, std::size_t size) {
    (void)load_and_walk(data, size);
    return 0;
}

/// (b) pickle.load of the bytes, then every walk.
inline int drive_pickle(const std::uint8_t* data, std::size_t size) {
    auto doc = ptload::load_pickle(ptload::memory_source(data, size));
    if (outcome_of(doc) == ptload::errc::ok) walk_document(*doc);
    return 0;
}

/// Reads the directory and then every entry of a zip; `check_crc` alternates the CRC paths.
template <class Source>
void walk_zip(Source& src, bool check_crc) {
    auto zip = ptload::read_zip(src);
    if (!zip) return;
    PTLOAD_FUZZ_CHECK(zip->central_directory_offset() <= src.size());
    for (const ptload::zip_entry& e : zip->entries()) {
        PTLOAD_FUZZ_CHECK(e.data_offset <= src.size() && e.compressed_size <= src.size() - e.data_offset);
        PTLOAD_FUZZ_CHECK(zip->find(e.name) == &e);
        auto bytes = ptload::read_entry(src, e, ptload::zip_limits{}, check_crc);
        if (bytes) PTLOAD_FUZZ_CHECK(bytes->size() == e.size);
    }
    (void)ptload::archive_prefix(*zip);
}

/// (c) the zip reader: read_zip and every entry, in memory and through read_at.
inline int drive_zip(const std::uint8_t* data, std::size_t size) {
    ptload::memory_source mem(data, size);
    walk_zip(mem, true);
    stream_source stream(data, size);
    walk_zip(stream, false);
    return 0;
}

/// (d) the inflater. The first two bytes give the expected output size (0 to 65535; the
/// decoder must fill exactly that); the rest is the raw DEFLATE stream.
inline int drive_inflate(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t out_size = data[0] | std::size_t{data[1]} << 8;
    std::vector<std::uint8_t> in(data + 2, data + size);  // exactly sized: overreads are caught
    std::vector<std::uint8_t> out(out_size);
    (void)ptload::inflate_raw(in.data(), in.size(), out.data(), out.size());
    return 0;
}

#if PTLOAD_FUZZ_HAS_SCAN
/// (e) scan: every pickle of the file walked for what it would import, then both reports. A
/// source without data() must give the same verdict and findings.
inline int drive_scan(const std::uint8_t* data, std::size_t size) {
    ptload::memory_source mem(data, size);
    const ptload::scan_report report = ptload::scan(mem);
    (void)ptload::scan_text(report, "input");
    PTLOAD_FUZZ_CHECK(json_well_formed(ptload::scan_json(report, "input")));
    for (const ptload::error& e : report.errors) PTLOAD_FUZZ_CHECK(e.code != ptload::errc::ok);
    stream_source stream(data, size);
    const ptload::scan_report again = ptload::scan(stream);
    PTLOAD_FUZZ_CHECK(again.exit_code() == report.exit_code());
    PTLOAD_FUZZ_CHECK(again.findings.size() == report.findings.size());
    return 0;
}
#endif

} // namespace ptload_fuzz

#endif
