// Tests of the zip container layer: detail/crc32.hpp, zip/inflate.hpp, zip/reader.hpp.
//
// Fixtures: tests/fixtures/zip/ (written by tools/gen_zip_fixtures.py) and real files from
// ../shared/corpus/ (torch 1.13 to 2.x, numpy .npz, picklescan's malicious zips).
#include "pickle_bytes.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>

#include <ptload/detail/crc32.hpp>
#include <ptload/detail/read_window.hpp>
#include <ptload/detail/sort.hpp>
#include <ptload/zip/inflate.hpp>
#include <ptload/zip/reader.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace ptload_test::pickle_bytes;
using ptload_test::corpus;

std::string zip_fixture(const std::string& name) { return ptload_test::source_path("tests/fixtures/zip/" + name); }

bytes slurp(const std::string& path) {
    bytes out;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    REQUIRE_MESSAGE(f != nullptr, "cannot open " << path);
    std::uint8_t buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
    std::fclose(f);
    return out;
}

std::string text(const bytes& b) { return std::string(b.begin(), b.end()); }

/// Runs f on the file both as memory (data(): parsed in place) and as a stdio stream (read_at
/// into scratch buffers), so both code paths see every input.
template <class F>
void with_sources(const std::string& path, F&& f) {
    const bytes data = slurp(path);
    {
        INFO("memory_source " << path);
        ptload::memory_source mem{data.data(), data.size()};
        f(mem);
    }
    {
        INFO("file_source " << path);
        ptload::file_source file{path};
        REQUIRE(file.is_open());
        f(file);
    }
}

template <class T>
void check_error(const ptload::result<T>& r, ptload::errc code, const std::string& message_part) {
    REQUIRE_FALSE(r.has_value());
    INFO(r.err().what());
    CHECK(r.err().code == code);
    CHECK(r.err().message.find(message_part) != std::string::npos);
}

// The data generator of tools/gen_zip_fixtures.py (splitmix64), so inflate fixtures can be
// compared with the bytes they were made from.
struct splitmix64 {
    std::uint64_t state;
    std::uint64_t next() {
        state += 0x9E3779B97F4A7C15u;
        std::uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
        return z ^ (z >> 31);
    }
};

bytes make_data(std::string_view kind, std::size_t size, std::uint64_t seed) {
    static const std::string_view words[] = {"tensor", "weight", "bias",  "the",          "layer",      {"\0\0\x80\x3f", 4},
                                             "conv",   "0.125",  "running_mean", "state_dict", "\n", "optimizer"};
    splitmix64 rng{seed};
    bytes out;
    if (kind == "random")
        for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<std::uint8_t>(rng.next() & 0xFF));
    else if (kind == "zeros")
        out.assign(size, 0);
    else if (kind == "text") {
        while (out.size() < size) {
            const std::string_view w = words[rng.next() % (sizeof words / sizeof words[0])];
            out.insert(out.end(), w.begin(), w.end());
            out.push_back(' ');
        }
        out.resize(size);
    } else if (kind == "skewed") {
        for (std::size_t i = 0; i < size; ++i) {
            const std::uint64_t z = rng.next();
            std::uint8_t n = 0;
            while (n < 63 && !((z >> n) & 1)) ++n;
            out.push_back(n);
        }
    } else {
        FAIL("unknown kind " << kind);
    }
    return out;
}

/// Bits for hand-made DEFLATE streams: fields go in LSB first, Huffman codes MSB first.
struct bit_writer {
    bytes out;
    unsigned used = 8;  // bits used in out.back()
    void bits(std::uint32_t value, unsigned n) {
        for (unsigned i = 0; i < n; ++i) bit((value >> i) & 1u);
    }
    void code(std::uint32_t value, unsigned n) {
        for (unsigned i = n; i-- > 0;) bit((value >> i) & 1u);
    }
    void bit(unsigned b) {
        if (used == 8) {
            out.push_back(0);
            used = 0;
        }
        out.back() = static_cast<std::uint8_t>(out.back() | b << used++);
    }
    // Fixed-code symbols (RFC 1951 3.2.6).
    void fixed_literal(unsigned sym) {
        if (sym < 144) code(0x30 + sym, 8);
        else if (sym < 256) code(0x190 + sym - 144, 9);
        else if (sym < 280) code(sym - 256, 7);
        else code(0xC0 + sym - 280, 8);
    }
};

ptload::status inflate_into(const bytes& in, std::size_t out_size, bytes* result = nullptr) {
    bytes out(out_size);
    auto st = ptload::inflate_raw(in.data(), in.size(), out.data(), out.size());
    if (result) *result = out;
    return st;
}

} // namespace

// ------------------------------------------------------------------------------------------------
namespace {
/// Bytes in memory that log the length of every read made of them.
struct logged_source {
    std::vector<std::uint8_t> bytes;
    std::vector<std::size_t> reads;
    std::uint64_t size() const { return bytes.size(); }
    ptload::status read_at(std::uint64_t offset, void* dst, std::size_t n) {
        reads.push_back(n);
        std::memcpy(dst, bytes.data() + offset, n);
        return {};
    }
};
} // namespace

TEST_CASE("read-ahead: the window reads a page where records are far apart, and grows where they are close") {
    logged_source src;
    src.bytes.resize(std::size_t{8} << 20);
    for (std::size_t i = 0; i < src.bytes.size(); ++i) src.bytes[i] = static_cast<std::uint8_t>(i * 131 + (i >> 12));
    using window_type = ptload::detail::read_window<logged_source>;
    window_type window(src);
    std::uint8_t got[100];
    bool same = true;
    const auto read = [&](std::uint64_t at) {
        REQUIRE(window.read_at(at, got, sizeof got));
        same = same && std::memcmp(got, src.bytes.data() + at, sizeof got) == 0;
    };
    // a 1 GiB checkpoint's local headers: records 1 MiB apart, a few bytes needed of each
    for (std::uint64_t at = 0; at < (std::uint64_t{4} << 20); at += std::uint64_t{1} << 20) read(at);
    CHECK(src.reads == std::vector<std::size_t>(4, window_type::min_ahead));
    // many small records in file order: each refill reads twice the last, up to the capacity
    src.reads.clear();
    for (std::uint64_t at = std::uint64_t{4} << 20; at < (std::uint64_t{6} << 20); at += 300) read(at);
    REQUIRE(src.reads.size() >= 7);
    for (std::size_t k = 0; k < 7; ++k) CHECK(src.reads[k] == (window_type::min_ahead << k));  // 4 KiB .. 256 KiB
    CHECK(src.reads.size() < 7 + 8 + 1);  // then 2 MiB in 256 KiB windows
    // a jump far past the window starts small again
    src.reads.clear();
    read(std::uint64_t{7} << 20);
    CHECK(src.reads == std::vector<std::size_t>{window_type::min_ahead});
    CHECK(same);  // every byte read through the window is the source's
}

TEST_CASE("read-ahead: views are the source's bytes where the window holds them, and never larger than it") {
    logged_source src;
    src.bytes.resize(std::size_t{1} << 20);
    for (std::size_t i = 0; i < src.bytes.size(); ++i) src.bytes[i] = static_cast<std::uint8_t>(i * 131 + (i >> 12));
    using window_type = ptload::detail::read_window<logged_source>;
    window_type window(src, std::size_t{64} << 10);
    bool same = true;
    for (std::uint64_t at = 0; at < (std::uint64_t{512} << 10); at += 190) {  // records in file order
        auto v = window.view(at, 46);
        REQUIRE(v);
        same = same && std::memcmp(*v, src.bytes.data() + at, 46) == 0;
    }
    CHECK(same);
    CHECK(src.reads.size() < 20);  // a few refills, not a read per view
    CHECK(window.can_view(std::size_t{32} << 10));
    CHECK_FALSE(window.can_view((std::size_t{32} << 10) + 1));
    auto half = window.view(std::uint64_t{600} << 10, std::size_t{32} << 10);
    REQUIRE(half);
    CHECK(std::memcmp(*half, src.bytes.data() + (std::size_t{600} << 10), std::size_t{32} << 10) == 0);
    // more than half the window: an error, not a refill past the end of its buffer
    check_error(window.view(0, (std::size_t{32} << 10) + 1), ptload::errc::io_error, "does not fit a read-ahead window");
    check_error(window.view(src.bytes.size() - 10, 11), ptload::errc::truncated, "past the end");
}

// ------------------------------------------------------------------------------------------------
TEST_CASE("crc32: check value, incremental and one-shot agree") {
    CHECK(ptload::detail::crc32("123456789", 9) == 0xCBF43926u);
    CHECK(ptload::detail::crc32("", 0) == 0u);
    const bytes data = make_data("random", 1000, 9);
    const std::uint32_t whole = ptload::detail::crc32(data.data(), data.size());
    for (std::size_t split : {0u, 1u, 7u, 8u, 9u, 500u, 999u, 1000u}) {
        ptload::detail::crc32_state s;
        s.update(data.data(), split);
        s.update(data.data() + split, data.size() - split);
        CHECK(s.value() == whole);
    }
}

// ------------------------------------------------------------------------------------------------
namespace {
struct inflate_case {
    const char* file;
    const char* kind;
    std::size_t size;
    std::uint64_t seed;
};
// The same table as INFLATE_CASES in tools/gen_zip_fixtures.py.
const inflate_case inflate_cases[] = {
    {"empty_l0", "zeros", 0, 0},           {"empty_l6", "zeros", 0, 0},
    {"random_l0", "random", 3000, 1},      {"random_l1", "random", 3000, 1},
    {"random_l6", "random", 3000, 1},      {"random_l9", "random", 3000, 1},
    {"text_l0", "text", 12000, 2},         {"text_l1", "text", 12000, 2},
    {"text_l6", "text", 12000, 2},         {"text_l9", "text", 12000, 2},
    {"text_fixed", "text", 12000, 2},      {"text_huffman_only", "text", 12000, 2},
    {"text_flushes_l0", "text", 4000, 3},  {"text_flushes_l6", "text", 12000, 3},
    {"zeros_l1", "zeros", 100000, 0},      {"zeros_l9", "zeros", 100000, 0},
    {"skewed_l6", "skewed", 30000, 4},     {"skewed_l9", "skewed", 30000, 4},
};
} // namespace

TEST_CASE("inflate: zlib streams at every level, stored/fixed/dynamic blocks, flushes, empty input") {
    for (const inflate_case& c : inflate_cases) {
        CAPTURE(c.file);
        const bytes stream = slurp(zip_fixture(std::string("inflate/") + c.file + ".deflate"));
        const bytes expected = make_data(c.kind, c.size, c.seed);
        bytes out;
        auto st = inflate_into(stream, expected.size(), &out);
        INFO((st.has_value() ? std::string() : st.err().what()));
        REQUIRE(st.has_value());
        CHECK(out == expected);
        // The expected size is exact: one byte more or less is an error.
        check_error(inflate_into(stream, expected.size() + 1), ptload::errc::bad_zip, "stream ends after");
        if (!expected.empty())
            check_error(inflate_into(stream, expected.size() - 1), ptload::errc::bad_zip, "exceed the expected");
    }
}

TEST_CASE("inflate: every truncation and many corruptions fail cleanly") {
    for (const char* name : {"text_fixed", "text_l6", "text_flushes_l0", "skewed_l9", "zeros_l9", "empty_l0"}) {
        CAPTURE(name);
        const bytes stream = slurp(zip_fixture(std::string("inflate/") + name + ".deflate"));
        const inflate_case* c = nullptr;
        for (const inflate_case& k : inflate_cases)
            if (std::string_view(k.file) == name) c = &k;
        REQUIRE(c != nullptr);
        // Every cut of a short stream; about 400 spread over a long one, and its last bytes.
        const std::size_t step = stream.size() / 400 + 1;
        for (std::size_t n = 0; n < stream.size(); n += (n + 16 < stream.size() ? step : 1)) {
            const bytes cut(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(n));
            CHECK_FALSE(inflate_into(cut, c->size).has_value());
        }
        // Flipped bits must never crash or touch memory out of bounds (ASan watches); whether
        // the result is an error depends on the bit.
        splitmix64 rng{42};
        for (int i = 0; i < 300; ++i) {
            bytes bent = stream;
            bent[rng.next() % bent.size()] ^= static_cast<std::uint8_t>(1u << (rng.next() % 8));
            (void)inflate_into(bent, c->size);
        }
    }
}

TEST_CASE("inflate: hand-made malformed streams") {
    using ptload::errc;
    SUBCASE("no input") { check_error(inflate_into({}, 0), errc::bad_zip, "ends inside a block"); }
    SUBCASE("block type 3") { check_error(inflate_into({0x07}, 0), errc::bad_zip, "invalid block type 3"); }
    SUBCASE("stored length without its complement") {
        check_error(inflate_into({0x01, 0x05, 0x00, 0x00, 0x00, 'a', 'b', 'c', 'd', 'e'}, 5), errc::bad_zip,
                    "does not match its complement");
    }
    SUBCASE("stored block longer than the input") {
        check_error(inflate_into({0x01, 0x05, 0x00, 0xFA, 0xFF, 'a'}, 5), errc::bad_zip, "ends inside a block");
    }
    SUBCASE("stored block longer than the output") {
        check_error(inflate_into({0x01, 0x02, 0x00, 0xFD, 0xFF, 'a', 'b'}, 1), errc::bad_zip, "exceed the expected");
    }
    SUBCASE("no final block") {
        check_error(inflate_into({0x00, 0x00, 0x00, 0xFF, 0xFF}, 0), errc::bad_zip, "ends inside a block");
    }
    SUBCASE("bytes after the final block") {
        check_error(inflate_into({0x03, 0x00, 0x00}, 0), errc::bad_zip, "1 bytes after the final block");
    }
    bit_writer w;
    SUBCASE("distance before the start of the output") {
        w.bits(1, 1), w.bits(1, 2);  // final, fixed codes
        w.fixed_literal(257);        // length 3
        w.code(0, 5);                // distance 1
        w.fixed_literal(256);
        check_error(inflate_into(w.out, 3), errc::bad_zip, "reaches before the start");
    }
    SUBCASE("fixed distance symbols 30 and 31 do not exist") {
        w.bits(1, 1), w.bits(1, 2);
        w.fixed_literal('a');
        w.fixed_literal(257);
        w.code(30, 5);
        check_error(inflate_into(w.out, 4), errc::bad_zip, "invalid distance symbol 30");
    }
    SUBCASE("fixed length symbols 286 and 287 do not exist") {
        w.bits(1, 1), w.bits(1, 2);
        w.fixed_literal(286);
        check_error(inflate_into(w.out, 4), errc::bad_zip, "invalid literal/length symbol 286");
    }
    SUBCASE("literal past the expected size") {
        w.bits(1, 1), w.bits(1, 2);
        w.fixed_literal('a'), w.fixed_literal('b'), w.fixed_literal(256);
        check_error(inflate_into(w.out, 1), errc::bad_zip, "exceed the expected");
    }
    SUBCASE("a valid fixed stream with an overlapping match") {
        w.bits(1, 1), w.bits(1, 2);
        w.fixed_literal('a'), w.fixed_literal('b');
        w.fixed_literal(265), w.bits(1, 1);  // length 11 + 1 extra bit = 12
        w.code(1, 5);                        // distance 2
        w.fixed_literal(256);
        bytes out;
        REQUIRE(inflate_into(w.out, 14, &out).has_value());
        CHECK(text(out) == "ababababababab");
    }
    // Dynamic headers: BFINAL=1, BTYPE=2, HLIT-257, HDIST-1, HCLEN-4, then 3-bit lengths of the
    // code-length alphabet in the order 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1 15.
    SUBCASE("too many length codes") {
        w.bits(1, 1), w.bits(2, 2), w.bits(30, 5), w.bits(0, 5), w.bits(0, 4);
        check_error(inflate_into(w.out, 1), errc::bad_zip, "too many literal/length or distance codes");
    }
    SUBCASE("over-subscribed code-length code") {
        w.bits(1, 1), w.bits(2, 2), w.bits(0, 5), w.bits(0, 5), w.bits(15, 4);
        for (int i = 0; i < 19; ++i) w.bits(1, 3);
        check_error(inflate_into(w.out, 1), errc::bad_zip, "over-subscribed code-length code");
    }
    SUBCASE("a lone code-length code") {
        w.bits(1, 1), w.bits(2, 2), w.bits(0, 5), w.bits(0, 5), w.bits(0, 4);
        w.bits(1, 3), w.bits(0, 3), w.bits(0, 3), w.bits(0, 3);  // only symbol 16
        check_error(inflate_into(w.out, 1), errc::bad_zip, "incomplete code-length code");
    }
    // Code-length code {0: 1 bit "0", 16: 1 bit "1"} or {0: "0", 18: "1"}.
    SUBCASE("repeat with no previous length") {
        w.bits(1, 1), w.bits(2, 2), w.bits(0, 5), w.bits(0, 5), w.bits(0, 4);
        w.bits(1, 3), w.bits(0, 3), w.bits(0, 3), w.bits(1, 3);  // 16 and 0
        w.code(1, 1), w.bits(0, 2);
        check_error(inflate_into(w.out, 1), errc::bad_zip, "no previous length");
    }
    SUBCASE("no end-of-block code") {
        w.bits(1, 1), w.bits(2, 2), w.bits(0, 5), w.bits(0, 5), w.bits(0, 4);
        w.bits(0, 3), w.bits(0, 3), w.bits(1, 3), w.bits(1, 3);  // 18 and 0
        w.code(1, 1), w.bits(127, 7);                            // 138 zeros
        w.code(1, 1), w.bits(109, 7);                            // 120 zeros: all 258 lengths
        check_error(inflate_into(w.out, 1), errc::bad_zip, "no end-of-block code");
    }
    SUBCASE("length repeat past the last code") {
        w.bits(1, 1), w.bits(2, 2), w.bits(0, 5), w.bits(0, 5), w.bits(0, 4);
        w.bits(0, 3), w.bits(0, 3), w.bits(1, 3), w.bits(1, 3);
        w.code(1, 1), w.bits(127, 7);
        w.code(1, 1), w.bits(127, 7);  // 276 > 258
        check_error(inflate_into(w.out, 1), errc::bad_zip, "runs past the last code");
    }
    SUBCASE("incomplete literal/length code") {
        // Code-length code: 18 -> "0", 0 -> "10", 2 -> "11" (HCLEN 16 reaches symbol 2).
        w.bits(1, 1), w.bits(2, 2), w.bits(0, 5), w.bits(0, 5), w.bits(12, 4);
        const unsigned lens[16] = {0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
        for (unsigned l : lens) w.bits(l, 3);
        w.code(3, 2);                   // literal 0: length 2
        w.code(0, 1), w.bits(127, 7);   // 138 zeros
        w.code(0, 1), w.bits(106, 7);   // 117 zeros: up to symbol 255
        w.code(3, 2);                   // end-of-block: length 2
        w.code(3, 2);                   // the one distance code: length 2
        check_error(inflate_into(w.out, 1), errc::bad_zip, "incomplete literal/length code");
    }
}

// ------------------------------------------------------------------------------------------------
TEST_CASE("zip: real torch files (candle, torch 2.x)") {
    with_sources(corpus("candle/test.pt"), [](auto& src) {
        auto zip = ptload::read_zip(src);
        INFO((zip ? std::string() : zip.err().what()));
        REQUIRE(zip.has_value());
        CHECK(zip->zip64());  // torch's miniz writer always adds the zip64 end records
        const char* names[] = {"test/data.pkl", "test/byteorder", "test/data/0", "test/version",
                               "test/.data/serialization_id"};
        REQUIRE(zip->size() == 5);
        for (std::size_t i = 0; i < 5; ++i) CHECK(zip->entries()[i].name == names[i]);
        auto prefix = ptload::archive_prefix(*zip);
        REQUIRE(prefix.has_value());
        CHECK(*prefix == "test/");
        for (const ptload::zip_entry& e : zip->entries()) {
            CAPTURE(e.name);
            CHECK(e.method == 0);
            CHECK(e.flags == 0x0808);
            CHECK(e.data_offset % 64 == 0);  // the "FB" padding aligns every record
            CHECK(e.crc32 != 0);
            auto data = ptload::read_entry(src, e);
            REQUIRE(data.has_value());
            CHECK(data->size() == e.size);
        }
        const ptload::zip_entry* pkl = zip->find("test/data.pkl");
        REQUIRE(pkl != nullptr);
        auto pickle = ptload::read_entry(src, *pkl);
        REQUIRE(pickle.has_value());
        REQUIRE(pickle->size() == 171);
        CHECK((*pickle)[0] == 0x80);  // PROTO 2
        CHECK((*pickle)[1] == 2);
        CHECK(pickle->back() == '.');  // STOP
        const ptload::zip_entry* storage = zip->find("test/data/0");
        REQUIRE(storage != nullptr);
        CHECK(storage->size == 64);
        CHECK(text(*ptload::read_entry(src, *zip->find("test/byteorder"))) == "little");
        CHECK(text(*ptload::read_entry(src, *zip->find("test/version"))) == "3\n");
        CHECK(zip->find("test/data") == nullptr);
        CHECK(zip->find("test/data/00") == nullptr);
        CHECK(zip->find("") == nullptr);
    });
}

TEST_CASE("zip: real torch files (burn, torch 2.5+ records)") {
    with_sources(corpus("burn-reader/float32.pt"), [](auto& src) {
        auto zip = ptload::read_zip(src);
        REQUIRE(zip.has_value());
        REQUIRE(zip->size() == 7);
        CHECK(*ptload::archive_prefix(*zip) == "float32/");
        CHECK(text(*ptload::read_entry(src, *zip->find("float32/.storage_alignment"))) == "64");
        CHECK(text(*ptload::read_entry(src, *zip->find("float32/.format_version"))) == "1");
        const ptload::zip_entry* storage = zip->find("float32/data/0");
        REQUIRE(storage != nullptr);
        CHECK(storage->size == 16);
        CHECK(storage->data_offset % 64 == 0);
        CHECK(ptload::read_entry(src, *zip->find("float32/data.pkl")).has_value());
    });
}

TEST_CASE("zip: every zip-format torch file of the corpus reads, with CRCs; other files fail cleanly") {
    namespace fs = std::filesystem;
    const fs::path root = corpus("");
    REQUIRE(fs::is_directory(root));
    std::vector<fs::path> files;
    for (const auto& item : fs::recursive_directory_iterator(root))
        if (item.is_regular_file()) files.push_back(item.path());
    std::sort(files.begin(), files.end());
    std::size_t zips = 0;
    for (const fs::path& path : files) {
        const std::string rel = fs::relative(path, root).generic_string();
        CAPTURE(rel);
        const bytes data = slurp(path.string());
        ptload::memory_source src{data.data(), data.size()};
        auto zip = ptload::read_zip(src);
        const bool is_malicious = rel.rfind("malicious/", 0) == 0;
        const bool starts_pk = data.size() >= 4 && data[0] == 'P' && data[1] == 'K' && data[2] == 3 && data[3] == 4;
        if (is_malicious) continue;  // judged one by one below; here they only must not crash
        if (!starts_pk) {
            // Legacy pickles, tars and plain pickles: not zips, and said so.
            REQUIRE_FALSE(zip.has_value());
            CHECK(zip.err().code == ptload::errc::bad_zip);
            continue;
        }
        INFO((zip ? std::string() : zip.err().what()));
        REQUIRE(zip.has_value());
        ++zips;
        CHECK(ptload::archive_prefix(*zip).has_value());
        for (const ptload::zip_entry& e : zip->entries()) {
            CAPTURE(e.name);
            auto entry = ptload::read_entry(src, e);
            INFO((entry ? std::string() : entry.err().what()));
            CHECK(entry.has_value());
        }
    }
    CHECK(zips > 100);
}

TEST_CASE("zip: picklescan's malicious and odd zips") {
    using ptload::errc;
    const std::string dir = "malicious/picklescan/";
    auto zip_error = [&](const std::string& name, const std::string& message, const std::string& context) {
        CAPTURE(name);
        with_sources(corpus(dir + name), [&](auto& src) {
            auto zip = ptload::read_zip(src);
            check_error(zip, errc::bad_zip, message);
            CHECK(zip.err().context == context);
        });
    };
    // CVE-2025-1945: flag bits that other readers ignore.
    zip_error("data__malicious1_0x1.zip", "encrypted (flag bit 0x1)", "model/config.pkl");
    zip_error("data__malicious1_0x20.zip", "patched data (flag bit 0x20)", "model/config.pkl");
    zip_error("data__malicious1_0x40.zip", "strong encryption (flag bit 0x40)", "model/config.pkl");
    zip_error("data__benign_password_protected.zip", "encrypted (flag bit 0x1)", "test.txt");
    // CVE-2025-1944: local header name differs from the central directory.
    zip_error("data__malicious1_central_directory.zip", "local header name \"datap.kl\" differs", "data.pkl");

    // A bad CRC (torch ignores CRCs): the directory is fine, the record is not.
    with_sources(corpus(dir + "data2__malicious1_crc.zip"), [](auto& src) {
        auto zip = ptload::read_zip(src);
        REQUIRE(zip.has_value());
        const ptload::zip_entry* e = zip->find("data.pkl");
        REQUIRE(e != nullptr);
        auto checked = ptload::read_entry(src, *e, {}, true);
        check_error(checked, errc::bad_zip, "CRC-32 mismatch");
        CHECK(checked.err().context == "data.pkl");
        CHECK(ptload::read_entry(src, *e, {}, false).has_value());
        // Not a torch archive: no top-level folder.
        check_error(ptload::archive_prefix(*zip), errc::bad_zip, "has no '/'");
    });

    // numpy .npz written by Python's zipfile (local zip64 extras), stored and deflated: the
    // inflated entries equal the stored ones, CRCs checked.
    for (const char* stem : {"data2__int_arrays", "data2__object_arrays"}) {
        CAPTURE(stem);
        const bytes plain_bytes = slurp(corpus(dir + stem + ".npz"));
        const bytes packed_bytes = slurp(corpus(dir + stem + "_compressed.npz"));
        ptload::memory_source plain_src{plain_bytes.data(), plain_bytes.size()};
        ptload::memory_source packed_src{packed_bytes.data(), packed_bytes.size()};
        auto plain = ptload::read_zip(plain_src);
        auto packed = ptload::read_zip(packed_src);
        REQUIRE(plain.has_value());
        REQUIRE(packed.has_value());
        REQUIRE(packed->size() == 2);
        for (const char* name : {"a.npy", "b.npy"}) {
            CAPTURE(name);
            const ptload::zip_entry* p = plain->find(name);
            const ptload::zip_entry* d = packed->find(name);
            REQUIRE(p != nullptr);
            REQUIRE(d != nullptr);
            CHECK(p->method == 0);
            CHECK(d->method == 8);
            auto stored = ptload::read_entry(plain_src, *p);
            auto inflated = ptload::read_entry(packed_src, *d, {}, true);
            REQUIRE(stored.has_value());
            INFO((inflated ? std::string() : inflated.err().what()));
            REQUIRE(inflated.has_value());
            CHECK(*stored == *inflated);
        }
    }

    // Everything else under malicious/ may fail, but cleanly.
    namespace fs = std::filesystem;
    for (const auto& item : fs::directory_iterator(corpus(dir))) {
        const bytes data = slurp(item.path().string());
        ptload::memory_source src{data.data(), data.size()};
        auto zip = ptload::read_zip(src);
        if (!zip) continue;
        for (const ptload::zip_entry& e : zip->entries()) (void)ptload::read_entry(src, e);
    }
}

// ------------------------------------------------------------------------------------------------
namespace {
// {'a': 1} as tools/gen_zip_fixtures.py writes it (split so "\x00" "a" stays two bytes).
const bytes fixture_pkl = of({"\x80\x02}q\x00X\x01\x00\x00\x00" "aq\x01K\x01s.", 17});
bytes fixture_data0() {
    bytes b(64);
    for (std::size_t i = 0; i < 64; ++i) b[i] = static_cast<std::uint8_t>(i);
    return b;
}
} // namespace

TEST_CASE("zip: crafted archives that must read") {
    SUBCASE("torch layout: descriptors, 64-byte alignment, zip64 end records") {
        with_sources(zip_fixture("good_torch.zip"), [](auto& src) {
            auto zip = ptload::read_zip(src);
            REQUIRE(zip.has_value());
            CHECK(zip->zip64());
            REQUIRE(zip->size() == 3);
            const ptload::zip_entry* e = zip->find("archive/data/0");
            REQUIRE(e != nullptr);
            CHECK(e->header_offset == zip->entries()[1].header_offset);
            CHECK(e->data_offset % 64 == 0);
            CHECK(*ptload::read_entry(src, *e) == fixture_data0());
            CHECK(*ptload::read_entry(src, *zip->find("archive/data.pkl")) == fixture_pkl);
            CHECK(*ptload::archive_prefix(*zip) == "archive/");
        });
    }
    SUBCASE("classic layout with a comment that contains an EOCD signature") {
        with_sources(zip_fixture("good_plain.zip"), [](auto& src) {
            auto zip = ptload::read_zip(src);
            INFO((zip ? std::string() : zip.err().what()));
            REQUIRE(zip.has_value());
            CHECK_FALSE(zip->zip64());
            REQUIRE(zip->size() == 3);
            CHECK(zip->entries()[0].flags == 0x0800);
            CHECK(*ptload::read_entry(src, zip->entries()[2]) == of("3\n"));
        });
    }
    SUBCASE("zip64: every size and offset in the zip64 extra field, 64-bit data descriptors") {
        with_sources(zip_fixture("good_zip64.zip"), [](auto& src) {
            auto zip = ptload::read_zip(src);
            INFO((zip ? std::string() : zip.err().what()));
            REQUIRE(zip.has_value());
            CHECK(zip->zip64());
            REQUIRE(zip->size() == 2);
            const ptload::zip_entry& e = zip->entries()[1];
            CHECK(e.name == "archive/data/0");
            CHECK(e.size == 64);
            CHECK(e.compressed_size == 64);
            CHECK(e.header_offset > 0);
            CHECK(*ptload::read_entry(src, e) == fixture_data0());
            CHECK(*ptload::read_entry(src, zip->entries()[0]) == fixture_pkl);
        });
    }
    SUBCASE("local header sizes given as 0xFFFFFFFF plus a local zip64 extra field") {
        with_sources(zip_fixture("good_local_zip64.zip"), [](auto& src) {
            auto zip = ptload::read_zip(src);
            INFO((zip ? std::string() : zip.err().what()));
            REQUIRE(zip.has_value());
            CHECK(*ptload::read_entry(src, zip->entries()[0]) == fixture_pkl);
        });
    }
    SUBCASE("CRC 0 (torch with CRCs off) is not checked") {
        with_sources(zip_fixture("good_zero_crc.zip"), [](auto& src) {
            auto zip = ptload::read_zip(src);
            REQUIRE(zip.has_value());
            CHECK(zip->entries()[0].crc32 == 0);
            CHECK(*ptload::read_entry(src, zip->entries()[0], {}, true) == fixture_pkl);
        });
    }
    SUBCASE("deflated entries equal their stored twin; an empty deflated entry") {
        with_sources(zip_fixture("good_deflate.zip"), [](auto& src) {
            auto zip = ptload::read_zip(src);
            REQUIRE(zip.has_value());
            const ptload::zip_entry* stored = zip->find("archive/stored");
            const ptload::zip_entry* deflated = zip->find("archive/deflated");
            const ptload::zip_entry* empty = zip->find("archive/empty");
            REQUIRE((stored && deflated && empty));
            CHECK(deflated->method == 8);
            CHECK(deflated->compressed_size < deflated->size);
            auto a = ptload::read_entry(src, *stored);
            auto b = ptload::read_entry(src, *deflated, {}, true);
            REQUIRE(a.has_value());
            REQUIRE(b.has_value());
            CHECK(*a == make_data("text", 5000, 7));
            CHECK(*a == *b);
            auto c = ptload::read_entry(src, *empty);
            REQUIRE(c.has_value());
            CHECK(c->empty());
        });
    }
    SUBCASE("an empty archive") {
        with_sources(zip_fixture("good_empty.zip"), [](auto& src) {
            auto zip = ptload::read_zip(src);
            REQUIRE(zip.has_value());
            CHECK(zip->empty());
            CHECK(zip->find("archive/data.pkl") == nullptr);
            check_error(ptload::archive_prefix(*zip), ptload::errc::bad_zip, "empty archive");
        });
    }
}

namespace {
enum class stage { read_zip, read_entry, prefix };
struct rejection {
    const char* file;
    stage at;
    ptload::errc code;
    const char* message;  ///< part of the error message
    const char* context;  ///< the error's context (entry name), or nullptr to skip the check
};
const rejection rejections[] = {
    // End of central directory and zip64 end records (SECURITY.md (a) 21, 27).
    {"bad_eocd_missing.zip", stage::read_zip, ptload::errc::bad_zip, "no end-of-central-directory record", ""},
    {"bad_eocd_truncated.zip", stage::read_zip, ptload::errc::bad_zip, "no end-of-central-directory record", ""},
    {"bad_comment_length.zip", stage::read_zip, ptload::errc::bad_zip, "no end-of-central-directory record", ""},
    {"bad_trailing_bytes.zip", stage::read_zip, ptload::errc::bad_zip, "no end-of-central-directory record", ""},
    {"bad_cd_offset.zip", stage::read_zip, ptload::errc::bad_zip, "runs past the end-of-central-directory", ""},
    {"bad_cd_size.zip", stage::read_zip, ptload::errc::bad_zip, "runs past the end-of-central-directory", ""},
    {"bad_cd_gap.zip", stage::read_zip, ptload::errc::bad_zip, "between the central directory and the end", ""},
    {"bad_count_too_large.zip", stage::read_zip, ptload::errc::bad_zip, "1000 entries cannot fit", ""},
    {"bad_count_too_small.zip", stage::read_zip, ptload::errc::bad_zip, "follow its 2 declared entries", ""},
    {"bad_multi_disk.zip", stage::read_zip, ptload::errc::bad_zip, "multi-disk", ""},
    {"bad_placeholder_no_zip64.zip", stage::read_zip, ptload::errc::bad_zip, "no zip64 locator", ""},
    {"bad_z64_offset.zip", stage::read_zip, ptload::errc::bad_zip, "leaves no room", ""},
    {"bad_z64_signature.zip", stage::read_zip, ptload::errc::bad_zip, "bad zip64 end-of-central-directory signature",
     ""},
    {"bad_z64_disagrees.zip", stage::read_zip, ptload::errc::bad_zip, "disagrees with the zip64 record", ""},
    {"bad_z64_cd_offset.zip", stage::read_zip, ptload::errc::bad_zip, "runs past the end-of-central-directory", ""},
    // Central directory records (22, 23, 24, 27).
    {"bad_cd_signature.zip", stage::read_zip, ptload::errc::bad_zip, "bad central directory record signature", ""},
    {"bad_method.zip", stage::read_zip, ptload::errc::bad_zip, "compression method 12 is not supported",
     "archive/data.pkl"},
    {"bad_flag_0x1.zip", stage::read_zip, ptload::errc::bad_zip, "encrypted (flag bit 0x1)", "archive/data.pkl"},
    {"bad_flag_0x20.zip", stage::read_zip, ptload::errc::bad_zip, "patched data (flag bit 0x20)", "archive/data.pkl"},
    {"bad_flag_0x40.zip", stage::read_zip, ptload::errc::bad_zip, "strong encryption (flag bit 0x40)",
     "archive/data.pkl"},
    {"bad_local_flag_0x1.zip", stage::read_zip, ptload::errc::bad_zip, "encrypted (flag bit 0x1)", "archive/data.pkl"},
    {"bad_zip64_extra_short.zip", stage::read_zip, ptload::errc::bad_zip, "zip64 extra field has 8 bytes, 24 needed",
     "archive/data.pkl"},
    {"bad_zip64_extra_missing.zip", stage::read_zip, ptload::errc::bad_zip, "there is no zip64 extra field",
     "archive/data.pkl"},
    {"bad_zip64_extra_overrun.zip", stage::read_zip, ptload::errc::bad_zip, "runs past its declared length",
     "archive/data.pkl"},
    {"bad_stored_sizes.zip", stage::read_zip, ptload::errc::bad_zip, "stored entry has compressed size 17 but size 18",
     "archive/data.pkl"},
    {"bad_duplicate.zip", stage::read_zip, ptload::errc::bad_zip, "duplicate entry name", "archive/data.pkl"},
    {"bad_nul_name.zip", stage::read_zip, ptload::errc::bad_zip, "NUL byte", "archive/data.pkl\\x00.txt"},
    // Local headers (22).
    {"bad_local_signature.zip", stage::read_zip, ptload::errc::bad_zip, "bad local header signature",
     "archive/data/0"},
    {"bad_local_name.zip", stage::read_zip, ptload::errc::bad_zip,
     "local header name \"archive/data/1\" differs from the central directory", "archive/data/0"},
    {"bad_local_method.zip", stage::read_zip, ptload::errc::bad_zip, "local header says compression method 8",
     "archive/data.pkl"},
    {"bad_local_sizes.zip", stage::read_zip, ptload::errc::bad_zip, "local header sizes", "archive/data.pkl"},
    {"bad_local_crc.zip", stage::read_zip, ptload::errc::bad_zip, "local header CRC-32 differs", "archive/data.pkl"},
    {"bad_local_zip64_short.zip", stage::read_zip, ptload::errc::bad_zip, "zip64 extra field has 8 bytes, 16 needed",
     "archive/data.pkl"},
    {"bad_local_offset.zip", stage::read_zip, ptload::errc::bad_zip, "local header offset 2147483632 runs past",
     "archive/data.pkl"},
    // Layout (25, and "every byte accounted for").
    {"bad_overlap.zip", stage::read_zip, ptload::errc::bad_zip, "overlaps entry \"archive/outer\"", "archive/inner"},
    {"bad_overlap_cd.zip", stage::read_zip, ptload::errc::bad_zip, "overlaps the central directory", "archive/data/0"},
    {"bad_entry_in_directory.zip", stage::read_zip, ptload::errc::bad_zip, "entry at 117 overlaps the central directory",
     "archive/hidden"},
    {"bad_entry_in_comment.zip", stage::read_zip, ptload::errc::bad_zip, "entry lies after the central directory",
     "archive/hidden"},
    {"bad_data_past_eof.zip", stage::read_zip, ptload::errc::bad_zip, "entry data of 100000 bytes runs past the end",
     "archive/data/0"},
    {"bad_gap.zip", stage::read_zip, ptload::errc::bad_zip, "28 bytes after entry \"archive/data.pkl\" belong to no",
     "archive/data/0"},
    {"bad_prefix_junk.zip", stage::read_zip, ptload::errc::bad_zip, "6 bytes before the first local header",
     "archive/data.pkl"},
    {"bad_descriptor.zip", stage::read_zip, ptload::errc::bad_zip, "not a data descriptor that agrees",
     "archive/data.pkl"},
    // Deflate (26, 28).
    {"bad_deflate_bomb.zip", stage::read_zip, ptload::errc::limit_inflate, "max_inflate_total", "archive/data/0"},
    {"bad_crc.zip", stage::read_entry, ptload::errc::bad_zip, "CRC-32 mismatch", "archive/data.pkl"},
    {"bad_deflate_stream.zip", stage::read_entry, ptload::errc::bad_zip, "deflate: invalid block type 3",
     "archive/data.pkl"},
    {"bad_deflate_short.zip", stage::read_entry, ptload::errc::bad_zip, "stream ends after 17 bytes, 18 expected",
     "archive/data.pkl"},
    {"bad_deflate_long.zip", stage::read_entry, ptload::errc::bad_zip, "exceed the expected 16 bytes",
     "archive/data.pkl"},
    {"bad_deflate_trailing.zip", stage::read_entry, ptload::errc::bad_zip, "2 bytes after the final block",
     "archive/data.pkl"},
    // Top-level folder (24).
    {"prefix_two_folders.zip", stage::prefix, ptload::errc::bad_zip, "outside the top-level folder \"a/\"",
     "b/data/0"},
    {"prefix_no_slash.zip", stage::prefix, ptload::errc::bad_zip, "has no '/'", "version"},
    {"prefix_first_no_slash.zip", stage::prefix, ptload::errc::bad_zip, "has no '/'", "data.pkl"},
};
} // namespace

TEST_CASE("zip: crafted archives that must be rejected, one malformation each") {
    for (const rejection& r : rejections) {
        CAPTURE(r.file);
        with_sources(zip_fixture(r.file), [&](auto& src) {
            auto zip = ptload::read_zip(src);
            if (r.at == stage::read_zip) {
                check_error(zip, r.code, r.message);
                if (r.context) CHECK(zip.err().context == r.context);
                CHECK(zip.err().offset != ptload::no_offset);
                return;
            }
            INFO((zip ? std::string() : zip.err().what()));
            REQUIRE(zip.has_value());
            if (r.at == stage::prefix) {
                auto prefix = ptload::archive_prefix(*zip);
                check_error(prefix, r.code, r.message);
                CHECK(prefix.err().context == r.context);
                return;
            }
            auto entry = ptload::read_entry(src, zip->entries()[0], {}, true);
            check_error(entry, r.code, r.message);
            CHECK(entry.err().context == r.context);
            CHECK(entry.err().offset >= zip->entries()[0].header_offset);
        });
    }
}

TEST_CASE("zip: error offsets point at the offending structure") {
    const bytes good = slurp(zip_fixture("good_torch.zip"));
    ptload::memory_source good_src{good.data(), good.size()};
    auto zip = ptload::read_zip(good_src);
    REQUIRE(zip.has_value());
    // These differ from the good archive in the local header of their second entry.
    for (const char* name : {"bad_local_signature.zip", "bad_local_name.zip"}) {
        const bytes data = slurp(zip_fixture(name));
        ptload::memory_source src{data.data(), data.size()};
        auto r = ptload::read_zip(src);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.err().offset == zip->entries()[1].header_offset);
    }
    const bytes bad_cd = slurp(zip_fixture("bad_cd_signature.zip"));
    ptload::memory_source cd_src{bad_cd.data(), bad_cd.size()};
    auto r = ptload::read_zip(cd_src);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.err().offset > zip->central_directory_offset());
    CHECK(r.err().offset < zip->central_directory_offset() + zip->central_directory_size());
}

TEST_CASE("zip: allow_gaps accepts bytes outside every zip structure, and nothing else") {
    ptload::zip_limits lim;
    lim.allow_gaps = true;
    for (const char* name : {"bad_gap.zip", "bad_prefix_junk.zip", "bad_cd_gap.zip", "bad_descriptor.zip"}) {
        CAPTURE(name);
        with_sources(zip_fixture(name), [&](auto& src) {
            auto zip = ptload::read_zip(src, lim);
            INFO((zip ? std::string() : zip.err().what()));
            REQUIRE(zip.has_value());
            for (const ptload::zip_entry& e : zip->entries()) CHECK(ptload::read_entry(src, e, lim).has_value());
        });
    }
    for (const char* name : {"bad_overlap.zip", "bad_overlap_cd.zip", "bad_entry_in_comment.zip", "bad_local_name.zip"}) {
        CAPTURE(name);
        const bytes data = slurp(zip_fixture(name));
        ptload::memory_source src{data.data(), data.size()};
        CHECK_FALSE(ptload::read_zip(src, lim).has_value());
    }
}

TEST_CASE("zip: limits") {
    using ptload::errc;
    SUBCASE("max_entries") {
        const bytes data = slurp(zip_fixture("good_torch.zip"));
        ptload::memory_source src{data.data(), data.size()};
        ptload::zip_limits lim;
        lim.max_entries = 2;
        check_error(ptload::read_zip(src, lim), errc::bad_zip, "max_entries");
        lim.max_entries = 3;
        CHECK(ptload::read_zip(src, lim).has_value());
    }
    SUBCASE("a deflate bomb: total, then ratio, then allowed on request") {
        with_sources(zip_fixture("bad_deflate_bomb.zip"), [](auto& src) {
            check_error(ptload::read_zip(src), errc::limit_inflate, "max_inflate_total");
            ptload::zip_limits lim;
            lim.max_inflate_total = std::uint64_t{1} << 30;
            auto zip = ptload::read_zip(src, lim);
            REQUIRE(zip.has_value());
            const ptload::zip_entry& e = zip->entries()[0];
            CHECK(e.size == 2000000);
            check_error(ptload::read_entry(src, e, lim), errc::limit_inflate, "max_inflate_ratio");
            lim.max_inflate_ratio = 0;
            // read_entry applies the total too (for entries that did not come from read_zip).
            ptload::zip_limits default_total = lim;
            default_total.max_inflate_total = 0;
            check_error(ptload::read_entry(src, e, default_total), errc::limit_inflate, "max_inflate_total");
            auto all = ptload::read_entry(src, e, lim);
            REQUIRE(all.has_value());
            CHECK(*all == bytes(2000000, 0));
            lim.max_inflate_ratio = 100;
            lim.inflate_ratio_floor = 2000000;
            CHECK(ptload::read_entry(src, e, lim).has_value());
        });
    }
    SUBCASE("the default total is max_inflate_per_file_byte x the file size") {
        with_sources(zip_fixture("bad_deflate_bomb.zip"), [](auto& src) {
            ptload::zip_limits lim;
            CHECK(lim.max_inflate_per_file_byte == ptload::default_limits::max_inflate_per_file_byte);
            const std::uint64_t needed = (2000000 + src.size() - 1) / src.size();  // the entry inflates to 2e6
            lim.max_inflate_per_file_byte = needed - 1;
            check_error(ptload::read_zip(src, lim), errc::limit_inflate, "max_inflate_total");
            lim.max_inflate_per_file_byte = needed;
            CHECK(ptload::read_zip(src, lim).has_value());
            lim.max_inflate_per_file_byte = 0;  // no bound
            CHECK(ptload::read_zip(src, lim).has_value());
        });
    }
    SUBCASE("small entries are exempt from the ratio") {
        // archive/empty in good_deflate inflates 0 bytes from 2; the text one is under 100:1.
        with_sources(zip_fixture("good_deflate.zip"), [](auto& src) {
            ptload::zip_limits lim;
            lim.max_inflate_ratio = 1;
            lim.inflate_ratio_floor = 0;
            auto zip = ptload::read_zip(src, lim);
            REQUIRE(zip.has_value());
            check_error(ptload::read_entry(src, *zip->find("archive/deflated"), lim), errc::limit_inflate,
                        "max_inflate_ratio");
            CHECK(ptload::read_entry(src, *zip->find("archive/empty"), lim).has_value());
            lim.inflate_ratio_floor = 64 * 1024;
            CHECK(ptload::read_entry(src, *zip->find("archive/deflated"), lim).has_value());
        });
    }
}

TEST_CASE("zip: read_entry does not trust an entry made by hand") {
    const bytes data = slurp(zip_fixture("good_torch.zip"));
    ptload::memory_source src{data.data(), data.size()};
    auto zip = ptload::read_zip(src);
    REQUIRE(zip.has_value());
    ptload::zip_entry e = zip->entries()[1];
    e.compressed_size = e.size = std::uint64_t{1} << 62;  // would be a huge allocation
    check_error(ptload::read_entry(src, e), ptload::errc::bad_zip, "runs past the end");
    e = zip->entries()[1];
    e.size += 1;
    check_error(ptload::read_entry(src, e), ptload::errc::bad_zip, "stored entry has compressed size");
    e = zip->entries()[1];
    e.method = 14;
    check_error(ptload::read_entry(src, e), ptload::errc::bad_zip, "compression method 14");
    e = zip->entries()[1];
    e.flags |= 0x1;
    check_error(ptload::read_entry(src, e), ptload::errc::bad_zip, "encrypted");
}

TEST_CASE("zip: every truncation and every single-byte corruption of real archives fails cleanly") {
    for (const std::string& path : {zip_fixture("good_torch.zip"), zip_fixture("good_zip64.zip"), zip_fixture("good_deflate.zip"),
                                    corpus("candle/test.pt")}) {
        CAPTURE(path);
        const bytes data = slurp(path);
        for (std::size_t n = 0; n < data.size(); ++n) {
            ptload::memory_source src{data.data(), n};
            CHECK_FALSE(ptload::read_zip(src).has_value());
        }
        // Corruptions inside data bytes go unnoticed by read_zip (CRCs are checked on read);
        // anything else must be an error or a consistent archive. ASan checks the rest.
        for (std::size_t i = 0; i < data.size(); ++i) {
            bytes bent = data;
            bent[i] ^= 0xFF;
            ptload::memory_source src{bent.data(), bent.size()};
            auto zip = ptload::read_zip(src);
            if (!zip) continue;
            for (const ptload::zip_entry& e : zip->entries()) {
                CHECK(e.data_offset + e.compressed_size <= bent.size());
                (void)ptload::read_entry(src, e);
            }
        }
    }
}

TEST_CASE("zip: the name index's sort orders as std::sort does, in O(n log n) comparisons for any input") {
    // The directory's names are the file's to choose, so their order is too: a sort that a
    // crafted order could make quadratic would let a small file cost minutes.
    std::uint64_t seed = 12345;
    auto random = [&seed] {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        return static_cast<std::uint32_t>(seed >> 33);
    };
    const std::size_t sizes[] = {0, 1, 2, 3, 16, 17, 100, 1000, 50000};
    for (std::size_t n : sizes) {
        for (int pattern = 0; pattern < 6; ++pattern) {
            CAPTURE(n);
            CAPTURE(pattern);
            std::vector<std::uint32_t> v(n);
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint32_t k = static_cast<std::uint32_t>(i);
                v[i] = pattern == 0   ? random()
                       : pattern == 1 ? k                                          // sorted
                       : pattern == 2 ? static_cast<std::uint32_t>(n) - k          // reversed
                       : pattern == 3 ? 7                                          // all equal
                       : pattern == 4 ? random() % 4                               // few distinct keys
                                      : (k < n / 2 ? k : static_cast<std::uint32_t>(n) - k);  // organ pipe
            }
            std::vector<std::uint32_t> expect = v;
            std::sort(expect.begin(), expect.end());
            std::uint64_t comparisons = 0;
            ptload::detail::sort(v.data(), v.data() + n, [&comparisons](std::uint32_t a, std::uint32_t b) {
                ++comparisons;
                return a < b;
            });
            CHECK(v == expect);
            // (organ pipes cost most, about 3 n log2 n: median-of-three pivots are poor on them
            // and the heap sort takes over; a quadratic sort would take n * n / 4 and more)
            if (n >= 1000) CHECK(comparisons < 5 * n * static_cast<std::uint64_t>(std::log2(n)));
            if (n > 0) {
                const std::uint32_t key = expect[n / 3];
                CHECK(ptload::detail::lower_bound(v.data(), v.data() + n, key) - v.data() ==
                      std::lower_bound(expect.begin(), expect.end(), key) - expect.begin());
            }
        }
    }

    // An empty array's pointers may be null: nothing is read or computed from them.
    CHECK(ptload::detail::is_sorted<std::uint32_t>(nullptr, nullptr));
    ptload::detail::sort<std::uint32_t>(nullptr, nullptr);
    CHECK(ptload::detail::lower_bound<std::uint32_t>(nullptr, nullptr, 1u) == nullptr);

    // McIlroy's adversary ("A killer adversary for quicksort"): the comparison decides each
    // item's value as late as it can, in the way that makes the pivot the worst choice, which
    // drives any quicksort quadratic. The depth bound turns such a range over to heap sort.
    const std::size_t n = 20000;
    const std::uint32_t gas = static_cast<std::uint32_t>(n);  // not decided yet: above every decided value
    std::vector<std::uint32_t> value(n, gas);
    std::uint32_t decided = 0, candidate = 0;
    std::uint64_t comparisons = 0;
    std::vector<std::uint32_t> items(n);
    for (std::size_t i = 0; i < n; ++i) items[i] = static_cast<std::uint32_t>(i);
    ptload::detail::sort(items.data(), items.data() + n, [&](std::uint32_t x, std::uint32_t y) {
        ++comparisons;
        if (value[x] == gas && value[y] == gas) value[x == candidate ? x : y] = decided++;
        if (value[x] == gas) candidate = x;
        else if (value[y] == gas) candidate = y;
        return value[x] < value[y];
    });
    for (std::size_t i = 1; i < n; ++i) CHECK(value[items[i - 1]] <= value[items[i]]);
    MESSAGE("comparisons against the adversary: " << comparisons);
    CHECK(comparisons < 5 * n * static_cast<std::uint64_t>(std::log2(n)));  // quadratic: 100 times more
}
