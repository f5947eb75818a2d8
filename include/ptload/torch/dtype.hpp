// torch/dtype.hpp: torch dtypes, their element sizes, pickled names, legacy storage classes
// and numpy-style descriptors (FORMAT.md 5.3, 5.4).
#ifndef PTLOAD_TORCH_DTYPE_HPP
#define PTLOAD_TORCH_DTYPE_HPP

#include "../config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ptload {
inline namespace v0 {

/// Every dtype a checkpoint can name. `unknown` is never produced for a loaded tensor.
enum class dtype : std::uint8_t {
    unknown,
    float64, float32, float16, bfloat16,
    int64, int32, int16, int8, uint8, bool_,
    complex128, complex64, complex32,
    qint8, quint8, qint32, quint4x2, quint2x4,
    float8_e5m2, float8_e4m3fn, float8_e5m2fnuz, float8_e4m3fnuz, float8_e8m0fnu, float4_e2m1fn_x2,
    uint16, uint32, uint64,
    bits8, bits16, bits1x8, bits2x4, bits4x2,
    uint1, uint2, uint3, uint4, uint5, uint6, uint7,
    int1, int2, int3, int4, int5, int6, int7,
};

/// What kind of number an element is; decides byte swapping and conversions.
enum class dtype_class : std::uint8_t { floating, integer, unsigned_integer, boolean, complex, quantized, bits, shell };

struct dtype_info {
    dtype type;
    std::string_view name;          ///< torch's name: "float32", the `GLOBAL torch <name>` spelling
    std::uint8_t element_size;      ///< bytes per element (a packed sub-byte dtype counts its byte)
    dtype_class cls;
    std::string_view storage_class; ///< legacy typed storage ("FloatStorage"), empty if saved untyped
    std::string_view numpy_descr;   ///< numpy dtype.str on a little-endian host, empty if numpy has none
};

namespace detail {
inline constexpr dtype_info dtype_table[] = {
    {dtype::unknown, "unknown"sv, 0, dtype_class::bits, ""sv, ""sv},
    {dtype::float64, "float64"sv, 8, dtype_class::floating, "DoubleStorage"sv, "<f8"sv},
    {dtype::float32, "float32"sv, 4, dtype_class::floating, "FloatStorage"sv, "<f4"sv},
    {dtype::float16, "float16"sv, 2, dtype_class::floating, "HalfStorage"sv, "<f2"sv},
    {dtype::bfloat16, "bfloat16"sv, 2, dtype_class::floating, "BFloat16Storage"sv, ""sv},
    {dtype::int64, "int64"sv, 8, dtype_class::integer, "LongStorage"sv, "<i8"sv},
    {dtype::int32, "int32"sv, 4, dtype_class::integer, "IntStorage"sv, "<i4"sv},
    {dtype::int16, "int16"sv, 2, dtype_class::integer, "ShortStorage"sv, "<i2"sv},
    {dtype::int8, "int8"sv, 1, dtype_class::integer, "CharStorage"sv, "|i1"sv},
    {dtype::uint8, "uint8"sv, 1, dtype_class::unsigned_integer, "ByteStorage"sv, "|u1"sv},
    {dtype::bool_, "bool"sv, 1, dtype_class::boolean, "BoolStorage"sv, "|b1"sv},
    {dtype::complex128, "complex128"sv, 16, dtype_class::complex, "ComplexDoubleStorage"sv, "<c16"sv},
    {dtype::complex64, "complex64"sv, 8, dtype_class::complex, "ComplexFloatStorage"sv, "<c8"sv},
    {dtype::complex32, "complex32"sv, 4, dtype_class::complex, ""sv, ""sv},
    {dtype::qint8, "qint8"sv, 1, dtype_class::quantized, "QInt8Storage"sv, "|i1"sv},
    {dtype::quint8, "quint8"sv, 1, dtype_class::quantized, "QUInt8Storage"sv, "|u1"sv},
    {dtype::qint32, "qint32"sv, 4, dtype_class::quantized, "QInt32Storage"sv, "<i4"sv},
    {dtype::quint4x2, "quint4x2"sv, 1, dtype_class::quantized, "QUInt4x2Storage"sv, "|u1"sv},
    {dtype::quint2x4, "quint2x4"sv, 1, dtype_class::quantized, "QUInt2x4Storage"sv, "|u1"sv},
    {dtype::float8_e5m2, "float8_e5m2"sv, 1, dtype_class::floating, ""sv, ""sv},
    {dtype::float8_e4m3fn, "float8_e4m3fn"sv, 1, dtype_class::floating, ""sv, ""sv},
    {dtype::float8_e5m2fnuz, "float8_e5m2fnuz"sv, 1, dtype_class::floating, ""sv, ""sv},
    {dtype::float8_e4m3fnuz, "float8_e4m3fnuz"sv, 1, dtype_class::floating, ""sv, ""sv},
    {dtype::float8_e8m0fnu, "float8_e8m0fnu"sv, 1, dtype_class::floating, ""sv, ""sv},
    {dtype::float4_e2m1fn_x2, "float4_e2m1fn_x2"sv, 1, dtype_class::bits, ""sv, ""sv},
    {dtype::uint16, "uint16"sv, 2, dtype_class::unsigned_integer, ""sv, "<u2"sv},
    {dtype::uint32, "uint32"sv, 4, dtype_class::unsigned_integer, ""sv, "<u4"sv},
    {dtype::uint64, "uint64"sv, 8, dtype_class::unsigned_integer, ""sv, "<u8"sv},
    {dtype::bits8, "bits8"sv, 1, dtype_class::bits, ""sv, "|V1"sv},
    {dtype::bits16, "bits16"sv, 2, dtype_class::bits, ""sv, "|V2"sv},
    {dtype::bits1x8, "bits1x8"sv, 1, dtype_class::bits, ""sv, "|V1"sv},
    {dtype::bits2x4, "bits2x4"sv, 1, dtype_class::bits, ""sv, "|V1"sv},
    {dtype::bits4x2, "bits4x2"sv, 1, dtype_class::bits, ""sv, "|V1"sv},
    // Sub-byte "shell"sv dtypes: names exist (torch.uint1 ...) but torch cannot save their data.
    {dtype::uint1, "uint1"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::uint2, "uint2"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::uint3, "uint3"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::uint4, "uint4"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::uint5, "uint5"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::uint6, "uint6"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::uint7, "uint7"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::int1, "int1"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::int2, "int2"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::int3, "int3"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::int4, "int4"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::int5, "int5"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::int6, "int6"sv, 1, dtype_class::shell, ""sv, ""sv},
    {dtype::int7, "int7"sv, 1, dtype_class::shell, ""sv, ""sv},
};
inline constexpr std::size_t dtype_count = sizeof(dtype_table) / sizeof(dtype_table[0]);

constexpr bool dtype_table_in_order() {
    for (std::size_t i = 0; i < dtype_count; ++i)
        if (static_cast<std::size_t>(dtype_table[i].type) != i) return false;
    return true;
}
static_assert(dtype_table_in_order(), "dtype_table rows must follow the dtype enum order");
} // namespace detail

/// Facts about a dtype.
constexpr const dtype_info& info(dtype t) noexcept { return detail::dtype_table[static_cast<std::size_t>(t)]; }
constexpr std::size_t element_size(dtype t) noexcept { return info(t).element_size; }
constexpr std::string_view name(dtype t) noexcept { return info(t).name; }

/// Values stored per byte: 2 for quint4x2, 4 for quint2x4 (packed low bits first), else 1.
/// Shapes, strides and offsets of such tensors count values, not bytes.
constexpr std::size_t values_per_byte(dtype t) noexcept {
    return t == dtype::quint4x2 ? 2 : t == dtype::quint2x4 ? 4 : 1;
}

/// The dtype whose torch name is `n` ("float32"), or dtype::unknown. Aliases like "float" are
/// not names torch pickles, so they are not accepted.
constexpr dtype dtype_from_name(std::string_view n) noexcept {
    for (std::size_t i = 1; i < detail::dtype_count; ++i)
        if (detail::dtype_table[i].name == n) return detail::dtype_table[i].type;
    return dtype::unknown;
}

/// The dtype of a legacy storage class name ("FloatStorage"), or dtype::unknown.
constexpr dtype dtype_from_storage_class(std::string_view n) noexcept {
    for (std::size_t i = 1; i < detail::dtype_count; ++i)
        if (!detail::dtype_table[i].storage_class.empty() && detail::dtype_table[i].storage_class == n)
            return detail::dtype_table[i].type;
    return dtype::unknown;
}

namespace detail {
/// Whether this host stores numbers little-endian (files and canonical hashes are).
inline bool host_is_little_endian() noexcept {
    const std::uint16_t probe = 1;
    std::uint8_t first;
    std::memcpy(&first, &probe, 1);
    return first == 1;
}

/// The run of bytes whose order depends on the host for elements of dtype t: the element, or
/// each half of a complex one. 1 means byte order does not apply.
constexpr std::size_t byte_order_unit(dtype t) noexcept {
    return info(t).cls == dtype_class::complex ? element_size(t) / 2 : element_size(t);
}

/// Reverses the byte order of each element of dtype t in p[0, nbytes) (complex numbers: each
/// half on its own); a trailing partial element is left alone.
inline void byteswap_elements(std::uint8_t* p, std::uint64_t nbytes, dtype t) noexcept {
    std::size_t unit = byte_order_unit(t);
    if (unit < 2) return;
    for (std::uint64_t i = 0; i + unit <= nbytes; i += unit)
        for (std::size_t a = 0, b = unit - 1; a < b; ++a, --b) {
            std::uint8_t tmp = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = tmp;
        }
}
} // namespace detail

} // namespace v0
} // namespace ptload

#endif
