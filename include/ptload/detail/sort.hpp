// detail/sort.hpp: ordering arrays (sort, binary search) without <algorithm>, whose parsing
// cost every file that includes ptload.hpp a few percent of its compile time for the two
// functions the core used from it.
//
// sort() is an introsort, as std::sort is: quicksort with a median-of-three pivot, its depth
// bounded by 2 log2(n) after which a range is heap-sorted, and short ranges finished by
// insertion. Its cost is O(n log n) comparisons whatever the order of the input, so names in a
// hostile zip directory cannot make it quadratic; the recursion goes into the smaller side only,
// so the stack holds at most log2(n) frames.
#ifndef PTLOAD_DETAIL_SORT_HPP
#define PTLOAD_DETAIL_SORT_HPP

#include "../config.hpp"

#include <cstddef>
#include <utility>

namespace ptload {
inline namespace v0 {
namespace detail {

/// a < b, for sorts without a comparison of their own.
struct ascending {
    template <class T>
    bool operator()(const T& a, const T& b) const noexcept {
        return a < b;
    }
};

template <class T, class Less>
void insertion_sort(T* a, std::size_t n, Less less) {
    for (std::size_t i = 1; i < n; ++i) {
        T v = std::move(a[i]);
        std::size_t j = i;
        for (; j > 0 && less(v, a[j - 1]); --j) a[j] = std::move(a[j - 1]);
        a[j] = std::move(v);
    }
}

template <class T, class Less>
void heap_sort(T* a, std::size_t n, Less less) {
    auto sift_down = [&](std::size_t root, std::size_t end) {
        for (std::size_t child; (child = 2 * root + 1) < end; root = child) {
            if (child + 1 < end && less(a[child], a[child + 1])) ++child;
            if (!less(a[root], a[child])) return;
            std::swap(a[root], a[child]);
        }
    };
    for (std::size_t i = n / 2; i-- > 0;) sift_down(i, n);
    for (std::size_t end = n; end > 1; --end) {
        std::swap(a[0], a[end - 1]);
        sift_down(0, end - 1);
    }
}

template <class T, class Less>
void introsort(T* a, std::size_t n, unsigned depth, Less less) {
    constexpr std::size_t short_range = 16;
    while (n > short_range) {
        if (depth == 0) return heap_sort(a, n, less);
        --depth;
        // The median of the first, middle and last items becomes the pivot, at a[0].
        const std::size_t mid = n / 2;
        if (less(a[mid], a[0])) std::swap(a[mid], a[0]);
        if (less(a[n - 1], a[mid])) {
            std::swap(a[n - 1], a[mid]);
            if (less(a[mid], a[0])) std::swap(a[mid], a[0]);
        }
        std::swap(a[0], a[mid]);
        // Items equal to the pivot stop both scans, so many equal keys still split evenly.
        std::size_t i = 0, j = n;
        for (;;) {
            while (less(a[++i], a[0]))
                if (i == n - 1) break;
            while (less(a[0], a[--j])) {
            }
            if (i >= j) break;
            std::swap(a[i], a[j]);
        }
        std::swap(a[0], a[j]);  // the pivot between the sides: [0, j) <= a[j] <= (j, n)
        const std::size_t left = j, right = n - j - 1;
        if (left < right) {
            introsort(a, left, depth, less);
            a += j + 1;
            n = right;
        } else {
            introsort(a + j + 1, right, depth, less);
            n = left;
        }
    }
    insertion_sort(a, n, less);
}

/// Sorts [first, last) by `less`, a strict weak order (not stable).
template <class T, class Less = ascending>
void sort(T* first, T* last, Less less = {}) {
    const std::size_t n = static_cast<std::size_t>(last - first);
    unsigned depth = 0;
    for (std::size_t m = n; m > 1; m /= 2) depth += 2;
    introsort(first, n, depth, less);
}

/// The first item of sorted [first, last) that is not less than `key` (`less(item, key)`).
template <class T, class Key, class Less = ascending>
T* lower_bound(T* first, T* last, const Key& key, Less less = {}) {
    std::size_t n = static_cast<std::size_t>(last - first);
    while (n > 0) {
        const std::size_t half = n / 2;
        if (less(first[half], key)) {
            first += half + 1;
            n -= half + 1;
        } else {
            n = half;
        }
    }
    return first;
}

/// Whether [first, last) is in `less` order.
template <class T, class Less = ascending>
bool is_sorted(const T* first, const T* last, Less less = {}) {
    const std::size_t n = static_cast<std::size_t>(last - first);  // (an empty array's pointers may be null)
    for (std::size_t i = 1; i < n; ++i)
        if (less(first[i], first[i - 1])) return false;
    return true;
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
