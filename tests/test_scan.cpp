// ptload::scan: what a file would import, found without loading it. The malicious corpus is
// checked against a static oracle (tests/expected/scan_malicious.tsv: pickletools.genops, nothing
// unpickled); the evasions scanners and torch have disagreed on are built here byte by byte, and
// their verdicts follow from CPython's find_class.
#include "test_support.hpp"
#include "zip_builder.hpp"

#include <doctest/doctest.h>
#include <ptload/scan.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

ptload::scan_report scan_bytes(const std::string& bytes) {
    ptload::memory_source src(bytes.data(), bytes.size());
    return ptload::scan(src);
}

ptload::scan_report scan_path(const std::string& path) {
    ptload::file_source src(path);
    REQUIRE(src.is_open());
    return ptload::scan(src);
}

const ptload::scan_finding* find_global(const ptload::scan_report& r, const std::string& dotted) {
    for (const auto& f : r.findings)
        if ((f.item == ptload::scan_item::global || f.item == ptload::scan_item::call) &&
            (f.module + "." + f.name == dotted || f.written == dotted))
            return &f;
    return nullptr;
}

bool has_note(const ptload::scan_report& r, const std::string& words) {
    for (const auto& f : r.findings)
        if (f.item == ptload::scan_item::structure && f.why.find(words) != std::string::npos) return true;
    return false;
}

/// The bytes of a string literal, NULs included.
template <std::size_t N>
std::string B(const char (&s)[N]) {
    return std::string(s, N - 1);
}

std::string u32le(std::uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return s;
}

std::string short_unicode(const std::string& s) { return "\x8c" + std::string(1, static_cast<char>(s.size())) + s; }

/// A protocol-4 pickle: module.name(arg) through STACK_GLOBAL.
std::string call_pickle(const std::string& module, const std::string& name, const std::string& arg = "x") {
    return "\x80\x04" + short_unicode(module) + short_unicode(name) + "\x93" + short_unicode(arg) + "\x85R.";
}
const std::string benign = std::string("\x80\x02}q\x00X\x01\x00\x00\x00" "aK\x01s.", 15);  // {'a': 1}

using ptload_test::make_zip;
using ptload_test::zip_part;

/// torch's legacy stream: magic, protocol 1001, sys_info, main, keys, then raw storage bytes.
std::string legacy_stream(const std::string& main, const std::string& raw_tail) {
    const std::string magic = B("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
    const std::string proto = B("\x80\x02M\xe9\x03.");
    return magic + proto + benign + main + B("\x80\x02].") + raw_tail;
}

} // namespace

TEST_CASE("scan: every malicious sample that runs code under pickle.load is dangerous; benign controls are clean") {
    const std::string dir = ptload_test::source_path("../shared/corpus/malicious/picklescan");
    if (!std::filesystem::is_directory(dir)) {
        MESSAGE("no malicious corpus at " << dir << "; skipped");
        return;
    }
    std::istringstream tsv(ptload_test::read_file(ptload_test::source_path("tests/expected/scan_malicious.tsv")));
    const std::set<std::string> benign_controls = {
        "data__benign0_v0.pkl", "data__benign0_v3.pkl", "data__benign0_v4.pkl", "data__benign_password_protected.zip",
        "data2__int_array.npy", "data2__int_arrays.npz", "data2__int_arrays_compressed.npz", "data2__object_array.npy",
        "data2__object_arrays.npz", "data2__object_arrays_compressed.npz", "data__new_pytorch_model.bin",
        "data__pytorch_model.bin"};
    std::string row;
    int runs = 0, rows = 0;
    while (std::getline(tsv, row)) {
        if (row.empty() || row[0] == '#') continue;
        const std::size_t t1 = row.find('\t'), t2 = row.find('\t', t1 + 1);
        REQUIRE(t2 != std::string::npos);
        const std::string file = row.substr(0, t1);
        const bool runs_code = row.substr(t1 + 1, t2 - t1 - 1) == "1";
        CAPTURE(file);
        ++rows;
        const ptload::scan_report r = scan_path(dir + "/" + file);
        if (runs_code) {
            ++runs;
            CHECK(r.exit_code() == 1);
            // every global Python sees is reported, under the name it is written or resolved to
            std::istringstream names(row.substr(t2 + 1));
            for (std::string g; names >> g;) {
                CAPTURE(g);
                if (g != "?.?") CHECK(find_global(r, g) != nullptr);
            }
        } else if (benign_controls.count(file)) {
            CHECK(r.exit_code() == 0);
        } else {
            CHECK(r.exit_code() != 0);  // broken, not a pickle, or a payload no loader reaches
        }
    }
    CHECK(rows > 100);
    CHECK(runs >= 90);
}

TEST_CASE("scan: real checkpoints and pickles outside the malicious corpus are clean") {
    std::vector<std::string> files;
    const std::string corpus = ptload_test::source_path("../shared/corpus");
    if (std::filesystem::is_directory(corpus))
        for (const auto& e : std::filesystem::recursive_directory_iterator(corpus)) {
            const std::string p = e.path().generic_string();  // '/' separators on Windows too
            if (e.is_regular_file() && p.find("/malicious/") == std::string::npos && e.path().extension() != ".md")
                files.push_back(p);
        }
    for (const auto& e : std::filesystem::directory_iterator(ptload_test::source_path("tests/fixtures/torch")))
        if (e.is_regular_file()) files.push_back(e.path().generic_string());
    std::sort(files.begin(), files.end());
    CHECK(files.size() > 60);
    for (const auto& path : files) {
        CAPTURE(path);
        const ptload::scan_report r = scan_path(path);
        if (path.find("burn-reader/broken.pt") != std::string::npos) {  // 3 bytes, not a checkpoint
            CHECK(r.exit_code() == 2);
            continue;
        }
        CHECK(r.exit_code() == 0);
        for (const auto& e : r.errors) MESSAGE(e.what());
    }
}

TEST_CASE("scan: STACK_GLOBAL operands from the memo and from protocol-0 strings are resolved") {
    // 'posix' and 'system' PUT into the memo, then fetched with BINGET for STACK_GLOBAL
    const std::string memo = "\x80\x04" + short_unicode("posix") + "q\x05" + "0" + short_unicode("system") + "q\x07" +
                             "0" + "h\x05h\x07\x93" + short_unicode("id") + "\x85R.";
    auto r = scan_bytes(memo);
    const ptload::scan_finding* f = find_global(r, "posix.system");
    REQUIRE(f != nullptr);
    CHECK(f->rating == ptload::scan_verdict::dangerous);
    CHECK(f->offset == 27);  // the STACK_GLOBAL opcode
    CHECK(r.exit_code() == 1);

    // STRING (quoted, escaped) and UNICODE (raw-unicode-escape) operands
    auto s = scan_bytes("\x80\x04S'o\\x73'\nV\\u0073ystem\n\x93S'id'\n\x85R.");
    REQUIRE(find_global(s, "os.system") != nullptr);
    CHECK(s.exit_code() == 1);

    // MEMOIZE numbers entries as CPython does: by count, not by the last index used
    auto m = scan_bytes("\x80\x04" + short_unicode("builtins") + "\x94" + short_unicode("eval") + "\x94" +
                        "0" + "0" + B("h\x00h\x01\x93") + short_unicode("1") + "\x85R.");
    REQUIRE(find_global(m, "builtins.eval") != nullptr);
    CHECK(m.exit_code() == 1);
}

TEST_CASE("scan: a global whose name only exists at load time is dangerous; non-str operands are errors") {
    // module name = builtins.str('os') computed by REDUCE, fed to STACK_GLOBAL
    auto r = scan_bytes("\x80\x04" + short_unicode("builtins") + short_unicode("str") + "\x93" + short_unicode("os") +
                        "\x85R" + short_unicode("system") + "\x93.");
    CHECK(r.exit_code() == 1);
    bool computed = false;
    for (const auto& f : r.findings) computed = computed || (f.rating == ptload::scan_verdict::dangerous && f.module == "?");
    CHECK(computed);

    // an int operand makes CPython raise before importing anything
    auto e = scan_bytes("\x80\x04K\x01" + short_unicode("system") + "\x93.");
    CHECK(e.exit_code() == 2);
    REQUIRE(e.errors.size() == 1);
    CHECK(e.errors[0].code == ptload::errc::bad_operand);
}

TEST_CASE("scan: dotted names are followed attribute by attribute") {
    CHECK(scan_bytes(call_pickle("torch", "serialization.load")).exit_code() == 1);
    CHECK(scan_bytes(call_pickle("bdb", "Bdb.run")).exit_code() == 1);
    auto d = scan_bytes(call_pickle("collections", "OrderedDict.__init__.__globals__"));
    CHECK(d.exit_code() == 1);
    auto ok = scan_bytes(call_pickle("collections", "OrderedDict"));
    CHECK(ok.exit_code() == 0);
    const ptload::scan_finding* f = find_global(ok, "collections.OrderedDict");
    REQUIRE(f != nullptr);
    CHECK(f->rating == ptload::scan_verdict::safe);
    // protocol 2 renames apply: __builtin__ is builtins
    auto py2 = scan_bytes(B("\x80\x02" "c__builtin__\neval\nX\x01\x00\x00\x00" "1\x85R."));
    const ptload::scan_finding* g = find_global(py2, "builtins.eval");
    REQUIRE(g != nullptr);
    CHECK(g->written == "__builtin__.eval");
    CHECK(py2.exit_code() == 1);
}

TEST_CASE("scan: BUILD on an imported module is dangerous (sys-module override)") {
    auto r = scan_bytes("\x80\x04" + short_unicode("torch") + short_unicode("_utils") + "\x93}" +
                        short_unicode("_rebuild_tensor") + short_unicode("builtins") + "sb.");
    CHECK(r.exit_code() == 1);
    bool mutation = false;
    for (const auto& f : r.findings) mutation = mutation || (f.item == ptload::scan_item::call && f.name == "_utils");
    CHECK(mutation);
}

TEST_CASE("scan: bytes after STOP are reported, and pickles there are scanned") {
    auto r = scan_bytes(benign + call_pickle("os", "system"));
    CHECK(has_note(r, "bytes after STOP"));
    const ptload::scan_finding* f = find_global(r, "os.system");
    REQUIRE(f != nullptr);
    CHECK(f->where.find("after STOP") != std::string::npos);
    CHECK(r.exit_code() == 1);
    // junk after STOP is only a note
    auto j = scan_bytes(benign + "\n\n\n");
    CHECK(j.exit_code() == 0);
    CHECK(has_note(j, "bytes after STOP"));
}

TEST_CASE("scan: a broken pickle is unreadable, unless a payload ran before it broke") {
    auto broken = scan_bytes(B("\x80\x02}q\x00X\xff\xff\xff\x7f"));
    CHECK(broken.exit_code() == 2);
    REQUIRE(!broken.errors.empty());
    CHECK(broken.errors[0].code == ptload::errc::truncated);
    auto payload = scan_bytes(B("\x80\x02" "cposix\nsystem\nX\x02\x00\x00\x00" "idq\x01\x85R0h\x09"));
    CHECK(payload.exit_code() == 1);
    CHECK(!payload.errors.empty());
    CHECK(payload.errors[0].code == ptload::errc::memo_missing);
}

TEST_CASE("scan: the raw storages of a legacy stream are never unpickled") {
    const std::string raw = call_pickle("os", "system");  // bytes that look like a pickle, but are storage data
    auto r = scan_bytes(legacy_stream(benign, raw));
    CHECK(r.exit_code() == 0);
    CHECK(find_global(r, "os.system") == nullptr);
    auto bad = scan_bytes(legacy_stream(call_pickle("os", "system"), ""));
    const ptload::scan_finding* f = find_global(bad, "os.system");
    REQUIRE(f != nullptr);
    CHECK(f->where == "legacy main pickle");
    CHECK(bad.exit_code() == 1);
}

TEST_CASE("scan: zip records are scanned under every name, flag and duplicate") {
    const std::string evil = call_pickle("builtins", "eval");
    // local header and central directory disagree on the name
    auto names = scan_bytes(make_zip({{"archive/data.pkl", "archive/datap.kl", evil}}));
    CHECK(names.exit_code() == 1);
    CHECK(has_note(names, "local header names the entry"));
    // encryption/patch flag bits set on data that is not encrypted
    for (std::uint16_t flag : {0x1, 0x20, 0x40}) {
        zip_part p{"archive/data.pkl", "", evil};
        p.flags = flag;
        auto r = scan_bytes(make_zip({p}));
        CHECK(r.exit_code() == 1);
        CHECK(has_note(r, "flag bits"));
    }
    // duplicate names: a benign and a malicious record, both scanned
    auto dup = scan_bytes(make_zip({{"archive/data.pkl", "", benign}, {"archive/data.pkl", "", evil}}));
    CHECK(dup.exit_code() == 1);
    CHECK(has_note(dup, "several entries have this name"));
    // a local header the central directory does not list
    zip_part hidden{"archive/extra.pkl", "", evil};
    hidden.listed = false;
    auto h = scan_bytes(make_zip({hidden, {"archive/data.pkl", "", benign}}));
    CHECK(h.exit_code() == 1);
    CHECK(has_note(h, "does not list"));
    // a bad CRC is noted (torch does not check it) and the record still scanned
    zip_part crc{"archive/data.pkl", "", evil};
    crc.bad_crc = true;
    auto c = scan_bytes(make_zip({crc}));
    CHECK(c.exit_code() == 1);
    CHECK(has_note(c, "CRC-32"));
    // a record not named .pkl whose bytes are a pickle; storages under data/ are never read
    auto sniff = scan_bytes(make_zip({{"archive/data.pkl", "", benign}, {"archive/code/x.debug_pkl", "", evil}}));
    CHECK(sniff.exit_code() == 1);
    auto storage = scan_bytes(make_zip({{"archive/data.pkl", "", benign}, {"archive/data/0", "", evil}}));
    CHECK(storage.exit_code() == 0);
    // offsets of stored records are file offsets
    auto clean = scan_bytes(make_zip({{"archive/data.pkl", "", benign}}));
    CHECK(clean.exit_code() == 0);
}

TEST_CASE("scan: pickle/zip polyglots are scanned both ways") {
    // torch reads a pickle (no PK at byte 0); zipfile.is_zipfile sees the zip at the end
    auto zip_evil = scan_bytes(benign + make_zip({{"archive/data.pkl", "", call_pickle("os", "system")}}));
    CHECK(zip_evil.exit_code() == 1);
    CHECK(has_note(zip_evil, "polyglot"));
    auto pickle_evil = scan_bytes(call_pickle("os", "system") + make_zip({{"archive/data.pkl", "", benign}}));
    CHECK(pickle_evil.exit_code() == 1);
    CHECK(has_note(pickle_evil, "polyglot"));
}

TEST_CASE("scan: streams nested in torch.storage._load_from_bytes are scanned, to a bounded depth") {
    auto wrap = [](const std::string& inner) {
        return std::string("\x80\x03\x63torch.storage\n_load_from_bytes\nB") +
               u32le(static_cast<std::uint32_t>(inner.size())) + inner + "\x85R.";
    };
    auto r = scan_bytes(wrap(call_pickle("os", "system")));
    const ptload::scan_finding* f = find_global(r, "os.system");
    REQUIRE(f != nullptr);
    CHECK(f->where.find("_load_from_bytes") != std::string::npos);
    CHECK(f->offset != ptload::no_offset);  // literal bytes of the outer pickle: a file offset
    CHECK(r.exit_code() == 1);

    std::string deep = benign;
    for (std::size_t i = 0; i < ptload::default_limits::max_stream_nesting + 2; ++i) deep = wrap(deep);
    auto d = scan_bytes(deep);
    CHECK(d.exit_code() == 2);
    REQUIRE(!d.errors.empty());
    CHECK(d.errors[0].code == ptload::errc::limit_depth);

    // protocol 2 writes the bytes as _codecs.encode(str, 'latin1'): real torch files
    const std::string p2 = ptload_test::source_path("tests/fixtures/torch/load_from_bytes_p2.pkl");
    auto fixture = scan_path(p2);
    CHECK(fixture.exit_code() == 0);
    bool nested = false;
    for (const auto& g : fixture.findings) nested = nested || g.where.find("_load_from_bytes") != std::string::npos;
    CHECK(nested);
}

TEST_CASE("scan: wrapped and foreign files are unreadable and say what they are") {
    auto gz = scan_bytes(B("\x1f\x8b\x08\x00\x00\x00\x00\x00"));
    CHECK(gz.exit_code() == 2);
    REQUIRE(gz.errors.size() == 1);
    CHECK(gz.errors[0].message.find("gzip") != std::string::npos);
    auto seven = scan_bytes(B("7z\xbc\xaf\x27\x1c\x00\x04"));
    CHECK(seven.exit_code() == 2);
    CHECK(seven.errors[0].message.find("7z") != std::string::npos);
    CHECK(scan_bytes("").exit_code() == 2);
}

TEST_CASE("scan: text and JSON reports") {
    auto r = scan_bytes(call_pickle("os", "system"));
    const std::string text = ptload::scan_text(r, "x.pkl");
    CHECK(text.find("x.pkl: dangerous") == 0);
    CHECK(text.find("os.system") != std::string::npos);
    const std::string json = ptload::scan_json(r, "x.pkl");
    CHECK(json.find("\"status\":\"dangerous\"") != std::string::npos);
    CHECK(json.find("\"module\":\"os\",\"name\":\"system\"") != std::string::npos);
    // bytes that are not UTF-8 never reach the output raw
    auto odd = scan_bytes(call_pickle("m\xff", "n\x01"));
    const std::string j = ptload::scan_json(odd, "y");
    CHECK(j.find("m\\\\xff") != std::string::npos);
    CHECK(j.find('\x01') == std::string::npos);
}
