// Torch files through the public API: tensors, storages, map_location, sources, detection.
#include "test_support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <ptload/all.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <unistd.h>
#endif

namespace {

using ptload_test::corpus;

/// Counts bytes handed out, to show that the allocator policy sees every storage.
struct counting_allocator {
    using ptload_role = ptload::role::allocator;
    static inline std::uint64_t bytes = 0;
    static inline std::vector<std::string> devices;
    static ptload::storage_buffer allocate(const ptload::storage_description& d, std::uint64_t n, std::string_view device, void* ctx) {
        bytes += n;
        devices.emplace_back(device);
        return ptload::heap_allocator::allocate(d, n, device, ctx);
    }
};

} // namespace

TEST_CASE("a state_dict's tensors: dtype, shape, strides, values, sharing") {
    auto doc = ptload::load_file(corpus("burn-reader/tensor_2d.pt"));
    REQUIRE(doc);
    auto t = doc->root()["tensor"].as_tensor();
    REQUIRE(t);
    CHECK(t->dtype() == ptload::dtype::float32);
    REQUIRE(t->rank() == 2);
    CHECK(t->is_contiguous());
    CHECK(t->device() == "cpu");
    auto values = t->data<float>();
    REQUIRE(values);
    CHECK(values->size() == t->numel());
    auto wrong = t->data<double>();
    CHECK(wrong.err().code == ptload::errc::wrong_kind);
    // the element type must fit the dtype, not only its size; unsigned integers read raw bits
    auto as_int = t->data<std::int32_t>();
    REQUIRE_FALSE(as_int);
    CHECK(as_int.err().code == ptload::errc::wrong_kind);
    CHECK(as_int.err().what().find("4-byte signed integer element type does not read float32") != std::string::npos);
    auto bits = t->data<std::uint32_t>();
    REQUIRE(bits);
    std::uint32_t first_bits;
    std::memcpy(&first_bits, &(*values)[0], 4);
    CHECK((*bits)[0] == first_bits);
    auto f32 = t->to_float32();
    REQUIRE(f32);
    for (std::size_t i = 0; i < f32->size(); ++i) CHECK((*f32)[i] == (*values)[i]);
}

TEST_CASE("non-contiguous tensors copy out in row-major order") {
    auto doc = ptload::load_file(corpus("candle/fortran_tensor_3d.pth"));
    REQUIRE(doc);
    std::vector<ptload::tensor> found;
    for (const auto& row : ptload::list_tensors(*doc)) found.push_back(row.tensor_value.as_tensor().value());
    REQUIRE(!found.empty());
    auto& t = found.front();
    CHECK_FALSE(t.is_contiguous());
    CHECK(t.bytes().err().code == ptload::errc::bad_tensor);
    auto copy = t.contiguous_copy();
    REQUIRE(copy);
    CHECK(copy->size() == t.numel() * ptload::element_size(t.dtype()));
    // element (i, j, k) of the copy equals the strided element
    std::size_t esize = ptload::element_size(t.dtype());
    auto raw = t.storage_bytes();
    auto sh = t.shape();
    auto st = t.strides();
    std::size_t flat = 0;
    for (std::int64_t i = 0; i < sh[0]; ++i)
        for (std::int64_t j = 0; j < sh[1]; ++j)
            for (std::int64_t k = 0; k < sh[2]; ++k, ++flat) {
                std::size_t src = static_cast<std::size_t>(t.offset() + i * st[0] + j * st[1] + k * st[2]);
                CHECK(std::memcmp(copy->data() + flat * esize, raw.data() + src * esize, esize) == 0);
            }
}

TEST_CASE("packed sub-byte tensors are read by value position, never as bytes") {
    // quint4x2 [5] over 3 bytes and quint2x4 [6] over 2: q.int_repr() in torch 1.13 prints the
    // storage bytes [67, 38, 9] and [228, 9]; values are bit fields, low bits first.
    auto doc = ptload::load_file(ptload_test::source_path("tests/fixtures/torch/subbyte_quantized_zip_p2.pt"));
    REQUIRE(doc);
    struct expect {
        const char* key;
        std::vector<std::uint8_t> bytes;
    };
    for (const expect& e : {expect{"quint4x2", {67, 38, 9}}, expect{"quint2x4", {228, 9}}}) {
        CAPTURE(e.key);
        ptload::tensor t = doc->root()[e.key].as_tensor().value();
        const std::size_t per = ptload::values_per_byte(t.dtype());
        const std::size_t bits = 8 / per;
        std::vector<std::uint8_t> got, want;
        t.for_each_position([&](std::int64_t pos) { got.push_back(t.packed_value(pos)); });
        for (std::size_t i = 0; i < t.numel(); ++i)
            want.push_back(static_cast<std::uint8_t>((e.bytes[i / per] >> (bits * (i % per))) & ((1u << bits) - 1)));
        CHECK(got == want);
        // Element-wise reads would take value positions for byte offsets: refused.
        CHECK(t.for_each_element([](const std::uint8_t*) {}).err().code == ptload::errc::unsupported);
        CHECK(t.to_float32().err().code == ptload::errc::unsupported);
        CHECK(t.contiguous_copy().err().code == ptload::errc::unsupported);
        // Positions past the storage read as 0 rather than past its end.
        CHECK(t.packed_value(static_cast<std::int64_t>(e.bytes.size() * per)) == 0);
        CHECK(t.packed_value(-1) == 0);
    }
}

TEST_CASE("half and bfloat16 convert to float32 exactly") {
    for (const char* f : {"burn-reader/float16.pt", "burn-reader/bfloat16.pt"}) {
        CAPTURE(f);
        auto doc = ptload::load_file(corpus(f));
        REQUIRE(doc);
        auto t = doc->root()["tensor"].as_tensor();
        REQUIRE(t);
        auto f32 = t->to_float32();
        REQUIRE(f32);
        auto raw = t->bytes();
        REQUIRE(raw);
        for (std::size_t i = 0; i < f32->size(); ++i) {
            std::uint16_t h;
            std::memcpy(&h, raw->data() + 2 * i, 2);
            float want = t->dtype() == ptload::dtype::bfloat16 ? ptload::detail::bfloat16_to_float(h) : ptload::detail::half_to_float(h);
            CHECK((std::isnan(want) ? std::isnan((*f32)[i]) : (*f32)[i] == want));
        }
    }
    CHECK(ptload::detail::half_to_float(0x3C00) == 1.0f);
    CHECK(ptload::detail::half_to_float(0xC000) == -2.0f);
    CHECK(ptload::detail::half_to_float(0x0001) == std::ldexp(1.0f, -24));
    CHECK(std::isinf(ptload::detail::half_to_float(0x7C00)));
    CHECK(ptload::detail::bfloat16_to_float(0x3F80) == 1.0f);
    CHECK(ptload::detail::minifloat_to_float(0x38, 4, 3, 7, false, false, true) == 1.0f);    // e4m3fn 1.0
    CHECK(ptload::detail::minifloat_to_float(0x7E, 4, 3, 7, false, false, true) == 448.0f);  // e4m3fn max
    CHECK(std::isnan(ptload::detail::minifloat_to_float(0x7F, 4, 3, 7, false, false, true)));
    CHECK(ptload::detail::minifloat_to_float(0x3C, 5, 2, 15, true, false, false) == 1.0f);   // e5m2 1.0
    CHECK(std::isinf(ptload::detail::minifloat_to_float(0x7C, 5, 2, 15, true, false, false)));
}

TEST_CASE("legacy shared storages load once and are shared") {
    auto doc = ptload::load_file(corpus("burn-reader/legacy_uncloned_views.pt"));
    REQUIRE(doc);
    auto rows = ptload::list_tensors(*doc);
    REQUIRE(rows.size() >= 2);
    auto a = rows[0].tensor_value.as_tensor().value();
    auto b = rows[1].tensor_value.as_tensor().value();
    CHECK(a.storage_index() == b.storage_index());
    CHECK(a.storage_bytes().data() == b.storage_bytes().data());
}

TEST_CASE("map_location: device string, dict, callable, registered tags") {
    const std::string file = corpus("kill-the-bits/resnet18_small_blocks.pth");
    auto devices = [](const ptload::document& d) {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < d.storage_count(); ++i) out.emplace_back(d.storage_at(i).device);
        return out;
    };
    SUBCASE("no map_location: bytes on the host, the saved tag reported") {
        auto doc = ptload::load_file(file);
        REQUIRE(doc);
        auto dev = devices(*doc);
        CHECK(std::count(dev.begin(), dev.end(), "cuda:0") > 0);
        CHECK(std::count(dev.begin(), dev.end(), "cpu") > 0);
        // The tags alternate in this file; a device is remembered per tag, never carried over.
        std::size_t changes = 0;
        for (std::size_t i = 0; i < doc->storage_count(); ++i) {
            CHECK(doc->storage_at(i).device == doc->storage_at(i).desc.location);
            if (i && doc->storage_at(i).desc.location != doc->storage_at(i - 1).desc.location) ++changes;
        }
        CHECK(changes >= 2);
    }
    SUBCASE("a device string moves everything") {
        ptload::load_options o;
        o.map_location = "cpu";
        auto doc = ptload::load_file(file, o);
        REQUIRE(doc);
        for (const auto& d : devices(*doc)) CHECK(d == "cpu");
    }
    SUBCASE("a dict remaps tags") {
        ptload::load_options o;
        o.map_remap = {{"cuda:0", "cuda:1"}};
        auto doc = ptload::load_file(file, o);
        REQUIRE(doc);
        auto dev = devices(*doc);
        CHECK(std::count(dev.begin(), dev.end(), "cuda:0") == 0);
        CHECK(std::count(dev.begin(), dev.end(), "cuda:1") > 0);
        for (std::size_t i = 0; i < doc->storage_count(); ++i) {
            const auto& s = doc->storage_at(i);
            CHECK(s.device == (s.desc.location == "cuda:0" ? std::string_view("cuda:1") : s.desc.location));
        }
    }
    SUBCASE("a callable sees each storage and chooses; the allocator policy receives the choice") {
        ptload::load_options o;
        std::vector<std::string> seen;
        o.map_callable = [&](const ptload::storage_description& d, std::string& device) {
            seen.emplace_back(d.location);
            if (d.type != ptload::dtype::uint8) return false;  // default handling for the rest
            device = "npu:3";
            return true;
        };
        counting_allocator::bytes = 0;
        counting_allocator::devices.clear();
        auto doc = ptload::load_file<counting_allocator>(file, o);
        REQUIRE(doc);
        CHECK(seen.size() == doc->storage_count());
        for (std::size_t i = 0; i < doc->storage_count(); ++i) {
            const auto& s = doc->storage_at(i);
            CHECK(s.device == (s.desc.type == ptload::dtype::uint8 ? "npu:3" : s.desc.location));
        }
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < doc->storage_count(); ++i) total += doc->storage_at(i).nbytes();
        CHECK(counting_allocator::bytes == total);
        CHECK(counting_allocator::devices.size() == doc->storage_count());
    }
    SUBCASE("unknown tags need a registered handler, as torch's register_package") {
        ptload::load_options o;
        o.map_remap = {{"cuda:0", "mydevice:0"}};
        auto doc = ptload::load_file(file, o);
        REQUIRE_FALSE(doc);
        CHECK(doc.err().code == ptload::errc::bad_storage);
        CHECK(doc.err().message.find("mydevice:0") != std::string::npos);
        std::size_t asked = 0;  // a handler sees every storage: no answer is reused for it
        o.register_location(10, [&asked](const ptload::storage_description&, std::string_view tag, std::string& device) {
            ++asked;
            if (tag.substr(0, 9) != "mydevice:") return false;
            device = "host-pinned";
            return true;
        });
        auto ok = ptload::load_file(file, o);
        REQUIRE(ok);
        auto dev = devices(*ok);
        CHECK(std::count(dev.begin(), dev.end(), "host-pinned") > 0);
        CHECK(asked == ok->storage_count());
    }
    SUBCASE("handlers of equal priority are asked in the order they were registered, lower priorities first") {
        ptload::load_options o;
        o.map_remap = {{"cuda:0", "mydevice:0"}};
        auto claim = [](const char* name) {
            return [name](const ptload::storage_description&, std::string_view, std::string& device) {
                device = name;
                return true;
            };
        };
        o.register_location(20, claim("late"));
        o.register_location(10, claim("first of 10"));
        o.register_location(10, claim("second of 10"));
        auto doc = ptload::load_file(file, o);
        REQUIRE(doc);
        auto dev = devices(*doc);
        CHECK(std::count(dev.begin(), dev.end(), "first of 10") > 0);
        CHECK(std::count(dev.begin(), dev.end(), "second of 10") == 0);
        CHECK(std::count(dev.begin(), dev.end(), "late") == 0);
    }
    SUBCASE("options keep their own copy of a callable: copies outlive the original, null pointers are no callable") {
        ptload::load_options copy;
        {
            ptload::load_options o;
            std::string chosen = "npu:7";  // captured by value, gone with this scope
            o.map_callable = [chosen](const ptload::storage_description&, std::string& device) {
                device = chosen;
                return true;
            };
            copy = o;
        }
        REQUIRE(copy.map_callable);
        auto doc = ptload::load_file(file, copy);
        REQUIRE(doc);
        for (const auto& d : devices(*doc)) CHECK(d == "npu:7");

        bool (*none)(const ptload::storage_description&, std::string&) = nullptr;
        copy.map_callable = none;
        CHECK_FALSE(copy.map_callable);
        copy.map_callable = [](const ptload::storage_description&, std::string&) { return false; };
        ptload::load_options moved = std::move(copy);
        REQUIRE(moved.map_callable);
        std::string device;
        CHECK_FALSE(moved.map_callable(ptload::storage_description{}, device));
    }
}

TEST_CASE("every byte source reads the same checkpoint") {
    const std::string path = corpus("burn-reader/checkpoint.pt");
    auto expected = ptload::canonical_json(ptload::load_file(path).value()).value();
    auto bytes = ptload_test::read_bytes(path);
    auto via = [&](ptload::result<ptload::document> doc) {
        REQUIRE(doc);
        CHECK(ptload::canonical_json(*doc).value() == expected);
    };
    via(ptload::load(ptload::memory_source(bytes.data(), bytes.size())));
    std::FILE* f = std::fopen(path.c_str(), "rb");
    REQUIRE(f);
    via(ptload::load(ptload::file_source(f)));
    std::fclose(f);
#if PTLOAD_HAS_POSIX_FD
    int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    via(ptload::load(ptload::fd_source(fd)));
    ::close(fd);
#endif
    struct stream {
        const std::vector<std::uint8_t>* data;
        std::int64_t pos = 0;
    } st{&bytes};
    ptload::callback_source cb(
        &st,
        [](void* c, void* dst, std::size_t n) -> std::size_t {
            auto* s = static_cast<stream*>(c);
            std::size_t left = s->data->size() - static_cast<std::size_t>(s->pos);
            n = n < left ? n : left;
            n = n > 7 ? 7 : n;  // a stream that returns short reads
            std::memcpy(dst, s->data->data() + s->pos, n);
            s->pos += static_cast<std::int64_t>(n);
            return n;
        },
        [](void* c, std::int64_t off, int whence) -> int {
            auto* s = static_cast<stream*>(c);
            s->pos = whence == SEEK_END ? static_cast<std::int64_t>(s->data->size()) + off : off;
            return 0;
        },
        [](void* c) -> std::int64_t { return static_cast<stream*>(c)->pos; });
    via(ptload::load(cb));
}

TEST_CASE("legacy files read through a growing window when the source is not in memory") {
    // dface/mtcnn.pt is 2 MB: its pickles fit the first window, its storages are read in place.
    auto from_file = ptload::load_file(corpus("dface/mtcnn.pt"));
    REQUIRE(from_file);
    auto bytes = ptload_test::read_bytes(corpus("dface/mtcnn.pt"));
    auto from_memory = ptload::load(ptload::memory_source(bytes.data(), bytes.size()));
    REQUIRE(from_memory);
    CHECK(ptload::canonical_json(*from_file).value() == ptload::canonical_json(*from_memory).value());
}

TEST_CASE("files that are not checkpoints say what they look like") {
    auto err = [](const std::string& content) {
        auto doc = ptload::load(ptload::memory_source(content.data(), content.size()));
        REQUIRE_FALSE(doc);
        return doc.err();
    };
    CHECK(err("").code == ptload::errc::truncated);
    CHECK(err("<!DOCTYPE html><html></html>").message.find("HTML") != std::string::npos);
    CHECK(err("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 3\n").message.find("git-lfs") != std::string::npos);
    std::string st("\x10\0\0\0\0\0\0\0{\"a\":{}}       ", 24);
    CHECK(err(st).message.find("safetensors") != std::string::npos);
    CHECK(err("PYTORCH1xxxxxxxx").code == ptload::errc::bad_format);
    // a plain pickle: torch.load refuses it, load_pickle and load_any read it
    std::string plain("\x80\x02K\x05.", 5);
    auto e = err(plain);
    CHECK(e.code == ptload::errc::bad_format);
    CHECK(e.message.find("plain pickle") != std::string::npos);
    CHECK(ptload::load_any(ptload::memory_source(plain.data(), plain.size())).value().root().as_int().value() == 5);
    // a first pickle that does not parse is named by its place: it may not be a magic number
    std::string cut("\x80\x02]q\x00(K\x01", 8);
    auto c = err(cut);
    CHECK(c.code == ptload::errc::truncated);
    CHECK(c.context.find("first pickle") == 0);
    auto broken = ptload::load_file(corpus("burn-reader/broken.pt"));
    REQUIRE_FALSE(broken);
    CHECK(broken.err().code == ptload::errc::stack_underflow);
    auto missing = ptload::load_file("/nonexistent/model.pt");
    CHECK(missing.err().code == ptload::errc::io_error);
}

TEST_CASE("damaged checkpoints fail cleanly at every truncation") {
    auto bytes = ptload_test::read_bytes(corpus("burn-reader/state_dict.pt"));
    for (std::size_t n = 0; n < bytes.size(); n += 7) {
        CAPTURE(n);
        auto doc = ptload::load(ptload::memory_source(bytes.data(), n));
        CHECK_FALSE(doc.has_value());
    }
    auto legacy = ptload_test::read_bytes(corpus("burn-reader/legacy_with_offsets.pt"));
    for (std::size_t n = 0; n < legacy.size(); ++n) {
        CAPTURE(n);
        CHECK_FALSE(ptload::load(ptload::memory_source(legacy.data(), n)).has_value());
    }
}

TEST_CASE("the tensor table of a whole pickled module and an optimizer state") {
    auto doc = ptload::load_file(corpus("torchsharp/adam_load.pth"));
    REQUIRE(doc);
    auto state = doc->root()["state"];
    REQUIRE(state.is_mapping());
    auto first = state.at_int_key(0)["exp_avg"].as_tensor();
    REQUIRE(first);
    CHECK(first->dtype() == ptload::dtype::float32);
    CHECK(doc->root()["param_groups"][0]["lr"].as_double().value() > 0);
    CHECK(doc->root()["state"].at_int_key(99).missing_error().context == "[\"state\"][99]");
}

#if PTLOAD_EXCEPTIONS
TEST_CASE("the throwing layer") {
    CHECK_THROWS_AS(ptload::ex::load_file("/nonexistent.pt"), ptload::exception);
    CHECK(ptload::ex::load_file(corpus("candle/test.pt")).root()["test"].valid());
}
#endif

TEST_CASE("a big-endian archive (byteorder record) loads to the same values as its little-endian twin") {
    auto big = ptload::load_file(ptload_test::source_path("tests/fixtures/torch/records_byteorder_big_zip_p2.pt"));
    auto little = ptload::load_file(ptload_test::source_path("tests/fixtures/torch/records_byteorder_little_zip_p2.pt"));
    REQUIRE(big);
    REQUIRE(little);
    for (const char* key : {"f32", "i64", "f16", "u8", "b"}) {
        CAPTURE(key);
        auto a = big->root()[key].as_tensor().value().to_float32();
        auto b = little->root()[key].as_tensor().value().to_float32();
        REQUIRE(a);
        REQUIRE(b);
        CHECK(*a == *b);
    }
    auto c = big->root()["c64"].as_tensor().value().bytes().value();
    auto d = little->root()["c64"].as_tensor().value().bytes().value();
    CHECK(std::memcmp(c.data(), d.data(), c.size()) == 0);  // each half swapped on its own
}

TEST_CASE("TorchScript archives: data.pkl and constants.pkl as data, classes opaque") {
    auto doc = ptload::load_file(ptload_test::source_path("tests/fixtures/torch/torchscript_frozen.pt"));
    REQUIRE(doc);
    CHECK(doc->is_torchscript());
    CHECK(doc->constants().is(ptload::kind::tuple));
    CHECK(doc->constants()[0].as_tensor().value().shape().size() == 2);
    CHECK(doc->root().class_name().value().substr(0, 10) == "__torch__.");
}

TEST_CASE("float8 and other v3 dtypes view an untyped storage") {
    auto doc = ptload::load_file(ptload_test::source_path("tests/fixtures/torch/v3_new_dtypes_zip_p2.pt"));
    REQUIRE(doc);
    auto e4 = doc->root()["e4m3"].as_tensor().value();
    CHECK(e4.dtype() == ptload::dtype::float8_e4m3fn);
    CHECK(doc->storage_at(e4.storage_index()).desc.type == ptload::dtype::uint8);
    auto values = e4.to_float32();
    REQUIRE(values);
    auto raw = e4.bytes().value();
    for (std::size_t i = 0; i < raw.size(); ++i)
        CHECK((*values)[i] == ptload::detail::minifloat_to_float(raw[i], 4, 3, 7, false, false, true));
    auto t = doc->root()["e4m3_t_view"].as_tensor().value();
    CHECK(t.storage_index() == e4.storage_index());
    CHECK_FALSE(t.is_contiguous());
}

TEST_CASE("materialising a broadcast view is bounded") {
    ptload::document doc;
    ptload::storage s;
    s.desc.type = ptload::dtype::float32;
    s.desc.numel = 1;
    s.device = "cpu";
    static float one_value = 1.0f;  // storages hold host byte order
    std::uint8_t* one = reinterpret_cast<std::uint8_t*>(&one_value);
    s.bytes = ptload::storage_buffer(one, 4, nullptr, nullptr);
    s.resident = true;
    ptload::detail::tensor_record r;
    r.type = ptload::dtype::float32;
    r.storage = doc.data().add_storage(std::move(s));
    std::int64_t shape[2] = {4000, 2000}, stride[2] = {0, 0};  // 32 MB of logical floats
    r.rank = 2;
    r.dims = doc.data().add_dims(shape, stride, 2);
    ptload::tensor t = doc.get(doc.data().add_tensor(r)).as_tensor().value();
    CHECK(t.numel() == 8000000);
    auto refused = t.contiguous_copy();
    REQUIRE_FALSE(refused);
    CHECK(refused.err().code == ptload::errc::limit_view);
    CHECK(t.to_float32().err().code == ptload::errc::limit_view);
    auto allowed = t.to_float32(std::uint64_t{1} << 24);  // the caller opts in
    REQUIRE(allowed);
    CHECK(allowed->size() == 8000000);
    CHECK(allowed->back() == 1.0f);
}
