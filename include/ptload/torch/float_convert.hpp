// torch/float_convert.hpp: element values as float32, including the narrow formats torch
// stores bit-exactly: float16, bfloat16 and the float8 variants (OCP FP8 and the AMD "fnuz"
// variants, whose single NaN is 0x80 and whose exponent bias is one larger).
#ifndef PTLOAD_TORCH_FLOAT_CONVERT_HPP
#define PTLOAD_TORCH_FLOAT_CONVERT_HPP

#include "../detail/pow2.hpp"
#include "dtype.hpp"

#include <cstdint>
#include <cstring>
#include <limits>

namespace ptload {
inline namespace v0 {
namespace detail {

inline float bits_to_float(std::uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}

inline float half_to_float(std::uint16_t h) {
    std::uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FFu;
    if (exp == 0x1F) return bits_to_float(sign | 0x7F800000u | (man << 13));  // inf / nan (payload kept)
    if (exp == 0) {
        if (!man) return bits_to_float(sign);
        float v = static_cast<float>(man * pow2(-24));  // subnormal
        return sign ? -v : v;
    }
    return bits_to_float(sign | ((exp + 112) << 23) | (man << 13));
}

inline float bfloat16_to_float(std::uint16_t b) { return bits_to_float(static_cast<std::uint32_t>(b) << 16); }

/// A float8 value: 1 sign bit, `e` exponent bits, `m` mantissa bits.
inline float minifloat_to_float(std::uint8_t v, int e, int m, int bias, bool ieee_specials, bool fnuz, bool e4m3fn) {
    bool sign = (v >> 7) & 1;
    int exp = (v >> m) & ((1 << e) - 1);
    int man = v & ((1 << m) - 1);
    if (fnuz && v == 0x80) return std::numeric_limits<float>::quiet_NaN();
    if (e4m3fn && (v & 0x7F) == 0x7F) return std::numeric_limits<float>::quiet_NaN();
    if (ieee_specials && exp == (1 << e) - 1)
        return man ? std::numeric_limits<float>::quiet_NaN()
                   : (sign ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity());
    // every float8 value is a float32 exactly: the products below do not round
    float val = exp == 0 ? static_cast<float>(man * pow2(1 - bias - m))
                         : static_cast<float>((man + (1 << m)) * pow2(exp - bias - m));
    return sign ? -val : val;
}

inline float element_to_float(dtype t, const std::uint8_t* p) {
    // Storage bytes are in the host's order (torch swaps on load), so read natively.
    auto u16 = [&] { std::uint16_t v; std::memcpy(&v, p, 2); return v; };
    auto u32 = [&] { std::uint32_t v; std::memcpy(&v, p, 4); return v; };
    auto u64 = [&] { std::uint64_t v; std::memcpy(&v, p, 8); return v; };
    switch (t) {
    case dtype::float32: return bits_to_float(u32());
    case dtype::float64: {
        std::uint64_t b = u64();
        double d;
        std::memcpy(&d, &b, 8);
        return static_cast<float>(d);
    }
    case dtype::float16: return half_to_float(u16());
    case dtype::bfloat16: return bfloat16_to_float(u16());
    case dtype::float8_e4m3fn: return minifloat_to_float(p[0], 4, 3, 7, false, false, true);
    case dtype::float8_e5m2: return minifloat_to_float(p[0], 5, 2, 15, true, false, false);
    case dtype::float8_e4m3fnuz: return minifloat_to_float(p[0], 4, 3, 8, false, true, false);
    case dtype::float8_e5m2fnuz: return minifloat_to_float(p[0], 5, 2, 16, false, true, false);
    case dtype::float8_e8m0fnu:  // exponent only: 2^(v-127), 0xFF is NaN
        return p[0] == 0xFF ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(pow2(p[0] - 127));
    case dtype::bool_: return p[0] ? 1.0f : 0.0f;
    case dtype::uint8: return p[0];
    case dtype::int8: return static_cast<std::int8_t>(p[0]);
    case dtype::int16: return static_cast<std::int16_t>(u16());
    case dtype::uint16: return u16();
    case dtype::int32: return static_cast<float>(static_cast<std::int32_t>(u32()));
    case dtype::uint32: return static_cast<float>(u32());
    case dtype::int64: return static_cast<float>(static_cast<std::int64_t>(u64()));
    case dtype::uint64: return static_cast<float>(u64());
    default: return std::numeric_limits<float>::quiet_NaN();
    }
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
