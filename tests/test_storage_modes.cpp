// Storage modes: what each reads and when, who keeps the source alive, and what a tensor may
// do after its document is gone. The values themselves are compared with torch's by the
// manifests in test_expected.cpp, in every mode.
#include "test_support.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace {

using ptload_test::sample;
const std::string legacy = ptload_test::source_path("tests/fixtures/torch/state_dict_legacy_p2.pt");
const std::string big_endian = ptload_test::source_path("tests/fixtures/torch/records_byteorder_big_zip_p2.pt");

/// A file source that counts what is read through it (shared, so copies see one count).
class counting_source {
public:
    explicit counting_source(const std::string& path) : src_(std::make_shared<ptload::file_source>(path)) {}
    std::uint64_t size() const { return src_->size(); }
    ptload::status read_at(std::uint64_t offset, void* dst, std::size_t n) {
        *read_ += n;
        return src_->read_at(offset, dst, n);
    }
    std::uint64_t bytes_read() const { return *read_; }

private:
    std::shared_ptr<ptload::file_source> src_;
    std::shared_ptr<std::uint64_t> read_ = std::make_shared<std::uint64_t>(0);
};

/// Whether a tensor of this dtype from a file of this byte order can point into the file: a
/// wide element must already be in the host's order.
bool mappable(ptload::dtype t, bool file_little_endian) {
    return ptload::element_size(t) < 2 || file_little_endian == ptload::detail::host_is_little_endian();
}

ptload::load_options with(ptload::storage_mode m) {
    ptload::load_options o;
    o.storages = m;
    return o;
}

std::vector<float> floats(const ptload::tensor& t) {
    auto d = t.data<float>();
    REQUIRE(d);
    return std::vector<float>(d->begin(), d->end());
}

} // namespace

TEST_CASE("lazy: opening reads the pickle, not the tensors; a tensor's data reads its storage alone") {
    counting_source counter(sample);
    auto doc = ptload::load(counting_source(counter), with(ptload::storage_mode::lazy));
    REQUIRE(doc);
    const std::uint64_t after_open = counter.bytes_read();
    auto rows = ptload::list_tensors(*doc);
    REQUIRE(rows.size() == 17);
    for (const auto& r : rows) CHECK_FALSE(r.tensor_value.as_tensor().value().is_resident());
    CHECK(counter.bytes_read() == after_open);  // listing read nothing more

    auto w = ptload::get_tensor(*doc, "model.fc1.weight");
    REQUIRE(w);
    CHECK(w->numel() == 32);
    auto values = w->data<float>();
    REQUIRE(values);
    CHECK(counter.bytes_read() == after_open + 128);  // that storage's bytes and nothing else
    CHECK(w->is_resident());
    CHECK(ptload::get_tensor(*doc, "model.fc1.bias")->is_resident() == false);

    // the same values as an eager load
    auto eager = ptload::load_file(sample);
    REQUIRE(eager);
    CHECK(floats(*w) == floats(ptload::get_tensor(*eager, "model.fc1.weight").value()));
    CHECK(ptload::get_tensor(*doc, "no.such").err().code == ptload::errc::not_found);
}

TEST_CASE("tensor_directory: every listed tensor by name, as get_tensor finds it, reading nothing") {
    counting_source counter(sample);
    auto doc = ptload::load(counting_source(counter), with(ptload::storage_mode::lazy));
    REQUIRE(doc);
    const std::uint64_t after_open = counter.bytes_read();
    ptload::tensor_directory dir(*doc);
    CHECK(counter.bytes_read() == after_open);
    REQUIRE(dir.size() == 17);
    auto eager = ptload::load_file(sample);
    REQUIRE(eager);
    const ptload::tensor_directory eager_dir(*eager);
    auto dims = [](ptload::span<const std::int64_t> d) { return std::vector<std::int64_t>(d.begin(), d.end()); };
    for (const auto& row : eager_dir.rows()) {
        CAPTURE(row.name);
        auto found = eager_dir.find(row.name);
        auto scanned = ptload::get_tensor(*eager, row.name);
        REQUIRE(found);
        REQUIRE(scanned);
        // the same tensor: the same bytes of the same storage
        CHECK(found->bytes().value().data() == scanned->bytes().value().data());
        CHECK(dims(found->shape()) == dims(scanned->shape()));
        auto lazily = dir.find(row.name);
        REQUIRE(lazily);
        CHECK(dims(lazily->shape()) == dims(found->shape()));
    }
    CHECK(counter.bytes_read() == after_open);  // finding reads nothing either
    CHECK(dir.find("no.such").err().code == ptload::errc::not_found);
    const ptload::tensor_directory moved(std::move(dir));  // the index survives a move
    CHECK(moved.find("model.fc1.weight"));
}

TEST_CASE("lazy: read_into fills a caller's buffer without keeping the storage") {
    auto doc = ptload::open_file(sample);
    REQUIRE(doc);
    auto t = ptload::get_tensor(*doc, "embedding").value();
    CHECK(t.dtype() == ptload::dtype::float16);
    std::vector<std::uint8_t> out(30);
    REQUIRE(t.read_into(out.data(), out.size()));
    CHECK_FALSE(t.is_resident());
    auto eager = ptload::load_file(sample);
    auto e = ptload::get_tensor(*eager, "embedding").value().bytes().value();
    CHECK(std::vector<std::uint8_t>(e.begin(), e.end()) == out);
    CHECK(t.read_into(out.data(), 29).err().code == ptload::errc::invalid_argument);
}

TEST_CASE("read_into gives a strided view's elements in row-major order") {
    auto doc = ptload::load_file(ptload_test::source_path("tests/fixtures/torch/views_zip_p2.pt"));
    REQUIRE(doc);
    int strided = 0;
    for (const auto& r : ptload::list_tensors(*doc)) {
        auto t = r.tensor_value.as_tensor().value();
        if (t.is_contiguous() || ptload::values_per_byte(t.dtype()) > 1) continue;
        auto copy = t.contiguous_copy();
        if (!copy) continue;
        std::vector<std::uint8_t> out(copy->size());
        REQUIRE(t.read_into(out.data(), out.size()));
        CHECK(out == *copy);
        ++strided;
    }
    CHECK(strided > 0);
    // Lazily opened: the same elements, from the span of the storage the view touches, and
    // the storage stays in the file.
    auto lazy = ptload::open_file(ptload_test::source_path("tests/fixtures/torch/views_zip_p2.pt"));
    REQUIRE(lazy);
    const auto eager_rows = ptload::list_tensors(*doc);
    const auto lazy_rows = ptload::list_tensors(*lazy);
    REQUIRE(lazy_rows.size() == eager_rows.size());
    int strided_lazy = 0;
    for (std::size_t i = 0; i < lazy_rows.size(); ++i) {
        auto t = lazy_rows[i].tensor_value.as_tensor().value();
        if (t.is_contiguous() || ptload::values_per_byte(t.dtype()) > 1) continue;
        auto copy = eager_rows[i].tensor_value.as_tensor().value().contiguous_copy();
        if (!copy) continue;
        std::vector<std::uint8_t> out(copy->size());
        REQUIRE(t.read_into(out.data(), out.size()));
        CHECK(out == *copy);
        CHECK_FALSE(t.is_resident());
        ++strided_lazy;
    }
    CHECK(strided_lazy == strided);
}

TEST_CASE("lazy needs a source the document owns") {
    ptload::file_source src(sample);
    auto doc = ptload::load(src, with(ptload::storage_mode::lazy));
    REQUIRE_FALSE(doc);
    CHECK(doc.err().code == ptload::errc::invalid_argument);
}

TEST_CASE("lazy legacy files: storages found from their headers, views share their root") {
    auto lazy = ptload::open_file(legacy);
    auto eager = ptload::load_file(legacy);
    REQUIRE(lazy);
    REQUIRE(eager);
    CHECK(ptload::canonical_json(*lazy).value() == ptload::canonical_json(*eager).value());
    auto views = ptload::open_file(ptload_test::source_path("tests/fixtures/torch/legacy_storage_views_p2.pt"));
    auto views_eager = ptload::load_file(ptload_test::source_path("tests/fixtures/torch/legacy_storage_views_p2.pt"));
    REQUIRE(views);
    CHECK(ptload::canonical_json(*views).value() == ptload::canonical_json(*views_eager).value());
}

TEST_CASE("mapped: stored, aligned records are the file's own bytes; others are copied and say so") {
    auto doc = ptload::load_file(sample, with(ptload::storage_mode::mapped));
    REQUIRE(doc);
    auto rows = ptload::list_tensors(*doc);
    for (const auto& r : rows) {
        auto t = r.tensor_value.as_tensor().value();
        CAPTURE(r.name);
        CHECK(t.is_resident());
#if PTLOAD_HAS_MMAP
        CHECK(t.is_mapped() == mappable(t.dtype(), true));  // torch aligns every record to 64 bytes
#endif
    }
    auto eager = ptload::load_file(sample);
    CHECK(ptload::canonical_json(*doc).value() == ptload::canonical_json(*eager).value());

    // a big-endian file on a little-endian host (and the reverse) must be swapped: a copy
    auto swapped = ptload::load_file(big_endian, with(ptload::storage_mode::mapped));
    REQUIRE(swapped);
    bool any_wide = false;
    for (const auto& r : ptload::list_tensors(*swapped)) {
        auto t = r.tensor_value.as_tensor().value();
        if (ptload::element_size(t.dtype()) < 2 || !t.has_storage()) continue;
        any_wide = true;
#if PTLOAD_HAS_MMAP
        CHECK(t.is_mapped() == mappable(t.dtype(), false));
#endif
    }
    CHECK(any_wide);
}

TEST_CASE("values survive moving their document; tensors outlive it") {
    ptload::tensor kept = [] {
        auto doc = ptload::load_file(sample);
        REQUIRE(doc);
        ptload::value root = doc->root();
        ptload::document moved = std::move(*doc);
        CHECK(root["model"]["fc1.weight"].as_tensor());  // the handle still points at live data
        return moved.root()["model"]["fc1.weight"].as_tensor().value();
    }();  // the document is gone
    CHECK(kept.shape()[0] == 8);
    CHECK(floats(kept).size() == 32);

    // the same for a lazy document: the tensor keeps the source too, and reads it later
    ptload::tensor lazy_kept = [] {
        auto doc = ptload::open_file(sample);
        REQUIRE(doc);
        return ptload::get_tensor(*doc, "model.fc2.weight").value();
    }();
    CHECK_FALSE(lazy_kept.is_resident());
    auto eager = ptload::load_file(sample);
    CHECK(floats(lazy_kept) == floats(ptload::get_tensor(*eager, "model.fc2.weight").value()));
}

#if PTLOAD_HAS_MMAP && PTLOAD_HAS_POSIX_FD
TEST_CASE("mapped: tensors keep the mapping after the file is removed and the document is gone") {
    // A copy of its own in the temporary folder (the process id keeps parallel runs apart).
    const std::string copy =
        (std::filesystem::temp_directory_path() / ("ptload_mapped_test_" + std::to_string(getpid()) + ".pt")).string();
    {
        auto bytes = ptload_test::read_bytes(sample);
        std::FILE* f = std::fopen(copy.c_str(), "wb");
        REQUIRE(f);
        REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
        std::fclose(f);
    }
    ptload::tensor t = [&] {
        auto doc = ptload::load_file(copy, with(ptload::storage_mode::mapped));
        REQUIRE(doc);
        return ptload::get_tensor(*doc, "model.fc1.weight").value();
    }();
    REQUIRE(std::remove(copy.c_str()) == 0);
    CHECK(t.is_mapped() == mappable(t.dtype(), true));  // else a copy, which outlives the file too
    auto eager = ptload::load_file(sample);
    CHECK(floats(t) == floats(ptload::get_tensor(*eager, "model.fc1.weight").value()));
}
#endif

namespace {
/// A user's stream: read/seek/tell over a FILE* that the user opens and closes.
std::size_t file_read(void* f, void* dst, std::size_t n) { return std::fread(dst, 1, n, static_cast<std::FILE*>(f)); }
int file_seek(void* f, std::int64_t off, int whence) { return std::fseek(static_cast<std::FILE*>(f), static_cast<long>(off), whence); }
std::int64_t file_tell(void* f) { return std::ftell(static_cast<std::FILE*>(f)); }
} // namespace

TEST_CASE("a user's own stream: close_source before closing it, and unread storages fail cleanly") {
    std::FILE* f = std::fopen(sample.c_str(), "rb");
    REQUIRE(f);
    auto doc = ptload::load(ptload::callback_source(f, file_read, file_seek, file_tell), with(ptload::storage_mode::lazy));
    REQUIRE(doc);
    auto read_before = ptload::get_tensor(*doc, "model.fc1.bias").value();
    REQUIRE(read_before.data<float>());  // read while the stream is open
    CHECK(doc->has_source());
    doc->close_source();  // the user is about to close the stream: the document lets go first
    std::fclose(f);
    CHECK_FALSE(doc->has_source());
    CHECK(read_before.data<float>());  // what was read stays
    auto unread = ptload::get_tensor(*doc, "model.fc2.bias").value();
    auto bytes = unread.bytes();
    REQUIRE_FALSE(bytes);
    CHECK(bytes.err().code == ptload::errc::io_error);
    CHECK(unread.storage_bytes().empty());
    std::vector<std::uint8_t> out(8);
    CHECK(unread.read_into(out.data(), out.size()).err().code == ptload::errc::io_error);
    CHECK(doc->fetch_all().err().code == ptload::errc::io_error);  // storages are left unread
}

TEST_CASE("fetch_all reads what a lazy load left, then the source can go") {
    auto doc = ptload::open_file(sample);
    REQUIRE(doc);
    REQUIRE(doc->fetch_all());
    doc->close_source();
    for (const auto& r : ptload::list_tensors(*doc)) CHECK(r.tensor_value.as_tensor().value().bytes());
}

namespace {
/// The calls a progress callback received.
struct progress_log {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
    static void record(void* self, std::uint64_t done, std::uint64_t total) {
        static_cast<progress_log*>(self)->calls.emplace_back(done, total);
    }
    /// Starts at 0, grows to the total, one call per storage read after the first.
    void check(std::uint64_t total, std::size_t storages) const {
        REQUIRE(calls.size() == storages + 1);
        CHECK(calls.front() == std::make_pair(std::uint64_t{0}, total));
        CHECK(calls.back() == std::make_pair(total, total));
        for (std::size_t i = 1; i < calls.size(); ++i) {
            CHECK(calls[i].second == total);
            CHECK(calls[i].first >= calls[i - 1].first);
        }
    }
};
/// The bytes a load reads: every storage that is not a window on another.
std::pair<std::uint64_t, std::size_t> stored_bytes(const ptload::document& doc) {
    std::uint64_t bytes = 0;
    std::size_t count = 0;
    for (std::size_t i = 0; i < doc.storage_count(); ++i)
        if (doc.storage_at(i).ref.view_of == ptload::no_storage) {
            bytes += doc.storage_at(i).nbytes();
            ++count;
        }
    return {bytes, count};
}
} // namespace

TEST_CASE("progress: told storage by storage, from 0 to the total, in eager and mapped loads and fetch_all") {
    for (const std::string& path : {sample, legacy, big_endian}) {
        CAPTURE(path);
        for (auto mode : {ptload::storage_mode::eager, ptload::storage_mode::mapped}) {
            progress_log log;
            ptload::load_options o;
            o.storages = mode;
            o.progress = &progress_log::record;
            o.progress_context = &log;
            auto doc = ptload::load_file(path, o);
            REQUIRE(doc);
            auto [bytes, count] = stored_bytes(*doc);
            CHECK(bytes > 0);
            log.check(bytes, count);
            // through a source without data(): the read-ahead path reports the same
            progress_log streamed;
            o.progress_context = &streamed;
            auto again = ptload::load(counting_source(path), o);
            REQUIRE(again);
            CHECK(streamed.calls == log.calls);
        }
        // lazy: nothing while opening or reading one storage; fetch_all reports the rest
        progress_log log;
        ptload::load_options o;
        o.progress = &progress_log::record;
        o.progress_context = &log;
        auto doc = ptload::open_file(path, o);
        REQUIRE(doc);
        CHECK(log.calls.empty());
        REQUIRE(doc->fetch_all());
        auto [bytes, count] = stored_bytes(*doc);
        log.check(bytes, count);
    }
}

namespace {
/// Sees each storage's origin (kept in the context) and uses the source's bytes in place
/// whenever they are in memory, in the host's order or not (the load refuses the latter).
struct origin_allocator {
    using ptload_role = ptload::role::allocator;
    static ptload::storage_buffer allocate(const ptload::storage_description& d, const ptload::storage_origin& origin,
                                           std::string_view device, void* context) {
        static_cast<std::vector<std::pair<std::string, ptload::storage_origin>>*>(context)->emplace_back(d.key, origin);
        if (origin.in_place) return ptload::storage_buffer(const_cast<std::uint8_t*>(origin.in_place), origin.nbytes, nullptr, nullptr);
        return ptload::heap_allocator::allocate(d, origin.nbytes, device, nullptr);
    }
};
} // namespace

TEST_CASE("an allocator that sees each storage's origin may use the source's bytes in place") {
    // a file in the host's byte order, and one in the other
    const std::string& native = ptload::detail::host_is_little_endian() ? sample : big_endian;
    const std::string& foreign = ptload::detail::host_is_little_endian() ? big_endian : sample;
    std::vector<std::uint8_t> bytes = ptload_test::read_bytes(native);
    ptload::memory_source mem(bytes.data(), bytes.size());
    auto zip = ptload::read_zip(mem);
    REQUIRE(zip);
    auto prefix = ptload::archive_prefix(*zip);
    REQUIRE(prefix);
    auto plain = ptload::load_file(native);
    REQUIRE(plain);
    const std::string want = ptload::canonical_json(*plain).value();

    std::vector<std::pair<std::string, ptload::storage_origin>> seen;
    ptload::load_options o;
    o.allocator_context = &seen;
    auto doc = ptload::load<origin_allocator>(ptload::memory_source(bytes.data(), bytes.size()), o);
    REQUIRE(doc);
    REQUIRE(seen.size() == doc->storage_count());
    for (const auto& entry : seen) {
        const std::string& key = entry.first;
        const ptload::storage_origin& origin = entry.second;
        CAPTURE(key);
        const ptload::zip_entry* e = zip->find(*prefix + "data/" + key);
        REQUIRE(e);
        CHECK(origin.offset == e->data_offset);  // where the record's bytes are
        CHECK(origin.nbytes == e->size);
        CHECK(origin.in_place == bytes.data() + e->data_offset);
        CHECK(origin.host_order);
    }
    for (const auto& row : ptload::list_tensors(*doc)) {
        ptload::tensor t = row.tensor_value.as_tensor().value();
        CHECK(t.is_mapped());
        CHECK(t.storage_bytes().data() >= bytes.data());
        CHECK(t.storage_bytes().data() < bytes.data() + bytes.size());
    }
    CHECK(ptload::canonical_json(*doc).value() == want);

    // A stream has no bytes to point at: every storage is copied.
    seen.clear();
    auto streamed = ptload::load<origin_allocator>(ptload::file_source(native), o);
    REQUIRE(streamed);
    for (const auto& s : seen) CHECK(s.second.in_place == nullptr);
    for (const auto& row : ptload::list_tensors(*streamed)) CHECK_FALSE(row.tensor_value.as_tensor().value().is_mapped());
    CHECK(ptload::canonical_json(*streamed).value() == want);

    // Bytes in the other byte order cannot be used in place: a clear error, not wrong values.
    std::vector<std::uint8_t> other = ptload_test::read_bytes(foreign);
    seen.clear();
    auto refused = ptload::load<origin_allocator>(ptload::memory_source(other.data(), other.size()), o);
    REQUIRE_FALSE(refused);
    CHECK(refused.err().code == ptload::errc::bad_storage);
    CHECK(refused.err().message.find("byte order") != std::string::npos);
}

namespace {
/// Places every storage 8 bytes past its bytes' page phase in the source: the placement that
/// slows x86 string copies down (detail/page_alias.hpp). The context is the in-memory source's
/// first byte, or null for a file (the page cache keeps file pages page-aligned).
struct aliasing_allocator {
    using ptload_role = ptload::role::allocator;
    static ptload::storage_buffer allocate(const ptload::storage_description&, const ptload::storage_origin& origin,
                                           std::string_view, void* context) {
        const std::uint64_t phase = reinterpret_cast<std::uintptr_t>(context) + origin.offset;
        auto* block = static_cast<std::uint8_t*>(::operator new(origin.nbytes + 8192, std::align_val_t{4096}));
        return ptload::storage_buffer(
            block + ((phase + 8) & 4095), origin.nbytes,
            [](void* b, std::uint8_t*, std::uint64_t) { ::operator delete(b, std::align_val_t{4096}); }, block);
    }
};
} // namespace

TEST_CASE("page aliasing: a read that would copy just past its source's page phase is staged") {
    std::vector<std::uint8_t> source(300 << 10);
    for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<std::uint8_t>(i * 131 + (i >> 9));
    std::vector<std::uint8_t> target(source.size() + 8192);
    const auto phase_of = [&](std::size_t at) {
        return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(source.data() + at));
    };
    const std::size_t at = 1000, n = source.size() - at;
    for (std::size_t ahead : {0, 1, 8, 63, 64, 2048, 4095}) {
        CAPTURE(ahead);
        // the destination `ahead` bytes past the source's phase, modulo the page
        std::uint8_t* to = target.data() + ((phase_of(at) + ahead - reinterpret_cast<std::uintptr_t>(target.data())) & 4095);
        std::fill(target.begin(), target.end(), 0);
        std::size_t reads = 0;
        auto st = ptload::detail::read_unaliased(at, phase_of(at), to, n, [&](std::uint64_t pos, void* dst, std::size_t count) {
            ++reads;
            CHECK(!ptload::detail::copy_aliases(reinterpret_cast<std::uintptr_t>(dst), phase_of(static_cast<std::size_t>(pos))));
            std::memcpy(dst, source.data() + pos, count);
            return ptload::status{};
        });
        REQUIRE(st);
        CHECK(std::memcmp(to, source.data() + at, n) == 0);
        const bool staged = ahead >= 1 && ahead <= 63;
        CHECK(ptload::detail::copy_aliases(reinterpret_cast<std::uintptr_t>(to), phase_of(at)) == staged);
        CHECK(reads == (staged ? (n + ptload::detail::alias_stage_bytes - 1) / ptload::detail::alias_stage_bytes : 1u));
    }
}

TEST_CASE("page aliasing: a legacy checkpoint's storages placed to alias load byte for byte") {
    const std::string file = ptload_test::corpus("dface/mtcnn.pt");  // 2019, legacy: storages at any offset
    auto plain = ptload::load_file(file);
    REQUIRE(plain);
    const std::string want = ptload::canonical_json(*plain).value();
    std::vector<std::uint8_t> bytes = ptload_test::read_bytes(file);
    for (bool in_memory : {false, true}) {
        CAPTURE(in_memory);
        ptload::load_options o;
        o.allocator_context = in_memory ? bytes.data() : nullptr;
        auto doc = in_memory ? ptload::load<aliasing_allocator>(ptload::memory_source(bytes.data(), bytes.size()), o)
                             : ptload::load<aliasing_allocator>(ptload::file_source(file), o);
        REQUIRE(doc);
        std::size_t staged = 0;  // storages big enough to be staged, all placed to alias
        for (std::size_t i = 0; i < doc->storage_count(); ++i) {
            const ptload::storage& s = doc->data().storage_at(i);
            const std::uint64_t phase = reinterpret_cast<std::uintptr_t>(o.allocator_context) + s.ref.offset;
            CHECK(ptload::detail::copy_aliases(reinterpret_cast<std::uintptr_t>(s.bytes.data()), phase));
            if (s.nbytes() >= ptload::detail::alias_min_bytes) ++staged;
        }
        CHECK(staged == 5);
        CHECK(ptload::canonical_json(*doc).value() == want);
    }
}

TEST_CASE("the default allocator packs small storages, 64-byte aligned, into shared blocks") {
    auto doc = ptload::load_file(sample);
    REQUIRE(doc);
    auto tensors = ptload::list_tensors(*doc);
    REQUIRE(tensors.size() == 17);
    std::uintptr_t lowest = ~std::uintptr_t{0}, highest = 0;
    for (const auto& row : tensors) {
        CAPTURE(row.name);
        auto t = row.tensor_value.as_tensor();
        REQUIRE(t);
        auto bytes = t->storage_bytes();
        REQUIRE(bytes.data());
        const auto at = reinterpret_cast<std::uintptr_t>(bytes.data());
        CHECK(at % ptload::heap_allocator::alignment == 0);
        lowest = std::min(lowest, at);
        highest = std::max(highest, at);
    }
    // 17 storages of at most 128 bytes: one block holds them all
    CHECK(highest - lowest < ptload::heap_allocator::small_storages::block_bytes);
}

TEST_CASE("small_storages: aligned, disjoint, a new block when one is full, freed with its last storage") {
    using packer = ptload::heap_allocator::small_storages;
    std::vector<ptload::storage_buffer> kept;
    {
        packer p;
        const std::uint64_t sizes[] = {1, 64, 65, 4096, 0, 100};
        for (int round = 0; round < 200; ++round) {  // about 900 KiB: several blocks
            for (std::uint64_t n : sizes) {
                ptload::storage_buffer b = p.allocate(n);
                REQUIRE(b.data());
                CHECK(b.size() == n);
                CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % ptload::heap_allocator::alignment == 0);
                std::memset(b.data(), 0xA5, static_cast<std::size_t>(n));  // ASan: inside the block
                kept.push_back(std::move(b));
            }
        }
    }  // the packer is gone; its blocks live on with the storages in them
    std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;  // [begin, end) by address
    for (const auto& b : kept) {
        const auto at = reinterpret_cast<std::uintptr_t>(b.data());
        ranges.emplace_back(at, at + static_cast<std::uintptr_t>(b.size()));
    }
    std::sort(ranges.begin(), ranges.end());
    std::size_t overlaps = 0;
    std::uint64_t packed = 0;  // bytes taken from blocks, each storage rounded up to the alignment
    for (std::size_t i = 1; i < ranges.size(); ++i) overlaps += ranges[i].first < ranges[i - 1].second;
    constexpr std::uint64_t unit = ptload::heap_allocator::alignment;
    for (const auto& b : kept) packed += ((b.size() ? b.size() : 1) + unit - 1) / unit * unit;
    CHECK(overlaps == 0);
    CHECK(packed > 3 * packer::block_bytes);  // so the packer went through several blocks
    for (std::size_t i = 0; i < kept.size(); i += 2) kept[i] = ptload::storage_buffer();  // freed out of order
    kept.clear();  // LeakSanitizer: every block was freed
}

TEST_CASE("small_storages: a reserve gives the batch one block, a big one a mapping kept for the next load") {
    using packer = ptload::heap_allocator::small_storages;
    constexpr std::uint64_t count = 40000;  // 64 bytes each: 2.4 MiB, ten blocks of the usual size
    ptload::release_cached_memory();
    std::vector<ptload::storage_buffer> kept;
    {
        packer p;
        p.reserve(count * packer::packed_size(64));
        for (std::uint64_t i = 0; i < count; ++i) {
            kept.push_back(p.allocate(64));
            REQUIRE(kept.back().data());
        }
        std::uint8_t* after_batch = p.allocate(64).data();  // past the reserve: a block of the usual size
        CHECK((after_batch < kept.front().data() || after_batch > kept.back().data() + 64));
    }
    bool one_run = true;  // each storage right after the one before: one block
    for (std::size_t i = 1; i < kept.size(); ++i) one_run = one_run && kept[i].data() == kept[i - 1].data() + 64;
    CHECK(one_run);
    std::memset(kept.back().data(), 0x5A, 64);  // ASan: inside the block
    // A reserve the current block has room for changes nothing: the next storage follows on.
    {
        packer p;
        std::uint8_t* first = p.allocate(100).data();
        p.reserve(1000);
        CHECK(p.allocate(1000).data() == first + packer::packed_size(100));
    }
    kept.clear();
#if PTLOAD_HAS_MREMAP
    if (ptload::detail::mapping_cache_bytes >= ptload::detail::huge_page_size)
        CHECK(ptload::detail::kept_mappings().kept_bytes() >= count * 64);  // the freed block, for the next load
#endif
    ptload::release_cached_memory();
}

namespace {
/// Storages from the heap, small ones through a packer that records what the reader tells it.
struct recording_allocator {
    using ptload_role = ptload::role::allocator;
    static ptload::storage_buffer allocate(const ptload::storage_description&, std::uint64_t nbytes, std::string_view, void*) {
        return ptload::heap_allocator::allocate({}, nbytes, {}, nullptr);
    }
    class small_storages {
    public:
        using owner = recording_allocator;
        static constexpr std::uint64_t max_bytes = 4096;
        static inline std::vector<std::uint64_t> reserves;
        static inline std::uint64_t packed = 0;
        static std::uint64_t packed_size(std::uint64_t nbytes) noexcept { return nbytes + 3; }  // not heap_allocator's rounding
        void reserve(std::uint64_t bytes) { reserves.push_back(bytes); }
        ptload::storage_buffer allocate(std::uint64_t nbytes) {
            packed += packed_size(nbytes);
            return ptload::heap_allocator::allocate({}, nbytes, {}, nullptr);
        }
    };
};
} // namespace

TEST_CASE("a load that reads every storage tells the packer their total first; lazy and in-place ones do not") {
    using packer = recording_allocator::small_storages;
    const std::vector<std::uint8_t> bytes = ptload_test::read_bytes(sample);
    auto check_told = [](const char* how, bool told) {
        CAPTURE(how);
        if (told) {
            REQUIRE(packer::reserves.size() == 1);
            CHECK(packer::reserves[0] == packer::packed);  // exactly what the packs then took
            CHECK(packer::packed > 17 * 3);                 // every storage of the sample is small
        } else {
            CHECK(packer::reserves.empty());
        }
        packer::reserves.clear();
        packer::packed = 0;
    };
    {
        auto doc = ptload::load<recording_allocator>(ptload::file_source(sample));  // through the read-ahead window
        REQUIRE(doc);
        check_told("file", true);
    }
    {
        auto doc = ptload::load<recording_allocator>(ptload::memory_source(bytes.data(), bytes.size()));
        REQUIRE(doc);
        check_told("memory", true);
    }
    {
        // Each storage that can point into the bytes does, and is neither packed nor counted;
        // the others (wide elements on a big-endian host) are copied, and counted.
        ptload::load_options o;
        o.storages = ptload::storage_mode::mapped;
        auto doc = ptload::load<recording_allocator>(ptload::memory_source(bytes.data(), bytes.size()), o);
        REQUIRE(doc);
        std::uint64_t copied = 0;
        for (std::size_t i = 0; i < doc->storage_count(); ++i) {
            const ptload::storage& st = doc->data().storage_at(i);
            if (!st.mapped) copied += packer::packed_size(st.nbytes());
        }
        CHECK(packer::packed == copied);
        CHECK((copied == 0) == ptload::detail::host_is_little_endian());  // the sample has float storages
        if (copied) {
            REQUIRE(packer::reserves.size() == 1);
            CHECK(packer::reserves[0] == copied);
        }
        packer::reserves.clear();
        packer::packed = 0;
        check_told("mapped", false);
    }
    {
        ptload::load_options o;
        o.storages = ptload::storage_mode::lazy;  // read one by one as touched
        auto doc = ptload::load<recording_allocator>(ptload::file_source(sample), o);
        REQUIRE(doc);
        for (const auto& row : ptload::list_tensors(*doc)) REQUIRE(row.tensor_value.as_tensor()->bytes());
        CHECK(packer::packed > 0);
        check_told("lazy", false);
    }
}

TEST_CASE("storages and zip records are put in file order by offset, equal offsets in their order") {
    std::vector<ptload::detail::offset_item> items;
    std::uint64_t x = 88172645463325252ull;  // xorshift: offsets over the whole 64-bit range and small ones
    for (std::uint32_t i = 0; i < 5000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const std::uint64_t offset = i % 3 == 0 ? x : i % 3 == 1 ? (x & 0xFFFFF) : (x % 97);
        items.push_back({offset, i});
    }
    // Offsets that differ only in some middle bits, as zip records' data on 64-byte boundaries
    // do (the sort skips the bits in which none differ, at both ends): a span of 12 bits, more
    // than one 11-bit digit, so two passes of 6; and a span of 23 bits, three passes of 8.
    std::vector<ptload::detail::offset_item> aligned, wide;
    for (std::uint32_t i = 0; i < 5000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        aligned.push_back({0x1000000000ull + ((x & 0xFFF) << 6) + 5, i});
        wide.push_back({((x & 0x7FFFFF) << 3) | 0x7000000000000000ull, i});
    }
    for (const auto* set : {&items, &aligned, &wide}) {
        for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{5000}}) {
            CAPTURE(n);
            std::vector<ptload::detail::offset_item> mine(set->begin(), set->begin() + static_cast<std::ptrdiff_t>(n));
            std::vector<ptload::detail::offset_item> expected = mine;
            std::stable_sort(expected.begin(), expected.end(),
                             [](const ptload::detail::offset_item& a, const ptload::detail::offset_item& b) {
                                 return a.offset < b.offset;
                             });
            ptload::detail::sort_by_offset(mine);
            bool same = true;
            for (std::size_t i = 0; i < n; ++i)
                same = same && mine[i].offset == expected[i].offset && mine[i].index == expected[i].index;
            CHECK(same);
        }
    }
}

namespace {
/// An allocator derived from the default one (to override allocate, say) must see every
/// storage, small ones included: the packer it inherits is heap_allocator's, not its own.
struct derived_heap : ptload::heap_allocator {};
static_assert(ptload::detail::packs_small_storages<ptload::heap_allocator>::value, "the default packs small storages");
static_assert(!ptload::detail::packs_small_storages<derived_heap>::value, "a derived allocator allocates each storage itself");
} // namespace
