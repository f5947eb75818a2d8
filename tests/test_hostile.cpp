// Hostile pickles against the core: each case is a class of defect (undefined behaviour, a
// reference that dangles when the document grows, recursion or cost that the input decides)
// with the smallest file that showed it. Each must end in a valid result or a clean error.
#include "alloc_counter.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#define PTLOAD_TEST_SPARSE_FILES 1
#endif

namespace {

/// Writes pickle opcodes: a few helpers so the cases read as pickle, not as byte soup.
struct pickle_writer {
    std::vector<std::uint8_t> b;
    pickle_writer& raw(std::initializer_list<int> bytes) {
        for (int x : bytes) b.push_back(static_cast<std::uint8_t>(x));
        return *this;
    }
    pickle_writer& text(const std::string& s) {
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    pickle_writer& u32(std::uint32_t v) {
        for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
        return *this;
    }
    pickle_writer& proto(int p) { return raw({0x80, p}); }
    pickle_writer& global(const std::string& module, const std::string& name) { return text("c" + module + "\n" + name + "\n"); }
    pickle_writer& str(const std::string& s) {
        raw({'X'}).u32(static_cast<std::uint32_t>(s.size()));
        return text(s);
    }
    pickle_writer& put(std::uint32_t i) { return raw({'r'}).u32(i); }
    pickle_writer& get(std::uint32_t i) { return raw({'j'}).u32(i); }
    pickle_writer& stop() { return raw({'.'}); }
};

ptload::result<ptload::document> load(const pickle_writer& w) {
    return ptload::load_pickle(ptload::memory_source(w.b.data(), w.b.size()));
}

/// What a failed load said, for the test log.
std::string what(const ptload::result<ptload::document>& doc) { return doc ? std::string("loaded") : doc.err().what(); }

} // namespace

TEST_CASE("APPENDS and SETITEMS with no items on empty containers") {
    pickle_writer w;
    w.proto(2).raw({']', '(', 'e', '}', '(', 'u', 0x86}).stop();  // ([], {}) after empty APPENDS / SETITEMS
    auto doc = load(w);
    REQUIRE_MESSAGE(doc, what(doc));
    CHECK(doc->root().size() == 2);
    CHECK(doc->root()[0].size() == 0);
}

TEST_CASE("the empty string as the first key of a dict, a set and a frozenset") {
    pickle_writer w;
    w.proto(4).raw({'}'}).str("").raw({'K', 1, 's'});                      // {"": 1}
    w.raw({0x8f, '('}).str("").raw({0x90});                                // {""}
    w.raw({'('}).str("").raw({0x91, 0x87}).stop();                         // frozenset({""})
    auto doc = load(w);
    REQUIRE_MESSAGE(doc, what(doc));
    CHECK(doc->root()[0][""].as_int().value_or(0) == 1);
    CHECK(doc->root()[1].size() == 1);
    CHECK(doc->root()[2].size() == 1);
}

TEST_CASE("BUILD of an OrderedDict with attributes while the node array reallocates") {
    // A state_dict's _metadata goes through this path. Pad with values so that the attribute
    // dict is created exactly when the node array is full, for every padding up to 600 nodes.
    for (int pad = 0; pad < 600; ++pad) {
        pickle_writer w;
        w.proto(2);
        for (int i = 0; i < pad; ++i) w.raw({'K', i & 0xff, '0'});  // an int, popped
        w.global("collections", "OrderedDict").raw({')', 'R'});
        w.raw({'}'}).str("_metadata").raw({'}', 's', 'b'}).stop();
        auto doc = load(w);
        REQUIRE_MESSAGE(doc, what(doc));
        CHECK(doc->root().attrs()["_metadata"].is_mapping());
    }
}

TEST_CASE("_rebuild_from_type_v2 nested 50,000 deep ends in limit_depth, not a stack overflow") {
    pickle_writer w;
    w.proto(2).global("torch._tensor", "_rebuild_from_type_v2").put(0).raw({'0'});
    w.global("torch", "Tensor").put(1).raw({'0'});
    // innermost arguments: a function that is not a rebuild, so nothing else is needed
    w.raw({'('}).global("torch._utils", "_rebuild_tensor_v2").get(1).raw({')', '}', 't'}).put(2).raw({'0'});
    const std::uint32_t levels = 50000;
    for (std::uint32_t k = 0; k < levels; ++k)
        w.raw({'('}).get(0).get(1).get(2 + k).raw({'}', 't'}).put(3 + k).raw({'0'});
    w.get(0).get(2 + levels).raw({'R'}).stop();
    auto doc = load(w);
    REQUIRE_FALSE_MESSAGE(doc, what(doc));
    CHECK(doc.err().code == ptload::errc::limit_depth);
}

TEST_CASE("_rebuild_from_type_v2 chains within the limit unwind to the innermost call") {
    pickle_writer w;
    w.proto(2).global("torch._tensor", "_rebuild_from_type_v2").put(0).raw({'0'});
    w.global("torch", "Tensor").put(1).raw({'0'});
    w.raw({'('}).global("torch._utils", "_rebuild_meta_tensor_no_storage").get(1);    // (func, torch.Tensor,
    w.raw({'('}).global("torch", "float32").raw({'K', 2, 0x85, 'K', 1, 0x85, 0x89, 't'}); //  (float32, (2,), (1,), False),
    w.raw({'}', 't'}).put(2).raw({'0'});                                                 //  {})
    for (std::uint32_t k = 0; k < 3; ++k) w.raw({'('}).get(0).get(1).get(2 + k).raw({'}', 't'}).put(3 + k).raw({'0'});
    w.get(0).get(5).raw({'R'}).stop();
    auto doc = load(w);
    REQUIRE_MESSAGE(doc, what(doc));
    auto t = doc->root().as_tensor();
    REQUIRE(t);
    CHECK(t->shape().size() == 1);
}

TEST_CASE("memo indices that double cost what the PUTs cost, not what the indices say") {
    // 84 bytes used to take 855 MB; with the index near 2^32, 16 GiB and an uncaught bad_alloc.
    pickle_writer w;
    w.proto(2).raw({'K', 7});
    std::uint32_t index = 4095;
    for (int i = 0; i < 32 && index < 0xFFFFFFFFu; ++i) {
        w.put(index);
        index = index > 0x7FFFFFFFu ? 0xFFFFFFFFu : index * 2 + 4097;
    }
    w.put(0xFFFFFFFFu).get(0xFFFFFFFFu).raw({0x86}).stop();
    auto doc = load(w);
    REQUIRE_MESSAGE(doc, what(doc));
    CHECK(doc->root()[1].as_int().value_or(0) == 7);
}

TEST_CASE("sparse tensors whose index tensor has no stored bytes are refused") {
    // COO indices and values as meta tensors: no storage to read the indices from.
    pickle_writer w;
    w.proto(2).global("torch._utils", "_rebuild_sparse_tensor");
    w.raw({'('}).global("torch", "sparse_coo");
    auto meta = [&](const char* dtype, std::initializer_list<int> shape_stride) {
        w.global("torch._utils", "_rebuild_meta_tensor_no_storage").raw({'('});
        w.global("torch", dtype);
        for (int x : shape_stride) w.raw({'K', x});
        w.raw({0x86, 'K', 1, 'K', 1, 0x86, 0x89, 't', 'R'});  // (dtype, (a, b), (1, 1), False)
    };
    w.raw({'('});
    meta("int64", {2, 3});
    meta("float32", {3, 1});
    w.raw({'K', 4, 'K', 4, 0x86, 't', 't', 'R'}).stop();
    auto doc = load(w);
    REQUIRE_FALSE_MESSAGE(doc, what(doc));
    CHECK(doc.err().code == ptload::errc::bad_tensor);
}

TEST_CASE("a torch.Size built from a tuple's own items while the edge array grows") {
    // torch.Size((...)) copies the tuple's items from the edge array into a new container;
    // the copy must not read the array it is appending to after it moved.
    for (int n = 1; n < 300; n += 7) {
        pickle_writer w;
        w.proto(2).global("torch", "Size").raw({'('});
        for (int i = 0; i < n; ++i) w.raw({'K', i & 0x7f});
        w.raw({'t', 0x85, 'R'}).stop();
        auto doc = load(w);
        REQUIRE_MESSAGE(doc, what(doc));
        CHECK(doc->root().size() == static_cast<std::size_t>(n));
        CHECK(doc->root()[n - 1].as_int().value_or(-1) == ((n - 1) & 0x7f));
    }
}

TEST_CASE("keys made of shared tuples hash and compare in linear time") {
    // Two distinct 40-level tuple towers, each level referring twice to the one below: as
    // keys of one dict they hash and compare equal without walking 2^40 paths.
    pickle_writer w;
    w.proto(2).raw({'}'});
    for (int tower = 0; tower < 2; ++tower) {
        w.raw({'K', 1, 0x85}).put(0).raw({'0'});
        for (std::uint32_t k = 0; k < 40; ++k) w.get(k).get(k).raw({0x86}).put(k + 1).raw({'0'});
        w.get(40).raw({'K', tower, 's'});
    }
    w.stop();
    auto doc = load(w);
    REQUIRE_MESSAGE(doc, what(doc));
    CHECK(doc->root().size() == 1);  // equal keys merge, the last value wins
    CHECK(doc->root().value_at(0).as_int().value_or(-1) == 1);
}

TEST_CASE("a dict of 8 keys costs what its keys cost, not a fixed table") {
    // 2,000 dicts of 8 keys: the duplicate-key merge used two 65,536-entry tables per dict
    // (1 GB of allocations for a 36 KB pickle); now its tables grow with the dict.
    pickle_writer w;
    w.proto(2).raw({']', '('});
    for (int d = 0; d < 2000; ++d) {
        w.raw({'}', '('});
        for (int k = 0; k < 8; ++k) w.raw({'K', k, 'K', k});
        w.raw({'u'});
    }
    w.raw({'e'}).stop();
    std::uint64_t before = ptload_test::bytes_allocated();
    auto doc = load(w);
    std::uint64_t used = ptload_test::bytes_allocated() - before;
    REQUIRE_MESSAGE(doc, what(doc));
    CHECK(doc->root().size() == 2000);
    CHECK_MESSAGE(used < (std::uint64_t{16} << 20), "a 36 KB pickle allocated " << used << " bytes");
}

TEST_CASE("big dicts with repeated keys merge the way Python does") {
    pickle_writer w;
    w.proto(2).raw({'}', '('});
    for (int i = 0; i < 20; ++i) w.raw({'K', i % 9, 'K', i});  // keys 0..8 repeat
    w.raw({'u'}).stop();
    auto doc = load(w);
    REQUIRE_MESSAGE(doc, what(doc));
    REQUIRE(doc->root().size() == 9);
    CHECK(doc->root().key_at(0).as_int().value_or(-1) == 0);
    CHECK(doc->root().value_at(0).as_int().value_or(-1) == 18);
    CHECK(doc->root().value_at(8).as_int().value_or(-1) == 17);
}

#ifdef PTLOAD_TEST_SPARSE_FILES
TEST_CASE("a 4 GiB legacy file read from memory reserves memory for what it parses, not its size") {
    // A small pickle followed by 4 GiB of file (a sparse file mapped read-only: no disk, no RAM).
    pickle_writer w;
    w.proto(2).raw({'K', 1}).stop();
    char path[] = "/tmp/ptload-legacy-4g-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    unlink(path);
    const std::uint64_t size = (std::uint64_t{4} << 30) + 4096;
    REQUIRE(write(fd, w.b.data(), w.b.size()) == static_cast<ssize_t>(w.b.size()));
    REQUIRE(ftruncate(fd, static_cast<off_t>(size)) == 0);
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    REQUIRE(map != MAP_FAILED);
    {
        ptload::memory_source src(static_cast<const std::uint8_t*>(map), static_cast<std::size_t>(size));
        auto doc = ptload::load(src);
        REQUIRE_FALSE(doc);  // the first pickle is not torch's magic number
        CHECK(doc.err().code == ptload::errc::bad_format);
        auto any = ptload::load_any(src);  // a plain pickle then (pickle.load ignores what follows STOP)
        REQUIRE(any);
        CHECK(any->root().as_int().value_or(0) == 1);
        CHECK(any->footprint() < (std::uint64_t{16} << 20));
    }
    munmap(map, size);
    close(fd);
}
#endif
