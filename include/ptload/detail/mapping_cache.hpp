// detail/mapping_cache.hpp: big mappings that one document freed, kept for the next load.
//
// A mapping given back to the system is gone with its pages: the next load's mapping is fresh
// memory, and the kernel clears each of its pages on first touch. A process that loads the
// 100,000-tensor checkpoint again and again spent 45 % of its time in that clearing, on memory
// it had just freed. malloc keeps freed memory for reuse; the default memory's big blocks are
// mappings of their own (mapped_array.hpp), so they are kept here instead: up to
// `mapping_cache_bytes` in all (PTLOAD_MAPPING_CACHE_BYTES, 128 MiB unless defined; 0 keeps
// none), resident as malloc's free memory is; ptload::release_cached_memory() hands them back.
// Marking them free for the system to reclaim (MADV_FREE) was tried and not kept: on a VM
// whose kernel reclaims idle memory by itself, nine loads of the 1M-entry pickle in one process
// then took 1.0-1.8 s of system time instead of 0.25 s.
#ifndef PTLOAD_DETAIL_MAPPING_CACHE_HPP
#define PTLOAD_DETAIL_MAPPING_CACHE_HPP

#include "atomic.hpp"
#include "mapped_array.hpp"

#include <cstddef>
#include <cstdint>

#ifndef PTLOAD_MAPPING_CACHE_BYTES
#define PTLOAD_MAPPING_CACHE_BYTES (std::size_t{128} << 20)
#endif

namespace ptload {
inline namespace v0 {
namespace detail {

inline constexpr std::size_t mapping_cache_bytes = PTLOAD_MAPPING_CACHE_BYTES;

/// Freed mappings (each a whole number of huge pages, on a huge-page boundary), oldest first.
/// A request takes the smallest kept block that holds it and is at most twice its size, and
/// what that block has beyond the request goes back to the system (kept remainders would split
/// the cache into pieces no request fits; a small request must not cut up a block that a big
/// one of the next load would reuse whole). A block freed when the cache is full pushes out
/// the oldest: a process that loads again and again keeps the blocks of its last load. Each
/// operation is a few steps under a spin lock (loads on several threads share the cache);
/// system calls are made outside it.
class mapping_cache {
public:
    /// A kept block of exactly `length` bytes (a multiple of the huge page), or null.
    void* take(std::size_t length) noexcept {
        block b{};
        {
            lock_guard hold(lock_);
            std::size_t best = count_;
            for (std::size_t i = 0; i < count_; ++i)
                if (blocks_[i].length >= length && blocks_[i].length / 2 <= length &&
                    (best == count_ || blocks_[i].length < blocks_[best].length))
                    best = i;
            if (best == count_) return nullptr;
            b = remove(best);
        }
        if (b.length > length) unmap_array(static_cast<unsigned char*>(b.p) + length, b.length - length);
        return b.p;
    }
    /// Keeps a freed block of `length` bytes, pushing out the oldest ones if it must; false when
    /// it is too big to keep (the caller unmaps it).
    bool keep(void* p, std::size_t length) noexcept {
        if (length > mapping_cache_bytes) return false;
        block out[slots];
        std::size_t evicted = 0;
        {
            lock_guard hold(lock_);
            while (count_ == slots || bytes_ + length > mapping_cache_bytes) out[evicted++] = remove(0);
            blocks_[count_++] = {p, length};
            bytes_ += length;
        }
        for (std::size_t i = 0; i < evicted; ++i) unmap_array(out[i].p, out[i].length);
        return true;
    }
    /// Unmaps every kept block.
    void release() noexcept {
        for (;;) {
            block b{};
            {
                lock_guard hold(lock_);
                if (count_ == 0) return;
                b = remove(count_ - 1);
            }
            unmap_array(b.p, b.length);
        }
    }
    std::size_t kept_bytes() noexcept {
        lock_guard hold(lock_);
        return bytes_;
    }

private:
    struct block {
        void* p;
        std::size_t length;
    };
    struct lock_guard {
        explicit lock_guard(atomic<bool>& f) noexcept : locked(f) {
            while (locked.exchange(true, order::acquire)) {
            }
        }
        ~lock_guard() { locked.store(false, order::release); }
        lock_guard(const lock_guard&) = delete;
        lock_guard& operator=(const lock_guard&) = delete;
        atomic<bool>& locked;
    };
    static constexpr std::size_t slots = 32;

    /// Takes block i out of the list, keeping the others in age order (the lock is held).
    block remove(std::size_t i) noexcept {
        const block b = blocks_[i];
        for (std::size_t j = i + 1; j < count_; ++j) blocks_[j - 1] = blocks_[j];
        --count_;
        bytes_ -= b.length;
        return b;
    }

    atomic<bool> lock_{false};  // a spin lock
    std::size_t count_ = 0;
    std::size_t bytes_ = 0;
    block blocks_[slots] = {};
};

/// The process's one cache (a function-local static: one instance across translation units).
inline mapping_cache& kept_mappings() noexcept {
    static mapping_cache cache;
    return cache;
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
