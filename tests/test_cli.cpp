// The command-line tool's views and words: Python's float repr in the tree, counted
// containers, what a file that is no checkpoint is, which map_location devices are known, and
// the key path in a wrong-kind error.
//
// Every repr string below was printed by Python 3 (repr(x), float.hex(x) for the value); the
// pickle is pickle.dumps(..., protocol=2) of the list in its comment. The cli_* tests of
// CMakeLists.txt run the tool itself.
#include "pickle_bytes.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace ptload_test::pickle_bytes;

std::string identify(const bytes& b) { return ptload::identify_foreign(b.data(), b.size() < 512 ? b.size() : 512, b.size()); }

} // namespace

TEST_CASE("cli: floats print as Python's repr, the shortest text that reads back") {
    struct sample {
        double value;
        const char* repr;
    };
    static const sample samples[] = {
        {0x1.ccccccccccccdp-1, "0.9"},
        {0x1.0000000000000p+0, "1.0"},
        {-0.0, "-0.0"},
        {0.0, "0.0"},
        {0x1.1c37937e08000p+53, "1e+16"},
        {0x1.c6bf526340000p+49, "1000000000000000.0"},
        {0x1.1c37937e07fffp+53, "9999999999999998.0"},
        {0x1.a36e2eb1c432dp-14, "0.0001"},
        {0x1.4f8b588e368f1p-17, "1e-05"},
        {0x1.1eb2d66005835p+997, "1.5e+300"},
        {0x0.0000000000001p-1022, "5e-324"},
        {0x1.fffffffffffffp+1023, "1.7976931348623157e+308"},
        {0x1.999999999999ap-4, "0.1"},
        {0x1.3333333333334p-2, "0.30000000000000004"},
        {0x1.b69b4ba630f35p+56, "1.2345678901234568e+17"},
        {0x1.9000000000000p+6, "100.0"},
        {0x1.0f0cf064dd592p+73, "1e+22"},
        {0x1.0c6f7a0b5ed8dp-22, "2.5e-07"},
        {-0x1.4000000000000p+0, "-1.25"},
        {0x0.03739a252b281p-1022, "3e-310"},
        {0x1.81cd6c8b43958p+13, "12345.678"},
        {0x1.5555555555555p-2, "0.3333333333333333"},
        {-0x1.56e1fc2f8f359p-997, "-1e-300"},
        {0x1.0624dd2f1a9fcp-10, "0.001"},
        {0x1.1666666666666p+2, "4.35"},
        {0x1.0000000000000p+53, "9007199254740992.0"},
        {0x0.0000000000003p-1022, "1.5e-323"},
        {-0x1.74de452e6b438p+811, "-1.989032661366619e+244"},
        {0x1.3270e269e0d37p+594, "7.761117632285041e+178"},
        {0x1.c7fd0a6a3a450p-826, "3.980498358697587e-249"},
        {-0x1.f0824128b2f33p+292, "-1.5432835417340557e+88"},
        {0x1.8e811892f902bp-638, "1.3647584518757569e-192"},
        {-0x1.1985d5d9dc9f8p-684, "-1.3701135617873088e-206"},
        {-0x1.25d940ed90475p+655, "-1.7160537630466207e+197"},
        {0x1.675cc81e74ef5p-144, "6.294675241195386e-44"},
        {0x1.0a35a099950d8p-671, "1.0613447212142254e-202"},
        {0x1.d549b6f03675ap+689, "4.708325160387546e+207"},
    };
    for (const auto& s : samples) CHECK(ptload::detail::float_repr(s.value) == s.repr);
    CHECK(ptload::detail::float_repr(1.0 / 0.0) == "inf");
    CHECK(ptload::detail::float_repr(-1.0 / 0.0) == "-inf");
    CHECK(ptload::detail::float_repr(0.0 / 0.0) == "nan");
}

TEST_CASE("cli: the tree prints floats and complex numbers as Python does") {
    // [0.9, 1.0, -0.0, 1e16, 1e-05, inf, -inf, nan, complex(1, 2), 2j, complex(-0.0, -0.0),
    //  complex(0.5, inf), 'x', {'one': 1}, [1, 2, 3]]
    static const bytes pickle = {
    0x80, 0x02, 0x5d, 0x71, 0x00, 0x28, 0x47, 0x3f, 0xec, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcd, 0x47,
    0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x47, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x47, 0x43, 0x41, 0xc3, 0x79, 0x37, 0xe0, 0x80, 0x00, 0x47, 0x3e, 0xe4, 0xf8, 0xb5, 0x88,
    0xe3, 0x68, 0xf1, 0x47, 0x7f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x47, 0xff, 0xf0, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x47, 0x7f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63, 0x5f,
    0x5f, 0x62, 0x75, 0x69, 0x6c, 0x74, 0x69, 0x6e, 0x5f, 0x5f, 0x0a, 0x63, 0x6f, 0x6d, 0x70, 0x6c,
    0x65, 0x78, 0x0a, 0x71, 0x01, 0x47, 0x3f, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x47, 0x40,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0x71, 0x02, 0x52, 0x71, 0x03, 0x68, 0x01, 0x47,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x47, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x86, 0x71, 0x04, 0x52, 0x71, 0x05, 0x68, 0x01, 0x47, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x47, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0x71, 0x06, 0x52, 0x71,
    0x07, 0x68, 0x01, 0x47, 0x3f, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x47, 0x7f, 0xf0, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x86, 0x71, 0x08, 0x52, 0x71, 0x09, 0x58, 0x01, 0x00, 0x00, 0x00,
    0x78, 0x71, 0x0a, 0x7d, 0x71, 0x0b, 0x58, 0x03, 0x00, 0x00, 0x00, 0x6f, 0x6e, 0x65, 0x71, 0x0c,
    0x4b, 0x01, 0x73, 0x5d, 0x71, 0x0d, 0x28, 0x4b, 0x01, 0x4b, 0x02, 0x4b, 0x03, 0x65, 0x65, 0x2e,
    };
    auto doc = parse(pickle);
    REQUIRE(doc);
    const std::string tree = ptload::to_tree(doc->root());
    CHECK(tree == "list (15 items)\n"
                  "  0.9\n  1.0\n  -0.0\n  1e+16\n  1e-05\n  inf\n  -inf\n  nan\n"
                  "  (1+2j)\n  2j\n  (-0-0j)\n  (0.5+infj)\n"
                  "  \"x\"\n"
                  "  dict (1 item)\n    \"one\": 1\n"
                  "  list (3 items)\n    1\n    2\n    3\n");

    ptload::tree_options cut;
    cut.max_items = 2;
    cut.more_hint = "use --max-items or --all";
    const std::string short_tree = ptload::to_tree(doc->root(), cut);
    CHECK(short_tree == "list (15 items)\n  0.9\n  1.0\n  ... 13 more (use --max-items or --all)\n");
    cut.more_hint = {};
    CHECK(ptload::to_tree(doc->root(), cut).find("  ... 13 more\n") != std::string::npos);
}

TEST_CASE("cli: files that are no checkpoint are named") {
    CHECK(identify({}) == "an empty file");
    CHECK(identify(of("hello world\nsecond line\n")) == "a text file, not a torch checkpoint (it begins \"hello world\")");
    CHECK(identify(of("# a long first line that goes on and on past forty characters\n")) ==
          "a text file, not a torch checkpoint (it begins \"# a long first line that goes on and on ...\")");
    std::string accents = "a";  // a cut first line ends on a whole UTF-8 character
    for (int i = 0; i < 30; ++i) accents += "\xc3\xa9";
    std::string shown = "a";
    for (int i = 0; i < 19; ++i) shown += "\xc3\xa9";
    CHECK(identify(of(accents + "\n")) == "a text file, not a torch checkpoint (it begins \"" + shown + "...\")");
    CHECK(identify(of("<!DOCTYPE html><html></html>")).find("an HTML/XML page") == 0);
    CHECK(identify(of("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")).find("a git-lfs pointer") == 0);
    bytes safetensors = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    CHECK(identify(safetensors) == "a safetensors file, not a torch checkpoint (load it with a safetensors reader)");
    bytes gguf = of("GGUF");
    gguf.resize(24, 0);
    gguf[4] = 3;
    CHECK(ptload::detect(gguf.data(), gguf.size(), gguf.size()) == ptload::file_kind::gguf);
    CHECK(identify(gguf).find("a GGUF file") == 0);
    bytes onnx = {0x08, 0x07, 0x12, 0x07, 'p', 'y', 't', 'o', 'r', 'c', 'h', 0x1a, 0x03, '2', '.', '0'};
    CHECK(ptload::detect(onnx.data(), onnx.size(), onnx.size()) == ptload::file_kind::onnx);
    CHECK(identify(onnx).find("an ONNX model") == 0);
    CHECK(identify(of("\x93NUMPY\x01\x00")).find("a numpy .npy file") == 0);
    CHECK(identify(of("BZh91AY&SY")).find("a bzip2-compressed file") == 0);

    // Zips by their first entry: numpy.savez, another zip, a zipped folder, a torch archive.
    auto zip_with = [](const std::string& name) {
        bytes z = {'P', 'K', 3, 4};
        z.resize(30, 0);
        z[26] = static_cast<std::uint8_t>(name.size());
        z.insert(z.end(), name.begin(), name.end());
        return z;
    };
    CHECK(identify(zip_with("x.npy")).find("a numpy .npz archive") == 0);
    CHECK(identify(zip_with("readme.txt")) ==
          "a zip archive of another kind (its first entry is 'readme.txt'; a torch checkpoint's entries all sit in one "
          "folder, e.g. 'archive/data.pkl')");
    CHECK(identify(zip_with("model/")).find("a zip of a folder ('model/')") == 0);
    CHECK(identify(zip_with("archive/data.pkl")).empty());  // a damaged checkpoint: its load error says more
    // ptload::load says the same for a zip of another kind, rather than what its zip reader disliked
    bytes npz = zip_with("x.npy");
    auto loaded = ptload::load(ptload::memory_source(npz.data(), npz.size()));
    REQUIRE_FALSE(loaded);
    CHECK(loaded.err().code == ptload::errc::bad_format);
    CHECK(loaded.err().message.find("a numpy .npz archive") == 0);

    // Pickles are not text: protocol 0 (pickle.dumps({'a': 1, 'b': [1]}, protocol=0)), a
    // protocol-0 GLOBAL, and binary pickles.
    CHECK(identify(of("(dp0\nVa\np1\nI1\nsVb\np2\n(lp3\nI1\nas.")).empty());
    CHECK(identify(of("ccollections\nOrderedDict\np0\n(tRp1\n.")).empty());
    CHECK(identify(of("L119547037146038801333356L\n.")).empty());
    CHECK(identify(bytes{0x80, 2, ']', 'q', 0, '.'}).empty());
    CHECK(identify(of("N.")).empty());
    CHECK(identify(of("Nothing to see here\n")).find("a text file") == 0);
    CHECK(identify(of("cmake_minimum_required(VERSION 3.14)\n")).find("a text file") == 0);
    // Binary that is none of the known kinds: the loader's error stands.
    CHECK(identify(bytes{0x01, 0x02, 0x03, 0xff}).empty());
    // UTF-8 text is text; a sequence cut by the end of the head is allowed, a broken one is not.
    CHECK(ptload::detail::looks_like_text(reinterpret_cast<const std::uint8_t*>("caf\xc3\xa9\n"), 6));
    CHECK(ptload::detail::looks_like_text(reinterpret_cast<const std::uint8_t*>("caf\xc3"), 4));
    CHECK_FALSE(ptload::detail::looks_like_text(reinterpret_cast<const std::uint8_t*>("caf\xc3x"), 5));
    CHECK_FALSE(ptload::detail::looks_like_text(reinterpret_cast<const std::uint8_t*>("a\0b"), 3));

    // The library's own error for the kinds detect() names says the same words.
    auto doc = ptload::load(ptload::memory_source(safetensors.data(), safetensors.size()));
    REQUIRE_FALSE(doc);
    CHECK(doc.err().message.find("a safetensors file, not a torch checkpoint") == 0);
}

TEST_CASE("cli: --map-location takes the devices torch restores to") {
    for (const char* device : {"cpu", "cuda", "cuda:0", "cuda:15", "mps", "meta", "xla", "hpu", "xpu", "ipu", "privateuseone"}) {
        ptload::dump_options o;
        auto known = o.parse("--map-location", device);
        REQUIRE(known);
        CHECK(*known);
        CHECK(o.load.map_location == device);
    }
    for (const char* device : {"bogus", "CPU", "cuda:", "cuda:x", "cuda:-1", "", "cuda:0=bogus", "cuda:0=cpu,cuda:1=gpu"}) {
        ptload::dump_options o;
        auto known = o.parse("--map-location", device);
        REQUIRE_FALSE(known);
        CHECK(known.err().code == ptload::errc::invalid_argument);
    }
    ptload::dump_options remap;
    auto known = remap.parse("--map-location", "cuda:0=cpu,my_tag=cpu");  // a saved tag may be anything
    REQUIRE(known);
    CHECK(remap.load.map_remap.size() == 2);
    ptload::dump_options bogus;
    CHECK(bogus.parse("--map-location", "bogus").err().message.find("don't know how to restore data location") != std::string::npos);
}

TEST_CASE("cli: a value of the wrong kind says where it is") {
    auto doc = parse(of("(dp0\nVa\np1\nI1\nsVb\np2\n(lp3\nI1\nas."));  // {'a': 1, 'b': [1]}
    REQUIRE(doc);
    auto wrong = doc->root()["a"].as_tensor();
    REQUIRE_FALSE(wrong);
    CHECK(wrong.err().code == ptload::errc::wrong_kind);
    CHECK(wrong.err().what() == "wrong_kind in [\"a\"]: expected tensor, got int");
    auto deep = doc->root()["b"][0].as_string();
    REQUIRE_FALSE(deep);
    CHECK(deep.err().what() == "wrong_kind in [\"b\"][0]: expected str, got int");
}
