// detail/vector.hpp: the growable array behind ptload's own containers (zip entries, storage and
// tensor records, key tables, scratch lists), with its memory from the memory functions.
//
// It is std::vector's interface for what ptload uses of it, and no more: items must move
// without throwing (every item type here does), so growth is a move into a new block with no
// way back to plan for, and trivially copyable items grow by one reallocate_bytes (a memcpy, or
// under the default memory a remapping of a big block's pages). std::vector with a custom
// allocator instantiates a few dozen trait and helper templates per item type; with about
// twenty item types in the core, that was a third of the compile time of a file that merely
// includes ptload.hpp.
#ifndef PTLOAD_DETAIL_VECTOR_HPP
#define PTLOAD_DETAIL_VECTOR_HPP

#include "../config.hpp"
#include "../memory.hpp"

#include <cassert>
#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace ptload {
inline namespace v0 {
namespace detail {

/// What resize() and the size constructor put in the items they add.
enum class new_items {
    zeroed,     ///< value-initialised, as std::vector does
    left_unset  ///< default-initialised: a byte buffer that is filled at once is not written twice
};

template <class T, new_items Fill = new_items::zeroed>
class vector {
    static_assert(std::is_nothrow_move_constructible<T>::value && std::is_nothrow_destructible<T>::value,
                  "growth moves the items without a way to undo a move that throws");
    static_assert(Fill == new_items::zeroed || std::is_trivially_default_constructible<T>::value,
                  "only trivial items can be left unset");
    static constexpr bool bytes_copy = std::is_trivially_copyable<T>::value;

public:
    using value_type = T;
    using size_type = std::size_t;
    using iterator = T*;
    using const_iterator = const T*;

    vector() noexcept = default;
    explicit vector(std::size_t n) { resize(n); }
    vector(std::size_t n, const T& fill) { resize(n, fill); }
    template <class It, class = decltype(*std::declval<It&>())>
    vector(It first, It last) {
        insert(end(), first, last);
    }
    vector(const vector& o) { insert(end(), o.begin(), o.end()); }
    vector(vector&& o) noexcept : data_(o.data_), size_(o.size_), cap_(o.cap_) { o.data_ = nullptr, o.size_ = o.cap_ = 0; }
    vector& operator=(const vector& o) {
        if (this != &o) {
            clear();
            insert(end(), o.begin(), o.end());
        }
        return *this;
    }
    vector& operator=(vector&& o) noexcept {
        if (this != &o) {
            release();
            data_ = o.data_, size_ = o.size_, cap_ = o.cap_;
            o.data_ = nullptr, o.size_ = o.cap_ = 0;
        }
        return *this;
    }
    ~vector() { release(); }

    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t capacity() const noexcept { return cap_; }
    bool empty() const noexcept { return size_ == 0; }
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    T& front() noexcept { return data_[0]; }
    const T& front() const noexcept { return data_[0]; }
    T& back() noexcept { return data_[size_ - 1]; }
    const T& back() const noexcept { return data_[size_ - 1]; }
    T* begin() noexcept { return data_; }
    T* end() noexcept { return data_ + size_; }
    const T* begin() const noexcept { return data_; }
    const T* end() const noexcept { return data_ + size_; }

    void push_back(const T& v) { emplace_back(v); }
    void push_back(T&& v) { emplace_back(std::move(v)); }
    /// The new item is made before the array grows, so that arguments may refer to its items.
    template <class... Args>
    T& emplace_back(Args&&... args) {
        if (size_ == cap_) {
            T item(std::forward<Args>(args)...);
            reallocate(grown(size_ + 1));
            ::new (static_cast<void*>(data_ + size_)) T(std::move(item));
        } else {
            ::new (static_cast<void*>(data_ + size_)) T(std::forward<Args>(args)...);
        }
        return data_[size_++];
    }
    void pop_back() noexcept { data_[--size_].~T(); }

    /// Appends [first, last), which must not lie in this array. Ranges go only at the end.
    template <class It>
    void insert(const T* at, It first, It last) {
        assert(at == end());
        (void)at;
        if constexpr (bytes_copy && std::is_pointer<It>::value &&
                      std::is_same<std::remove_cv_t<std::remove_pointer_t<It>>, T>::value) {
            const std::size_t n = static_cast<std::size_t>(last - first);
            reserve_more(n);
            if (n) std::memcpy(static_cast<void*>(data_ + size_), first, n * sizeof(T));
            size_ += n;
        } else {
            std::size_t n = 0;
            for (It i = first; i != last; ++i) ++n;
            reserve_more(n);
            for (; first != last; ++first) ::new (static_cast<void*>(data_ + size_++)) T(*first);
        }
    }
    /// One item put before `at`, the items from there on moved up one.
    void insert(const T* at, T item) {
        const std::size_t pos = static_cast<std::size_t>(at - data_);
        emplace_back(std::move(item));
        for (std::size_t i = size_ - 1; i > pos; --i) std::swap(data_[i], data_[i - 1]);
    }
    template <class It, class = decltype(*std::declval<It&>())>
    void assign(It first, It last) {
        clear();
        insert(end(), first, last);
    }
    void assign(std::size_t n, const T& fill) {
        clear();
        resize(n, fill);
    }

    void resize(std::size_t n) {
        if (n <= size_) return truncate(n);
        reserve_more(n - size_);
        if constexpr (Fill == new_items::left_unset) {
            // trivial items: nothing to construct
        } else if constexpr (std::is_trivial<T>::value) {
            std::memset(static_cast<void*>(data_ + size_), 0, (n - size_) * sizeof(T));
        } else {
            for (std::size_t i = size_; i < n; ++i) ::new (static_cast<void*>(data_ + i)) T();
        }
        size_ = n;
    }
    void resize(std::size_t n, const T& fill) {
        if (n <= size_) return truncate(n);
        if (n > cap_) {
            const T copy(fill);  // `fill` may be one of the items the growth moves
            reallocate(grown(n));
            for (std::size_t i = size_; i < n; ++i) ::new (static_cast<void*>(data_ + i)) T(copy);
        } else {
            for (std::size_t i = size_; i < n; ++i) ::new (static_cast<void*>(data_ + i)) T(fill);
        }
        size_ = n;
    }
    void reserve(std::size_t n) {
        if (n > cap_) reallocate(n);
    }
    void clear() noexcept { truncate(0); }
    void swap(vector& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        std::swap(cap_, o.cap_);
    }

private:
    void truncate(std::size_t n) noexcept {
        if constexpr (!std::is_trivially_destructible<T>::value) {
            for (std::size_t i = size_; i-- > n;) data_[i].~T();
        }
        size_ = n;
    }
    /// Room for n more items, doubling so that repeated appends cost amortised O(1).
    void reserve_more(std::size_t n) {
        if (n > cap_ - size_) {
            if (n > static_cast<std::size_t>(-1) / sizeof(T) - size_) out_of_memory();
            reallocate(grown(size_ + n));
        }
    }
    std::size_t grown(std::size_t need) const noexcept {
        const std::size_t doubled = cap_ ? 2 * cap_ : 4;
        return need > doubled ? need : doubled;
    }
    /// Out of line, so that the callers' fast paths stay small enough to inline.
    PTLOAD_NOINLINE void reallocate(std::size_t n) {
        if (n > static_cast<std::size_t>(-1) / sizeof(T)) out_of_memory();
        const bool huge_pages = n * sizeof(T) >= huge_page_size;  // asked for, not rounded up to
        n = array_capacity(n, sizeof(T));
        if constexpr (bytes_copy) {
            data_ = static_cast<T*>(
                reallocate_bytes(data_, cap_ * sizeof(T), n * sizeof(T), alignof(T), size_ * sizeof(T), huge_pages));
        } else {
            T* moved = static_cast<T*>(allocate_bytes(n * sizeof(T), alignof(T), huge_pages));
            for (std::size_t i = 0; i < size_; ++i) {
                ::new (static_cast<void*>(moved + i)) T(std::move(data_[i]));
                data_[i].~T();
            }
            if (data_) deallocate_bytes(data_, cap_ * sizeof(T), alignof(T));
            data_ = moved;
        }
        cap_ = n;
    }
    void release() noexcept {
        truncate(0);
        if (data_) deallocate_bytes(data_, cap_ * sizeof(T), alignof(T));
        data_ = nullptr;
        cap_ = 0;
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t cap_ = 0;
};

/// A byte vector whose resize() does not zero what it adds.
template <class T>
using fill_later_vector = vector<T, new_items::left_unset>;

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
