// Replays every input the fuzzers once crashed on (tests/fuzz/regressions/<target>/*) through
// the same code the fuzz target runs (tests/fuzz/drive.hpp), in every build of the test suite.
// A regression crashes or aborts the test binary, as it crashed the fuzzer.
#include <doctest/doctest.h>

#include "fuzz/drive.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using driver = int (*)(const std::uint8_t*, std::size_t);

struct fuzz_target {
    const char* name;
    driver drive;
};

constexpr fuzz_target fuzz_targets[] = {
    {"load", ptload_fuzz::drive_load},
    {"pickle", ptload_fuzz::drive_pickle},
    {"zip", ptload_fuzz::drive_zip},
    {"inflate", ptload_fuzz::drive_inflate},
#if PTLOAD_FUZZ_HAS_SCAN
    {"scan", ptload_fuzz::drive_scan},
#endif
};

/// The files of one folder, sorted (replay order does not depend on the file system).
std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.is_regular_file()) out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

TEST_CASE("fuzz regressions: every committed crash input now loads or fails cleanly") {
    const std::filesystem::path root = ptload_test::source_path("tests/fuzz/regressions");
    REQUIRE(std::filesystem::is_directory(root));
    std::size_t replayed = 0;
    for (const auto& dir : std::filesystem::directory_iterator(root)) {
        if (!dir.is_directory()) continue;
        const std::string target = dir.path().filename().string();
        CAPTURE(target);
        // A folder for a target that does not exist would be skipped silently: refuse it.
        auto it = std::find_if(std::begin(fuzz_targets), std::end(fuzz_targets),
                               [&](const fuzz_target& t) { return target == t.name; });
        REQUIRE_MESSAGE(it != std::end(fuzz_targets), "tests/fuzz/regressions/" << target << " names no fuzz target");
        for (const auto& path : files_in(dir.path())) {
            ++replayed;
            // One subcase per input: a crash report names the subcase, so the input.
            const std::string name = target + "/" + path.filename().string();
            SUBCASE(name.c_str()) {
                const std::vector<std::uint8_t> bytes = ptload_test::read_bytes(path.string());
                CHECK(it->drive(bytes.data(), bytes.size()) == 0);
            }
        }
    }
    CHECK(replayed > 0);  // the folder holds at least the crashes found so far
}

TEST_CASE("fuzz drivers: the JSON check accepts JSON and refuses what is not") {
    using ptload_fuzz::json_well_formed;
    CHECK(json_well_formed(R"({"a":[1,-2.5e3,true,false,null,"x\u00e9\n"],"b":{}})"));
    CHECK(json_well_formed("[]"));
    CHECK(json_well_formed("0"));
    CHECK_FALSE(json_well_formed(""));
    CHECK_FALSE(json_well_formed("[1,]"));
    CHECK_FALSE(json_well_formed("{\"a\" 1}"));
    CHECK_FALSE(json_well_formed("[nan]"));
    CHECK_FALSE(json_well_formed("[1e]"));
    CHECK_FALSE(json_well_formed("[01]"));
    CHECK_FALSE(json_well_formed("\"a\nb\""));
    CHECK_FALSE(json_well_formed("[1]]"));
    CHECK_FALSE(json_well_formed("[[1]"));
}
