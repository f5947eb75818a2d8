// Differential tests: ptload's canonical JSON against what real Python pickle / torch 1.13
// printed for the same file (tests/expected/*.tsv, written by tools/gen_*.py and the oracle).
#include "json_normalize.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct manifest_line {
    std::string input, options, expected;
};

std::vector<manifest_line> read_manifest(const std::string& name) {
    std::vector<manifest_line> lines;
    std::ifstream in(ptload_test::source_path("tests/expected/" + name));
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        manifest_line m;
        std::getline(fields, m.input, '\t');
        std::getline(fields, m.options, '\t');
        std::getline(fields, m.expected, '\t');
        lines.push_back(m);
    }
    return lines;
}

/// Loads a file the way `ptload dump --json OPTIONS FILE` does and returns its normalized JSON
/// or "error:<code>". Lazy: the document owns the file and reads storages as the JSON touches
/// them. Mapped: the file in memory, storages pointing into it where they can.
std::string dump(const manifest_line& m, ptload::storage_mode mode = ptload::storage_mode::eager) {
    ptload::dump_options opts;
    std::istringstream words(m.options == "-" ? "" : m.options);
    std::string flag, arg;
    while (words >> flag) {
        words >> arg;
        auto known = opts.parse(flag, arg);
        if (!known || !*known) return "bad option " + flag;
    }
    opts.load.storages = mode;
    ptload::file_source src(ptload_test::source_path(m.input));
    if (!src.is_open()) return "cannot open " + m.input;
    std::vector<std::uint8_t> bytes;
    if (mode == ptload::storage_mode::mapped) bytes = ptload_test::read_bytes(ptload_test::source_path(m.input));
    auto doc = mode == ptload::storage_mode::lazy     ? ptload::load_dynamic(std::move(src), opts)
               : mode == ptload::storage_mode::mapped ? ptload::load_dynamic(ptload::memory_source(bytes.data(), bytes.size()), opts)
                                                      : ptload::load_dynamic(src, opts);
    if (!doc) return std::string("error:") + ptload::errc_name(doc.err().code) + " (" + doc.err().what() + ")";
    auto text = ptload::canonical_json(*doc);
    if (!text) return std::string("error:") + ptload::errc_name(text.err().code);
    return ptload_test::normalize(*text);
}

void check_manifest(const std::string& name, ptload::storage_mode mode = ptload::storage_mode::eager) {
    auto lines = read_manifest(name);
    REQUIRE(!lines.empty());
    int matched = 0;
    for (const auto& m : lines) {
        CAPTURE(m.input);
        CAPTURE(m.options);
        std::string got = dump(m, mode);
        if (m.expected.compare(0, 6, "error:") == 0) {
            // the code must match; what follows in parentheses is our message
            CHECK(got.substr(0, got.find(' ')) == m.expected);
        } else {
            std::string want = ptload_test::read_file(ptload_test::source_path(m.expected));
            while (!want.empty() && want.back() == '\n') want.pop_back();
            CHECK(got == want);
            matched += got == want;
        }
    }
    MESSAGE(name << ": " << matched << " of " << lines.size() << " files match their expected JSON");
}

} // namespace

TEST_CASE("plain pickles match Python's pickle (tests/expected/pickle.tsv)") { check_manifest("pickle.tsv"); }

TEST_CASE("real-world corpus matches torch 1.13 (tests/expected/corpus.tsv)") { check_manifest("corpus.tsv"); }

TEST_CASE("torch fixtures match torch 1.13 (tests/expected/torch.tsv)") {
    if (!ptload_test::exists(ptload_test::source_path("tests/expected/torch.tsv"))) return;
    check_manifest("torch.tsv");
}

// The same files with storages read on first touch, and pointing into the file's bytes: every
// format, dtype and view reads the same values however its storages are brought in.
TEST_CASE("lazy loads match torch 1.13 (torch.tsv, corpus.tsv)") {
    check_manifest("torch.tsv", ptload::storage_mode::lazy);
    check_manifest("corpus.tsv", ptload::storage_mode::lazy);
}
TEST_CASE("mapped loads match torch 1.13 (torch.tsv, corpus.tsv)") {
    check_manifest("torch.tsv", ptload::storage_mode::mapped);
    check_manifest("corpus.tsv", ptload::storage_mode::mapped);
}
