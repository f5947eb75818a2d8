// A firmware build: one static pool holds everything a load makes, and the global heap is
// off limits while it runs.
//
// ptload's own memory (the document's values and text, the pickle machine's stack and memo,
// the zip directory, the storage and tensor records) goes through set_memory_functions; the
// tensor bytes go through the allocator policy. Both take from the same fixed array here. To
// prove that nothing else is asked for, this program replaces the global operator new (every
// form) with one that stops the program while a load is in progress, as firmware that links
// no heap at all would. The checkpoint is read into a static buffer first, as if it sat in
// flash. Give it a file (default examples/sample.pt).
#include <ptload/ptload.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace {

// ---- the rule: no global heap while a load runs ----
bool heap_forbidden = false;

void* global_heap(std::size_t n) {
    if (heap_forbidden) {
        std::fprintf(stderr, "firmware_pool: the global heap was asked for %zu bytes during a load\n", n);
        std::abort();
    }
    return std::malloc(n ? n : 1);
}
// Out of line, so that compilers checking new/delete pairs see operator delete, not free.
#if defined(__GNUC__)
__attribute__((noinline))
#endif
void global_heap_free(void* p) noexcept { std::free(p); }

// ---- the pool: a fixed array handed out front to back, reset between loads ----
alignas(64) unsigned char pool[8u << 20];
std::size_t pool_used = 0;
std::size_t pool_live = 0;  // blocks handed out and not yet given back

void* pool_take(std::size_t n, std::size_t align) {
    const std::size_t at = (pool_used + align - 1) / align * align;
    if (at > sizeof pool || n > sizeof pool - at) return nullptr;  // ptload reports it, or stops
    pool_used = at + n;
    ++pool_live;
    return pool + at;
}

// ptload's own memory
void* pool_allocate(std::size_t n, std::size_t align, void*) { return pool_take(n, align); }
void pool_deallocate(void*, std::size_t, std::size_t, void*) { --pool_live; }

// tensor bytes: an allocator policy over the same pool
struct pool_storages {
    using ptload_role = ptload::role::allocator;
    static ptload::storage_buffer allocate(const ptload::storage_description&, std::uint64_t nbytes, std::string_view,
                                           void*) {
        auto* data = static_cast<std::uint8_t*>(pool_take(static_cast<std::size_t>(nbytes), 64));
        return ptload::storage_buffer(data, nbytes, &release, nullptr);  // null data: a clear load error
    }
    static void release(void*, std::uint8_t*, std::uint64_t) { --pool_live; }
};

// the checkpoint, as it would sit in flash
unsigned char image[4u << 20];

} // namespace

void* operator new(std::size_t n) {
    if (void* p = global_heap(n)) return p;
    std::abort();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return global_heap(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return global_heap(n); }
void operator delete(void* p) noexcept { global_heap_free(p); }
void operator delete[](void* p) noexcept { global_heap_free(p); }
void operator delete(void* p, std::size_t) noexcept { global_heap_free(p); }
void operator delete[](void* p, std::size_t) noexcept { global_heap_free(p); }
// The aligned forms are not replaced: while a load runs, nothing here may reach them either,
// and a heap that is not there cannot be asked for aligned blocks (on Windows their default
// pairs with a different free, which is why this program leaves them alone).

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : "examples/sample.pt";
    std::FILE* f = std::fopen(path, "rb");
    if (!f) {
        std::fprintf(stderr, "firmware_pool: cannot open %s\n", path);
        return 1;
    }
    const std::size_t size = std::fread(image, 1, sizeof image, f);
    const bool whole = std::feof(f) != 0;
    std::fclose(f);
    if (!whole) {
        std::fprintf(stderr, "firmware_pool: %s is larger than the %zu-byte image\n", path, sizeof image);
        return 1;
    }

    ptload::set_memory_functions({&pool_allocate, &pool_deallocate, nullptr});
    std::size_t tensors = 0, elements = 0;
    double checksum = 0;
    {
        heap_forbidden = true;
        auto doc = ptload::load<pool_storages>(ptload::memory_source(image, size));
        if (!doc) {
            heap_forbidden = false;  // the error's text is built on the heap: failures may use it
            std::fprintf(stderr, "firmware_pool: %s\n", doc.err().what().c_str());
            return 1;
        }
        // Walking the state_dict and reading float tensors needs no heap either; nor does a
        // lookup that fails (its path text comes from the pool).
        ptload::value state = doc->root()["model"];  // a training checkpoint's model...
        if (!state.is_mapping()) state = doc->root();  // ...or the state_dict itself
        for (auto [key, val] : state.items()) {
            if (!val.is(ptload::kind::tensor)) continue;  // asked first: a failed result<> builds its
            auto t = val.as_tensor();                      // error message on the global heap
            ++tensors;
            if (t->dtype() != ptload::dtype::float32) continue;
            auto data = t->data<float>();
            if (!data) continue;
            elements += data->size();
            for (float x : *data) checksum += x;
            auto name = key.as_string();
            std::printf("%-16.*s %zu floats\n", static_cast<int>(name ? name->size() : 0), name ? name->data() : "",
                        data->size());
        }
        heap_forbidden = false;
    }
    std::printf("%zu tensors, %zu floats (sum %.6f); pool: %zu bytes used, %zu blocks still held after the document\n",
                tensors, elements, checksum, pool_used, pool_live);
    ptload::set_memory_functions({});
    return pool_live == 0 ? 0 : 1;
}
