// policies/limits.hpp: bounds that stop amplification by hostile files (SECURITY.md (b)).
//
// The real guard is that nothing is allocated for bytes that are not in the file; these limits
// only stop work and memory that grow faster than the input. Defaults never reject a file that
// torch.load reads. Override by deriving and shadowing:
//     struct my_limits : ptload::default_limits { static constexpr std::size_t max_depth = 5000; };
#ifndef PTLOAD_POLICIES_LIMITS_HPP
#define PTLOAD_POLICIES_LIMITS_HPP

#include "roles.hpp"

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace ptload {
inline namespace v0 {

struct default_limits {
    using ptload_role = role::limits;
    /// Nesting of MARKs, and of values in every walk (dump, compare).
    static constexpr std::size_t max_depth = 1000;
    /// Items on the pickle stack at once. Every push consumes at least one input byte, so the
    /// stack is already bounded by the pickle; this default cap only stops a single 1G-item MARK.
    static constexpr std::size_t max_stack = std::size_t{1} << 30;
    /// Memo entries whose indices lie far beyond the others (kept in a hash map, up to index
    /// 2^32 - 1). Dense memos (MEMOIZE, sequential PUTs) grow with the input and are not capped:
    /// a 1M-entry dict pickle has 3M of them.
    static constexpr std::size_t max_memo = 1u << 20;
    /// Nodes created: nodes_per_byte * pickle bytes + node_slack.
    static constexpr std::size_t nodes_per_byte = 4;
    static constexpr std::size_t node_slack = 64 * 1024;
    /// Decimal digits in a text INT/LONG (CPython's int_max_str_digits).
    static constexpr std::size_t max_int_digits = 4300;
    /// Bytes of a binary LONG1/LONG4 integer kept exactly.
    static constexpr std::size_t max_int_bytes = 1024;
    /// Tensor rank and count.
    static constexpr std::size_t max_tensor_rank = 64;
    static constexpr std::size_t max_tensors = 16u << 20;
    /// Canonical JSON output bytes (tuples are written in full, so a pickle can ask for a lot).
    static constexpr std::uint64_t max_dump_bytes = std::uint64_t{1} << 32;
    /// Inflated bytes per compressed byte, for deflated zip records.
    static constexpr std::uint64_t max_inflate_ratio = 100;
    /// Logical bytes of a strided view materialised per storage byte (contiguous copies).
    static constexpr std::uint64_t max_view_expansion = 2;
};

namespace detail {
template <class L, class = void>
struct is_limits : std::false_type {};
template <class L>
struct is_limits<L, std::void_t<decltype(L::max_depth), decltype(L::max_stack), decltype(L::max_memo),
                                decltype(L::nodes_per_byte), decltype(L::node_slack), decltype(L::max_int_digits),
                                decltype(L::max_int_bytes), decltype(L::max_tensor_rank), decltype(L::max_tensors),
                                decltype(L::max_dump_bytes), decltype(L::max_inflate_ratio),
                                decltype(L::max_view_expansion)>> : std::true_type {};
} // namespace detail

} // namespace v0
} // namespace ptload

#endif
