// detail/atomic.hpp: the few atomic operations ptload needs (a count of handles, a pointer
// published once, a spin lock), on a word.
//
// With GCC and Clang they are the compiler's __atomic built-ins, the same ones libstdc++ and
// libc++ build std::atomic on; elsewhere std::atomic itself. <atomic> costs a file that includes
// ptload.hpp about as much to parse as the rest of the core's standard headers together save.
#ifndef PTLOAD_DETAIL_ATOMIC_HPP
#define PTLOAD_DETAIL_ATOMIC_HPP

#include "../config.hpp"

#include <type_traits>

#if !defined(__GNUC__) && !defined(__clang__)
#include <atomic>
#endif

namespace ptload {
inline namespace v0 {
namespace detail {

/// Memory orders, as std::memory_order names them.
enum class order { relaxed, acquire, release, acq_rel };

template <class T>
class atomic {
    static_assert(std::is_integral<T>::value || std::is_pointer<T>::value, "a word: an integer, a bool or a pointer");
    static constexpr bool counts = std::is_integral<T>::value && !std::is_same<T, bool>::value;

public:
    constexpr atomic(T v = T{}) noexcept : v_(v) {}
    atomic(const atomic&) = delete;
    atomic& operator=(const atomic&) = delete;

#if defined(__GNUC__) || defined(__clang__)
    T load(order o) const noexcept { return __atomic_load_n(&v_, model(o)); }
    void store(T v, order o) noexcept { __atomic_store_n(&v_, v, model(o)); }
    T exchange(T v, order o) noexcept { return __atomic_exchange_n(&v_, v, model(o)); }
    // (counts only: on a pointer the built-ins would add bytes, not items)
    T fetch_add(T n, order o) noexcept {
        static_assert(counts, "only counts are added to");
        return __atomic_fetch_add(&v_, n, model(o));
    }
    T fetch_sub(T n, order o) noexcept {
        static_assert(counts, "only counts are added to");
        return __atomic_fetch_sub(&v_, n, model(o));
    }
    /// Sets `desired` if the value is `expected`; else puts the value in `expected`.
    bool compare_exchange(T& expected, T desired, order o) noexcept {
        return __atomic_compare_exchange_n(&v_, &expected, desired, false, model(o), failure_model(o));
    }

private:
    static constexpr int model(order o) noexcept {
        return o == order::relaxed   ? __ATOMIC_RELAXED
               : o == order::acquire ? __ATOMIC_ACQUIRE
               : o == order::release ? __ATOMIC_RELEASE
                                     : __ATOMIC_ACQ_REL;
    }
    /// A failed compare-exchange only loads: it may not release.
    static constexpr int failure_model(order o) noexcept {
        return o == order::relaxed || o == order::release ? __ATOMIC_RELAXED : __ATOMIC_ACQUIRE;
    }
    T v_;
#else
    T load(order o) const noexcept { return v_.load(model(o)); }
    void store(T v, order o) noexcept { v_.store(v, model(o)); }
    T exchange(T v, order o) noexcept { return v_.exchange(v, model(o)); }
    T fetch_add(T n, order o) noexcept { return v_.fetch_add(n, model(o)); }
    T fetch_sub(T n, order o) noexcept { return v_.fetch_sub(n, model(o)); }
    bool compare_exchange(T& expected, T desired, order o) noexcept {
        return v_.compare_exchange_strong(expected, desired, model(o));
    }

private:
    static constexpr std::memory_order model(order o) noexcept {
        return o == order::relaxed   ? std::memory_order_relaxed
               : o == order::acquire ? std::memory_order_acquire
               : o == order::release ? std::memory_order_release
                                     : std::memory_order_acq_rel;
    }
    std::atomic<T> v_;
#endif
};

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
