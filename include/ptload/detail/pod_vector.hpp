// detail/pod_vector.hpp: a growable array of trivially copyable values, for the arrays a load
// fills with millions of items (the document's edges, the pickle machine's stack and memo).
//
// std::vector with an allocator of ptload's own moves its items one by one when it grows
// (libstdc++ relocates with memmove only for std::allocator) and zero-fills what resize()
// adds; for these arrays both were a measurable part of a big load. Here growth is one
// memcpy into a new block from the memory functions (or, for a big array under the default
// memory, a remapping of its pages: reallocate_bytes), and grow_to() leaves new items unset
// for a caller that writes them next.
#ifndef PTLOAD_DETAIL_POD_VECTOR_HPP
#define PTLOAD_DETAIL_POD_VECTOR_HPP

#include "../config.hpp"
#include "../memory.hpp"

#include <cstddef>
#include <cstring>
#include <type_traits>

namespace ptload {
inline namespace v0 {
namespace detail {

/// memcpy of n items, with the few-item case (a tuple, a dict entry) as plain stores rather
/// than a call into the C library.
template <class T>
PTLOAD_INLINE void copy_items(T* to, const T* from, std::size_t n) noexcept {
    switch (n) {
    case 4: to[3] = from[3]; [[fallthrough]];
    case 3: to[2] = from[2]; [[fallthrough]];
    case 2: to[1] = from[1]; [[fallthrough]];
    case 1: to[0] = from[0]; [[fallthrough]];
    case 0: return;
    default: std::memcpy(static_cast<void*>(to), from, n * sizeof(T));
    }
}

template <class T>
class pod_vector {
    static_assert(std::is_trivially_copyable<T>::value && std::is_trivially_destructible<T>::value,
                  "pod_vector copies its items as bytes");

public:
    pod_vector() noexcept = default;
    pod_vector(pod_vector&& o) noexcept : data_(o.data_), size_(o.size_), cap_(o.cap_) { o.data_ = nullptr, o.size_ = o.cap_ = 0; }
    pod_vector& operator=(pod_vector&& o) noexcept {
        if (this != &o) {
            release();
            data_ = o.data_, size_ = o.size_, cap_ = o.cap_;
            o.data_ = nullptr, o.size_ = o.cap_ = 0;
        }
        return *this;
    }
    pod_vector(const pod_vector&) = delete;
    pod_vector& operator=(const pod_vector&) = delete;
    ~pod_vector() { release(); }

    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return cap_; }
    bool empty() const noexcept { return size_ == 0; }
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    T& back() noexcept { return data_[size_ - 1]; }

    void push_back(T v) {
        if (size_ == cap_) reserve(cap_ ? 2 * cap_ : 16);
        data_[size_++] = v;
    }
    /// Appends v where there is room for it (size() < capacity()): a hot path's store, without
    /// the growth that keeps push_back from being inlined everywhere.
    PTLOAD_INLINE void push_back_in_place(T v) noexcept { data_[size_++] = v; }
    void pop_back() noexcept { --size_; }
    /// Appends n items (which must not point into this array: growing would free them).
    void append(const T* items, std::size_t n) {
        if (n == 0) return;
        if (n > cap_ - size_) reserve(size_ + n > 2 * cap_ ? size_ + n : 2 * cap_);
        copy_items(data_ + size_, items, n);
        size_ += n;
    }
    /// Size n; items added are left unset (the caller writes them).
    void grow_to(std::size_t n) {
        if (n > cap_) reserve(n > 2 * cap_ ? n : 2 * cap_);
        size_ = n;
    }
    /// Size n; items added are `fill`.
    void resize(std::size_t n, T fill) {
        const std::size_t old = size_;
        grow_to(n);
        for (std::size_t i = old; i < n; ++i) data_[i] = fill;
    }
    /// Shrinks to n items (n <= size()).
    void truncate(std::size_t n) noexcept { size_ = n; }
    void clear() noexcept { size_ = 0; }
    /// Items [first, first + n) will not be read again (a region the owner moved away from):
    /// where the array is a mapping of its own, their whole pages go back to the system.
    /// Size and capacity stay.
    void discard(std::size_t first, std::size_t n) noexcept { discard_bytes(cap_ * sizeof(T), data_ + first, n * sizeof(T)); }
    /// Room for n items; what is there stays, nothing is added.
    void reserve(std::size_t n) {
        if (n > cap_) reallocate(n);
    }

private:
    /// Out of line, so that the callers' fast paths stay small enough to inline.
    PTLOAD_NOINLINE void reallocate(std::size_t n) {
        if (n > static_cast<std::size_t>(-1) / sizeof(T)) out_of_memory();
        const bool huge_pages = n * sizeof(T) >= huge_page_size;  // asked for, not rounded up to
        n = array_capacity(n, sizeof(T));
        data_ = static_cast<T*>(
                reallocate_bytes(data_, cap_ * sizeof(T), n * sizeof(T), alignof(T), size_ * sizeof(T), huge_pages));
        cap_ = n;
    }
    void release() noexcept {
        if (data_) deallocate_bytes(data_, cap_ * sizeof(T), alignof(T));
        data_ = nullptr;
        cap_ = 0;
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t cap_ = 0;
};

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
