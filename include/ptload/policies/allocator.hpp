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
//
// An allocator that wants to know where the bytes are declares, instead or as well,
//     static ptload::storage_buffer allocate(const ptload::storage_description& d,
//                                            const ptload::storage_origin& origin,
//                                            std::string_view device, void* context);
// origin says where the storage's bytes sit in the source (their offset, and their address
// when the source is in memory and the record is stored as it is) and whether they are in the
// host's byte order. Returning a buffer whose data() is origin.in_place (with no release
// function, or one that does not free it) uses the source's own bytes: nothing is copied, the
// tensor reports is_mapped(), and the source must stay alive as in storage_mode::mapped (a
// source given by value is kept by the document).
#ifndef PTLOAD_POLICIES_ALLOCATOR_HPP
#define PTLOAD_POLICIES_ALLOCATOR_HPP

#include "../detail/huge_pages.hpp"
#include "../memory.hpp"
#include "../torch/storage.hpp"
#include "roles.hpp"

#include <cstdint>
#include <cstdlib>
#include <new>
#include <string_view>
#include <type_traits>

namespace ptload {
inline namespace v0 {

/// Where a storage's bytes are, for an allocator that places storages by their origin.
struct storage_origin {
    std::uint64_t offset = 0;  ///< the first data byte's offset in the source
    std::uint64_t nbytes = 0;  ///< the storage's size
    /// The bytes themselves, when the source is in memory (memory_source, mmap_source, any
    /// source with data()) and the record is stored uncompressed; else null. Its alignment is
    /// the pointer's (zip records of torch >= 1.6 start at multiples of 64 in the file).
    const std::uint8_t* in_place = nullptr;
    /// The stored bytes are in the host's byte order (no swap needed). Only such bytes may be
    /// used in place.
    bool host_order = true;
};

/// Heap memory aligned to 64 bytes (as torch's own allocator), freed with the document.
/// Storages of 2 MiB and more are aligned to 2 MiB and asked to be backed by huge pages
/// (Linux), which makes reading them into memory about twice as fast. Storages of at most
/// 4 KiB are packed into shared blocks (see small_storages).
struct heap_allocator {
    using ptload_role = role::allocator;
    static constexpr std::size_t alignment = 64;

    /// Packs small storages, each 64-byte aligned, into shared blocks: one allocation per
    /// block rather than one per storage (a checkpoint of 100,000 small tensors would
    /// otherwise spend a good part of its load in malloc and free, and twice its data in malloc's
    /// overhead). A block is freed when the last storage in it is. One packer serves one load; an
    /// allocator policy that has such a nested type, naming itself as its owner, gets its small
    /// storages from it (an allocator derived from this one does not: its own allocate decides).
    ///
    /// A load that reads all its storages tells the packer first what its small ones take in all
    /// (reserve), and they then share one block of that size: a fresh block's pages each cost
    /// a fault on first touch, so many blocks of the usual size (256 KiB, from the heap, which
    /// gives their pages back when they are freed) made a process that loads again and again pay
    /// for every page every time. A block of 2 MiB or more is a mapping of its own (Linux): it
    /// asks for huge pages, and when freed it is kept with ptload's other freed mappings for the
    /// next load (release_cached_memory() hands them back).
    class small_storages {
    public:
        using owner = heap_allocator;
        static constexpr std::uint64_t max_bytes = 4096;  ///< larger storages get allocate()
        static constexpr std::size_t block_bytes = std::size_t{256} << 10;  ///< a block's usual size
        static constexpr std::size_t max_block_bytes = std::size_t{64} << 20;  ///< reserve's largest block

        small_storages() noexcept = default;
        small_storages(const small_storages&) = delete;
        small_storages& operator=(const small_storages&) = delete;
        ~small_storages() {
            if (block_) drop(block_);
        }
        /// What allocate(nbytes) takes of a block.
        static constexpr std::uint64_t packed_size(std::uint64_t nbytes) noexcept {
            return ((nbytes ? nbytes : 1) + alignment - 1) / alignment * alignment;
        }
        /// Storages taking `bytes` in all (packed_size each) come next: unless the current
        /// block has room for them, the next block is made to hold them all (up to
        /// max_block_bytes; the usual size at least).
        void reserve(std::uint64_t bytes) noexcept {
            if (block_ && bytes <= block_->bytes - used_) return;
            const std::uint64_t most = max_block_bytes - alignment;
            next_bytes_ = static_cast<std::size_t>((bytes < most ? bytes : most) + alignment);
        }
        /// nbytes (at most max_bytes) of a shared block; empty when out of memory.
        storage_buffer allocate(std::uint64_t nbytes) {
            const std::size_t size = static_cast<std::size_t>(packed_size(nbytes));
            if (!block_ || used_ + size > block_->bytes) {
                if (block_) drop(block_);
                block_ = nullptr;
                const std::size_t bytes = next_bytes_ > block_bytes ? next_bytes_ : block_bytes;
                next_bytes_ = 0;
                void* p = detail::maps_block(bytes) ? detail::map_block(bytes)
                                                    : ::operator new(bytes, std::align_val_t{alignment}, std::nothrow);
                if (!p) return {};
                block_ = new (p) block{1, bytes};  // the packer's own reference, dropped when it moves on
                used_ = alignment;                 // the header occupies the first aligned unit
            }
            std::uint8_t* data = reinterpret_cast<std::uint8_t*>(block_) + used_;
            used_ += size;
            ++block_->live;
            return storage_buffer(data, nbytes, &release, block_);
        }

    private:
        struct block {
            std::size_t live;   ///< storages in the block, plus one while the packer fills it
            std::size_t bytes;  ///< the block's size, header included
        };
        static_assert(sizeof(block) <= alignment, "the header fits the first aligned unit");
        static void release(void* b, std::uint8_t*, std::uint64_t) { drop(static_cast<block*>(b)); }
        static void drop(block* b) noexcept {
            if (--b->live) return;
            const std::size_t bytes = b->bytes;
            b->~block();
            if (detail::maps_block(bytes)) detail::unmap_block(b, bytes);
            else ::operator delete(static_cast<void*>(b), std::align_val_t{alignment}, std::nothrow);
        }
        block* block_ = nullptr;
        std::size_t used_ = 0;
        std::size_t next_bytes_ = 0;  ///< the next block's size when reserve asked for more than the usual
    };

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
struct allocates_by_size : std::false_type {};
template <class A>
struct allocates_by_size<A, std::void_t<decltype(A::allocate(std::declval<const storage_description&>(), std::uint64_t{},
                                                             std::string_view{}, static_cast<void*>(nullptr)))>>
    : std::is_same<decltype(A::allocate(std::declval<const storage_description&>(), std::uint64_t{},
                                        std::string_view{}, static_cast<void*>(nullptr))),
                   storage_buffer> {};
template <class A, class = void>
struct allocates_by_origin : std::false_type {};
template <class A>
struct allocates_by_origin<A, std::void_t<decltype(A::allocate(std::declval<const storage_description&>(),
                                                               std::declval<const storage_origin&>(), std::string_view{},
                                                               static_cast<void*>(nullptr)))>>
    : std::is_same<decltype(A::allocate(std::declval<const storage_description&>(), std::declval<const storage_origin&>(),
                                        std::string_view{}, static_cast<void*>(nullptr))),
                   storage_buffer> {};
template <class A>
struct is_allocator : std::integral_constant<bool, allocates_by_size<A>::value || allocates_by_origin<A>::value> {};

/// Whether allocator A packs small storages: it has a nested small_storages packer of its own.
template <class A, class = void>
struct packs_small_storages : std::false_type {};
template <class A>
struct packs_small_storages<A, std::void_t<typename A::small_storages::owner>>
    : std::is_same<typename A::small_storages::owner, A> {};

/// The allocator's buffer for a storage: by its origin where the allocator takes one.
template <class A>
storage_buffer allocate_with(const storage_description& d, const storage_origin& origin, std::string_view device, void* context) {
    if constexpr (allocates_by_origin<A>::value) return A::allocate(d, origin, device, context);
    else return A::allocate(d, origin.nbytes, device, context);
}

/// An allocator policy as function pointers, so that the storage reader is compiled once with
/// the loaders whatever the allocator: its allocate, and its small-storage packer if it has one
/// (one packer per load, made on first use and dropped with the reader).
struct allocator_ops {
    storage_buffer (*allocate)(const storage_description&, const storage_origin&, std::string_view device, void* context);
    std::uint64_t pack_up_to;  ///< the packer's max_bytes
    void* (*new_packer)();     ///< null when the allocator has no packer
    storage_buffer (*pack)(void* packer, std::uint64_t nbytes);
    void (*delete_packer)(void* packer) noexcept;
    /// Null unless the packer takes a batch's total ahead (reserve, with packed_size).
    void (*reserve_packs)(void* packer, std::uint64_t bytes) noexcept;
    std::uint64_t (*packed_size)(std::uint64_t nbytes) noexcept;
};

template <class Packer>
void* new_packer() {
    return new_object<Packer>();
}
template <class Packer>
storage_buffer pack_with(void* packer, std::uint64_t nbytes) {
    return static_cast<Packer*>(packer)->allocate(nbytes);
}
template <class Packer>
void delete_packer(void* packer) noexcept {
    delete_object(static_cast<Packer*>(packer));
}
template <class Packer>
void reserve_packs(void* packer, std::uint64_t bytes) noexcept {
    static_cast<Packer*>(packer)->reserve(bytes);
}
template <class Packer>
std::uint64_t packed_size(std::uint64_t nbytes) noexcept {
    return Packer::packed_size(nbytes);
}

/// Whether a packer takes a batch's total ahead: reserve(bytes) and packed_size(nbytes).
template <class P, class = void>
struct reserves_packs : std::false_type {};
template <class P>
struct reserves_packs<P, std::void_t<decltype(std::declval<P&>().reserve(std::uint64_t{})),
                                     decltype(P::packed_size(std::uint64_t{}))>>
    : std::is_same<decltype(P::packed_size(std::uint64_t{})), std::uint64_t> {};

/// The allocator_ops of allocator A.
template <class A>
constexpr allocator_ops allocator_ops_of() noexcept {
    if constexpr (packs_small_storages<A>::value) {
        using packer = typename A::small_storages;
        if constexpr (reserves_packs<packer>::value)
            return {&allocate_with<A>, packer::max_bytes, &new_packer<packer>, &pack_with<packer>, &delete_packer<packer>,
                    &reserve_packs<packer>, &packed_size<packer>};
        else
            return {&allocate_with<A>, packer::max_bytes, &new_packer<packer>, &pack_with<packer>, &delete_packer<packer>,
                    nullptr, nullptr};
    } else {
        return {&allocate_with<A>, 0, nullptr, nullptr, nullptr, nullptr, nullptr};
    }
}
} // namespace detail

} // namespace v0
} // namespace ptload

#endif
