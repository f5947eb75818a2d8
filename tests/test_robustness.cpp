// Robustness: real checkpoints cut short at every offset and with random bytes changed must load
// or fail with a clean error, and every walk of what loads must hold (tests/fuzz/drive.hpp: the
// canonical JSON, the tree, the tensor listing, every tensor's bytes, copy and float32 values,
// and the same outcome from a source without data()). A crash, an escaping exception or (in the
// sanitizer build) undefined behaviour fails the test.
//
// Trial counts: every truncation offset of each fixture below in every build; random byte
// changes: 20000 trials in the sanitizer build (CMake defines PTLOAD_SANITIZED_BUILD there; the
// coverage-guided fuzz targets run in the same leg and go much further), 10000 in the native
// debug legs and 1000 under an emulator (tools/cross_test.sh defines PTLOAD_EMULATED_BUILD for
// qemu, which runs them some ten times slower: those legs are there for byte order and widths).
#include <doctest/doctest.h>

#include "fuzz/drive.hpp"
#include "test_support.hpp"

#include <ptload/all.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#if defined(PTLOAD_SANITIZED_BUILD)
constexpr std::uint64_t byte_change_trials = 20000;
#elif defined(PTLOAD_EMULATED_BUILD)
constexpr std::uint64_t byte_change_trials = 1000;
#else
constexpr std::uint64_t byte_change_trials = 10000;
#endif

namespace {

/// Files cut at every offset: one or more of each format: zip (new and 1.6 layouts, deflated
/// records), legacy, tar, TorchScript, plain pickles and a pickle with a nested legacy stream.
const char* const truncated_fixtures[] = {
    "tests/fixtures/torch/dtypes_zip_p2.pt",       "tests/fixtures/torch/zip_deflated_p2.pt",
    "tests/fixtures/torch/zip_torch16_layout_p2.pt", "tests/fixtures/torch/dtypes_legacy_p2.pt",
    "tests/fixtures/torch/subbyte_quantized_legacy_p2.pt", "tests/fixtures/torch/tar_torch01.tar",
    "tests/fixtures/torch/torchscript_scripted.pt", "tests/fixtures/torch/load_from_bytes_p2.pkl",
    "tests/fixtures/pickle/values_p2.pkl",          "tests/fixtures/pickle/objects_p0.pkl",
};

/// Files whose bytes are changed at random: the above and a few more kinds of content.
const char* const changed_fixtures[] = {
    "tests/fixtures/torch/dtypes_zip_p2.pt",          "tests/fixtures/torch/views_zip_p4.pt",
    "tests/fixtures/torch/zip_deflated_p2.pt",        "tests/fixtures/torch/zip_torch16_layout_p2.pt",
    "tests/fixtures/torch/quantized_zip_p2.pt",       "tests/fixtures/torch/dtypes_legacy_p2.pt",
    "tests/fixtures/torch/sparse_legacy_p2.pt",       "tests/fixtures/torch/subbyte_quantized_legacy_p2.pt",
    "tests/fixtures/torch/tar_torch01.tar",           "tests/fixtures/torch/torchscript_scripted.pt",
    "tests/fixtures/torch/load_from_bytes_p2.pkl",    "tests/fixtures/pickle/values_p2.pkl",
    "tests/fixtures/pickle/torch_values_p2.pkl",      "tests/fixtures/pickle/objects_p0.pkl",
};

std::vector<std::uint8_t> fixture(const char* relative) {
    std::vector<std::uint8_t> bytes = ptload_test::read_bytes(ptload_test::source_path(relative));
    REQUIRE_MESSAGE(!bytes.empty(), relative << " is missing");
    return bytes;
}

} // namespace

TEST_CASE("robustness: the fixtures themselves load, and every walk of them holds") {
    for (const char* path : changed_fixtures) {
        CAPTURE(path);
        const std::vector<std::uint8_t> bytes = fixture(path);
        CHECK(ptload_fuzz::load_and_walk(bytes.data(), bytes.size()) == ptload::errc::ok);
    }
}

TEST_CASE("robustness: every truncation of real files fails cleanly or loads") {
    std::size_t cuts = 0;
    for (const char* path : truncated_fixtures) {
        CAPTURE(path);
        const std::vector<std::uint8_t> whole = fixture(path);
        std::size_t loaded = 0, first_loaded = whole.size(), last_failed = 0;
        for (std::size_t n = 0; n < whole.size(); ++n) {
            CAPTURE(n);
            // An exact-size copy, so a read past the cut is a read past the buffer (ASan sees it).
            const std::vector<std::uint8_t> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
            if (ptload_fuzz::load_and_walk(cut.data(), cut.size()) == ptload::errc::ok) {
                ++loaded;
                if (n < first_loaded) first_loaded = n;
            } else {
                last_failed = n;
            }
            ++cuts;
        }
        // A zip loses its directory, a legacy stream its storages, a pickle its STOP: no cut
        // loads. Only a tar may lose end-of-archive padding and still load, and then every
        // longer cut loads too.
        if (std::string(path).find(".tar") == std::string::npos) CHECK(loaded == 0);
        CHECK((loaded == 0 || first_loaded > last_failed));
    }
    CHECK(cuts > 10000);
}

TEST_CASE("robustness: random byte changes in real files fail cleanly or load") {
    std::vector<std::vector<std::uint8_t>> files;
    for (const char* path : changed_fixtures) files.push_back(fixture(path));
    std::mt19937_64 rng(0x5054'4c4f'4144);  // fixed: a failure names its trial, and reruns repeat it
    std::map<ptload::errc, std::uint64_t> codes;
    for (std::uint64_t trial = 0; trial < byte_change_trials; ++trial) {
        const std::size_t which = static_cast<std::size_t>(rng() % files.size());
        std::vector<std::uint8_t> bytes = files[which];
        const int changes = 1 + static_cast<int>(rng() % 4);
        for (int c = 0; c < changes; ++c) {
            const std::size_t at = static_cast<std::size_t>(rng() % bytes.size());
            bytes[at] = static_cast<std::uint8_t>(bytes[at] ^ (1 + rng() % 255));  // always a different byte
        }
        CAPTURE(trial);
        CAPTURE(changed_fixtures[which]);
        ++codes[ptload_fuzz::load_and_walk(bytes.data(), bytes.size())];
    }
    // Both outcomes happen: changed tensor data still loads, changed structure fails.
    CHECK(codes[ptload::errc::ok] > 0);
    CHECK(codes.size() > 3);
}

namespace {
struct two_zip_entries : ptload::default_limits {
    static constexpr std::uint64_t max_zip_entries = 2;
};
struct generous_inflate : ptload::default_limits {
    static constexpr std::uint64_t max_inflate_per_file_byte = std::uint64_t{1} << 40;
};
} // namespace

TEST_CASE("robustness: the limits policy reaches the zip reader") {
    SUBCASE("max_zip_entries") {
        const std::vector<std::uint8_t> bytes = fixture("tests/fixtures/torch/tensor_only_zip_p2.pt");
        CHECK(ptload::load(ptload::memory_source(bytes.data(), bytes.size())).has_value());
        auto doc = ptload::load<two_zip_entries>(ptload::memory_source(bytes.data(), bytes.size()));
        REQUIRE_FALSE(doc.has_value());
        CHECK(doc.err().code == ptload::errc::bad_zip);
        CHECK(doc.err().message.find("max_entries") != std::string::npos);
    }
    SUBCASE("max_inflate_per_file_byte") {
        // One deflated record of 2,000,000 bytes in a file of a few hundred: over the default
        // total, within the generous one (the load then fails later, for another reason).
        const std::vector<std::uint8_t> bytes = fixture("tests/fixtures/zip/bad_deflate_bomb.zip");
        auto doc = ptload::load(ptload::memory_source(bytes.data(), bytes.size()));
        REQUIRE_FALSE(doc.has_value());
        CHECK(doc.err().code == ptload::errc::limit_inflate);
        auto generous = ptload::load<generous_inflate>(ptload::memory_source(bytes.data(), bytes.size()));
        REQUIRE_FALSE(generous.has_value());
        CHECK(generous.err().code != ptload::errc::limit_inflate);
    }
}

TEST_CASE("robustness: a safetensors header length near 2^64 does not wrap") {
    // u64 little-endian header length, then '{': 2^64 - 1 + 8 would wrap to 7 and fit any file.
    std::uint8_t head[16] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, '{', '}'};
    CHECK(ptload::detect(head, sizeof head, sizeof head) != ptload::file_kind::safetensors);
    const std::uint8_t real[10] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    CHECK(ptload::detect(real, sizeof real, sizeof real) == ptload::file_kind::safetensors);
}
