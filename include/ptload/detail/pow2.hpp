// detail/pow2.hpp: exact powers of two, made from their bits. Scaling a value by one is what
// C's ldexp does; ptload does it this way to keep <cmath>, one of the costliest standard
// headers to compile, out of the core for the sake of one function.
#ifndef PTLOAD_DETAIL_POW2_HPP
#define PTLOAD_DETAIL_POW2_HPP

#include "../config.hpp"

#include <cstdint>
#include <cstring>

namespace ptload {
inline namespace v0 {
namespace detail {

/// 2^e as a double, for e in [-1074, 1023] (subnormal below -1022). A product x * pow2(e) is
/// exact, like ldexp(x, e), whenever the result is representable: one IEEE multiplication
/// rounds only what does not fit.
inline double pow2(int e) noexcept {
    const std::uint64_t bits = e >= -1022 ? static_cast<std::uint64_t>(e + 1023) << 52  // normal: biased exponent
                                          : std::uint64_t{1} << (e + 1074);              // subnormal: one mantissa bit
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
