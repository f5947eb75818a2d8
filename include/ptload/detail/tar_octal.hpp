// detail/tar_octal.hpp: the octal numbers of a tar header (member sizes), shared by the tar
// loader, which wants the whole field clean, and scan, which reads what it can.
#ifndef PTLOAD_DETAIL_TAR_OCTAL_HPP
#define PTLOAD_DETAIL_TAR_OCTAL_HPP

#include <cstddef>
#include <cstdint>

namespace ptload {
inline namespace v0 {
namespace detail {

/// The octal number in p[0, n): leading spaces, digits, then (when `whole_field`) only spaces or
/// NULs. False when there are no digits, the value passes 2^63, or the field is not clean.
inline bool tar_octal(const std::uint8_t* p, std::size_t n, std::uint64_t& out, bool whole_field = true) {
    out = 0;
    std::size_t i = 0;
    while (i < n && p[i] == ' ') ++i;
    bool any = false;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) {
        if (out >> 60) return false;
        out = out * 8 + static_cast<std::uint64_t>(p[i] - '0');
        any = true;
    }
    if (whole_field)
        for (; i < n; ++i)
            if (p[i] != ' ' && p[i] != 0) return false;
    return any;
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
