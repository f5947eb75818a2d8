// policies/allocator.hpp: where storage bytes go, the allocator half of map_location.
//
// An allocator policy is a type with
//     using ptload_role = ptload::role::allocator;
//     // nbytes of memory for the storage `d`, which map_location placed on `device`; `context`
//     // is options::allocator_context. An empty buffer (data() == nullptr, nbytes > 0) means
//     // "out of memory" and fails the load with a clear error.
//     static ptload::storage_buffer allocate(const ptload::storage_description& d,
//                                            std::uint64_t nbytes, std::string_view device,
//                                            void* context);
// The bytes are filled by ptload after allocate returns (read from the file, byte-swapped to
// the host's order). The buffer's release function frees them when the document dies.
#ifndef PTLOAD_POLICIES_ALLOCATOR_HPP
#define PTLOAD_POLICIES_ALLOCATOR_HPP

#include "../detail/huge_pages.hpp"
#include "../torch/storage.hpp"
#include "roles.hpp"

#include <cstdint>
#include <cstdlib>
#include <new>
#include <string_view>
#include <type_traits>

namespace ptload {
inline namespace v0 {

/// Heap memory aligned to 64 bytes (as torch's own allocator), freed with the document.
/// Storages of 2 MiB and more are aligned to 2 MiB and asked to be backed by huge pages
/// (Linux), which makes reading them into memory about twice as fast.
struct heap_allocator {
    using ptload_role = role::allocator;
    static constexpr std::size_t alignment = 64;
    static storage_buffer allocate(const storage_description&, std::uint64_t nbytes, std::string_view, void*) {
        const bool huge = nbytes >= detail::huge_page_size;
        const std::size_t align = huge ? detail::huge_page_size : alignment;
        if (nbytes > static_cast<std::uint64_t>(SIZE_MAX) - align) return {};
        std::size_t size = static_cast<std::size_t>(nbytes);
        // operator new with alignment exists in C++17 and reports failure with nothrow.
        void* p = ::operator new(size ? size : 1, std::align_val_t{align}, std::nothrow);
        if (!p) return {};
        if (huge) detail::prefer_huge_pages(p, size);
        return storage_buffer(static_cast<std::uint8_t*>(p), nbytes, huge ? &release_huge : &release, nullptr);
    }
    static void release(void*, std::uint8_t* data, std::uint64_t) {
        ::operator delete(data, std::align_val_t{alignment}, std::nothrow);
    }
    static void release_huge(void*, std::uint8_t* data, std::uint64_t) {
        ::operator delete(data, std::align_val_t{detail::huge_page_size}, std::nothrow);
    }
};

namespace detail {
template <class A, class = void>
struct is_allocator : std::false_type {};
template <class A>
struct is_allocator<A, std::void_t<decltype(A::allocate(std::declval<const storage_description&>(), std::uint64_t{},
                                                        std::string_view{}, static_cast<void*>(nullptr)))>>
    : std::is_same<decltype(A::allocate(std::declval<const storage_description&>(), std::uint64_t{},
                                        std::string_view{}, static_cast<void*>(nullptr))),
                   storage_buffer> {};
} // namespace detail

} // namespace v0
} // namespace ptload

#endif
