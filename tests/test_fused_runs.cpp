// torch.save's opcodes for one tensor taken in one step (load_options::fused_runs, the default)
// against the same opcodes run one by one: the same values, node for node, and the same errors
// to the letter, on files torch wrote and on single-byte changes at every offset of their pickles.
#include "test_support.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace {

/// A load's outcome in full: the error's code, offset, message and context, or the document's
/// node count and canonical JSON.
std::string outcome(const std::vector<std::uint8_t>& file, bool fused) {
    ptload::load_options o;
    o.fused_runs = fused;
    auto doc = ptload::load_any(ptload::memory_source(file.data(), file.size()), o);
    if (!doc) {
        const ptload::error& e = doc.err();
        return std::string("error ") + ptload::errc_name(e.code) + " at " + std::to_string(e.offset) + ": " + e.message +
               " [" + e.context + "]";
    }
    auto json = ptload::canonical_json(*doc);
    return std::to_string(doc->node_count()) + " values: " + (json ? *json : std::string("no json"));
}

/// Where `record` (a stored zip entry) lies in `file`.
std::pair<std::size_t, std::size_t> record_span(const std::vector<std::uint8_t>& file, const std::string& record) {
    ptload::memory_source src(file.data(), file.size());
    auto zip = ptload::read_zip(src);
    REQUIRE(zip);
    const ptload::zip_entry* e = zip->find(record);
    REQUIRE(e);
    REQUIRE(e->method == 0);
    return {static_cast<std::size_t>(e->data_offset), static_cast<std::size_t>(e->size)};
}

// Bytes a change writes: opcodes of the run and its neighbours, and values that move lengths,
// memo indices and ints to their edges. Each offset gets `per_offset` of them, in turn, so that
// every one lands on every kind of byte of the run (a full cross product costs half a minute
// in a debug build).
constexpr std::uint8_t replacements[] = {0x00, 0x01, 0x04, 0x7F, 0x80, 0xFF, '(', ')', 't', 'R', 'Q', 'q', 'r',
                                         'h', 'j', 'K', 'M', 'J', 'X', 0x85, 0x86, 0x88, 0x89, 0x8C, 0x94};
constexpr std::size_t replacement_count = sizeof replacements;
#if defined(PTLOAD_EMULATED_BUILD)
constexpr std::size_t per_offset = 1;  // qemu runs some ten times slower
#else
constexpr std::size_t per_offset = 3;
#endif

void check_every_change(const std::string& fixture) {
    CAPTURE(fixture);
    const std::vector<std::uint8_t> file = ptload_test::read_bytes(ptload_test::source_path(fixture));
    REQUIRE(!file.empty());
    const std::string fused = outcome(file, true);
    REQUIRE(fused.compare(0, 6, "error ") != 0);
    CHECK(fused == outcome(file, false));

    const std::pair<std::size_t, std::size_t> data_pkl = record_span(file, "archive/data.pkl");
    // not a structured binding: CAPTURE takes these in a lambda
    const std::size_t begin = data_pkl.first, size = data_pkl.second;
    std::size_t changes = 0, differ = 0, failed = 0;
    for (std::size_t at = begin; at < begin + size; ++at) {
        for (std::size_t k = 0; k < per_offset; ++k) {
            const std::uint8_t b = replacements[((at - begin) * 7 + k * 11) % replacement_count];
            if (file[at] == b) continue;
            std::vector<std::uint8_t> changed = file;
            changed[at] = b;
            const std::string one_step = outcome(changed, true), one_by_one = outcome(changed, false);
            ++changes;
            failed += one_step.compare(0, 6, "error ") == 0;
            if (one_step != one_by_one) {
                ++differ;
                CAPTURE(at - begin);
                CAPTURE(int(b));
                CHECK(one_step == one_by_one);
            }
        }
    }
    MESSAGE(fixture << ": " << changes << " single-byte changes of data.pkl, " << failed << " of them errors");
    CHECK(differ == 0);
    CHECK(failed > 0);             // the changes reach the checks
    CHECK(failed < changes);       // and leave loadable files too
}

} // namespace

TEST_CASE("fused tensor runs: torch's files read the same, node for node, as opcode by opcode") {
    for (const char* name : {"state_dict_zip_p2.pt", "state_dict_zip_p4.pt", "views_zip_p2.pt", "views_zip_p4.pt",
                             "parameters_zip_p2.pt", "tensor_attrs_zip_p2.pt", "dtypes_zip_p2.pt", "storages_zip_p2.pt",
                             "bad_view_past_end_zip.pt", "bad_missing_record_zip.pt", "bad_negative_offset_zip.pt"}) {
        CAPTURE(name);
        const auto file = ptload_test::read_bytes(ptload_test::source_path(std::string("tests/fixtures/torch/") + name));
        REQUIRE(!file.empty());
        CHECK(outcome(file, true) == outcome(file, false));
    }
}

TEST_CASE("fused tensor runs: every single-byte change of a state_dict's pickle reads the same as opcode by opcode") {
    check_every_change("tests/fixtures/torch/state_dict_zip_p2.pt");  // protocol 2: BINPUT
    check_every_change("tests/fixtures/torch/state_dict_zip_p4.pt");  // protocol 4: MEMOIZE, FRAME
    check_every_change("tests/fixtures/torch/views_zip_p2.pt");       // storages shared by views: keys by GET
}
