// The stress files of tools/gen_stress.py: inputs of a few bytes to a few MB that ask for
// exponential output, 2^62-element views, 10^6-deep nesting, lengths of 2^64 - 1, zip bombs and
// a 4 GiB file. Each must end in the result or the error code its manifest line names, under
// the default limits. (Their time and memory are measured by tools/measure_stress.sh, not here.)
#include "../test_support.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define PTLOAD_TEST_MMAP 1  // and mkdtemp for the generator's folder
#endif

#ifdef PTLOAD_TEST_MMAP

namespace {

/// load_any and every walk a user can make; "ok", or "load:CODE" / "walk:CODE" at the first failure.
template <class Source>
std::string outcome(Source& src) {
    auto doc = ptload::load_any(src);
    if (!doc) return std::string("load:") + ptload::errc_name(doc.err().code) + " (" + doc.err().what() + ")";
    auto json = ptload::canonical_json(*doc);
    if (!json) return std::string("walk:") + ptload::errc_name(json.err().code) + " (" + json.err().what() + ")";
    auto tree = ptload::to_tree(doc->root());
    (void)tree;
    auto rows = ptload::list_tensors(*doc);
    (void)rows;
    return "ok";
}

/// Reads the file through a read-only mapping where there is one, so the 4 GiB file costs
/// neither RAM nor disk, and as a whole-file memory source ("read from memory").
std::string outcome_of_file(const std::string& path) {
#ifdef PTLOAD_TEST_MMAP
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) return "cannot open " + path;
    struct stat st;
    fstat(fd, &st);
    auto size = static_cast<std::size_t>(st.st_size);
    void* map = size ? mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
    close(fd);
    if (map == MAP_FAILED) return "cannot map " + path;
    ptload::memory_source src(static_cast<const std::uint8_t*>(map), size);
    std::string r = outcome(src);
    if (map) munmap(map, size);
    return r;
#else
    ptload::file_source src(path);
    return outcome(src);
#endif
}

/// The expectation without the message: "load:limit_depth (limit_depth at byte ...)" -> "load:limit_depth".
std::string code_of(const std::string& outcome) { return outcome.substr(0, outcome.find(' ')); }

} // namespace

TEST_CASE("stress files end in their manifest's result under the default limits") {
    // Written afresh by the generator, so the files always match the script in this tree.
    char dir[] = "/tmp/ptload-stress-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    std::string cmd = "python3 \"" + ptload_test::source_path("tools/gen_stress.py") + "\" \"" + dir + "\"";
    REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "the generator failed: " << cmd);
    std::ifstream manifest(std::string(dir) + "/MANIFEST.tsv");
    REQUIRE(manifest.good());
    std::string line;
    int files = 0;
    while (std::getline(manifest, line)) {
        std::istringstream fields(line);
        std::string name, expect;
        fields >> name >> expect;
        std::string path = std::string(dir) + "/" + name;
        std::string got = outcome_of_file(path);
        CHECK_MESSAGE(code_of(got) == expect, name << ": expected " << expect << ", got " << got);
        std::remove(path.c_str());
        ++files;
    }
    std::remove((std::string(dir) + "/MANIFEST.tsv").c_str());
    rmdir(dir);
    CHECK(files >= 30);
}
#endif
