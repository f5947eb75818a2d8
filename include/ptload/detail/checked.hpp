// detail/checked.hpp: overflow-checked arithmetic for sizes read from files.
#ifndef PTLOAD_DETAIL_CHECKED_HPP
#define PTLOAD_DETAIL_CHECKED_HPP

#include "../config.hpp"

#include <cstdint>

namespace ptload {
inline namespace v0 {
namespace detail {

inline bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
    if (a > ~std::uint64_t{0} - b) return false;
    out = a + b;
    return true;
}
inline bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
    if (a && b > ~std::uint64_t{0} / a) return false;
    out = a * b;
    return true;
}
inline bool checked_mul(std::int64_t a, std::int64_t b, std::int64_t& out) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    return !__builtin_mul_overflow(a, b, &out);
#else
    if (a == 0 || b == 0) { out = 0; return true; }
    if ((a > 0 && b > 0 && a > INT64_MAX / b) || (a < 0 && b < 0 && a < INT64_MAX / b) ||
        (a > 0 && b < 0 && b < INT64_MIN / a) || (a < 0 && b > 0 && a < INT64_MIN / b))
        return false;
    out = a * b;
    return true;
#endif
}
inline bool checked_add(std::int64_t a, std::int64_t b, std::int64_t& out) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    return !__builtin_add_overflow(a, b, &out);
#else
    if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return false;
    out = a + b;
    return true;
#endif
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
