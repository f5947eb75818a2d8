// zip/inflate.hpp: a raw DEFLATE (RFC 1951) decoder for zip entries with method 8.
//
// torch stores every record uncompressed, but an archive re-zipped by another tool may deflate
// them and torch's reader (miniz) accepts that, so ptload does too. The decoder writes into a
// caller buffer whose size is the uncompressed size from the central directory, and the stream
// must fill it exactly: a stream that would write more, or ends having written less, is an
// error, so the output size is known (and bounded by the caller's limits) before decoding.
//
//     std::vector<std::uint8_t> out(entry.size);
//     PTLOAD_TRY(ptload::inflate_raw(compressed.data(), compressed.size(), out.data(), out.size()));
//
// Every failure is errc::bad_zip with the byte offset in the compressed input and a message in
// RFC 1951 terms. Bytes after the final block are an error too: nothing inside a record may be
// left unaccounted for.
#ifndef PTLOAD_ZIP_INFLATE_HPP
#define PTLOAD_ZIP_INFLATE_HPP

#include "../error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace ptload {
inline namespace v0 {
namespace detail {

constexpr unsigned deflate_max_code_bits = 15;
/// Codes up to this many bits decode with one table lookup; longer ones (rare) walk the
/// canonical code one bit at a time.
constexpr unsigned deflate_fast_bits = 10;
constexpr unsigned deflate_max_litlen_codes = 288;  ///< 286 usable + 2 that only the fixed code has
constexpr unsigned deflate_max_dist_codes = 32;     ///< 30 usable + 2 that only the fixed code has

/// A canonical Huffman code (RFC 1951 3.2.2) ready for decoding.
struct huffman_code {
    /// Indexed by the next deflate_fast_bits input bits (LSB first): (symbol << 4) | code length,
    /// or 0 when those bits do not start a code of length <= deflate_fast_bits.
    std::uint16_t fast[1u << deflate_fast_bits];
    std::uint16_t count[deflate_max_code_bits + 1];  ///< number of codes of each length
    std::uint16_t symbol[deflate_max_litlen_codes];  ///< symbols in canonical code order
};

/// Builds `h` from code lengths; returns nullptr, or why the lengths are not a usable prefix code.
/// Like zlib, an incomplete code is accepted only when it is a single code of length 1, and a
/// code with no symbols at all is accepted (any attempt to decode with it fails).
inline const char* build_huffman(huffman_code& h, const std::uint8_t* lengths, unsigned n) noexcept {
    std::memset(&h, 0, sizeof h);
    for (unsigned s = 0; s < n; ++s) ++h.count[lengths[s]];
    const unsigned unused = h.count[0];
    h.count[0] = 0;
    if (unused == n) return nullptr;

    // Each length-L code uses 2^-L of the code space; more than all of it cannot be decoded.
    int left = 1;
    for (unsigned len = 1; len <= deflate_max_code_bits; ++len) {
        left <<= 1;
        left -= h.count[len];
        if (left < 0) return "over-subscribed";
    }
    if (left > 0 && !(n - unused == 1 && h.count[1] == 1)) return "incomplete";

    std::uint16_t offset[deflate_max_code_bits + 2] = {};
    for (unsigned len = 1; len <= deflate_max_code_bits; ++len)
        offset[len + 1] = static_cast<std::uint16_t>(offset[len] + h.count[len]);
    for (unsigned s = 0; s < n; ++s)
        if (lengths[s]) h.symbol[offset[lengths[s]]++] = static_cast<std::uint16_t>(s);

    // Canonical codes: shorter codes first, and within a length in symbol order (3.2.2 step 2).
    unsigned next_code[deflate_max_code_bits + 1] = {};
    unsigned code = 0;
    for (unsigned len = 1; len <= deflate_max_code_bits; ++len) {
        code = (code + h.count[len - 1]) << 1;
        next_code[len] = code;
    }
    for (unsigned s = 0; s < n; ++s) {
        const unsigned len = lengths[s];
        if (len == 0 || len > deflate_fast_bits) continue;
        // Huffman codes are packed starting with their most significant bit, so the table index
        // (the next input bits, LSB first) is the code reversed.
        unsigned c = next_code[len]++, reversed = 0;
        for (unsigned b = 0; b < len; ++b, c >>= 1) reversed = (reversed << 1) | (c & 1u);
        const auto entry = static_cast<std::uint16_t>(s << 4 | len);
        for (unsigned i = reversed; i < (1u << deflate_fast_bits); i += 1u << len) h.fast[i] = entry;
    }
    return nullptr;
}

/// The fixed codes of block type 1 (RFC 1951 3.2.6), built once.
struct fixed_huffman {
    huffman_code litlen;
    huffman_code dist;
    fixed_huffman() noexcept {
        std::uint8_t lengths[deflate_max_litlen_codes];
        unsigned s = 0;
        for (; s < 144; ++s) lengths[s] = 8;
        for (; s < 256; ++s) lengths[s] = 9;
        for (; s < 280; ++s) lengths[s] = 7;
        for (; s < 288; ++s) lengths[s] = 8;
        (void)build_huffman(litlen, lengths, deflate_max_litlen_codes);
        // All 32 five-bit codes exist so the code is complete; 30 and 31 are rejected on use.
        for (s = 0; s < deflate_max_dist_codes; ++s) lengths[s] = 5;
        (void)build_huffman(dist, lengths, deflate_max_dist_codes);
    }
};

inline const fixed_huffman& fixed_codes() noexcept {
    static const fixed_huffman codes;
    return codes;
}

/// Decoder state: input bits (LSB first, up to 64 buffered) and the output position.
class inflater {
public:
    inflater(const std::uint8_t* in, std::size_t in_size, std::uint8_t* out, std::size_t out_size) noexcept
        : in_(in), in_size_(in_size), out_(out), out_size_(out_size) {}

    status run() {
        bool final_block = false;
        while (!final_block) {
            if (!need(3)) return truncated();
            final_block = take(1) != 0;
            switch (take(2)) {
            case 0: PTLOAD_TRY(stored_block()); break;
            case 1: PTLOAD_TRY(codes(fixed_codes().litlen, fixed_codes().dist)); break;
            case 2: PTLOAD_TRY(dynamic_block()); break;
            default: return fail("invalid block type 3");
            }
        }
        // Only the padding bits of the last byte may remain.
        const std::size_t left = in_size_ - in_pos_ + bit_count_ / 8;
        if (left != 0)
            return fail({left, " bytes after the final block"});
        if (out_pos_ != out_size_)
            return fail({"stream ends after ", out_pos_, " bytes, ", out_size_, " expected"});
        return {};
    }

private:
    // --- input bits -------------------------------------------------------------------------
    void refill() noexcept {
        while (bit_count_ <= 56 && in_pos_ < in_size_) {
            bit_buf_ |= std::uint64_t{in_[in_pos_++]} << bit_count_;
            bit_count_ += 8;
        }
    }
    /// Whether n (<= 57) more bits exist; buffers them.
    bool need(unsigned n) noexcept {
        if (bit_count_ < n) refill();
        return bit_count_ >= n;
    }
    /// Consumes n buffered bits (n <= bit_count_).
    std::uint32_t take(unsigned n) noexcept {
        const auto v = static_cast<std::uint32_t>(bit_buf_ & ((std::uint64_t{1} << n) - 1));
        bit_buf_ >>= n;
        bit_count_ -= n;
        return v;
    }
    /// Offset of the first input byte not fully consumed, for error messages.
    std::uint64_t offset() const noexcept { return in_pos_ - bit_count_ / 8; }

    // Errors are made out of line and handed over (error.hpp): the decoder fails in many places.
    PTLOAD_COLD error_handoff fail(std::string_view message) const {
        return detail::failure(errc::bad_zip, offset(), {"deflate: ", message});
    }
    PTLOAD_COLD error_handoff fail(std::initializer_list<message_piece> message) const { return fail(message_text(message)); }
    error_handoff truncated() const { return fail("compressed data ends inside a block"); }
    error_handoff overflow() const { return fail({"output would exceed the expected ", out_size_, " bytes"}); }

    /// Next symbol of code h, or -1 (with `err` set) for an invalid code or missing input.
    int decode(const huffman_code& h, error_handoff& err) {
        refill();
        const std::uint16_t entry = h.fast[bit_buf_ & ((1u << deflate_fast_bits) - 1)];
        if (PTLOAD_LIKELY(entry != 0)) {
            const unsigned len = entry & 15u;
            // Past the end the buffer reads as zeros; a code that needs them is not in the input.
            if (len > bit_count_) {
                err = truncated();
                return -1;
            }
            take(len);
            return entry >> 4;
        }
        // Longer codes: walk the canonical code (as zlib's puff does), one bit per length.
        unsigned code = 0, first = 0, index = 0;
        for (unsigned len = 1; len <= deflate_max_code_bits; ++len) {
            if (len > bit_count_) {
                err = truncated();
                return -1;
            }
            code |= static_cast<unsigned>(bit_buf_ >> (len - 1)) & 1u;
            const unsigned count = h.count[len];
            if (code - first < count) {
                take(len);
                return h.symbol[index + (code - first)];
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        err = fail("invalid Huffman code");
        return -1;
    }

    // --- blocks -----------------------------------------------------------------------------
    status stored_block() {
        // Drop to the byte boundary, then hand the whole buffered bytes back to the input.
        take(bit_count_ % 8);
        in_pos_ -= bit_count_ / 8;
        bit_buf_ = 0;
        bit_count_ = 0;
        if (in_size_ - in_pos_ < 4) return truncated();
        const unsigned len = in_[in_pos_] | unsigned{in_[in_pos_ + 1]} << 8;
        const unsigned nlen = in_[in_pos_ + 2] | unsigned{in_[in_pos_ + 3]} << 8;
        if (len != (~nlen & 0xFFFFu)) return fail("stored block length does not match its complement");
        in_pos_ += 4;
        if (len > in_size_ - in_pos_) return truncated();
        if (len > out_size_ - out_pos_) return overflow();
        if (len) std::memcpy(out_ + out_pos_, in_ + in_pos_, len);
        in_pos_ += len;
        out_pos_ += len;
        return {};
    }

    status dynamic_block() {
        if (!need(14)) return truncated();
        const unsigned hlit = take(5) + 257, hdist = take(5) + 1, hclen = take(4) + 4;
        if (hlit > 286 || hdist > 30) return fail("too many literal/length or distance codes");

        // Code lengths of the code-length alphabet, in this permuted order (3.2.7).
        static constexpr std::uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
        std::uint8_t lengths[286 + 30] = {};
        for (unsigned i = 0; i < hclen; ++i) {
            if (!need(3)) return truncated();
            lengths[order[i]] = static_cast<std::uint8_t>(take(3));
        }
        // The code-length code must be complete: unlike the other two, not even a lone code is
        // allowed (as in zlib), and a lone code is the only incomplete one build_huffman accepts.
        unsigned used = 0;
        for (unsigned i = 0; i < 19; ++i) used += lengths[i] != 0;
        huffman_code lencode;
        const char* why = used < 2 ? "incomplete" : build_huffman(lencode, lengths, 19);
        if (why) return fail({why, " code-length code"});

        std::memset(lengths, 0, 19);
        error_handoff err{nullptr};
        for (unsigned i = 0; i < hlit + hdist;) {
            const int sym = decode(lencode, err);
            if (sym < 0) return err;
            if (sym < 16) {
                lengths[i++] = static_cast<std::uint8_t>(sym);
                continue;
            }
            std::uint8_t repeated = 0;
            unsigned times;
            if (sym == 16) {
                if (i == 0) return fail("length repeat with no previous length");
                repeated = lengths[i - 1];
                if (!need(2)) return truncated();
                times = 3 + take(2);
            } else if (sym == 17) {
                if (!need(3)) return truncated();
                times = 3 + take(3);
            } else {
                if (!need(7)) return truncated();
                times = 11 + take(7);
            }
            if (times > hlit + hdist - i) return fail("code length repeat runs past the last code");
            while (times--) lengths[i++] = repeated;
        }
        if (lengths[256] == 0) return fail("no end-of-block code");

        huffman_code litlen, dist;
        if ((why = build_huffman(litlen, lengths, hlit)) != nullptr)
            return fail({why, " literal/length code"});
        if ((why = build_huffman(dist, lengths + hlit, hdist)) != nullptr)
            return fail({why, " distance code"});
        return codes(litlen, dist);
    }

    /// Literals and length/distance pairs until end-of-block (3.2.5).
    status codes(const huffman_code& litlen, const huffman_code& dist) {
        static constexpr std::uint16_t length_base[29] = {3,  4,  5,  6,  7,  8,  9,  10,  11,  13,
                                                          15, 17, 19, 23, 27, 31, 35, 43,  51,  59,
                                                          67, 83, 99, 115, 131, 163, 195, 227, 258};
        static constexpr std::uint8_t length_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                          2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
        static constexpr std::uint16_t dist_base[30] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                                        33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                                        1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
        static constexpr std::uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                                        6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
        error_handoff err{nullptr};
        for (;;) {
            int sym = decode(litlen, err);
            if (sym < 0) return err;
            if (sym < 256) {
                if (out_pos_ == out_size_) return overflow();
                out_[out_pos_++] = static_cast<std::uint8_t>(sym);
                continue;
            }
            if (sym == 256) return {};
            sym -= 257;
            if (sym >= 29) return fail({"invalid literal/length symbol ", sym + 257});
            if (!need(length_extra[sym])) return truncated();
            const std::size_t len = length_base[sym] + take(length_extra[sym]);

            const int dsym = decode(dist, err);
            if (dsym < 0) return err;
            if (dsym >= 30) return fail({"invalid distance symbol ", dsym});
            if (!need(dist_extra[dsym])) return truncated();
            const std::size_t distance = dist_base[dsym] + take(dist_extra[dsym]);

            if (distance > out_pos_)
                return fail({"distance ", distance, " reaches before the start of the output"});
            if (len > out_size_ - out_pos_) return overflow();
            copy_match(out_ + out_pos_, distance, len);
            out_pos_ += len;
        }
    }

    /// Copies len bytes from distance bytes back. When the two overlap the source is a pattern
    /// that repeats; each copy doubles the span of it already written, so memcpy stays legal.
    static void copy_match(std::uint8_t* dst, std::size_t distance, std::size_t len) noexcept {
        const std::uint8_t* src = dst - distance;
        while (len > distance) {
            std::memcpy(dst, src, distance);
            dst += distance;
            len -= distance;
            distance *= 2;
        }
        std::memcpy(dst, src, len);
    }

    const std::uint8_t* in_;
    std::size_t in_size_;
    std::size_t in_pos_ = 0;  ///< next byte to move into bit_buf_
    std::uint64_t bit_buf_ = 0;
    unsigned bit_count_ = 0;
    std::uint8_t* out_;
    std::size_t out_size_;
    std::size_t out_pos_ = 0;
};

} // namespace detail

/// Decodes the raw DEFLATE stream in[0, in_size) into exactly out_size bytes at out.
/// Fails (errc::bad_zip, offset within `in`) on any malformed stream, on output that would not
/// fit in out_size, on a stream that ends short of out_size, and on bytes after the final block.
/// Never reads or writes outside the two buffers.
///     PTLOAD_TRY(ptload::inflate_raw(src, n, dst.data(), dst.size()));
inline status inflate_raw(const std::uint8_t* in, std::size_t in_size, std::uint8_t* out, std::size_t out_size) {
    return detail::inflater(in, in_size, out, out_size).run();
}

} // namespace v0
} // namespace ptload

#endif
