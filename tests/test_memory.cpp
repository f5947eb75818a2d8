// Memory the embedder owns: with the memory functions routed into a static pool and storages
// placed by an allocator policy over the same pool, a load from memory asks nothing of the
// global heap (every form of operator new is counted by tests/alloc_counter.cpp; ptload calls
// malloc nowhere), and everything it took goes back to the pool when the document dies.
#include "alloc_counter.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

/// A fixed array handed out front to back, as firmware keeps one; freed blocks are counted,
/// not reused (the pool is reset between loads).
struct static_pool {
    static constexpr std::size_t capacity = std::size_t{24} << 20;
    alignas(64) static unsigned char bytes[capacity];
    std::size_t used = 0;
    std::size_t live_blocks = 0;
    std::size_t live_bytes = 0;

    void* take(std::size_t n, std::size_t align) {
        const std::size_t at = (used + align - 1) / align * align;
        if (at > capacity || n > capacity - at) return nullptr;
        used = at + n;
        ++live_blocks;
        live_bytes += n;
        return bytes + at;
    }
    void give_back(void* p, std::size_t n) {
        CHECK(static_cast<unsigned char*>(p) >= bytes);
        CHECK(static_cast<unsigned char*>(p) < bytes + capacity);
        --live_blocks;
        live_bytes -= n;
    }
};
alignas(64) unsigned char static_pool::bytes[static_pool::capacity];

static_pool pool;

void* pool_allocate(std::size_t n, std::size_t align, void* context) {
    return static_cast<static_pool*>(context)->take(n, align);
}
void pool_deallocate(void* p, std::size_t n, std::size_t, void* context) {
    static_cast<static_pool*>(context)->give_back(p, n);
}

/// Storages from the same pool (load_options::allocator_context); released with the document.
struct pool_storages {
    using ptload_role = ptload::role::allocator;
    static ptload::storage_buffer allocate(const ptload::storage_description&, std::uint64_t nbytes, std::string_view,
                                           void* context) {
        auto* p = static_cast<static_pool*>(context);
        auto* data = static_cast<std::uint8_t*>(p->take(static_cast<std::size_t>(nbytes), 64));
        return ptload::storage_buffer(data, nbytes, &release, context);
    }
    static void release(void* context, std::uint8_t* data, std::uint64_t nbytes) {
        static_cast<static_pool*>(context)->give_back(data, static_cast<std::size_t>(nbytes));
    }
};

/// The pool's memory functions for one scope, then operator new and delete again.
struct pooled_memory {
    pooled_memory() {
        pool.used = pool.live_blocks = pool.live_bytes = 0;
        ptload::set_memory_functions({&pool_allocate, &pool_deallocate, &pool});
    }
    ~pooled_memory() { ptload::set_memory_functions({}); }
};

/// A load of `bytes` held in memory, with Policies (the pool's storages among them or not).
template <class... Policies>
ptload::result<ptload::document> load_bytes(const std::vector<std::uint8_t>& bytes, bool plain_pickle,
                                            const ptload::load_options& o) {
    ptload::memory_source src(bytes.data(), bytes.size());
    if (plain_pickle) return ptload::load_pickle<Policies...>(src, o);
    if (o.storages == ptload::storage_mode::lazy) return ptload::load<Policies...>(std::move(src), o);
    return ptload::load<Policies...>(src, o);
}

ptload::load_options pooled_options(ptload::storage_mode mode = ptload::storage_mode::eager) {
    ptload::load_options o;
    o.allocator_context = &pool;
    o.storages = mode;
    return o;
}

} // namespace

TEST_CASE("memory functions: a load from memory asks nothing of the global heap") {
    // Each format and the paths inside it that build their own buffers: zip and legacy,
    // Python 2 strings, text protocols (arbitrary-precision LONG), numpy arrays, sparse and
    // quantized tensors, big-endian records, torch 0.1's tar format, a real 2019 checkpoint.
    struct file {
        const char* name;
        bool latin1;  // a Python 2 file of numpy arrays: encoding='latin1', as torch.load needs it
    };
    const file files[] = {
        {"examples/sample.pt", false},
        {"tests/fixtures/torch/state_dict_zip_p4.pt", false},
        {"tests/fixtures/torch/state_dict_legacy_p2.pt", false},
        {"tests/fixtures/torch/py2_strings_legacy_p1.pt", false},
        {"tests/fixtures/torch/py2_numpy_legacy_p2.pt", true},
        {"tests/fixtures/torch/sparse_zip_p2.pt", false},
        {"tests/fixtures/torch/quantized_zip_p5.pt", false},
        {"tests/fixtures/torch/records_byteorder_big_zip_p2.pt", false},
        {"tests/fixtures/torch/tar_torch01.tar", false},
        {"tests/fixtures/pickle/values_p1.pkl", false},
        {"tests/fixtures/pickle/numpy_p0.pkl", false},
        {"../shared/corpus/kill-the-bits/resnet18_small_blocks.pth", false},
    };
    for (const file& f : files) {
        const std::string name = f.name;
        CAPTURE(name);
        const std::string path = ptload_test::source_path(name);
        REQUIRE(ptload_test::exists(path));
        const std::vector<std::uint8_t> bytes = ptload_test::read_bytes(path);
        const bool plain = name.find(".pkl") != std::string::npos;

        std::string expected;  // the same load on the global heap, as canonical JSON
        {
            auto doc = f.latin1 ? load_bytes<ptload::latin1>(bytes, plain, {}) : load_bytes<>(bytes, plain, {});
            REQUIRE_MESSAGE(doc, (doc ? std::string() : doc.err().what()));
            auto json = ptload::canonical_json(*doc);
            REQUIRE(json);
            expected = *json;
        }
        {
            pooled_memory scope;
            const std::uint64_t before = ptload_test::allocations();
            auto doc = f.latin1 ? load_bytes<ptload::latin1, pool_storages>(bytes, plain, pooled_options())
                                : load_bytes<pool_storages>(bytes, plain, pooled_options());
            CHECK(ptload_test::allocations() == before);
            REQUIRE(doc);
            CHECK(pool.used > 0);
            auto json = ptload::canonical_json(*doc);  // on the global heap: it is the caller's text
            REQUIRE(json);
            CHECK(*json == expected);
        }
        CHECK(pool.live_blocks == 0);  // the document gave every block back, storages included
        CHECK(pool.live_bytes == 0);
    }
}

TEST_CASE("memory functions: lookups and tensor data on a pooled document allocate nothing either") {
    const std::vector<std::uint8_t> bytes = ptload_test::read_bytes(ptload_test::source_path("examples/sample.pt"));
    pooled_memory scope;
    for (ptload::storage_mode mode : {ptload::storage_mode::eager, ptload::storage_mode::lazy}) {
        CAPTURE(static_cast<int>(mode));
        const std::uint64_t before = ptload_test::allocations();
        {
            auto doc = load_bytes<pool_storages>(bytes, false, pooled_options(mode));
            REQUIRE(doc);
            ptload::value w = doc->root()["model"]["fc1.weight"];
            auto t = w.as_tensor();
            REQUIRE(t);
            auto data = t->data<float>();  // a lazy document reads the storage now, into the pool
            REQUIRE(data);
            CHECK(data->size() == t->numel());
            // a failed lookup keeps its path text in the pool too (the error itself, if one is
            // made, is the caller's: result<> errors use the global heap)
            const ptload::value nothing = doc->root()["model"]["no such key"][3];
            CHECK_FALSE(nothing.valid());
        }
        CHECK(ptload_test::allocations() == before);
        CHECK(pool.live_blocks == 0);
    }
}

#if defined(__unix__) || defined(__APPLE__)  // std::thread: absent from mingw's win32 thread model
TEST_CASE("a document's contents go with its last tensor, whichever thread drops it") {
    // The contents are counted by the handles on them (the document, every tensor): copies made
    // and dropped on several threads at once must leave the count right, and the last one to go
    // frees everything (the pool counts the blocks still out).
    const std::vector<std::uint8_t> bytes = ptload_test::read_bytes(ptload_test::source_path("examples/sample.pt"));
    pooled_memory scope;
    std::optional<ptload::tensor> kept;
    {
        auto doc = load_bytes<pool_storages>(bytes, false, pooled_options());
        REQUIRE(doc);
        kept = ptload::get_tensor(*doc, "model.fc1.weight").value();
    }
    CHECK(pool.live_blocks > 0);  // the tensor keeps the document's contents
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 20000; ++i) {
                const ptload::tensor copy = *kept;
                if (copy.shape()[0] != 8) ++wrong;
            }
        });
    for (auto& th : threads) th.join();
    CHECK(wrong.load() == 0);
    CHECK(pool.live_blocks > 0);
    std::thread([last = std::move(*kept)]() mutable { ptload::tensor gone = std::move(last); }).join();
    kept.reset();  // a moved-from tensor holds nothing
    CHECK(pool.live_blocks == 0);
    CHECK(pool.live_bytes == 0);
}
#endif

TEST_CASE("memory functions: back to operator new once they are cleared") {
    const std::vector<std::uint8_t> bytes = ptload_test::read_bytes(ptload_test::source_path("examples/sample.pt"));
    { pooled_memory scope; }
    CHECK(!ptload::get_memory_functions().allocate);
    const std::uint64_t before = ptload_test::allocations();
    ptload::memory_source src(bytes.data(), bytes.size());
    auto doc = ptload::load(src);
    REQUIRE(doc);
    CHECK(ptload_test::allocations() > before);
}

TEST_CASE("the lookup tables find every key after growing, visit in insertion order, and use the pool") {
    std::vector<std::string> texts;  // the map holds views: the texts outlive it
    for (std::uint32_t i = 0; i < 5000; ++i) texts.push_back("model.layer" + std::to_string(i) + ".weight");
    pooled_memory scope;
    const std::uint64_t before = ptload_test::allocations();
    {
        ptload::detail::flat_map<std::uint32_t, std::uint32_t> numbers;
        ptload::detail::flat_map<std::string_view, std::size_t> names;
        for (std::uint32_t i = 0; i < 5000; ++i) {
            // keys that differ only in high bits, as memo indices far apart do
            CHECK(numbers.insert(i << 18, i).second);
            CHECK(names.insert(texts[i], i).second);
        }
        CHECK(numbers.size() == 5000);
        for (std::uint32_t i = 0; i < 5000; ++i) {
            const std::uint32_t* n = numbers.find(i << 18);
            REQUIRE(n);
            CHECK(*n == i);
            const std::size_t* at = names.find(texts[i]);
            REQUIRE(at);
            CHECK(*at == i);
        }
        CHECK_FALSE(numbers.find(1));
        CHECK_FALSE(names.find("model.layer5000.weight"));
        auto again = names.insert(texts[7], 99);  // present: kept as it was
        CHECK_FALSE(again.second);
        CHECK(*again.first == 7);
        names["model.layer7.weight"] = 70;
        CHECK(*names.find(texts[7]) == 70);
        std::size_t i = 0;
        for (const auto& e : names) CHECK(e.key == texts[i++]);
        CHECK(i == 5000);
        CHECK(pool.live_blocks > 0);
        CHECK(ptload_test::allocations() == before);
    }
    CHECK(pool.live_blocks == 0);
}

TEST_CASE("a big array under the default memory grows by remapping, its items kept") {
    // Under the default memory an array of a huge page or more is a mapping of its own (where
    // mremap exists): its growth asks nothing of operator new and copies nothing. (With no
    // blocks kept from earlier documents: growth would move into one of those instead.)
    ptload::release_cached_memory();
    ptload::detail::pod_vector<std::uint64_t> items;
    std::uint64_t i = 0;
    for (; items.capacity() * sizeof(std::uint64_t) < ptload::detail::huge_page_size; ++i)
        items.push_back(i * 7 + 1);
    const std::uint64_t before = ptload_test::allocations();
    for (; i < 3000000; ++i) items.push_back(i * 7 + 1);  // 24 MB, several doublings
    const std::uint64_t growth_allocations = ptload_test::allocations() - before;
#if PTLOAD_HAS_MREMAP
    CHECK(growth_allocations == 0);
#else
    CHECK(growth_allocations > 0);  // each doubling is a new block from operator new
#endif
    REQUIRE(items.size() == 3000000);
    bool all = true;
    for (std::uint64_t k = 0; k < 3000000; ++k) all = all && items[k] == k * 7 + 1;
    CHECK(all);
    ptload::detail::pod_vector<std::uint64_t> moved(std::move(items));
    CHECK(items.empty());
    CHECK(moved[2999999] == 2999999u * 7 + 1);
    items = std::move(moved);  // the mapping moves back and is unmapped once, at the end
    items.truncate(5);
    items.resize(4000000, 9);
    CHECK(items[4] == 29);
    CHECK(items[5] == 9);
    CHECK(items[3999999] == 9);
    ptload::detail::pod_vector<std::uint64_t> small;
    small.push_back(1);
    small = std::move(items);  // a mapped array assigned over a heap one
    CHECK(small.size() == 4000000);
}

TEST_CASE("an array past 256 KiB takes a mapping at once under the default memory, what it asks for under the user's") {
    // Grown on the heap, an array copies itself into a fresh block at each doubling, every page
    // of which faults; past early_mapping_bytes it goes straight to a mapping (where mremap
    // exists), which grows by moving its pages. Memory functions of the user's get the sizes
    // asked for, nothing rounded up.
    constexpr std::size_t early_items = ptload::detail::early_mapping_bytes / sizeof(std::uint32_t);
    const auto grow_past = [](ptload::detail::pod_vector<std::uint32_t>& items) {
        items.grow_to(early_items / 2);
        CHECK(items.capacity() == early_items / 2);  // under the threshold: as asked
        for (std::size_t k = 0; k < items.size(); ++k) items[k] = static_cast<std::uint32_t>(k);
        items.grow_to(early_items / 2 + 1);  // doubles to the threshold
        return items.capacity();
    };
    ptload::detail::pod_vector<std::uint32_t> mapped;
    const std::uint64_t before = ptload_test::allocations();
    const std::size_t capacity = grow_past(mapped);
#if PTLOAD_HAS_MREMAP
    CHECK(capacity * sizeof(std::uint32_t) >= ptload::detail::huge_page_size);
    CHECK(ptload_test::allocations() - before == 1);  // the first block only; the mapping is not operator new's
#else
    CHECK(capacity == early_items);
    CHECK(ptload_test::allocations() - before == 2);  // both blocks operator new's
#endif
    CHECK(mapped[early_items / 2 - 1] == early_items / 2 - 1);  // the items moved with it
    {
        pooled_memory scope;
        ptload::detail::pod_vector<std::uint32_t> pooled;
        CHECK(grow_past(pooled) == early_items);
        CHECK(pooled[12345] == 12345);
        CHECK(pool.live_bytes == ptload::detail::early_mapping_bytes);
    }
    CHECK(pool.live_blocks == 0);
}

#if PTLOAD_HAS_MREMAP && defined(MADV_HUGEPAGE) && defined(__x86_64__)  // native Linux: qemu-user's /proc differs
namespace {
/// The flags of the one mapping that holds all of [p, p + n) (/proc/self/smaps), or "split"
/// when no single mapping does.
std::string mapping_flags(const void* p, std::size_t n) {
    const auto begin = reinterpret_cast<std::uintptr_t>(p);
    std::FILE* f = std::fopen("/proc/self/smaps", "r");
    REQUIRE(f != nullptr);
    char line[512];
    bool inside = false;
    std::string flags = "split";
    while (std::fgets(line, sizeof line, f)) {
        unsigned long lo = 0, hi = 0;
        if (std::sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && std::strchr(line, '-') < std::strchr(line, ' ')) {
            inside = lo <= begin && begin + n <= hi;
        } else if (inside && std::strncmp(line, "VmFlags:", 8) == 0) {
            flags = line + 8;
            break;
        }
    }
    std::fclose(f);
    return flags;
}
} // namespace

TEST_CASE("a big array is one mapping asked to be backed by huge pages, across its growth") {
    // Advising part of a mapping splits it, and mremap cannot grow a range across the split:
    // each growth then fell back to a copy into a new block. The advice covers the whole
    // mapping, the first one starts on a huge-page boundary, and growth stays one mapping.
    ptload::release_cached_memory();  // no kept block to grow into: the growth remaps
    ptload::detail::pod_vector<std::uint32_t> items;
    items.grow_to((std::size_t{3} << 20) / sizeof(std::uint32_t));  // 3 MiB: mapped at once
    CHECK(reinterpret_cast<std::uintptr_t>(items.data()) % ptload::detail::huge_page_size == 0);
    std::uint64_t growth_allocations = 0;
    for (std::uint32_t round = 0; round < 4; ++round) {
        const std::size_t n = items.size();
        const std::uint64_t before = ptload_test::allocations();
        items.grow_to(2 * n);  // 6, 12, 24, 48 MiB
        growth_allocations += ptload_test::allocations() - before;
        for (std::size_t k = n; k < 2 * n; k += 1024) items[k] = static_cast<std::uint32_t>(k);
        const std::string flags = mapping_flags(items.data(), items.capacity() * sizeof(std::uint32_t));
        INFO("mapping flags: " << flags);
        CHECK(flags != "split");
        CHECK(flags.find(" hg") != std::string::npos);
    }
    CHECK(growth_allocations == 0);  // grown by remapping, never copied into a new block
    // Any block of a huge page or more from the default memory is such a mapping too (the
    // records of a many-tensor load: storages, tensors, zip entries), and goes back to the
    // system when freed; smaller ones are operator new's.
    const std::uint64_t before = ptload_test::allocations();
    void* big = ptload::detail::allocate_bytes(std::size_t{5} << 20, alignof(std::uint64_t));
    void* small = ptload::detail::allocate_bytes(std::size_t{1} << 20, alignof(std::uint64_t));
    CHECK(ptload_test::allocations() - before == 1);  // the small one
    CHECK(reinterpret_cast<std::uintptr_t>(big) % ptload::detail::huge_page_size == 0);
    static_cast<unsigned char*>(big)[(std::size_t{5} << 20) - 1] = 1;
    const std::string flags = mapping_flags(big, std::size_t{5} << 20);
    CHECK(flags.find(" hg") != std::string::npos);
    ptload::release_cached_memory();
    ptload::detail::deallocate_bytes(big, std::size_t{5} << 20, alignof(std::uint64_t));
    ptload::detail::deallocate_bytes(small, std::size_t{1} << 20, alignof(std::uint64_t));
    if (ptload::detail::mapping_cache_bytes >= (std::size_t{6} << 20))
        CHECK(ptload::detail::kept_mappings().kept_bytes() == (std::size_t{6} << 20));  // kept for the next load
    ptload::release_cached_memory();
    CHECK(ptload::detail::kept_mappings().kept_bytes() == 0);
    CHECK(mapping_flags(big, 1) != flags);  // unmapped (or something else is there now)
    CHECK(items[(std::size_t{3} << 20) / sizeof(std::uint32_t) + 1024] == (std::size_t{3} << 20) / 4 + 1024);
}

TEST_CASE("an array rounded up to a mapping is asked for huge pages only once it needs that much") {
    // A mapping taken early (array_capacity) would otherwise cost a whole huge page of memory
    // for an array of a few hundred KiB; once the array itself needs a huge page's worth, the
    // advice covers the whole mapping, which stays one.
    ptload::release_cached_memory();  // no kept block, advised or not, to start from
    ptload::detail::pod_vector<std::uint32_t> items;
    items.grow_to(ptload::detail::early_mapping_bytes / sizeof(std::uint32_t));
    const std::size_t early_bytes = items.capacity() * sizeof(std::uint32_t);
    REQUIRE(early_bytes >= ptload::detail::huge_page_size);  // a mapping's worth
    std::string flags = mapping_flags(items.data(), early_bytes);
    INFO("mapping flags: " << flags);
    CHECK(flags != "split");
    CHECK(flags.find(" hg") == std::string::npos);
    items.grow_to((std::size_t{3} << 20) / sizeof(std::uint32_t));  // 3 MiB: now asked for
    flags = mapping_flags(items.data(), items.capacity() * sizeof(std::uint32_t));
    CHECK(flags != "split");
    CHECK(flags.find(" hg") != std::string::npos);
    items.clear();
}

TEST_CASE("a region a big array's owner left goes back to the system, the rest stays") {
    // The document's edge array leaves a container's old slot behind when the container
    // outgrows it and moves to the end; discard() hands that slot's whole pages back.
    ptload::detail::pod_vector<std::uint32_t> items;
    items.grow_to((std::size_t{8} << 20) / sizeof(std::uint32_t));  // 8 MiB: a mapping
    for (std::size_t k = 0; k < items.size(); ++k) items[k] = static_cast<std::uint32_t>(k);
    const auto resident_pages = [&](std::size_t first, std::size_t n) {
        const std::size_t page = 4096;
        auto* begin = reinterpret_cast<unsigned char*>(items.data() + first);
        std::vector<unsigned char> in(n * sizeof(std::uint32_t) / page);
        REQUIRE(mincore(begin, n * sizeof(std::uint32_t), in.data()) == 0);
        std::size_t count = 0;
        for (unsigned char c : in) count += c & 1u;
        return count;
    };
    const std::size_t quarter = items.size() / 4;  // 2 MiB of items, page-aligned in the mapping
    CHECK(resident_pages(quarter, quarter) == 512);
    items.discard(quarter, quarter);
    CHECK(resident_pages(quarter, quarter) == 0);
    CHECK(resident_pages(0, quarter) == 512);
    CHECK(resident_pages(2 * quarter, quarter) == 512);
    CHECK(items[quarter - 1] == quarter - 1);
    CHECK(items[2 * quarter] == 2 * quarter);
    CHECK(items.size() == 4 * quarter);
}
#endif

#if PTLOAD_HAS_MREMAP
namespace {
/// Whether [p, p + n) is mapped at all (mincore fails with ENOMEM on an unmapped page).
bool mapped(const void* p, std::size_t n) {
    std::vector<unsigned char> in((n + 4095) / 4096);
    return mincore(const_cast<void*>(p), n, in.data()) == 0;
}
} // namespace

TEST_CASE("freed big mappings are kept for the next load: best fit, the oldest pushed out") {
    constexpr std::size_t huge = ptload::detail::huge_page_size;
    if (ptload::detail::mapping_cache_bytes < 64 * huge) return;  // a build that keeps less (or none)
    ptload::detail::mapping_cache cache;
    auto* a = static_cast<unsigned char*>(ptload::detail::map_array(4 * huge));
    auto* b = static_cast<unsigned char*>(ptload::detail::map_array(2 * huge));
    REQUIRE((a && b));
    a[0] = a[4 * huge - 1] = 7;
    CHECK(cache.keep(a, 4 * huge));
    CHECK(cache.keep(b, 2 * huge));
    CHECK(cache.kept_bytes() == 6 * huge);
    CHECK(cache.take(2 * huge) == b);  // the smallest that holds it
    CHECK(cache.take(3 * huge) == a);  // and what it has beyond the request goes back
    CHECK(cache.kept_bytes() == 0);
    CHECK(mapped(a, 3 * huge));
    CHECK_FALSE(mapped(a + 3 * huge, huge));
    CHECK(cache.take(huge) == nullptr);
    CHECK_FALSE(cache.keep(a, ptload::detail::mapping_cache_bytes + huge));  // too big to keep
    CHECK(cache.keep(a, 3 * huge));
    CHECK(cache.take(huge) == nullptr);  // not cut up for a request of under half its size
    CHECK(cache.take(2 * huge) == a);
    CHECK_FALSE(mapped(a + 2 * huge, huge));
    ptload::detail::unmap_array(a, 2 * huge);
    ptload::detail::unmap_array(b, 2 * huge);

    // Full by count: the oldest goes back to the system first.
    std::vector<unsigned char*> blocks;
    bool pushed_out = false;
    for (std::size_t i = 1; i <= 64 && !pushed_out; ++i) {
        blocks.push_back(static_cast<unsigned char*>(ptload::detail::map_array(huge)));
        REQUIRE(blocks.back() != nullptr);
        REQUIRE(cache.keep(blocks.back(), huge));
        if (cache.kept_bytes() < i * huge) {  // checked before any other mapping can reuse its place
            pushed_out = true;
            CHECK_FALSE(mapped(blocks.front(), huge));
            CHECK(mapped(blocks[1], huge));
        }
    }
    CHECK(pushed_out);  // fewer slots than 64
    // Full by size: one block of the whole budget pushes out every other.
    void* whole = ptload::detail::map_array(ptload::detail::mapping_cache_bytes);
    REQUIRE(whole != nullptr);
    CHECK(cache.keep(whole, ptload::detail::mapping_cache_bytes));
    CHECK(cache.kept_bytes() == ptload::detail::mapping_cache_bytes);
    CHECK_FALSE(mapped(blocks.back(), huge));
    cache.release();
    CHECK(cache.kept_bytes() == 0);
    CHECK_FALSE(mapped(whole, huge));
}

TEST_CASE("big blocks from several threads at once are never handed out twice") {
    // Loads on several threads share the kept mappings: each block a thread holds must be its
    // own while it holds it.
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < 4; ++t)
        threads.emplace_back([t, &wrong] {
            for (unsigned i = 0; i < 100; ++i) {
                const std::size_t size = (std::size_t{2} << 20) + (t + i % 3) * 4096;
                auto* p = static_cast<unsigned char*>(ptload::detail::allocate_bytes(size, 8));
                p[0] = p[size - 1] = static_cast<unsigned char>(t + 1);
                for (volatile int spin = 0; spin < 1000; spin = spin + 1) {
                }
                if (p[0] != t + 1 || p[size - 1] != t + 1) ++wrong;
                ptload::detail::deallocate_bytes(p, size, 8);
            }
        });
    for (auto& th : threads) th.join();
    CHECK(wrong.load() == 0);
    CHECK(ptload::detail::kept_mappings().kept_bytes() <= ptload::detail::mapping_cache_bytes);
    ptload::release_cached_memory();
}
#endif

TEST_CASE("the arrays a load fills keep their items across growth and use the pool") {
    pooled_memory scope;
    const std::uint64_t before = ptload_test::allocations();
    {
        {
            // past the size at which the default memory maps a block: the pool still serves it
            ptload::detail::pod_vector<std::uint32_t> big;
            for (std::uint32_t i = 0; i < 600000; ++i) big.push_back(i);
            CHECK(big.capacity() * sizeof(std::uint32_t) > ptload::detail::huge_page_size);
            CHECK(big[599999] == 599999);
            CHECK(pool.live_bytes >= big.capacity() * sizeof(std::uint32_t));
        }
        ptload::detail::pod_vector<std::uint32_t> items;
        for (std::uint32_t i = 0; i < 100000; ++i) items.push_back(i * 3);  // many doublings
        REQUIRE(items.size() == 100000);
        for (std::uint32_t i = 0; i < 100000; i += 997) CHECK(items[i] == i * 3);
        CHECK(items.back() == 99999u * 3);
        const std::uint32_t more[6] = {1, 2, 3, 4, 5, 6};
        for (std::size_t n = 0; n <= 6; ++n) items.append(more, n);  // every short copy and a long one
        REQUIRE(items.size() == 100000 + 21);
        CHECK(items[100000] == 1);  // n = 1
        CHECK(items[100002] == 2);  // n = 2 ends at 100002
        CHECK(items[100003] == 1);  // n = 3 starts at 100003
        CHECK(items[100005] == 3);
        CHECK(items[100020] == 6);
        items.truncate(10);
        items.resize(20, 7);  // the added items are the fill, what was kept stays
        CHECK(items[9] == 27);
        CHECK(items[10] == 7);
        CHECK(items[19] == 7);
        ptload::detail::pod_vector<std::uint32_t> moved(std::move(items));
        CHECK(items.empty());
        CHECK(moved.size() == 20);
        CHECK(moved[9] == 27);
        items = std::move(moved);
        CHECK(items.size() == 20);
        CHECK(pool.live_blocks > 0);
        CHECK(ptload_test::allocations() == before);
    }
    CHECK(pool.live_blocks == 0);
}

namespace {
/// An item that owns a block of the pool (as a record with text of its own does) and counts
/// how many of its kind are alive: a move that copied instead, or a lost destructor, shows.
struct owning_item {
    static int alive;
    ptload::detail::pod_vector<char> text;
    explicit owning_item(const char* s) {
        text.append(s, std::strlen(s) + 1);
        ++alive;
    }
    owning_item(const owning_item& o) { text.append(o.text.data(), o.text.size()), ++alive; }
    owning_item(owning_item&& o) noexcept : text(std::move(o.text)) { ++alive; }
    owning_item& operator=(owning_item&& o) noexcept {
        text = std::move(o.text);
        return *this;
    }
    ~owning_item() { --alive; }
    std::string str() const { return text.size() ? std::string(text.data()) : std::string("(moved)"); }
};
int owning_item::alive = 0;
} // namespace

TEST_CASE("ptload's own vector: items that own memory move on growth, inserts keep order, every block goes back") {
    pooled_memory scope;
    const std::uint64_t before = ptload_test::allocations();
    {
        ptload::detail::vector<owning_item> items;
        for (int i = 0; i < 1000; ++i) items.emplace_back(("item " + std::to_string(i)).c_str());
        CHECK(owning_item::alive == 1000);  // growth moved each item and destroyed the old ones
        CHECK(items[0].str() == "item 0");
        CHECK(items[999].str() == "item 999");
        // an argument that is one of the items, at the moment the array must grow
        while (items.size() < items.capacity()) items.emplace_back("filler");
        items.push_back(items[0]);
        CHECK(items.back().str() == "item 0");
        items.insert(items.begin() + 1, owning_item("second"));  // one item before another
        CHECK(items[0].str() == "item 0");
        CHECK(items[1].str() == "second");
        CHECK(items[2].str() == "item 1");
        const std::size_t n = items.size();
        CHECK(owning_item::alive == static_cast<int>(n));
        ptload::detail::vector<owning_item> copy(items);
        CHECK(copy.size() == n);
        CHECK(copy[1].str() == "second");
        items.resize(3, items[0]);  // truncating destroys (the fill is not used)
        CHECK(owning_item::alive == static_cast<int>(3 + n));
        items.resize(items.capacity() + 5, items[2]);  // a fill that is an item, with growth
        CHECK(items.back().str() == "item 1");
        items.pop_back();
        copy.clear();
        CHECK(owning_item::alive == static_cast<int>(items.size()));

        ptload::detail::vector<std::uint32_t> numbers(5);  // value-initialised
        CHECK(numbers[4] == 0);
        const std::uint32_t more[3] = {7, 8, 9};
        numbers.insert(numbers.end(), more, more + 3);  // a range at the end
        REQUIRE(numbers.size() == 8);
        CHECK(numbers[5] == 7);
        CHECK(numbers[7] == 9);
        numbers.assign(more + 1, more + 3);
        REQUIRE(numbers.size() == 2);
        CHECK(numbers[0] == 8);
        numbers.assign(4, 6u);
        CHECK(numbers.size() == 4);
        CHECK(numbers[3] == 6);
        CHECK(pool.live_blocks > 0);
        CHECK(ptload_test::allocations() == before);
    }
    CHECK(owning_item::alive == 0);
    CHECK(pool.live_blocks == 0);
}

TEST_CASE("a dict that moves as it fills keeps every entry") {
    // {i: (i, 3 * i) for i in range(200000)} as protocol 2 writes it: SETITEMS batches of 1000
    // with each batch's tuples made between them, so the dict's slot in the edge array is never
    // last when it grows and it moves to the end, leaving its old slot (discarded) behind.
    constexpr std::uint32_t entries = 200000;
    std::vector<std::uint8_t> p = {0x80, 2, '}'};
    const auto binint = [&](std::uint32_t v) {
        p.push_back('J');
        for (int b = 0; b < 4; ++b) p.push_back(static_cast<std::uint8_t>(v >> (8 * b)));
    };
    for (std::uint32_t i = 0; i < entries; ++i) {
        if (i % 1000 == 0) p.push_back('(');
        binint(i);
        binint(i);
        binint(3 * i);
        p.push_back(0x86);  // TUPLE2
        if (i % 1000 == 999) p.push_back('u');
    }
    p.push_back('.');
    auto doc = ptload::load_pickle(ptload::memory_source(p.data(), p.size()));
    REQUIRE(doc.has_value());
    const ptload::value root = doc->root();
    REQUIRE(root.size() == entries);
    std::uint32_t first_wrong = entries;
    for (std::uint32_t i = 0; i < entries && first_wrong == entries; ++i) {
        const ptload::value v = root.value_at(i);
        if (root.key_at(i).as_int().value_or(-1) != i || v.size() != 2 || v[0].as_int().value_or(-1) != i ||
            v[1].as_int().value_or(-1) != 3 * std::int64_t{i})
            first_wrong = i;
    }
    CHECK(first_wrong == entries);
}

namespace {
/// A value that counts the live copies of itself, to see that a failed result destroys none.
struct counted {
    static int live;
    counted() { ++live; }
    counted(const counted&) { ++live; }
    counted(counted&&) noexcept { ++live; }
    ~counted() { --live; }
};
int counted::live = 0;

ptload::result<counted> fails_deep() {
    return ptload::make_error(ptload::errc::bad_zip, 12, "central directory cut short", "archive/data.pkl");
}
ptload::result<counted> passes_on(ptload::result<counted>& kept) {
    kept = fails_deep();
    PTLOAD_TRY(kept);  // a named result: its error moves on, the result stays behind
    return counted{};
}
ptload::status passes_on_status() {
    PTLOAD_TRY(fails_deep());
    return {};
}
} // namespace

TEST_CASE("an error handed on keeps its fields, and the result it came from still reads as failed") {
    counted::live = 0;
    {
        ptload::result<counted> kept = counted{};
        CHECK(counted::live == 1);
        auto r = passes_on(kept);
        CHECK(counted::live == 0);  // the value kept held was destroyed once, when the failure replaced it
        REQUIRE_FALSE(r);
        CHECK(r.err().code == ptload::errc::bad_zip);
        CHECK(r.err().offset == 12);
        CHECK(r.err().message == "central directory cut short");
        CHECK(r.err().context == "archive/data.pkl");
        REQUIRE_FALSE(kept);  // its destructor must not destroy a value it never held
        CHECK(kept.err().code == ptload::errc::ok);
    }
    CHECK(counted::live == 0);
    auto s = passes_on_status();
    REQUIRE_FALSE(s);
    CHECK(s.err().what() == "bad_zip at byte 12 in archive/data.pkl: central directory cut short");
}

TEST_CASE("an error message of pieces reads as the string concatenation it replaces") {
    using ptload::detail::message_text;
    const std::string s = "str";
    const std::string_view v = "view";
    const std::int64_t lowest = std::numeric_limits<std::int64_t>::min();
    const std::uint64_t highest = std::numeric_limits<std::uint64_t>::max();
    const unsigned char small = 7;  // a number, as std::to_string writes it
    CHECK(message_text({"a ", 0, " ", -5, " ", lowest, " ", highest, " ", 'c', " ", s, " ", v, " ", small}) ==
          "a " + std::to_string(0) + " " + std::to_string(-5) + " " + std::to_string(lowest) + " " +
              std::to_string(highest) + " " + 'c' + " " + s + " " + std::string(v) + " " + std::to_string(small));
    // A text and a count are two pieces, not a string_view of the text's first 3 characters.
    ptload::result<int> r = ptload::detail::failure(ptload::errc::memo_missing, 5, {"memo has no entry ", std::size_t{3}});
    REQUIRE_FALSE(r);
    CHECK(r.err().message == "memo has no entry 3");
}
