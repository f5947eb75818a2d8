// error.hpp: the error model. The core never throws; every failure is a result<T> holding an
// error with a code, the byte offset where it was found, the record/opcode/key path it concerns
// and a human message.
#ifndef PTLOAD_ERROR_HPP
#define PTLOAD_ERROR_HPP

#include "config.hpp"
#include "detail/message.hpp"
#include "detail/owner.hpp"

#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ptload {
inline namespace v0 {

/// What went wrong. Each limit has its own code so callers can tell amplification from damage.
enum class errc : std::uint8_t {
    ok = 0,
    // input
    io_error,            ///< the byte source failed to read or seek
    truncated,           ///< input ended before a complete value
    // pickle machine
    unknown_opcode,      ///< a byte that is not a pickle opcode (or a protocol > 5)
    stack_underflow,     ///< an opcode needed more stack items than there are
    mark_missing,        ///< an opcode needed a MARK and there is none, or a MARK sits where a value must
    memo_missing,        ///< GET of a memo index that was never PUT
    bad_operand,         ///< an opcode got a value of the wrong kind (APPEND to a dict, ...)
    bad_text,            ///< a text argument (INT, FLOAT, STRING, GET, ...) does not parse
    decode_error,        ///< a string is not valid in its encoding (strict mode)
    frame_error,         ///< an opcode or argument straddles a FRAME boundary
    no_buffer,           ///< NEXT_BUFFER without (enough) out-of-band buffers supplied
    ext_code,            ///< EXT1/EXT2/EXT4: there is no extension registry
    trailing_data,       ///< bytes after the final STOP where none may be
    disallowed_global,   ///< a global that is never legitimate in a checkpoint (os.system, eval, ...)
    // limits (see policies/limits.hpp)
    limit_depth,
    limit_stack,
    limit_memo,
    limit_nodes,
    limit_integer,
    limit_output,        ///< a dump would write more than the output bound
    limit_tensor,        ///< tensor rank or count, or a size beyond the address space
    limit_inflate,       ///< a deflated zip record inflates beyond the ratio or total bound
    limit_view,          ///< a strided view's logical bytes exceed what its storage may expand to
    // containers and torch
    bad_format,          ///< not a file kind ptload reads (says what it looks like)
    bad_zip,             ///< malformed or hostile zip structure
    missing_record,      ///< a record that the checkpoint refers to is absent
    bad_storage,         ///< storage record/size/dtype inconsistent
    bad_tensor,          ///< tensor metadata inconsistent with its storage
    unsupported,         ///< a valid feature ptload does not implement (named in the message)
    // access
    not_found,           ///< key or index lookup failed (context holds the key path)
    wrong_kind,          ///< typed getter on a value of another kind
    invalid_argument,    ///< a caller-supplied option is invalid
};

/// Short stable name of an error code, e.g. "truncated".
constexpr const char* errc_name(errc c) noexcept {
    switch (c) {
    case errc::ok: return "ok";
    case errc::io_error: return "io_error";
    case errc::truncated: return "truncated";
    case errc::unknown_opcode: return "unknown_opcode";
    case errc::stack_underflow: return "stack_underflow";
    case errc::mark_missing: return "mark_missing";
    case errc::memo_missing: return "memo_missing";
    case errc::bad_operand: return "bad_operand";
    case errc::bad_text: return "bad_text";
    case errc::decode_error: return "decode_error";
    case errc::frame_error: return "frame_error";
    case errc::no_buffer: return "no_buffer";
    case errc::ext_code: return "ext_code";
    case errc::trailing_data: return "trailing_data";
    case errc::disallowed_global: return "disallowed_global";
    case errc::limit_depth: return "limit_depth";
    case errc::limit_stack: return "limit_stack";
    case errc::limit_memo: return "limit_memo";
    case errc::limit_nodes: return "limit_nodes";
    case errc::limit_integer: return "limit_integer";
    case errc::limit_output: return "limit_output";
    case errc::limit_tensor: return "limit_tensor";
    case errc::limit_inflate: return "limit_inflate";
    case errc::limit_view: return "limit_view";
    case errc::bad_format: return "bad_format";
    case errc::bad_zip: return "bad_zip";
    case errc::missing_record: return "missing_record";
    case errc::bad_storage: return "bad_storage";
    case errc::bad_tensor: return "bad_tensor";
    case errc::unsupported: return "unsupported";
    case errc::not_found: return "not_found";
    case errc::wrong_kind: return "wrong_kind";
    case errc::invalid_argument: return "invalid_argument";
    }
    return "unknown";
}

/// Offset value meaning "not tied to a byte position".
inline constexpr std::uint64_t no_offset = ~std::uint64_t{0};

/// A failure: code, byte offset in the file, what it concerns (record, opcode, key path) and why.
struct error {
    errc code = errc::ok;
    std::uint64_t offset = no_offset;
    std::string context;  ///< e.g. "archive/data.pkl: BINUNICODE" or "[\"state_dict\"][\"fc.w\"]"
    std::string message;  ///< e.g. "string length 4294967295 runs past the end (12 bytes left)"

    /// One line for humans: "truncated at byte 12 in data.pkl (BINUNICODE): ...".
    std::string what() const {
        std::string s = errc_name(code);
        if (offset != no_offset) {
            s += " at byte ";
            s += std::to_string(offset);
        }
        if (!context.empty()) {
            s += " in ";
            s += context;
        }
        if (!message.empty()) {
            s += ": ";
            s += message;
        }
        return s;
    }
};

inline error make_error(errc c, std::uint64_t offset, std::string message, std::string context = {}) {
    return error{c, offset, std::move(context), std::move(message)};
}

/// An error built out of line, handed to a result as a bare pointer that the result then owns
/// (one made and not given to a result is leaked, hence nodiscard). A cold function that
/// returns one (in a register) leaves its hot caller with no stack slot for an error and no
/// code to destroy one: the pickle machine's opcode handlers, whose error paths are such calls,
/// then need no stack frame at all.
struct [[nodiscard]] error_handoff {
    error* owned;
};
inline error_handoff hand_off(error e) { return {new error(std::move(e))}; }

namespace detail {
inline void delete_error(error* e) noexcept { delete e; }
/// The owner of a result's error.
using owned_error = owner<error, &delete_error>;
/// A failed result's error for another result to own: the pointer moves, and the failed one
/// keeps an empty error so that it still reads as failed (a result<T> that read as holding a
/// value would destroy a T it never made). Out of line: a caller's error path is one call.
PTLOAD_COLD inline error_handoff pass_on(owned_error& e) {
    error* passed = e.release();
    e.reset(new error());
    return {passed};
}
/// The library's `return make_error(...)`: the error is made out of line and handed to the
/// caller's result, so each of its hundreds of error paths is one call, with no error and no
/// strings made and destroyed in the function that fails. Made inline they were an eighth of a
/// loader's machine code, and the compiler optimised all of it.
PTLOAD_COLD inline error_handoff failure(errc code, std::uint64_t offset, std::string_view message,
                                         std::string_view context = {}) {
    return hand_off(make_error(code, offset, std::string(message), std::string(context)));
}
/// failure() with a message of pieces, written out of line (detail/message.hpp).
PTLOAD_COLD inline error_handoff failure(errc code, std::uint64_t offset, std::initializer_list<message_piece> message,
                                         std::string_view context = {}) {
    return failure(code, offset, message_text(message), context);
}
} // namespace detail

/// Either a T or an error. There is deliberately no implicit conversion to T: a caller must look.
/// The error lives behind a pointer, so success costs a T plus one null pointer: the pickle
/// machine returns a status from every opcode, and an inline error (two strings) would be
/// zero-filled on each of them.
template <class T>
class [[nodiscard]] result {
public:
    using value_type = T;
    result(const T& v) { new (&u_.value) T(v); }
    result(T&& v) { new (&u_.value) T(std::move(v)); }
    result(error e) : err_(new error(std::move(e))) {}
    result(error_handoff h) noexcept : err_(h.owned) {}
    result(const result& o) : err_(o.err_ ? new error(*o.err_) : nullptr) { if (!err_) new (&u_.value) T(o.u_.value); }
    result(result&& o) noexcept(std::is_nothrow_move_constructible<T>::value) : err_(std::move(o.err_)) {
        if (!err_) new (&u_.value) T(std::move(o.u_.value));
        else o.err_.reset(new error(*err_));  // a moved-from error result stays an error (cold path)
    }
    result& operator=(result o) noexcept(std::is_nothrow_move_constructible<T>::value) {
        destroy();
        err_ = std::move(o.err_);
        if (!err_) new (&u_.value) T(std::move(o.u_.value));
        else o.err_.reset(new error(*err_));
        return *this;
    }
    ~result() { destroy(); }
    bool has_value() const noexcept { return !err_; }
    explicit operator bool() const noexcept { return !err_; }
    T& value() & noexcept { return u_.value; }
    const T& value() const& noexcept { return u_.value; }
    T&& value() && noexcept { return std::move(u_.value); }
    T& operator*() & noexcept { return u_.value; }
    const T& operator*() const& noexcept { return u_.value; }
    T* operator->() noexcept { return &u_.value; }
    const T* operator->() const noexcept { return &u_.value; }
    const error& err() const& noexcept { return *err_; }
    error&& err() && noexcept { return std::move(*err_); }
    T value_or(T fallback) const { return err_ ? fallback : u_.value; }
    /// The error handed on to the caller's result without a copy: `return std::move(r).pass_error();`
    /// (err() moves the error's fields into a new one: two strings and an allocation per level).
    error_handoff pass_error() && { return detail::pass_on(err_); }
private:
    void destroy() noexcept { if (!err_) u_.value.~T(); }
    union storage { storage() {} ~storage() {} T value; } u_;
    detail::owned_error err_;
};

template <>
class [[nodiscard]] result<void> {
public:
    result() = default;
    result(error e) : err_(new error(std::move(e))) {}
    result(error_handoff h) noexcept : err_(h.owned) {}
    result(const result& o) : err_(o.err_ ? new error(*o.err_) : nullptr) {}
    result(result&&) noexcept = default;
    result& operator=(result o) noexcept { err_ = std::move(o.err_); return *this; }
    bool has_value() const noexcept { return !err_; }
    explicit operator bool() const noexcept { return !err_; }
    const error& err() const& noexcept { return *err_; }
    error&& err() && noexcept { return std::move(*err_); }
    error_handoff pass_error() && { return detail::pass_on(err_); }
private:
    detail::owned_error err_;
};

using status = result<void>;

} // namespace v0
} // namespace ptload

/// Evaluate a result-returning expression; on failure return its error from the enclosing function.
#define PTLOAD_TRY(expr)                                       \
    do {                                                       \
        auto&& ptload_try_r_ = (expr);                         \
        if (PTLOAD_UNLIKELY(!ptload_try_r_.has_value()))       \
            return std::move(ptload_try_r_).pass_error();      \
    } while (0)

#endif
