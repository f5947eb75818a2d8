// policies/limits.hpp: bounds that stop amplification by hostile files; every limit ptload
// enforces is here, each reported with its own error code (docs/SECURITY.md lists them).
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

    // ---- the pickle machine
    /// Nesting of MARKs, of rebuild calls (`_rebuild_from_type_v2` inside another), and of
    /// values in every walk that is not iterative. Module trees pickled whole nest a few dozen.
    static constexpr std::size_t max_depth = 1000;
    /// Items on the pickle stack at once. Pickles build lists and dicts in batches of 1000, so
    /// only a tuple of more than a million items (one MARK) reaches this.
    static constexpr std::size_t max_stack = std::size_t{1} << 20;
    /// Memo entries kept in the sparse map (indices far beyond the others, up to 2^32 - 1). The
    /// dense memo is not capped: it grows only with the PUTs actually seen (at most 2 slots per
    /// PUT plus 4096), and a 1M-entry dict pickle legitimately memoizes 3M values.
    static constexpr std::size_t max_memo = std::size_t{1} << 20;
    /// Values created: nodes_per_byte * pickle bytes + node_slack (GET shares, never copies).
    static constexpr std::size_t nodes_per_byte = 4;
    static constexpr std::size_t node_slack = 64 * 1024;
    /// Decimal digits in a text INT/LONG (CPython's int_max_str_digits).
    static constexpr std::size_t max_int_digits = 4300;
    /// Bytes of a binary LONG1/LONG4 integer kept exactly.
    static constexpr std::size_t max_int_bytes = 1024;
    /// Dotted parts of a global's name (nested classes such as `Outer.Inner` have two or three);
    /// a longer name is refused unread, since each part is resolved on its own.
    static constexpr std::size_t max_name_parts = 32;
    /// Nesting of a dict key or set item that is hashed and compared part by part (tuples of
    /// tuples); parts deeper than this do not count.
    static constexpr std::size_t max_key_depth = 64;

    // ---- torch
    /// Tensor rank and count.
    static constexpr std::size_t max_tensor_rank = 64;
    static constexpr std::size_t max_tensors = 16u << 20;
    /// Pickled streams inside pickled streams (torch.storage._load_from_bytes).
    static constexpr std::size_t max_stream_nesting = 16;

    // ---- zip
    /// Central-directory entries (a checkpoint has one per storage plus a handful).
    static constexpr std::uint64_t max_zip_entries = std::uint64_t{1} << 24;
    /// Inflated bytes per compressed byte, for deflated zip records (records up to 64 KiB are
    /// exempt: a short run of zeros deflates far beyond this).
    static constexpr std::uint64_t max_inflate_ratio = 100;
    /// Inflated bytes of all deflated records together, per byte of the file.
    static constexpr std::uint64_t max_inflate_per_file_byte = 4;

    // ---- walks of a loaded document
    /// Canonical JSON / tree output: dump_bytes_per_input_byte * pickle bytes + dump_slack.
    /// Shared values are written once, so only values repeated by reference (a long string
    /// fetched from the memo many times) come near this.
    static constexpr std::uint64_t dump_bytes_per_input_byte = 16;
    static constexpr std::uint64_t dump_slack = std::uint64_t{64} << 20;
    /// Logical bytes of a strided view that may be materialised or hashed:
    /// max_view_expansion * storage bytes + view_slack (a zero-stride broadcast can name 2^62
    /// elements over one stored element).
    static constexpr std::uint64_t max_view_expansion = 2;
    static constexpr std::uint64_t view_slack = std::uint64_t{16} << 20;
    /// Upper bound of the canonical JSON whatever the input size.
    static constexpr std::uint64_t max_dump_bytes = std::uint64_t{1} << 32;
};

/// A limits policy's bounds as values. The loaders are compiled once and read the limits of the
/// set they load with from here, so every policy set shares one compiled loader.
struct limit_values {
    std::size_t max_depth, max_stack, max_memo, nodes_per_byte, node_slack, max_int_digits, max_int_bytes,
        max_name_parts, max_key_depth;
    std::size_t max_tensor_rank, max_tensors, max_stream_nesting;
    std::uint64_t max_zip_entries, max_inflate_ratio, max_inflate_per_file_byte;
    std::uint64_t dump_bytes_per_input_byte, dump_slack, max_view_expansion, view_slack, max_dump_bytes;

    /// The values of the limits policy L.
    template <class L>
    static constexpr limit_values of() noexcept {
        return {L::max_depth,         L::max_stack,          L::max_memo,
                L::nodes_per_byte,    L::node_slack,         L::max_int_digits,
                L::max_int_bytes,     L::max_name_parts,     L::max_key_depth,
                L::max_tensor_rank,   L::max_tensors,        L::max_stream_nesting,
                L::max_zip_entries,   L::max_inflate_ratio,  L::max_inflate_per_file_byte,
                L::dump_bytes_per_input_byte, L::dump_slack, L::max_view_expansion,
                L::view_slack,        L::max_dump_bytes};
    }
};

namespace detail {
template <class L, class = void>
struct is_limits : std::false_type {};
template <class L>
struct is_limits<L, std::void_t<decltype(L::max_depth), decltype(L::max_stack), decltype(L::max_memo),
                                decltype(L::nodes_per_byte), decltype(L::node_slack), decltype(L::max_int_digits),
                                decltype(L::max_int_bytes), decltype(L::max_tensor_rank), decltype(L::max_tensors),
                                decltype(L::max_dump_bytes), decltype(L::max_inflate_ratio),
                                decltype(L::max_view_expansion), decltype(L::max_stream_nesting),
                                decltype(L::max_zip_entries), decltype(L::max_inflate_per_file_byte),
                                decltype(L::dump_bytes_per_input_byte), decltype(L::dump_slack),
                                decltype(L::view_slack), decltype(L::max_name_parts),
                                decltype(L::max_key_depth)>> : std::true_type {};
} // namespace detail

} // namespace v0
} // namespace ptload

#endif
