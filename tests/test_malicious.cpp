// The malicious and malformed samples of ../shared/corpus/malicious (picklescan's test data):
// every one loads safely (nothing is ever run) or is refused with a clear error. Never open these
// with Python's pickle: they execute their payloads.
#include "test_support.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

TEST_CASE("picklescan's malicious samples are refused, benign ones load") {
    const std::string dir = ptload_test::source_path("../shared/corpus/malicious/picklescan");
    if (!std::filesystem::is_directory(dir)) {
        MESSAGE("no malicious corpus at " << dir << "; skipped");
        return;
    }
    // The only files that load: benign controls, two ordinary model files, and malicious6.pkl,
    // whose payload follows the first pickle's STOP where pickle.load (and torch.load) never read.
    const std::set<std::string> loads = {"data__benign0_v0.pkl", "data__benign0_v3.pkl", "data__benign0_v4.pkl",
                                         "data__malicious6.pkl", "data__new_pytorch_model.bin",
                                         "data__pytorch_model.bin"};
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.is_regular_file()) files.push_back(e.path().filename().string());
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() > 100);
    int disallowed = 0;
    for (const auto& name : files) {
        CAPTURE(name);
        ptload::file_source src(dir + "/" + name);
        REQUIRE(src.is_open());
        auto doc = ptload::load_any(src);
        CHECK(doc.has_value() == (loads.count(name) == 1));
        if (doc) continue;
        const ptload::error& e = doc.err();
        CHECK(e.code != ptload::errc::ok);
        CHECK(!e.message.empty());
        if (e.code == ptload::errc::disallowed_global) {
            ++disallowed;
            CHECK(e.message.find("global ") == 0);  // names the global
            CHECK(e.offset != ptload::no_offset);
        }
    }
    MESSAGE(disallowed << " of " << files.size() << " samples refused for a disallowed global");
    CHECK(disallowed >= 80);
}
