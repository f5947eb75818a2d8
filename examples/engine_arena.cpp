// An engine's storage placement: every tensor's bytes in one arena the engine owns, and none
// copied where the checkpoint already sits in memory at an alignment the engine accepts.
//
// The allocator policy sees each storage's origin (storage_origin): where its bytes are in
// the source, and their address when the source is in memory. Records that are stored as they
// are, in the host's byte order and 64-byte aligned (torch >= 1.6 aligns zip records to 64
// bytes in the file, and the file is mapped at a page boundary) are used in place; the others
// are bump-allocated from the arena. The example loads FILE both ways, from a mapped file and
// from a stream, and checks that each tensor has the same bytes and that every byte lives in
// the file's mapping or in the arena: nothing on the general heap.
#include <ptload/ptload.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

/// A bump allocator over one block, released all at once (a level, a frame, a model).
class arena {
public:
    explicit arena(std::size_t bytes) : block_(bytes) {}
    std::uint8_t* take(std::size_t n, std::size_t align) {
        std::size_t at = (used_ + align - 1) / align * align;
        if (at > block_.size() || n > block_.size() - at) return nullptr;
        used_ = at + n;
        return block_.data() + at;
    }
    bool holds(const std::uint8_t* p) const { return p >= block_.data() && p < block_.data() + block_.size(); }
    std::size_t used() const { return used_; }

private:
    std::vector<std::uint8_t> block_;
    std::size_t used_ = 0;
};

/// The allocator policy: the source's own bytes where they are fit to use, else the arena
/// (passed as load_options::allocator_context).
struct arena_allocator {
    using ptload_role = ptload::role::allocator;
    static constexpr std::size_t alignment = 64;
    static ptload::storage_buffer allocate(const ptload::storage_description&, const ptload::storage_origin& origin,
                                           std::string_view device, void* context) {
        if (device != "cpu") return {};  // this engine keeps CPU tensors only: a clear load error otherwise
        const std::uint8_t* p = origin.in_place;
        if (p && origin.host_order && reinterpret_cast<std::uintptr_t>(p) % alignment == 0)
            return ptload::storage_buffer(const_cast<std::uint8_t*>(p), origin.nbytes, nullptr, nullptr);
        std::uint8_t* q = static_cast<arena*>(context)->take(static_cast<std::size_t>(origin.nbytes), alignment);
        // no release function: the arena frees everything at once, after the documents
        return ptload::storage_buffer(q, origin.nbytes, nullptr, nullptr);
    }
};

int fail(const char* what) {
    std::fprintf(stderr, "engine_arena: %s\n", what);
    return 1;
}

} // namespace

int main(int argc, char** argv) {
#if !PTLOAD_HAS_MMAP
    (void)argc;
    (void)argv;
    std::puts("engine_arena: no memory mapping on this platform");
    return 0;
#else
    const std::string path = argc > 1 ? argv[1] : "examples/sample.pt";
    arena memory(std::size_t{64} << 20);
    ptload::load_options opts;
    opts.allocator_context = &memory;

    // A memory-mapped file: aligned records are used where they are.
    ptload::mmap_source map(path);
    if (!map.is_open()) return fail(map.open_error().what().c_str());
    const std::uint8_t* file_begin = map.data();
    const std::uint8_t* file_end = map.data() + map.size();
    auto mapped = ptload::load<arena_allocator>(std::move(map), opts);
    if (!mapped) return fail(mapped.err().what().c_str());
    const std::size_t arena_after_mapped = memory.used();

    // A stream: no bytes in memory to point at, so every storage goes to the arena.
    auto streamed = ptload::load<arena_allocator>(ptload::file_source(path), opts);
    if (!streamed) return fail(streamed.err().what().c_str());

    std::size_t in_place = 0, in_arena = 0;
    const auto rows = ptload::list_tensors(*mapped);
    const auto again = ptload::list_tensors(*streamed);
    if (rows.size() != again.size()) return fail("the two loads list different tensors");
    for (std::size_t i = 0; i < rows.size(); ++i) {
        ptload::tensor a = rows[i].tensor_value.as_tensor().value();
        ptload::tensor b = again[i].tensor_value.as_tensor().value();
        auto x = a.storage_data();
        auto y = b.storage_data();
        if (!x || !y) return fail("a storage did not read");
        if (x->size() != y->size() || std::memcmp(x->data(), y->data(), x->size()) != 0)
            return fail("a tensor's bytes differ between the mapped and the streamed load");
        const std::uint8_t* p = x->data();
        const bool from_file = p >= file_begin && p < file_end;
        if (from_file != a.is_mapped()) return fail("is_mapped() does not say where the bytes are");
        if (!from_file && !memory.holds(p)) return fail("a storage is outside the file and the arena");
        if (x->size() && !memory.holds(y->data())) return fail("a streamed storage is outside the arena");
        (from_file ? in_place : in_arena) += 1;
        std::printf("%-28s %-8s %s\n", rows[i].name.c_str(), ptload::name(a.dtype()).data(),
                    from_file ? "in place" : "in the arena");
    }
    std::printf("%zu tensors: %zu used in place, %zu copied to the arena; arena: %zu bytes for the mapped load, %zu in all\n",
                rows.size(), in_place, in_arena, arena_after_mapped, memory.used());
    return 0;
#endif
}
