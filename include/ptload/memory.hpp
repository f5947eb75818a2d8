// memory.hpp: where ptload's own memory comes from.
//
// Tensor bytes come from the allocator policy. Everything else a load builds (the document's
// values, edges and text, the pickle machine's stack and memo, the zip directory, storage and
// tensor records, the key tables of big mappings) is asked of the memory functions set here,
// which default to the global operator new and delete (on Linux the default gives a block of
// 2 MiB or more a mapping of its own, backed by huge pages and grown without copying:
// detail/mapped_array.hpp; up to 128 MiB of freed ones are kept for the next load, see
// release_cached_memory(); set functions receive everything). Firmware that must not touch
// the global heap routes them into a static pool:
//
//     ptload::set_memory_functions({&pool_allocate, &pool_deallocate, &pool});
//
// The functions are process-wide, like a C library's malloc hooks: set them before the first
// load and do not change them while anything loaded with the old ones is alive (a block is
// returned to the functions current when it is freed). What failed loads report (error
// messages) and what a caller asks for afterwards in standard types (list_tensors rows, JSON
// text) still use the global heap.
#ifndef PTLOAD_MEMORY_HPP
#define PTLOAD_MEMORY_HPP

#include "config.hpp"
#include "detail/huge_pages.hpp"
#include "detail/mapped_array.hpp"
#include "detail/mapping_cache.hpp"
#include "detail/owner.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace ptload {
inline namespace v0 {

/// The memory functions behind every allocation ptload makes for itself.
struct memory_functions {
    /// `size` bytes aligned to `alignment` (a power of two, at most alignof(std::max_align_t):
    /// ptload asks for the alignment of what it stores, never more). Null means out of
    /// memory: ptload throws std::bad_alloc where exceptions exist and aborts where they do not,
    /// as operator new does, since standard containers cannot report it any other way.
    void* (*allocate)(std::size_t size, std::size_t alignment, void* context) = nullptr;
    /// Frees a block from allocate, with the size and alignment it was asked for.
    void (*deallocate)(void* p, std::size_t size, std::size_t alignment, void* context) = nullptr;
    void* context = nullptr;
};

namespace detail {
// The functions in force; both null means operator new and delete.
inline memory_functions& current_memory() noexcept {
    static memory_functions functions;
    return functions;
}
} // namespace detail

/// Routes ptload's own allocations through `f` (both functions set), or back to operator new
/// and delete (both null). See the top of memory.hpp for when it may be called.
inline void set_memory_functions(const memory_functions& f) noexcept {
    if ((f.allocate == nullptr) != (f.deallocate == nullptr)) std::abort();  // half a pair cannot free what it allocates
    detail::current_memory() = f;
}
inline memory_functions get_memory_functions() noexcept { return detail::current_memory(); }

/// Gives back to the system the big blocks that freed documents left for the next load. Under
/// the default memory, blocks of 2 MiB or more are mappings of their own, and up to
/// PTLOAD_MAPPING_CACHE_BYTES (128 MiB unless defined; 0 keeps none) of freed ones are kept
/// for reuse, resident until then. Any time, any thread.
inline void release_cached_memory() noexcept { detail::kept_mappings().release(); }

namespace detail {

/// What operator new does when memory runs out: standard containers know no other way.
[[noreturn]] inline void out_of_memory() {
#if PTLOAD_COMPILER_HAS_EXCEPTIONS
    throw std::bad_alloc();
#else
    std::abort();
#endif
}

/// Whether the default memory gives a block of `size` bytes a mapping of its own: one of a
/// huge page or more, where mappings can be had. Filling a fresh block costs a page fault per
/// page; the records of a 100,000-tensor load (storages, tensors, zip entries) are tens of MB,
/// and their 4 KiB faults cost more than building them. A mapping starts on a huge-page
/// boundary and asks for huge pages, and grows by moving its pages (detail/mapped_array.hpp).
/// Allocation, growth and release agree, as each is told the size.
inline bool maps_block(std::size_t size) noexcept { return PTLOAD_HAS_MREMAP && size >= huge_page_size; }
/// Whether a block of `size` bytes is one of the default memory's own mappings now: no memory
/// functions are set (they receive every block), and it is big enough.
inline bool default_mapping(std::size_t size) noexcept { return !current_memory().allocate && maps_block(size); }

/// Arrays that grow past this under the default memory grow straight to a mapping.
inline constexpr std::size_t early_mapping_bytes = std::size_t{256} << 10;

/// The capacity an array that needs n items of `item` bytes (n * item not overflowing) asks
/// for: n, except that under the default memory an array of early_mapping_bytes or more asks
/// for a mapping's worth (maps_block) at once. Grown on the heap, an array that ends at a few
/// MiB copies itself into fresh blocks on the way, each a page fault per page (the heap gives
/// big freed blocks back to the system), and does so again in every load; a mapping grows by
/// moving its pages, and a freed one is kept for the next load. Such a mapping is not asked
/// for huge pages until the array needs a huge page's worth itself (reallocate_bytes'
/// `huge_pages`), so that its memory stays the pages it touches: with the advice from 256 KiB
/// on, a fresh 100,000-tensor load took 14 MiB more peak memory.
inline std::size_t array_capacity(std::size_t n, std::size_t item) noexcept {
    if (!default_mapping(huge_page_size)) return n;  // memory functions of the user's, or no mappings
    const std::size_t bytes = n * item;
    if (bytes < early_mapping_bytes || bytes >= huge_page_size) return n;
    return (huge_page_size + item - 1) / item;  // at least huge_page_size bytes: maps_block agrees
}

/// A block of `size` bytes (maps_block) from the default memory's mappings: a kept one when
/// one is big enough (mapping_cache.hpp), else a fresh one; null when the system refuses.
inline void* kept_block(std::size_t size) noexcept {
    return size <= SIZE_MAX - 2 * huge_page_size ? kept_mappings().take(mapping_length(size)) : nullptr;
}
/// `huge_pages`: whether the block asks for huge pages (a kept block is advised again if so).
inline void* map_block(std::size_t size, bool huge_pages = true) noexcept {
    if (void* p = kept_block(size)) {
        if (huge_pages) advise_huge_mapping(p, size);  // it may come from an array that was not
        return p;
    }
    return map_array(size, huge_pages);
}
inline void unmap_block(void* p, std::size_t size) noexcept {
    if (!kept_mappings().keep(p, mapping_length(size))) unmap_array(p, size);
}

/// `huge_pages`: see map_block (false for an array that array_capacity rounded up to a mapping).
inline void* allocate_bytes(std::size_t size, std::size_t alignment, bool huge_pages = true) {
    const memory_functions& m = current_memory();
    if (m.allocate) {
        if (void* p = m.allocate(size, alignment, m.context)) return p;
        out_of_memory();
    }
    if (maps_block(size)) {  // alignment is at most alignof(max_align_t): a mapping has more
        if (void* p = map_block(size, huge_pages)) return p;
        out_of_memory();
    }
    if (alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator new(size, std::align_val_t{alignment});
    return ::operator new(size);
}
/// allocate_bytes that reports no memory as null, for callers with an error to return.
inline void* try_allocate_bytes(std::size_t size, std::size_t alignment) noexcept {
    const memory_functions& m = current_memory();
    if (m.allocate) return m.allocate(size, alignment, m.context);
    if (maps_block(size)) return map_block(size);
    if (alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator new(size, std::align_val_t{alignment}, std::nothrow);
    return ::operator new(size, std::nothrow);
}
inline void deallocate_bytes(void* p, std::size_t size, std::size_t alignment) noexcept {
    const memory_functions& m = current_memory();
    if (m.deallocate) return m.deallocate(p, size, alignment, m.context);
    if (maps_block(size)) return unmap_block(p, size);
    if (alignment > __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator delete(p, std::align_val_t{alignment});
    ::operator delete(p);
}
/// A block of `old_size` bytes (null when 0) grown to `new_size`, its first `keep` bytes kept.
/// Under the default memory a mapping grows in place or by moving its pages (an array that
/// doubles then copies nothing and faults each page once), unless a kept block can take it:
/// copying into pages already there costs less than the faults of the fresh pages a remap
/// adds. Otherwise the bytes are copied into a new block and the old one is freed.
/// `huge_pages` false: a mapping, if the block is one, is not asked for huge pages (an array
/// that array_capacity rounded up to one); true asks again after a remap, for such an array
/// grown past that.
inline void* reallocate_bytes(void* p, std::size_t old_size, std::size_t new_size, std::size_t alignment,
                              std::size_t keep, bool huge_pages = true) {
    if (p && default_mapping(old_size)) {
        if (void* kept = kept_block(new_size)) {
            if (huge_pages) advise_huge_mapping(kept, new_size);
            if (keep) std::memcpy(kept, p, keep);
            unmap_block(p, old_size);
            return kept;
        }
        if (void* moved = remap_array(p, old_size, new_size)) {
            if (huge_pages) advise_huge_mapping(moved, new_size);
            return moved;
        }
    }
    void* bigger = allocate_bytes(new_size, alignment, huge_pages);
    if (keep) std::memcpy(bigger, p, keep);
    if (p) deallocate_bytes(p, old_size, alignment);
    return bigger;
}

/// Bytes [p, p + n) of a block of `block_size` bytes that its owner will not read again: where
/// the block is a mapping of the default memory, their whole pages go back to the system and
/// read as zeros after. Pages of a heap block may hold other blocks, and memory functions'
/// blocks belong to their pool: those keep their bytes.
inline void discard_bytes(std::size_t block_size, void* p, std::size_t n) noexcept {
    if (default_mapping(block_size)) (void)release_pages(static_cast<const std::uint8_t*>(p), n);
}

/// The standard allocator interface over the memory functions, for ptload's containers.
template <class T>
struct memory_allocator {
    using value_type = T;
    memory_allocator() noexcept = default;
    template <class U>
    memory_allocator(const memory_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
        if (n > static_cast<std::size_t>(-1) / sizeof(T)) out_of_memory();
        return static_cast<T*>(allocate_bytes(n * sizeof(T), alignof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept { deallocate_bytes(p, n * sizeof(T), alignof(T)); }
    friend bool operator==(const memory_allocator&, const memory_allocator&) noexcept { return true; }
    friend bool operator!=(const memory_allocator&, const memory_allocator&) noexcept { return false; }
};

using string = std::basic_string<char, std::char_traits<char>, memory_allocator<char>>;

/// A block of trivial T from the memory functions, left unset, freed with its owner (what
/// std::unique_ptr<T[]> with a deleter was, without <memory>).
template <class T>
class unique_array {
    static_assert(std::is_trivial<T>::value, "items are neither made nor destroyed");

public:
    unique_array() noexcept = default;
    unique_array(T* p, std::size_t n) noexcept : p_(p), n_(n) {}
    unique_array(unique_array&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
    unique_array& operator=(unique_array&& o) noexcept {
        std::swap(p_, o.p_);
        std::swap(n_, o.n_);
        return *this;
    }
    ~unique_array() {
        if (p_) deallocate_bytes(p_, n_ * sizeof(T), alignof(T));
    }
    T* get() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    T* p_ = nullptr;
    std::size_t n_ = 0;
};

/// An array of n trivial T (at least one) from the memory functions; empty when there is no
/// memory for it.
template <class T>
unique_array<T> try_make_array(std::size_t n) noexcept {
    const std::size_t count = n ? n : 1;
    if (count > static_cast<std::size_t>(-1) / sizeof(T)) return {};
    T* p = static_cast<T*>(try_allocate_bytes(count * sizeof(T), alignof(T)));
    return unique_array<T>(p, p ? count : 0);
}

/// One object from the memory functions (the counterpart of new/delete).
template <class T, class... Args>
T* new_object(Args&&... args) {
    void* p = allocate_bytes(sizeof(T), alignof(T));
#if PTLOAD_COMPILER_HAS_EXCEPTIONS
    try {
        return ::new (p) T(std::forward<Args>(args)...);
    } catch (...) {  // a constructor that allocates may run out of memory too
        deallocate_bytes(p, sizeof(T), alignof(T));
        throw;
    }
#else
    return ::new (p) T(std::forward<Args>(args)...);
#endif
}
template <class T>
void delete_object(T* p) noexcept {
    if (!p) return;
    p->~T();
    deallocate_bytes(const_cast<void*>(static_cast<const void*>(p)), sizeof(T), alignof(T));
}

/// The owner of one object from new_object, which it frees with delete_object.
template <class T>
using owned = owner<T, &delete_object<T>>;

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
