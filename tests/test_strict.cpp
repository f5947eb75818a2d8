// Strict mode (ptload::strict, torch.load(weights_only=True)) against real torch 1.13 over every
// torch fixture, corpus file and malicious sample (tests/expected/strict.tsv, written by
// tools/gen_strict_expected.py), and its rules on small pickles.
#include "json_normalize.hpp"
#include "pickle_bytes.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct strict_line {
    std::string input, options, strict, expected, reason;
};

/// Loads a file the way `ptload dump --json [--strict] OPTIONS FILE` does (load_dynamic, which
/// combines strict mode with every encoding).
ptload::result<ptload::document> load_with_options(const std::string& input, const std::string& options, bool strict,
                                                   const std::vector<std::string>& safe = {}) {
    ptload::dump_options o;
    std::istringstream words(options == "-" ? "" : options);
    std::string flag, arg;
    while (words >> flag >> arg) {
        auto known = o.parse(flag, arg);
        if (!known || !*known) return ptload::make_error(ptload::errc::invalid_argument, 0, "bad option " + flag);
    }
    o.strict = strict;
    o.load.safe_globals = safe;
    ptload::file_source src(ptload_test::source_path(input));
    if (!src.is_open()) return src.open_error();
    return ptload::load_dynamic(src, o);
}

std::string json_of(const ptload::document& doc) {
    auto text = ptload::canonical_json(doc);
    if (!text) return std::string("error:") + ptload::errc_name(text.err().code);
    return ptload_test::normalize(*text);
}

/// Every opcode byte in the pickle starting at p (to its STOP or the first byte that cannot be
/// an opcode); returns the offset just past STOP, or 0.
std::size_t collect_opcodes(const std::uint8_t* p, std::size_t n, std::set<int>& seen) {
    using ptload::pickle::arg;
    std::size_t i = 0;
    auto le = [&](std::size_t at, std::size_t w) {
        std::uint64_t v = 0;
        for (std::size_t k = 0; k < w; ++k) v |= static_cast<std::uint64_t>(p[at + k]) << (8 * k);
        return v;
    };
    while (i < n) {
        std::uint8_t b = p[i++];
        if (!ptload::pickle::is_opcode(b)) return 0;
        seen.insert(b);
        if (b == '.') return i;
        std::size_t width = 0, len = 0;
        switch (ptload::pickle::argument_of(b)) {
        case arg::none: break;
        case arg::u1: width = 1; break;
        case arg::u2: width = 2; break;
        case arg::i4:
        case arg::u4: width = 4; break;
        case arg::u8:
        case arg::f8_be: width = 8; break;
        case arg::line:
        case arg::two_lines:
            for (int lines = ptload::pickle::argument_of(b) == arg::two_lines ? 2 : 1; lines > 0; --lines) {
                while (i < n && p[i] != '\n') ++i;
                ++i;
            }
            break;
        case arg::u1_bytes: width = 1; len = 1; break;
        case arg::i4_bytes:
        case arg::u4_bytes: width = 4; len = 1; break;
        case arg::u8_bytes: width = 8; len = 1; break;
        }
        if (i + width > n) return 0;
        std::uint64_t count = len ? le(i, width) : 0;
        if (b == 0x95) count = 0;  // FRAME: its argument is a length, the frame's opcodes follow
        if (count > n) return 0;
        i += width + static_cast<std::size_t>(count);
    }
    return 0;
}

/// The opcodes of every pickle in a file: a zip's *.pkl records (torch stores them uncompressed),
/// a tar's members, or the pickles one after another from the start (legacy streams).
std::set<int> opcodes_of_file(const std::string& path) {
    std::vector<std::uint8_t> b = ptload_test::read_bytes(path);
    std::set<int> seen;
    auto walk_from = [&](std::size_t at, std::size_t end) {
        for (int k = 0; k < 5 && at < end; ++k) {
            std::size_t used = collect_opcodes(b.data() + at, end - at, seen);
            if (!used) break;
            at += used;
        }
    };
    if (b.size() > 4 && b[0] == 'P' && b[1] == 'K') {
        for (std::size_t i = 0; i + 30 < b.size(); ++i) {
            if (b[i] != 'P' || b[i + 1] != 'K' || b[i + 2] != 3 || b[i + 3] != 4) continue;
            std::size_t name_len = b[i + 26] | (b[i + 27] << 8), extra = b[i + 28] | (b[i + 29] << 8);
            std::string name(b.begin() + static_cast<long>(i + 30),
                             b.begin() + static_cast<long>(std::min(b.size(), i + 30 + name_len)));
            if (name.size() > 4 && name.compare(name.size() - 4, 4, ".pkl") == 0) walk_from(i + 30 + name_len + extra, b.size());
        }
    } else if (b.size() > 512 && std::string(b.begin() + 257, b.begin() + 262) == "ustar") {
        for (std::size_t h = 0; h + 512 <= b.size();) {
            std::size_t size = std::strtoull(std::string(b.begin() + static_cast<long>(h + 124), b.begin() + static_cast<long>(h + 136)).c_str(), nullptr, 8);
            walk_from(h + 512, std::min(b.size(), h + 512 + size));
            h += 512 + (size + 511) / 512 * 512;
            if (size == 0 && b[h - 512] == 0) break;
        }
    } else {
        walk_from(0, b.size());
    }
    return seen;
}

int opcode_byte(const std::string& name) {
    for (const auto& row : ptload::pickle::opcode_table)
        if (row.name == name) return row.byte;
    return -1;
}

} // namespace

TEST_CASE("strict mode matches torch 1.13's weights_only (tests/expected/strict.tsv)") {
    std::ifstream in(ptload_test::source_path("tests/expected/strict.tsv"));
    REQUIRE(in.good());
    std::vector<strict_line> lines;
    std::set<std::string> allow;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        strict_line m;
        std::getline(fields, m.input, '\t');
        if (m.input == "allow") {
            std::getline(fields, m.options, '\t');
            allow.insert(m.options);
            continue;
        }
        std::getline(fields, m.options, '\t');
        std::getline(fields, m.strict, '\t');
        std::getline(fields, m.expected, '\t');
        std::getline(fields, m.reason, '\t');
        lines.push_back(m);
    }
    REQUIRE(lines.size() > 300);

    SUBCASE("the default allowlist is torch 1.13's, name for name") {
        CHECK(allow.size() == std::size(ptload::pickle::torch_weights_only_globals));
        for (const auto& full : allow) {
            CAPTURE(full);
            auto dot = full.rfind('.');
            CHECK(ptload::pickle::resolve_global(full.substr(0, dot), full.substr(dot + 1), 2).rating ==
                  ptload::pickle::verdict::safe);
        }
    }

    bool have_malicious = ptload_test::exists(ptload_test::source_path("../shared/corpus/malicious/picklescan/data__malicious0.pkl"));
    int loads = 0, refuses = 0, loosened = 0;
    for (const auto& m : lines) {
        if (m.input.find("/malicious/") != std::string::npos && !have_malicious) continue;
        CAPTURE(m.input);
        CAPTURE(m.options);
        CAPTURE(m.reason);
        auto strict = load_with_options(m.input, m.options, true);
        auto permissive = load_with_options(m.input, m.options, false);
        if (m.strict == "loads") {
            ++loads;
            REQUIRE_MESSAGE(strict, (strict ? "" : strict.err().what()));
            REQUIRE(permissive);
            std::string got = json_of(*strict);
            CHECK(got == json_of(*permissive));
            if (m.expected != "default") {
                std::string want = ptload_test::read_file(ptload_test::source_path(m.expected));
                while (!want.empty() && want.back() == '\n') want.pop_back();
                CHECK(got == want);
            }
        } else {
            ++refuses;
            CHECK_FALSE(strict.has_value());
            if (strict.has_value()) continue;
            if (permissive) {  // refused for a global (or an object array) alone
                CHECK(strict.err().code == ptload::errc::disallowed_global);
                CHECK(strict.err().offset != ptload::no_offset);
                bool names_global = strict.err().message.find("global ") == 0 || strict.err().message.find("numpy array") == 0;
                CHECK(names_global);
            }
        }
        // every reason for departing from torch 1.13 must be true of the file
        if (m.reason.compare(0, 7, "opcode:") == 0) {
            ++loosened;
            int op = opcode_byte(m.reason.substr(7));
            REQUIRE(op >= 0);
            auto ops = opcodes_of_file(ptload_test::source_path(m.input));
            CHECK(ops.count(op) == 1);
        } else if (m.reason == "numpy") {
            ++loosened;
            REQUIRE(permissive);
            // torch 1.13 stopped at a numpy global: an array, or a scalar that loads as a number
            bool array = json_of(*permissive).find("\"ndarray\"") != std::string::npos;
            bool numpy_global = ptload_test::read_file(ptload_test::source_path(m.input)).find("numpy") != std::string::npos;
            CHECK((array || numpy_global));
        } else if (m.reason == "torchscript") {
            REQUIRE(permissive);
            CHECK(permissive->is_torchscript());
        } else if (m.reason.compare(0, 8, "default:") == 0) {
            REQUIRE_FALSE(permissive);
            CHECK(std::string(ptload::errc_name(permissive.err().code)) == m.reason.substr(8));
        } else {
            CHECK(m.reason == "-");
        }
    }
    MESSAGE("strict mode: " << loads << " files load, " << refuses << " refused; " << loosened
                            << " load where torch 1.13 lacks an opcode or numpy support");
}

namespace {
using namespace ptload_test::pickle_bytes;
/// A protocol-2 numpy array of two items of dtype `type` with raw data `data` (a list for 'O8').
bytes numpy_array(const std::string& type, const bytes& data) {
    return P({0x80, 2, 'c'}) + std::string("numpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n") +
           P({'K', 0, 0x85, 'C', 1, 'b', 0x87, 'R', '(', 'K', 1, 'K', 2, 0x85, 'c'}) + std::string("numpy\ndtype\n") +
           P({'U', static_cast<int>(type.size())}) + type +
           P({0x89, 0x88, 0x87, 'R', '(', 'K', 3, 'U', 1, '|', 'N', 'N', 'N', 'J', 255, 255, 255, 255, 'J', 255, 255, 255,
              255, 'K', 0, 't', 'b', 0x89}) +
           data + P({'t', 'b', '.'});
}
} // namespace

TEST_CASE("strict mode: nothing outside the allowlist becomes an object") {
    // argparse.Namespace(), through NEWOBJ, REDUCE and BUILD
    const bytes newobj = P({0x80, 2, 'c'}) + std::string("argparse\nNamespace\n") + P({')', 0x81, '}', 'b', '.'});
    const bytes reduce = P({0x80, 2, 'N', '0', 'c'}) + std::string("argparse\nNamespace\n") + P({')', 'R', '.'});
    for (const bytes* b : {&newobj, &reduce}) {
        REQUIRE(parse(*b));  // the default mode keeps it as an inert object
        auto doc = parse<ptload::strict>(*b);
        REQUIRE_FALSE(doc);
        CHECK(doc.err().code == ptload::errc::disallowed_global);
        CHECK(doc.err().offset == (b == &newobj ? 2u : 4u));
        CHECK(doc.err().message.find("argparse.Namespace") != std::string::npos);
        CHECK(doc.err().message.find("add \"argparse.Namespace\" to load_options::safe_globals") != std::string::npos);
        // allowed by the caller, as torch.serialization.add_safe_globals
        ptload::load_options opt;
        opt.safe_globals = {"argparse.Namespace"};
        auto allowed = parse<ptload::strict>(*b, opt);
        REQUIRE(allowed);
        CHECK(ptload::to_canonical_json(allowed->root()).value() == ptload::to_canonical_json(parse(*b)->root()).value());
    }
    // a dangerous global stays refused whatever the caller adds
    ptload::load_options opt;
    opt.safe_globals = {"os.system", "posix.system"};
    auto evil = parse<ptload::strict>(P({'c'}) + std::string("posix\nsystem\n(S'id'\ntR."), opt);
    REQUIRE_FALSE(evil);
    CHECK(evil.err().code == ptload::errc::disallowed_global);
    CHECK(evil.err().message.find("runs a shell command") != std::string::npos);
    // builtins the default mode models are still not on weights_only's list
    auto set = parse<ptload::strict>(P({0x80, 2, 'c'}) + std::string("builtins\nset\n") + P({']', 0x85, 'R', '.'}));
    REQUIRE_FALSE(set);
    CHECK(set.err().message.find("builtins.set") != std::string::npos);
}

TEST_CASE("strict mode: numpy arrays load unless their dtype is object") {
    bytes ints(16, 0);
    ints[0] = 7;
    const bytes numeric = numpy_array("i8", P({'C', 16}) + ints);
    const bytes objects = numpy_array("O8", P({']', 'K', 1, 'a', 'K', 2, 'a'}));
    auto a = parse<ptload::strict>(numeric);
    REQUIRE_MESSAGE(a, (a ? "" : a.err().what()));
    CHECK(ptload::to_canonical_json(a->root()).value() == ptload::to_canonical_json(parse(numeric)->root()).value());
    REQUIRE(parse(objects));
    auto o = parse<ptload::strict>(objects);
    REQUIRE_FALSE(o);
    CHECK(o.err().code == ptload::errc::disallowed_global);
    CHECK(o.err().message.find("dtype object") != std::string::npos);
    CHECK(o.err().offset == objects.size() - 2);  // the BUILD that reveals the dtype
}
