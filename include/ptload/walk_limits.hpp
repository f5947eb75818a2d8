// walk_limits.hpp: how much output a walk over a loaded document (canonical JSON, tree print,
// tensor listing) may produce, in proportion to the pickle bytes the document came from.
#ifndef PTLOAD_WALK_LIMITS_HPP
#define PTLOAD_WALK_LIMITS_HPP

#include "detail/checked.hpp"
#include "policies/limits.hpp"
#include "value.hpp"

#include <cstdint>

namespace ptload {
inline namespace v0 {

/// Bounds of the walks over a loaded document (canonical JSON, tree print, tensor listing).
struct walk_limits {
    std::uint64_t max_output;          ///< bytes written
    std::uint64_t max_view_expansion;  ///< logical bytes of a hashed view per storage byte ...
    std::uint64_t view_slack;          ///< ... plus these
};

/// The bounds `Limits` gives a document: output up to min(max_dump_bytes, dump_slack +
/// dump_bytes_per_input_byte * the pickle bytes the document was loaded from).
template <class Limits = default_limits>
walk_limits walk_limits_for(const document_data& doc) noexcept {
    std::uint64_t out = 0;
    if (!detail::checked_mul(doc.input_bytes(), std::uint64_t{Limits::dump_bytes_per_input_byte}, out) ||
        !detail::checked_add(out, std::uint64_t{Limits::dump_slack}, out) || out > Limits::max_dump_bytes)
        out = Limits::max_dump_bytes;
    return {out, Limits::max_view_expansion, Limits::view_slack};
}
template <class Limits = default_limits>
walk_limits walk_limits_for(const document& doc) noexcept {
    return walk_limits_for<Limits>(doc.data());
}

} // namespace v0
} // namespace ptload

#endif
