// pickle/machine.hpp: the pickle virtual machine (FORMAT.md 1), protocols 0-5.
//
// The machine reads one pickle from a contiguous byte range and builds inert values in a
// document. Dispatch is a table of 256 handlers built at compile time for the chosen policies
// and hooks; bytes that are not opcodes share one error handler. Opcodes are handled by family
// (pickle/opcodes.hpp says each one's): the stack and framing, constants, text, containers,
// the memo, and objects. Nothing is ever imported or
// called: globals resolve through pickle/globals.hpp, and the machine itself models only
// Python's own values (builtins, OrderedDict, numpy arrays). Anything else is given meaning by
// the hooks of a Handler, modelled on the methods of Python's Unpickler that a subclass
// overrides (torch's is torch_handler, torch/rebuild.hpp):
//
//     struct Handler {
//         // BINPERSID / PERSID: what the persistent id `pid` stands for (required)
//         ptload::result<ptload::node_id> persistent_load(ptload::document_data&, ptload::node_id pid,
//                                                          std::uint64_t offset);
//         // optional, find_class: the node to push for a global that passed the machine's
//         // security checks (never a dangerous one, nor in strict mode one off the allowlist),
//         // or null_node for the machine's own global node
//         ptload::result<ptload::node_id> find_class(ptload::document_data&, const pickle::resolved_global&,
//                                                    std::uint64_t offset);
//         // optional, REDUCE / INST / OBJ of a global the machine does not model itself:
//         // callable(*args), or null_node to keep an opaque object
//         ptload::result<ptload::node_id> reduce(ptload::document_data&, ptload::node_id callable, ptload::node_id args,
//                                                std::uint64_t offset);
//         // optional, NEWOBJ / NEWOBJ_EX of a class the machine does not model:
//         // cls.__new__(cls, *args, **kwargs) (kwargs is null_node for NEWOBJ), or null_node
//         // to keep an opaque object
//         ptload::result<ptload::node_id> newobj(ptload::document_data&, ptload::node_id cls, ptload::node_id args,
//                                                ptload::node_id kwargs, std::uint64_t offset);
//         // optional, BUILD on a value the machine does not model: true when the Handler set
//         // the state, false for the machine's default (empty state does nothing, other
//         // state is bad_operand)
//         ptload::result<bool> build(ptload::document_data&, ptload::node_id obj, ptload::node_id state,
//                                    std::uint64_t offset);
//         // optional, a fast lane for a run of opcodes the Handler knows by heart: the global
//         // whose memo GET may start one, and the hook that takes the run in one step through
//         // the machine's lane (below), or leaves every byte to the machine
//         ptload::node_id fused_callable() const;
//         template <class Lane> ptload::status fused_call(Lane& lane);
//     };
//
// Errors a hook returns get the opcode's offset (unless they carry one) and context. A
// Handler without the optional hooks reads every global the machine does not model as an
// opaque object.
#ifndef PTLOAD_PICKLE_MACHINE_HPP
#define PTLOAD_PICKLE_MACHINE_HPP

#include "../detail/flat_map.hpp"
#include "../detail/huge_pages.hpp"
#include "../detail/pod_vector.hpp"
#include "../detail/text.hpp"
#include "../detail/utf8.hpp"
#include "../detail/vector.hpp"
#include "../error.hpp"
#include "../policies/select.hpp"
#include "../span.hpp"
#include "../value.hpp"
#include "globals.hpp"
#include "keys.hpp"
#include "numpy.hpp"
#include "opcodes.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace ptload {
inline namespace v0 {
namespace pickle {

/// Inputs of one run besides the bytes.
struct run_options {
    std::string_view record;                         ///< for messages: "archive/data.pkl"
    std::uint64_t base_offset = 0;                   ///< file offset of the first byte
    span<const span<const std::uint8_t>> buffers;    ///< out-of-band buffers for NEXT_BUFFER
    /// Strict mode only: "module.name" globals allowed beyond the default allowlist.
    span<const std::string> safe_globals;
    /// The input is a block of the caller's own that nothing reads once the machine has parsed
    /// it: its pages are given back to the system as the parse moves on (every few MiB), so a
    /// big pickle read from a file is not resident beside the values it becomes.
    bool release_parsed_input = false;
};

// Which optional hooks a Handler has.
template <class H, class = void>
struct has_find_class : std::false_type {};
template <class H>
struct has_find_class<H, std::void_t<decltype(std::declval<H&>().find_class(std::declval<document_data&>(),
                                                                            std::declval<const resolved_global&>(),
                                                                            std::uint64_t{}))>> : std::true_type {};
template <class H, class = void>
struct has_reduce : std::false_type {};
template <class H>
struct has_reduce<H, std::void_t<decltype(std::declval<H&>().reduce(std::declval<document_data&>(), node_id{}, node_id{},
                                                                    std::uint64_t{}))>> : std::true_type {};
template <class H, class = void>
struct has_newobj : std::false_type {};
template <class H>
struct has_newobj<H, std::void_t<decltype(std::declval<H&>().newobj(std::declval<document_data&>(), node_id{}, node_id{},
                                                                    node_id{}, std::uint64_t{}))>> : std::true_type {};
template <class H, class = void>
struct has_fused_call : std::false_type {};
template <class H>
struct has_fused_call<H, std::void_t<decltype(std::declval<const H&>().fused_callable())>> : std::true_type {};
template <class H, class = void>
struct has_build : std::false_type {};
template <class H>
struct has_build<H, std::void_t<decltype(std::declval<H&>().build(std::declval<document_data&>(), node_id{}, node_id{},
                                                                  std::uint64_t{}))>> : std::true_type {};

/// The machine for one Handler; its decoding, limits and globals policy are values, so every
/// policy set shares its code (see `machine` for the usual spelling).
template <class Handler>
class basic_machine {
public:
    /// `allowlist_only`: strict mode (globals policy ptload::strict), globals off the allowlist
    /// are refused.
    basic_machine(document_data& doc, Handler& handler, const std::uint8_t* data, std::size_t size, run_options opts,
                  const detail::decoding_ops& decoding, const limit_values& limits, bool allowlist_only)
        : doc_(doc), handler_(handler), begin_(data), cur_(data), end_(data + size), opts_(std::move(opts)),
          decoding_(decoding), limits_(limits), keys_(doc, limits.max_key_depth), allowlist_only_(allowlist_only) {
        std::uint64_t budget = static_cast<std::uint64_t>(size) * limits_.nodes_per_byte + limits_.node_slack;
        node_budget_ = doc.node_count() + budget;
        if (opts_.release_parsed_input && size > 2 * release_step) release_at_ = begin_ + release_step;
        for (node_id& id : small_ints_) id = null_node;
    }

    /// Runs to STOP and returns the unpickled value; position() is then just past STOP.
    result<node_id> run() {
        stopped_ = false;
        update_limit();
        for (;;) {
            // One test per opcode for every event that is not an opcode (see limit_).
            if (PTLOAD_UNLIKELY(cur_ >= limit_)) {
                if (stopped_) break;
                if (cur_ >= end_) {
                    op_at_ = cur_;  // no opcode here: current_op() is 0
                    return fail(errc::truncated, "pickle ended before STOP");
                }
                if (cur_ == frame_end_) {  // between frames
                    frame_end_ = nullptr;
                    take_end_ = end_;
                }
                if (cur_ >= release_at_) release_parsed();
                update_limit();
            }
            op_at_ = cur_++;
            status s = dispatch_table[*op_at_](*this);
            if (PTLOAD_UNLIKELY(!s.has_value())) return std::move(s).pass_error();
            if (PTLOAD_UNLIKELY(doc_.node_count() > node_budget_))
                return fail(errc::limit_nodes, {"more than ", node_budget_,
                                                " values for a pickle of this size (limits::nodes_per_byte)"});
        }
        return result_;
    }

    std::size_t position() const noexcept { return static_cast<std::size_t>(cur_ - begin_); }
    int protocol() const noexcept { return proto_; }

    /// What a Handler's fused_call hook sees of the machine, right after a GET pushed its
    /// fused_callable(): the bytes that follow, up to the end of the current frame; readers for
    /// the opcodes such a run is made of, which check one opcode and its argument and move past
    /// it, or return false and move nothing; and makers that make each value as the opcode's own
    /// handler does (the shared small ints, bools and empty tuple included), so that a run
    /// taken in one step leaves the document, the memo and the stack as the opcodes one by one
    /// would. A hook first reads the whole run without changing anything, then makes it.
    class lane {
    public:
        explicit lane(basic_machine& m) noexcept : m_(m) {}

        const std::uint8_t* begin() const noexcept { return m_.cur_; }
        const std::uint8_t* end() const noexcept { return m_.take_end_; }
        document_data& doc() noexcept { return m_.doc_; }
        const document_data& doc() const noexcept { return m_.doc_; }
        /// Whether a run that makes at most `nodes` values and holds at most `stack` more items and
        /// `marks` more marks stays inside the limits: the opcodes one by one would then hit none.
        PTLOAD_INLINE bool has_room(std::size_t nodes, std::size_t stack, std::size_t marks) const noexcept {
            return m_.doc_.node_count() + nodes <= m_.node_budget_ && m_.stack_.size() + stack <= m_.limits_.max_stack &&
                   m_.marks_.size() + marks <= m_.limits_.max_depth;
        }

        // ---- readers: each takes the end of the bytes it may read (end(), kept by the caller)
        /// Opcode b, without argument.
        PTLOAD_INLINE static bool op(const std::uint8_t*& p, const std::uint8_t* end, std::uint8_t b) noexcept {
            if (p >= end || *p != b) return false;
            ++p;
            return true;
        }
        /// BINGET / LONG_BINGET of a memo entry that is there now, and its index (a run that
        /// PUTs before it GETs must not read an entry one of its PUTs may have written).
        PTLOAD_INLINE bool get(const std::uint8_t*& p, const std::uint8_t* end, node_id& out,
                               std::uint64_t& index) const noexcept {
            const std::uint8_t* q = p;
            if (!inline_count(q, end, 'h', 'j', index)) return false;
            out = m_.memo_at(index);
            if (out == null_node) return false;
            p = q;
            return true;
        }
        /// An optional BINPUT / LONG_BINPUT / MEMOIZE: `at` is the opcode, or null when none is
        /// there, and `index` the index it writes (memoize_index for MEMOIZE, whose index is the
        /// memo's count when it runs: memo_count() or above). Always true.
        PTLOAD_INLINE static bool put(const std::uint8_t*& p, const std::uint8_t* end, const std::uint8_t*& at,
                                      std::uint64_t& index) noexcept {
            at = p;
            if (inline_count(p, end, 'q', 'r', index)) return true;
            index = memoize_index;
            if (op(p, end, 0x94)) return true;
            at = nullptr;
            return true;
        }
        static constexpr std::uint64_t memoize_index = ~std::uint64_t{0};
        /// The memo's entry count before the run.
        std::uint64_t memo_count() const noexcept { return m_.memo_count_; }
        /// BININT1 / BININT2 / BININT: its value; `at` is the opcode (integer_node makes it).
        PTLOAD_INLINE static bool integer(const std::uint8_t*& p, const std::uint8_t* end, std::int64_t& v,
                                          const std::uint8_t*& at) noexcept {
            if (p >= end) return false;
            const std::size_t width = *p == 'K' ? 1 : *p == 'M' ? 2 : *p == 'J' ? 4 : 0;
            if (!width || static_cast<std::size_t>(end - p) < 1 + width) return false;
            at = p;
            v = integer_at(p);
            p += 1 + width;
            return true;
        }
        /// SHORT_BINUNICODE / BINUNICODE whose text is ASCII (the rest of UTF-8 is left to the machine).
        PTLOAD_INLINE static bool ascii_text(const std::uint8_t*& p, const std::uint8_t* end,
                                             std::string_view& out) noexcept {
            if (p >= end) return false;
            const std::size_t width = *p == 0x8C ? 1 : *p == 'X' ? 4 : 0;
            if (!width || static_cast<std::size_t>(end - p) < 1 + width) return false;
            const std::uint64_t n = width == 1 ? p[1] : little_endian<std::uint32_t>(p + 1, std::make_index_sequence<4>{});
            const std::uint8_t* text = p + 1 + width;
            if (n > static_cast<std::uint64_t>(end - text) || !detail::all_ascii(text, static_cast<std::size_t>(n)))
                return false;
            out = std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(n));
            p = text + n;
            return true;
        }
        /// Whether `id` is the OrderedDict class, whose call with no arguments makes an empty one.
        PTLOAD_INLINE bool is_ordered_dict(node_id id) const noexcept {
            return m_.kind_of(id) == kind::global && m_.known_of(id) == known_global::ordered_dict;
        }

        // ---- makers, in the order the opcodes would run
        /// The value of the integer opcode at `at` (integer() read it).
        PTLOAD_INLINE node_id integer_node(const std::uint8_t* at) {
            const std::int64_t v = integer_at(at);
            return *at == 'K' ? m_.small_int_node(static_cast<std::uint8_t>(v)) : m_.doc_.make_int(v);
        }
        /// The str of an ascii_text() argument.
        PTLOAD_INLINE node_id text_node(std::string_view s) { return m_.doc_.make_text(kind::string, s.data(), s.size()); }
        PTLOAD_INLINE node_id boolean(bool v) { return m_.bool_node(v); }
        /// A tuple of n items: EMPTY_TUPLE's shared one when `empty_opcode`, else a new one.
        PTLOAD_INLINE node_id tuple(const node_id* items, std::size_t n, bool empty_opcode) {
            return empty_opcode ? m_.empty_tuple_node() : m_.doc_.make_seq(kind::tuple, items, n);
        }
        /// OrderedDict() (REDUCE of the class on the empty tuple).
        PTLOAD_INLINE node_id empty_ordered_dict() { return m_.doc_.make_seq(kind::ordered_dict, nullptr, 0); }
        /// The PUT at `at` of `v` (nothing when `at` is null), failing as that opcode would.
        PTLOAD_INLINE status memo_put(const std::uint8_t* at, node_id v) {
            if (!at) return {};
            std::uint64_t index = m_.memo_count_;  // MEMOIZE
            if (*at == 'q') index = at[1];
            else if (*at == 'r') index = little_endian<std::uint32_t>(at + 1, std::make_index_sequence<4>{});
            m_.op_at_ = at;
            return m_.memo_put(index, v);
        }
        /// An error of the opcode at `op`, as the machine reports a hook's error there.
        error locate(const std::uint8_t* op, error e) {
            m_.op_at_ = op;
            return m_.locate(std::move(e));
        }
        /// Ends the run at `next` with `result` in place of the GET's value on the stack.
        void finish(const std::uint8_t* next, node_id result) noexcept {
            m_.stack_.back() = result;
            m_.cur_ = next;
        }

    private:
        /// Opcode `one` with a u1 argument or `four` with a u4 one (the memo opcodes).
        PTLOAD_INLINE static bool inline_count(const std::uint8_t*& p, const std::uint8_t* end, std::uint8_t one,
                                               std::uint8_t four, std::uint64_t& out) noexcept {
            if (p >= end) return false;
            const std::size_t width = *p == one ? 1 : *p == four ? 4 : 0;
            if (!width || static_cast<std::size_t>(end - p) < 1 + width) return false;
            out = width == 1 ? p[1] : little_endian<std::uint32_t>(p + 1, std::make_index_sequence<4>{});
            p += 1 + width;
            return true;
        }
        /// The value of the BININT1 / BININT2 / BININT at `at` (integer() checked it).
        static std::int64_t integer_at(const std::uint8_t* at) noexcept {
            if (*at == 'K') return at[1];
            if (*at == 'M') return little_endian<std::uint16_t>(at + 1, std::make_index_sequence<2>{});
            return static_cast<std::int32_t>(little_endian<std::uint32_t>(at + 1, std::make_index_sequence<4>{}));
        }
        basic_machine& m_;
    };

private:
    using handler_fn = status (*)(basic_machine&);

    /// How far the parse moves between releases of its input (release_parsed_input).
    static constexpr std::size_t release_step = std::size_t{4} << 20;
    /// Between opcodes, nothing behind cur_ is read again: every argument is copied into the
    /// document when its opcode runs, and values refer to each other by number.
    PTLOAD_NOINLINE void release_parsed() noexcept {
        released_ = detail::release_pages(released_, static_cast<std::size_t>(cur_ - released_));
        release_at_ = static_cast<std::size_t>(end_ - cur_) > release_step ? cur_ + release_step : end_;
    }
    /// The nearest of the pickle's end, the current frame's end and the next release.
    void update_limit() noexcept {
        limit_ = release_at_;  // never past end_
        if (frame_end_ && frame_end_ < limit_) limit_ = frame_end_;
    }

    // ---------------------------------------------------------------- errors
    /// The error of the running opcode, made out of line: an opcode's error path is one call
    /// (with the message's own making when it is built from values).
    PTLOAD_COLD error_handoff fail(errc code, std::string_view message) const {
        return hand_off(make_error(code, file_offset(), std::string(message), op_context()));
    }
    PTLOAD_COLD error_handoff fail(errc code, std::initializer_list<detail::message_piece> message) const {
        return fail(code, detail::message_text(message));
    }
    /// Adds this opcode's offset and context to an error raised below the machine.
    error locate(error e) const {
        if (e.offset == no_offset) e.offset = file_offset();
        std::string ctx = op_context();
        if (!e.context.empty()) ctx += ": " + e.context;
        e.context = std::move(ctx);
        return e;
    }
    /// "record, opcode NAME": where an error happened.
    std::string op_context() const {
        std::string ctx(opts_.record);
        if (const std::uint8_t op = current_op()) {
            if (!ctx.empty()) ctx += ", ";
            ctx += "opcode ";
            ctx += opcode_name(op);
        }
        return ctx;
    }
    std::uint64_t file_offset() const noexcept { return opts_.base_offset + static_cast<std::size_t>(op_at_ - begin_); }
    /// The running opcode's byte, read again from the input (its page is never released while
    /// it runs); 0 when the pickle ended where an opcode was due.
    std::uint8_t current_op() const noexcept { return op_at_ < end_ ? *op_at_ : 0; }

    // ---------------------------------------------------------------- input
    // Arguments honour FRAME boundaries (can_take).
    template <class T>
    result<T> take_le() {
        T v;
        if (PTLOAD_UNLIKELY(!read_le(v))) return cannot_take(sizeof(T));
        return v;
    }
    /// take_le without a result: the hot opcodes test a bool and build the error only when it
    /// fails (a result is returned through memory and destroyed on every opcode). Nothing is
    /// consumed when it fails.
    template <class T>
    bool read_le(T& out) noexcept {
        if (PTLOAD_UNLIKELY(!can_take(sizeof(T)))) return false;
        out = little_endian<T>(cur_, std::make_index_sequence<sizeof(T)>{});
        cur_ += sizeof(T);
        return true;
    }
    /// read_le for a big-endian T (BINFLOAT's double).
    template <class T>
    bool read_be(T& out) noexcept {
        if (PTLOAD_UNLIKELY(!can_take(sizeof(T)))) return false;
        out = big_endian<T>(cur_, std::make_index_sequence<sizeof(T)>{});
        cur_ += sizeof(T);
        return true;
    }
    /// The bytes p[0, sizeof(T)) as a little-endian T, written out whole so that the compiler
    /// makes it one load (a loop over the bytes stays a loop).
    template <class T, std::size_t... I>
    static T little_endian(const std::uint8_t* p, std::index_sequence<I...>) noexcept {
        return static_cast<T>((static_cast<T>(static_cast<T>(p[I]) << (8 * I)) | ...));
    }
    /// The same bytes as a big-endian T: one load and a byte swap.
    template <class T, std::size_t... I>
    static T big_endian(const std::uint8_t* p, std::index_sequence<I...>) noexcept {
        return static_cast<T>((static_cast<T>(static_cast<T>(p[I]) << (8 * (sizeof(T) - 1 - I))) | ...));
    }
    /// n bytes of argument without a result (see read_le); cannot_take(n) says why not.
    bool read_bytes(std::uint64_t n, const std::uint8_t*& out) noexcept {
        if (PTLOAD_UNLIKELY(!can_take(n))) return false;
        out = cur_;
        cur_ += n;
        return true;
    }
    /// Whether n more bytes are in the pickle and in the current frame.
    bool can_take(std::uint64_t n) const noexcept { return n <= static_cast<std::uint64_t>(take_end_ - cur_); }
    /// Why n more bytes cannot be taken: the frame ends first, or the pickle does.
    PTLOAD_COLD error_handoff cannot_take(std::uint64_t n) const {
        if (frame_end_) {
            auto left = static_cast<std::uint64_t>(frame_end_ - cur_);
            if (n > left)
                return fail(errc::frame_error, {"argument of ", n, " bytes runs past the end of its frame (", left,
                                                " bytes left)"});
        }
        return fail(errc::truncated, {"needs ", n, " bytes, ", static_cast<std::uint64_t>(end_ - cur_),
                                      " left in the pickle"});
    }
    /// The width of opcode B's inline integer, as its opcode_table row gives it (u1, u2, u4, u8,
    /// or the length prefix of a counted argument).
    template <std::uint8_t B>
    static constexpr std::size_t count_width() noexcept {
        constexpr pickle::arg a = argument_of(B);
        if constexpr (a == pickle::arg::u1 || a == pickle::arg::u1_bytes) return 1;
        else if constexpr (a == pickle::arg::u2) return 2;
        else if constexpr (a == pickle::arg::u4 || a == pickle::arg::u4_bytes || a == pickle::arg::i4_bytes) return 4;
        else {
            static_assert(a == pickle::arg::u8 || a == pickle::arg::u8_bytes, "an integer argument");
            return 8;
        }
    }
    /// Opcode B's inline integer (a signed i4 length must not be negative); false, consuming
    /// nothing, when it is absent or negative: count_error<B>() then says which.
    template <std::uint8_t B>
    bool read_count(std::uint64_t& out) noexcept {
        constexpr std::size_t width = count_width<B>();
        using word = std::conditional_t<width == 1, std::uint8_t,
                                        std::conditional_t<width == 2, std::uint16_t,
                                                           std::conditional_t<width == 4, std::uint32_t, std::uint64_t>>>;
        word v;
        if (PTLOAD_UNLIKELY(!read_le(v))) return false;
        if constexpr (argument_of(B) == pickle::arg::i4_bytes) {
            if (PTLOAD_UNLIKELY(static_cast<std::int32_t>(v) < 0)) {
                cur_ -= width;
                return false;
            }
        }
        out = static_cast<std::uint64_t>(v);
        return true;
    }
    /// Why read_count<B> failed.
    template <std::uint8_t B>
    PTLOAD_COLD error_handoff count_error() const {
        if (!can_take(count_width<B>())) return cannot_take(count_width<B>());
        return fail(errc::bad_operand, {opcode_name(B), " length is negative"});
    }
    /// Opcode B's counted argument: its length, then that many bytes. False, consuming
    /// nothing, when either is missing: counted_error<B>() then says which.
    template <std::uint8_t B>
    bool read_counted(const std::uint8_t*& p, std::uint64_t& n) noexcept {
        if (PTLOAD_UNLIKELY(!read_count<B>(n))) return false;
        if (PTLOAD_LIKELY(read_bytes(n, p))) return true;
        cur_ -= count_width<B>();
        return false;
    }
    template <std::uint8_t B>
    PTLOAD_COLD error_handoff counted_error() {
        std::uint64_t n;
        if (!read_count<B>(n)) return count_error<B>();
        const error_handoff e = cannot_take(n);  // measured from just past the length, where the bytes would start
        cur_ -= count_width<B>();
        return e;
    }
    /// A text line without its '\n'.
    result<std::string_view> take_line() {
        const void* nl = std::memchr(cur_, '\n', static_cast<std::size_t>(take_end_ - cur_));
        if (!nl) {
            if (frame_end_) return fail(errc::frame_error, "text argument runs past the end of its frame");
            return fail(errc::truncated, "text argument has no end of line");
        }
        std::string_view line(reinterpret_cast<const char*>(cur_),
                              static_cast<std::size_t>(static_cast<const std::uint8_t*>(nl) - cur_));
        cur_ = static_cast<const std::uint8_t*>(nl) + 1;
        return line;
    }

    // ---------------------------------------------------------------- stack
    std::size_t fence() const noexcept { return marks_.empty() ? 0 : marks_.back(); }
    PTLOAD_INLINE status push(node_id id) {
        if (PTLOAD_UNLIKELY(stack_.size() >= limits_.max_stack)) return stack_full();
        stack_.push_back(id);
        return {};
    }
    PTLOAD_COLD error_handoff stack_full() const {
        return fail(errc::limit_stack, {"more than ", limits_.max_stack, " items on the stack"});
    }
    result<node_id> pop() {
        if (PTLOAD_UNLIKELY(stack_.size() <= fence())) return underflow();
        node_id id = stack_.back();
        stack_.pop_back();
        return id;
    }
    result<node_id> top() {
        if (PTLOAD_UNLIKELY(stack_.size() <= fence())) return underflow();
        return stack_.back();
    }
    PTLOAD_COLD error_handoff underflow() const {
        return fail(marks_.empty() ? errc::stack_underflow : errc::mark_missing,
                    marks_.empty() ? "the stack is empty" : "a MARK sits where a value must be");
    }
    /// The items above a mark: stack_[from, from + count).
    struct marked {
        std::size_t from, count;
    };
    /// Removes the topmost mark and says which items were above it; false when there is no
    /// mark (no_mark() is the error), so the hot path builds no result.
    bool pop_mark(marked& out) noexcept {
        if (PTLOAD_UNLIKELY(marks_.empty())) return false;
        out.from = marks_.back();
        out.count = stack_.size() - out.from;
        marks_.pop_back();
        return true;
    }
    PTLOAD_COLD error_handoff no_mark() const { return fail(errc::mark_missing, "no MARK on the stack"); }
    /// Pops the top value; false when none is above the topmost mark (underflow() says which).
    bool pop_value(node_id& out) noexcept {
        if (PTLOAD_UNLIKELY(stack_.size() <= fence())) return false;
        out = stack_.back();
        stack_.pop_back();
        return true;
    }
    const node_id* stack_at(std::size_t i) const noexcept { return stack_.data() + i; }
    /// The value just below a popped mark region (the list/dict/set that APPENDS & co. extend).
    result<node_id> below(std::size_t from) {
        if (from <= fence()) return underflow();
        return stack_[from - 1];
    }
    void truncate_stack(std::size_t n) noexcept { stack_.truncate(n); }

    // ---------------------------------------------------------------- memo
    PTLOAD_INLINE status memo_put(std::uint64_t index, node_id id) {
        // MEMOIZE and sequential PUTs, where the memo has room (memo_put_elsewhere grows it)
        if (PTLOAD_LIKELY(index == memo_.size() && index < memo_.capacity() && index <= 0xFFFFFFFFull)) {
            memo_.push_back_in_place(id);
            ++memo_count_;
            return {};
        }
        return memo_put_elsewhere(index, id);
    }
    /// memo_put's other cases, out of line so that its common one inlines.
    PTLOAD_NOINLINE status memo_put_elsewhere(std::uint64_t index, node_id id) {
        if (index > 0xFFFFFFFFull) return fail(errc::limit_memo, "memo index above 2^32 - 1");
        if (index == memo_.size()) {  // the next in sequence, with the memo full
            memo_.push_back(id);
            ++memo_count_;
        } else if (index < memo_.size()) {
            if (memo_[index] == null_node) ++memo_count_;
            memo_[index] = id;
        } else if (index < memo_count_ * 2 + 4096) {  // dense growth bounded by the PUTs seen, not by an index
            memo_.resize(static_cast<std::size_t>(index) + 1, null_node);
            memo_[index] = id;
            ++memo_count_;
        } else {
            auto added = sparse_memo_.insert(static_cast<std::uint32_t>(index), id);
            if (added.second) ++memo_count_;
            else *added.first = id;
            if (sparse_memo_.size() > limits_.max_memo)
                return fail(errc::limit_memo, {"more than ", limits_.max_memo,
                                               " memo entries far beyond the others (limits::max_memo)"});
        }
        return {};
    }
    /// The memo entry at `index`, or null_node.
    PTLOAD_INLINE node_id memo_at(std::uint64_t index) const noexcept {
        node_id id = null_node;
        if (index < memo_.size()) id = memo_[index];
        // An index PUT far ahead stays in the sparse map even after the dense part grows past it.
        if (id == null_node && index <= 0xFFFFFFFFull) {
            if (const node_id* sparse = sparse_memo_.find(static_cast<std::uint32_t>(index))) id = *sparse;
        }
        return id;
    }
    status memo_get(std::uint64_t index) {
        const node_id id = memo_at(index);
        if (id == null_node) return fail(errc::memo_missing, {"memo has no entry ", index});
        return push(id);
    }

    // ---------------------------------------------------------------- values
    // None, the bools, the ints 0-255 of BININT1 and the empty tuple are made once per machine
    // and shared, as CPython shares them: none bears identity (a dump writes them in full), no
    // value is changed once made, and a checkpoint's sizes, offsets and requires_grad flags then
    // cost no value each (a third of the values of a state_dict of small tensors).
    node_id none_node() {
        if (none_ == null_node) none_ = doc_.add(kind::none);
        return none_;
    }
    node_id bool_node(bool v) {
        node_id& id = bools_[v];
        if (id == null_node) id = doc_.make_bool(v);
        return id;
    }
    PTLOAD_INLINE node_id small_int_node(std::uint8_t v) {
        node_id& id = small_ints_[v];
        if (id == null_node) id = doc_.make_int(v);
        return id;
    }
    node_id empty_tuple_node() {
        if (empty_tuple_ == null_node) empty_tuple_ = doc_.make_seq(kind::tuple, nullptr, 0);
        return empty_tuple_;
    }
    kind kind_of(node_id id) const noexcept { return doc_.at(id).k; }
    bool is_falsy_state(node_id s) const noexcept {
        kind k = kind_of(s);
        return k == kind::none || ((k == kind::dict || k == kind::tuple || k == kind::list) && doc_.edge_count(s) == 0);
    }

    /// Python-2 str bytes through the decoding policy.
    result<node_id> py2_string(const std::uint8_t* p, std::size_t n) {
        if (decoding_.keep_bytes) return doc_.make_text(kind::bytes, p, n);
        detail::string out;
        const std::size_t bad = decoding_.decode(p, n, out);
        if (bad != n)
            return fail(errc::decode_error, {"'", decoding_.name, "' codec can't decode byte 0x", hex_byte(p[bad]),
                                             " in position ", bad, " (try encoding latin1 or bytes)"});
        return doc_.make_text(kind::string, out.data(), out.size());
    }
    static std::string hex_byte(std::uint8_t b) {
        const char* digits = "0123456789abcdef";
        return {digits[b >> 4], digits[b & 15]};
    }
    /// Pushes a UTF-8 str argument (BINUNICODE family), decoded with 'surrogatepass' as CPython
    /// does. A bool-tested check and a cold error, as for the hot opcodes' other arguments.
    PTLOAD_INLINE status push_unicode(const std::uint8_t* p, std::size_t n) {
        // ASCII, the text of most keys and names, checked inline; the rest validated in full
        if (PTLOAD_LIKELY(detail::all_ascii(p, n))) return push(doc_.make_text(kind::string, p, n));
        bool surrogates = false;
        const std::size_t bad = detail::utf8_validate_mixed(p, n, true, surrogates);
        if (PTLOAD_UNLIKELY(bad != n)) return bad_utf8(p[bad], bad);
        return push(doc_.make_text(kind::string, p, n, surrogates));
    }
    PTLOAD_COLD error_handoff bad_utf8(std::uint8_t byte, std::size_t at) const {
        return fail(errc::decode_error,
                    {"'utf-8' codec can't decode byte 0x", hex_byte(byte), " in position ", at});
    }
    result<node_id> integer_from(const detail::parsed_int& v) {
        if (v.status == detail::parsed_int::too_long)
            return fail(errc::limit_integer, {"integer literal has more than ", limits_.max_int_digits, " digits"});
        if (v.status != detail::parsed_int::ok) return fail(errc::bad_text, "not an integer literal");
        if (v.small) return doc_.make_int(v.value);
        if (v.big.size() > limits_.max_int_bytes)
            return fail(errc::limit_integer, {"integer wider than ", limits_.max_int_bytes, " bytes"});
        return doc_.make_text(kind::big_integer, v.big.data(), v.big.size());
    }
    result<node_id> binary_long(const std::uint8_t* p, std::size_t n) {
        std::int64_t small = 0;
        if (detail::twos_to_int64(p, n, small)) return doc_.make_int(small);
        std::size_t len = detail::minimal_twos_length(p, n);
        if (len > limits_.max_int_bytes)
            return fail(errc::limit_integer, {"integer wider than ", limits_.max_int_bytes, " bytes"});
        return doc_.make_text(kind::big_integer, p, len);
    }

    // ---------------------------------------------------------------- containers
    status dict_set(node_id dict, node_id key, node_id val) {
        auto r = keys_.set(dict, key, val);
        if (!r) return locate(std::move(r).err());
        return {};
    }
    status set_add(node_id set, node_id item) {
        auto r = keys_.add(set, item);
        if (!r) return locate(std::move(r).err());
        return {};
    }
    node_id object_part(node_id obj, object_field f, kind k) {
        node_id part = doc_.edge(obj, f);
        if (part == null_node) {
            part = doc_.make_seq(k, nullptr, 0);
            doc_.set_edge(obj, f, part);
        }
        return part;
    }
    status append_items(node_id target, const node_id* items, std::size_t n) {
        switch (kind_of(target)) {
        case kind::list: doc_.push_edges(target, items, n); return {};
        case kind::object: doc_.push_edges(object_part(target, obj_items, kind::list), items, n); return {};
        default: return fail(errc::bad_operand, {"cannot append to a ", kind_name(kind_of(target))});
        }
    }
    status set_items(node_id target, const node_id* kv, std::size_t n) {
        if (n % 2) return fail(errc::bad_operand, "odd number of items for SETITEMS");
        switch (kind_of(target)) {
        case kind::dict:
        case kind::ordered_dict: {
            auto r = keys_.set_pairs(target, kv, n / 2);
            if (!r) return locate(std::move(r).err());
            return {};
        }
        case kind::object: doc_.push_edges(object_part(target, obj_dict_items, kind::dict), kv, n); return {};
        default: return fail(errc::bad_operand, {"cannot set items on a ", kind_name(kind_of(target))});
        }
    }
    /// The items of any sequence-like argument (for set(...), OrderedDict(...), ...).
    bool items_of(node_id seq, detail::vector<node_id>& out) const {
        kind k = kind_of(seq);
        if (k != kind::list && k != kind::tuple && k != kind::set && k != kind::frozenset) return false;
        out.assign(doc_.edges(seq), doc_.edges(seq) + doc_.edge_count(seq));
        return true;
    }

    // ---------------------------------------------------------------- globals and calls
    status push_global(std::string_view module, std::string_view name) {
        resolved_global g = resolve_global(module, name, proto_, limits_.max_name_parts);
        if (g.dangerous) {
            const std::string full = std::string(g.module) + "." + std::string(g.name);
            return fail(errc::disallowed_global,
                        {"global ", full, (g.denied_as == full ? "" : " (" + g.denied_as + ")"), " ", g.why,
                         ": never data in a checkpoint; ptload does not run pickled code"});
        }
        if (allowlist_only_) {
            if (g.rating != verdict::safe) {
                const detail::string full = detail::dotted(g.module, g.name);
                bool added = false;
                for (const auto& s : opts_.safe_globals) added = added || std::string_view(s) == std::string_view(full.data(), full.size());
                if (!added)
                    return fail(errc::disallowed_global,
                                {"global ", full,
                                 " is not allowed in strict mode (torch.load weights_only); if the file is "
                                 "trusted, add \"",
                                 full, "\" to load_options::safe_globals"});
            }
        }
        if constexpr (has_find_class<Handler>::value) {
            auto r = handler_.find_class(doc_, g, file_offset());
            if (!r) return locate(std::move(r).err());
            if (*r != null_node) return push(*r);
        }
        return push(doc_.make_global(g.module, g.name, static_cast<std::uint16_t>(g.id)));
    }
    known_global known_of(node_id callable) const noexcept {
        return static_cast<known_global>(doc_.known_global_id(callable));
    }
    node_id opaque(node_id cls, node_id args) {
        node_id obj = doc_.make_object(cls);
        doc_.set_edge(obj, obj_args, args);
        return obj;
    }
    node_id arg(node_id args, std::size_t i) const { return doc_.edge(args, i); }

    /// callable(*args) for REDUCE, INST and OBJ.
    result<node_id> call(node_id callable, node_id args) {
        if (kind_of(args) != kind::tuple) return fail(errc::bad_operand, "call arguments are not a tuple");
        if (kind_of(callable) != kind::global)
            return fail(errc::bad_operand, {"cannot call a ", kind_name(kind_of(callable))});
        std::size_t n = doc_.edge_count(args);
        detail::vector<node_id> items;
        switch (known_of(callable)) {
        case known_global::builtins_set:
        case known_global::builtins_frozenset: {
            // frozenset(fs) is fs itself in CPython: the same object, not a copy
            if (known_of(callable) == known_global::builtins_frozenset && n == 1 && kind_of(arg(args, 0)) == kind::frozenset)
                return arg(args, 0);
            node_id s = doc_.make_seq(known_of(callable) == known_global::builtins_set ? kind::set : kind::frozenset, nullptr, 0);
            if (n > 1 || (n == 1 && !items_of(arg(args, 0), items))) return fail(errc::bad_operand, "set() takes one sequence");
            for (node_id it : items) PTLOAD_TRY(set_add(s, it));
            return s;
        }
        case known_global::builtins_bytearray:
        case known_global::builtins_bytes: {
            kind out = known_of(callable) == known_global::builtins_bytes ? kind::bytes : kind::bytearray;
            if (n == 0) return doc_.make_text(out, "", 0);
            node_id a = arg(args, 0);
            if (n == 1 && (kind_of(a) == kind::bytes || kind_of(a) == kind::bytearray)) {
                auto t = doc_.text(a);
                return doc_.make_text(out, t.data(), t.size());
            }
            if (n == 1 && kind_of(a) == kind::list) {  // bytes([1, 2, 3])
                detail::string b;
                for (std::size_t i = 0; i < doc_.edge_count(a); ++i) {
                    const auto& e = doc_.at(doc_.edge(a, i));
                    if (e.k != kind::integer || e.i < 0 || e.i > 255) return fail(errc::bad_operand, "bytes() item out of range");
                    b += static_cast<char>(e.i);
                }
                return doc_.make_text(out, b.data(), b.size());
            }
            if (n == 2 && kind_of(a) == kind::string) return encode_str(a, arg(args, 1), out);
            return fail(errc::bad_operand, "unsupported bytes()/bytearray() arguments");
        }
        case known_global::codecs_encode:
            if (n == 2 && kind_of(arg(args, 0)) == kind::string) return encode_str(arg(args, 0), arg(args, 1), kind::bytes);
            if (n == 1 && kind_of(arg(args, 0)) == kind::string) return encode_str(arg(args, 0), null_node, kind::bytes);
            return fail(errc::bad_operand, "_codecs.encode takes (str, encoding)");
        case known_global::builtins_complex: {
            double part[2] = {0, 0};
            if (n > 2) return fail(errc::bad_operand, "complex() takes at most 2 arguments");
            for (std::size_t i = 0; i < n; ++i) {
                const auto& e = doc_.at(arg(args, i));
                if (e.k == kind::floating) part[i] = e.f;
                else if (e.k == kind::integer || e.k == kind::boolean) part[i] = static_cast<double>(e.i);
                else return fail(errc::bad_operand, "complex() arguments must be numbers");
            }
            return doc_.make_complex(part[0], part[1]);
        }
        case known_global::builtins_slice:
        case known_global::builtins_range: {
            bool is_range = known_of(callable) == known_global::builtins_range;
            if (n < 1 || n > 3) return fail(errc::bad_operand, "slice()/range() take 1 to 3 arguments");
            node_id parts[3];
            if (n == 1) {
                parts[0] = is_range ? doc_.make_int(0) : none_node();
                parts[1] = arg(args, 0);
                parts[2] = is_range ? doc_.make_int(1) : none_node();
            } else {
                parts[0] = arg(args, 0);
                parts[1] = arg(args, 1);
                parts[2] = n == 3 ? arg(args, 2) : (is_range ? doc_.make_int(1) : none_node());
            }
            if (is_range)
                for (node_id p : parts)
                    if (kind_of(p) != kind::integer && kind_of(p) != kind::big_integer && kind_of(p) != kind::boolean)
                        return fail(errc::bad_operand, "range() arguments must be integers");
            return doc_.make_seq(is_range ? kind::range : kind::slice, parts, 3);
        }
        case known_global::ordered_dict: {
            node_id d = doc_.make_seq(kind::ordered_dict, nullptr, 0);
            if (n == 0) return d;
            node_id a = arg(args, 0);
            if (n == 1 && (kind_of(a) == kind::dict || kind_of(a) == kind::ordered_dict)) {
                for (std::size_t i = 0; i + 1 < doc_.edge_count(a); i += 2) PTLOAD_TRY(dict_set(d, doc_.edge(a, i), doc_.edge(a, i + 1)));
                return d;
            }
            if (n == 1 && items_of(a, items)) {
                for (node_id pair : items) {
                    if ((kind_of(pair) != kind::tuple && kind_of(pair) != kind::list) || doc_.edge_count(pair) != 2)
                        return fail(errc::bad_operand, "OrderedDict() items must be pairs");
                    PTLOAD_TRY(dict_set(d, doc_.edge(pair, 0), doc_.edge(pair, 1)));
                }
                return d;
            }
            return fail(errc::bad_operand, "unsupported OrderedDict() arguments");
        }
        case known_global::numpy_reconstruct: {
            node_id fields[nd_fields] = {null_node, null_node, null_node};
            return doc_.make_seq(kind::ndarray, fields, nd_fields);
        }
        case known_global::numpy_dtype: {
            if (n < 1 || (kind_of(arg(args, 0)) != kind::string && kind_of(arg(args, 0)) != kind::bytes))
                return fail(errc::bad_operand, "numpy.dtype() needs a type string");
            return make_numpy_dtype(doc_, doc_.text(arg(args, 0)));
        }
        case known_global::numpy_scalar: {
            if (n != 2) return fail(errc::bad_operand, "numpy scalar() takes (dtype, data)");
            auto r = make_numpy_scalar(doc_, arg(args, 0), arg(args, 1));
            if (!r) return locate(std::move(r).err());
            return *r;
        }
        case known_global::none:
            if constexpr (has_reduce<Handler>::value) {
                auto r = handler_.reduce(doc_, callable, args, file_offset());
                if (!r) return locate(std::move(r).err());
                if (*r != null_node) return *r;
            }
            return opaque(callable, args);
        case known_global::numpy_ndarray:
        case known_global::count_:
            return opaque(callable, args);
        }
        return opaque(callable, args);
    }
    /// str.encode(encoding) for _codecs.encode and bytearray(str, 'latin-1').
    result<node_id> encode_str(node_id str, node_id enc, kind out) {
        std::string_view e = enc == null_node ? std::string_view("utf-8") : std::string_view();
        if (enc != null_node) {
            if (kind_of(enc) != kind::string) return fail(errc::bad_operand, "encoding name is not a str");
            e = doc_.text(enc);
        }
        detail::string lower;
        for (char c : e) lower += static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : (c == '_' ? '-' : c));
        std::string_view t = doc_.text(str);
        if (lower == "utf-8" || lower == "utf8") {
            if (doc_.has_lone_surrogates(str)) return fail(errc::decode_error, "'utf-8' codec can't encode a surrogate");
            return doc_.make_text(out, t.data(), t.size());
        }
        bool latin1 = lower == "latin1" || lower == "latin-1" || lower == "iso-8859-1" || lower == "iso8859-1" || lower == "l1";
        if (!latin1 && lower != "ascii") return fail(errc::unsupported, {"encoding '", e, "' for bytes"});
        detail::string b;
        auto p = reinterpret_cast<const std::uint8_t*>(t.data());
        for (std::size_t i = 0; i < t.size();) {
            std::size_t bad;
            std::uint32_t cp = 0;
            std::size_t len = detail::utf8_sequence(p + i, t.size() - i, true, bad, &cp);
            if (!len || cp > (latin1 ? 0xFFu : 0x7Fu))
                return fail(errc::decode_error, {"'", lower, "' codec can't encode character at position ", i});
            b += static_cast<char>(cp);
            i += len;
        }
        return doc_.make_text(out, b.data(), b.size());
    }
    /// cls.__new__(cls, *args) for NEWOBJ; kwargs for NEWOBJ_EX.
    result<node_id> new_object(node_id cls, node_id args, node_id kwargs) {
        if (kind_of(args) != kind::tuple) return fail(errc::bad_operand, "NEWOBJ arguments are not a tuple");
        if (kind_of(cls) != kind::global)
            return fail(errc::bad_operand, {"NEWOBJ on a ", kind_name(kind_of(cls)), ", not a class"});
        switch (known_of(cls)) {
        case known_global::ordered_dict: return doc_.make_seq(kind::ordered_dict, nullptr, 0);
        case known_global::builtins_set: return doc_.make_seq(kind::set, nullptr, 0);
        case known_global::builtins_bytearray: return doc_.make_text(kind::bytearray, "", 0);
        case known_global::builtins_frozenset:
        case known_global::builtins_bytes:
        case known_global::builtins_complex:
            if (kwargs != null_node && doc_.edge_count(kwargs)) break;
            return call(cls, args);
        case known_global::none:
            if constexpr (has_newobj<Handler>::value) {
                auto r = handler_.newobj(doc_, cls, args, kwargs, file_offset());
                if (!r) return locate(std::move(r).err());
                if (*r != null_node) return *r;
            }
            break;
        default: break;
        }
        node_id obj = opaque(cls, args);
        if (kwargs != null_node) doc_.set_edge(obj, obj_kwargs, kwargs);
        return obj;
    }
    status build(node_id obj, node_id state) {
        switch (kind_of(obj)) {
        case kind::object: doc_.set_edge(obj, obj_state, state); return {};
        case kind::ordered_dict: return build_attrs(obj, state);
        case kind::ndarray: {
            auto r = build_ndarray(doc_, obj, state);
            if (!r) return status(locate(std::move(r).err()));
            if (allowlist_only_) {
                // an object array's items are arbitrary objects: numpy unpickles them with the
                // full pickle machinery, which weights_only never allows
                node_id dt = doc_.edge(obj, nd_dtype);
                if (dt != null_node && doc_.text(dt) == "|O")
                    return fail(errc::disallowed_global, "numpy array of dtype object is not allowed in strict mode "
                                                         "(only numeric, bool, string and void arrays)");
            }
            return r;
        }
        case kind::numpy_dtype: {
            auto r = build_numpy_dtype(doc_, obj, state);
            return r ? r : status(locate(std::move(r).err()));
        }
        default:
            if constexpr (has_build<Handler>::value) {
                auto r = handler_.build(doc_, obj, state, file_offset());
                if (!r) return locate(std::move(r).err());
                if (*r) return {};
            }
            if (is_falsy_state(state)) return {};  // pickle's BUILD does nothing with empty state
            return fail(errc::bad_operand, {"cannot set state on a ", kind_name(kind_of(obj))});
        }
    }
    /// OrderedDict (and other dict-like) instance attributes: inst.__dict__.update(state).
    status build_attrs(node_id obj, node_id state) {
        node_id dict_state = state, slots = null_node;
        if (kind_of(state) == kind::tuple && doc_.edge_count(state) == 2) {
            dict_state = doc_.edge(state, 0);
            slots = doc_.edge(state, 1);
        }
        for (node_id part : {dict_state, slots}) {
            if (part == null_node || kind_of(part) == kind::none) continue;
            if (kind_of(part) != kind::dict && kind_of(part) != kind::ordered_dict)
                return fail(errc::bad_operand, "OrderedDict state is not a dict");
            if (doc_.ordered_dict_attrs(obj) == null_node) {
                node_id fresh = doc_.make_seq(kind::dict, nullptr, 0);  // grows the node array: no reference held
                doc_.set_ordered_dict_attrs(obj, fresh);
            }
            node_id target = doc_.ordered_dict_attrs(obj);
            for (std::size_t i = 0; i + 1 < doc_.edge_count(part); i += 2)
                PTLOAD_TRY(dict_set(target, doc_.edge(part, i), doc_.edge(part, i + 1)));
        }
        return {};
    }

    // ---------------------------------------------------------------- opcode handlers
    /// The one handler shared by every byte that is not an opcode.
    static status unknown_op(basic_machine& m) {
        return m.fail(errc::unknown_opcode, {"byte 0x", hex_byte(m.current_op()), " is not a pickle opcode"});
    }
    /// Opcode B's handler: the function of its family (opcode_table says which). Each family's
    /// instance for B has this one caller and is forced inline into it, as are push() and
    /// push_unicode(): GCC bounds its inlining by a share of the whole file's code, and once the
    /// error paths left the hot functions that share shrank and left them as calls.
    template <std::uint8_t B>
    static status exec(basic_machine& m) {
        constexpr family f = family_of(B);
        if constexpr (f == family::structure) return m.template structure_op<B>();
        else if constexpr (f == family::constant) return m.template constant_op<B>();
        else if constexpr (f == family::text) return m.template text_op<B>();
        else if constexpr (f == family::container) return m.template container_op<B>();
        else if constexpr (f == family::memo) return m.template memo_op<B>();
        else return m.template object_op<B>();
    }
    template <std::uint8_t B>
    static constexpr handler_fn entry() {
        if constexpr (!is_opcode(B)) return &basic_machine::unknown_op;
        else return &basic_machine::template exec<B>;
    }

    /// MARK, STOP, POP, POP_MARK, DUP, PROTO, FRAME: the stack, marks and framing.
    template <std::uint8_t B>
    PTLOAD_INLINE status structure_op() {
        if constexpr (B == '(') {  // MARK: -> mark
            if (marks_.size() >= limits_.max_depth)
                return fail(errc::limit_depth, {"MARKs nested deeper than ", limits_.max_depth});
            marks_.push_back(stack_.size());
            return {};
        } else if constexpr (B == '.') {  // STOP: x -> (returns x)
            auto r = pop();
            if (!r) return std::move(r).pass_error();
            // Nothing reads the memo after STOP: it goes before the merge below takes memory
            // of its own (for a pickle of millions of values both are tens of megabytes).
            memo_ = {};
            sparse_memo_ = {};
            PTLOAD_TRY(keys_.finish());  // big dicts and sets: merge repeated keys now
            doc_.add_input_bytes(position());
            result_ = *r;
            stopped_ = true;
            limit_ = begin_;  // the run loop's next test sees the stop
            return {};
        } else if constexpr (B == '0') {  // POP: x -> ; or discards an empty region's mark
            if (stack_.size() > fence()) {
                stack_.pop_back();
                return {};
            }
            if (!marks_.empty()) {
                marks_.pop_back();
                return {};
            }
            return fail(errc::stack_underflow, "the stack is empty");
        } else if constexpr (B == '1') {  // POP_MARK: mark x... ->
            marked r;
            if (PTLOAD_UNLIKELY(!pop_mark(r))) return no_mark();
            truncate_stack(r.from);
            return {};
        } else if constexpr (B == '2') {  // DUP: x -> x x
            auto r = top();
            if (!r) return std::move(r).pass_error();
            return push(*r);
        } else if constexpr (B == 0x80) {  // PROTO n
            std::uint8_t r;
            if (PTLOAD_UNLIKELY(!read_le(r))) return cannot_take(sizeof r);
            if (r > 5) return fail(errc::unknown_opcode, {"pickle protocol ", r, " (ptload reads 0 to 5)"});
            proto_ = r;
            return {};
        } else if constexpr (B == 0x95) {  // FRAME n: the next n bytes form a frame
            auto r = take_le<std::uint64_t>();
            if (!r) return std::move(r).pass_error();
            if (frame_end_ && cur_ != frame_end_) return fail(errc::frame_error, "a new FRAME starts before the current one ends");
            if (*r > static_cast<std::uint64_t>(end_ - cur_))
                return fail(errc::truncated, {"FRAME of ", *r, " bytes, ", end_ - cur_, " left in the pickle"});
            frame_end_ = *r ? cur_ + *r : nullptr;
            take_end_ = *r ? frame_end_ : end_;
            update_limit();
            return {};
        } else {
            static_assert(B != B, "opcode_table puts this opcode in the structure family, which has no handler for it");
            return {};
        }
    }

    /// None, bools, ints and floats.
    template <std::uint8_t B>
    PTLOAD_INLINE status constant_op() {
        if constexpr (B == 'N') {  // NONE: -> None
            return push(none_node());
        } else if constexpr (B == 0x88 || B == 0x89) {  // NEWTRUE / NEWFALSE
            return push(bool_node(B == 0x88));
        } else if constexpr (B == 'I') {  // INT text: -> int (00/01 are bools)
            auto line = take_line();
            if (!line) return std::move(line).pass_error();
            if (*line == "00" || *line == "01") return push(bool_node(*line == "01"));
            auto v = integer_from(detail::parse_python_int(*line, limits_.max_int_digits));
            if (!v) return std::move(v).pass_error();
            return push(*v);
        } else if constexpr (B == 'L') {  // LONG text: -> int (optional trailing L)
            auto line = take_line();
            if (!line) return std::move(line).pass_error();
            std::string_view t = *line;
            if (!t.empty() && t.back() == 'L') t.remove_suffix(1);
            auto v = integer_from(detail::parse_python_int(t, limits_.max_int_digits));
            if (!v) return std::move(v).pass_error();
            return push(*v);
        } else if constexpr (B == 'J') {  // BININT i4
            std::uint32_t r;
            if (PTLOAD_UNLIKELY(!read_le(r))) return cannot_take(sizeof r);
            return push(doc_.make_int(static_cast<std::int32_t>(r)));
        } else if constexpr (B == 'K') {  // BININT1 u1
            std::uint8_t r;
            if (PTLOAD_UNLIKELY(!read_le(r))) return cannot_take(sizeof r);
            return push(small_int_node(r));
        } else if constexpr (B == 'M') {  // BININT2 u2
            std::uint16_t r;
            if (PTLOAD_UNLIKELY(!read_le(r))) return cannot_take(sizeof r);
            return push(doc_.make_int(r));
        } else if constexpr (B == 0x8A || B == 0x8B) {  // LONG1 / LONG4: two's complement LE
            const std::uint8_t* p;
            std::uint64_t n;
            if (PTLOAD_UNLIKELY(!read_counted<B>(p, n))) return counted_error<B>();
            auto v = binary_long(p, static_cast<std::size_t>(n));
            if (!v) return std::move(v).pass_error();
            return push(*v);
        } else if constexpr (B == 'F') {  // FLOAT text
            auto line = take_line();
            if (!line) return std::move(line).pass_error();
            double d;
            if (!detail::parse_python_float(*line, d)) return fail(errc::bad_text, "not a float literal");
            return push(doc_.make_float(d));
        } else if constexpr (B == 'G') {  // BINFLOAT: big-endian double
            std::uint64_t bits;
            if (PTLOAD_UNLIKELY(!read_be(bits))) return cannot_take(sizeof bits);
            double d;
            std::memcpy(&d, &bits, 8);
            return push(doc_.make_float(d));
        } else {
            static_assert(B != B, "opcode_table puts this opcode in the constant family, which has no handler for it");
            return {};
        }
    }

    /// str and bytes, py2 strings, out-of-band buffers.
    template <std::uint8_t B>
    PTLOAD_INLINE status text_op() {
        if constexpr (B == 'S') {  // STRING: quoted, escaped py2 str
            auto line = take_line();
            if (!line) return std::move(line).pass_error();
            std::string_view t = *line;
            if (t.size() < 2 || t.front() != t.back() || (t.front() != '\'' && t.front() != '"'))
                return fail(errc::bad_text, "the STRING argument must be quoted");
            detail::string raw;
            if (!detail::python_escape_decode(t.substr(1, t.size() - 2), raw)) return fail(errc::bad_text, "bad escape in STRING");
            auto v = py2_string(reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size());
            if (!v) return std::move(v).pass_error();
            return push(*v);
        } else if constexpr (B == 'T' || B == 'U') {  // BINSTRING i4 / SHORT_BINSTRING u1: py2 str
            const std::uint8_t* p;
            std::uint64_t n;
            if (PTLOAD_UNLIKELY(!read_counted<B>(p, n))) return counted_error<B>();
            auto v = py2_string(p, static_cast<std::size_t>(n));
            if (!v) return std::move(v).pass_error();
            return push(*v);
        } else if constexpr (B == 'V') {  // UNICODE: raw-unicode-escape text
            auto line = take_line();
            if (!line) return std::move(line).pass_error();
            detail::string s;
            bool surrogates = false;
            if (!detail::raw_unicode_escape_decode(*line, s, surrogates)) return fail(errc::decode_error, "bad \\u escape in UNICODE");
            return push(doc_.make_text(kind::string, s.data(), s.size(), surrogates));
        } else if constexpr (B == 'X' || B == 0x8C || B == 0x8D) {  // BINUNICODE u4 / SHORT_BINUNICODE u1 / BINUNICODE8 u8
            const std::uint8_t* p;
            std::uint64_t n;
            if (PTLOAD_UNLIKELY(!read_counted<B>(p, n))) return counted_error<B>();
            return push_unicode(p, static_cast<std::size_t>(n));
        } else if constexpr (B == 'B' || B == 'C' || B == 0x8E || B == 0x96) {  // BINBYTES u4 / SHORT_BINBYTES u1 / BINBYTES8 / BYTEARRAY8
            const std::uint8_t* p;
            std::uint64_t n;
            if (PTLOAD_UNLIKELY(!read_counted<B>(p, n))) return counted_error<B>();
            return push(doc_.make_text(B == 0x96 ? kind::bytearray : kind::bytes, p, static_cast<std::size_t>(n)));
        } else if constexpr (B == 0x97) {  // NEXT_BUFFER: -> next out-of-band buffer
            if (next_buffer_ >= opts_.buffers.size())
                return fail(errc::no_buffer, {"NEXT_BUFFER but ", opts_.buffers.size(),
                                              " out-of-band buffers were given"});
            const auto& b = opts_.buffers[next_buffer_++];
            return push(doc_.make_text(kind::bytearray, b.data(), b.size()));
        } else if constexpr (B == 0x98) {  // READONLY_BUFFER: buffer -> read-only view (bytes)
            auto r = top();
            if (!r) return std::move(r).pass_error();
            if (kind_of(*r) == kind::bytearray) {
                auto t = doc_.text(*r);
                stack_.back() = doc_.make_text(kind::bytes, t.data(), t.size());
            }
            return {};
        } else {
            static_assert(B != B, "opcode_table puts this opcode in the text family, which has no handler for it");
            return {};
        }
    }

    /// tuples, lists, dicts, sets, and the opcodes that fill them.
    template <std::uint8_t B>
    PTLOAD_INLINE status container_op() {
        if constexpr (B == ')') {  // EMPTY_TUPLE
            return push(empty_tuple_node());
        } else if constexpr (B == 0x85 || B == 0x86 || B == 0x87) {  // TUPLE1..3: a b c -> (a, b, c)
            constexpr std::size_t n = B - 0x84;
            if (stack_.size() < fence() + n) return underflow();
            node_id t = doc_.make_seq(kind::tuple, stack_at(stack_.size() - n), n);
            truncate_stack(stack_.size() - n);
            return push(t);
        } else if constexpr (B == 't' || B == 'l' || B == 0x91) {  // TUPLE / LIST / FROZENSET: mark x... -> container
            marked r;
            if (PTLOAD_UNLIKELY(!pop_mark(r))) return no_mark();
            node_id c;
            if constexpr (B == 0x91) {
                c = doc_.make_seq(kind::frozenset, nullptr, 0);
                for (std::size_t i = 0; i < r.count; ++i) PTLOAD_TRY(set_add(c, stack_[r.from + i]));
            } else {
                c = doc_.make_seq(B == 't' ? kind::tuple : kind::list, stack_at(r.from), r.count);
            }
            truncate_stack(r.from);
            return push(c);
        } else if constexpr (B == ']') {  // EMPTY_LIST
            return push(doc_.make_seq(kind::list, nullptr, 0));
        } else if constexpr (B == '}') {  // EMPTY_DICT
            return push(doc_.make_seq(kind::dict, nullptr, 0));
        } else if constexpr (B == 0x8F) {  // EMPTY_SET
            return push(doc_.make_seq(kind::set, nullptr, 0));
        } else if constexpr (B == 'd') {  // DICT: mark k v ... -> dict
            marked r;
            if (PTLOAD_UNLIKELY(!pop_mark(r))) return no_mark();
            if (r.count % 2) return fail(errc::bad_operand, "odd number of items for DICT");
            node_id d = doc_.make_seq(kind::dict, nullptr, 0);
            for (std::size_t i = 0; i < r.count; i += 2)
                PTLOAD_TRY(dict_set(d, stack_[r.from + i], stack_[r.from + i + 1]));
            truncate_stack(r.from);
            return push(d);
        } else if constexpr (B == 'a') {  // APPEND: list x -> list
            auto x = pop();
            if (!x) return std::move(x).pass_error();
            auto l = top();
            if (!l) return std::move(l).pass_error();
            node_id item = *x;
            return append_items(*l, &item, 1);
        } else if constexpr (B == 'e') {  // APPENDS: list mark x... -> list
            marked r;
            if (PTLOAD_UNLIKELY(!pop_mark(r))) return no_mark();
            auto l = below(r.from);
            if (!l) return std::move(l).pass_error();
            PTLOAD_TRY(append_items(*l, stack_at(r.from), r.count));
            truncate_stack(r.from);
            return {};
        } else if constexpr (B == 's') {  // SETITEM: dict k v -> dict
            if (stack_.size() < fence() + 3) return underflow();
            node_id kv[2] = {stack_[stack_.size() - 2], stack_[stack_.size() - 1]};
            truncate_stack(stack_.size() - 2);
            return set_items(stack_.back(), kv, 2);
        } else if constexpr (B == 'u') {  // SETITEMS: dict mark k v ... -> dict
            marked r;
            if (PTLOAD_UNLIKELY(!pop_mark(r))) return no_mark();
            auto d = below(r.from);
            if (!d) return std::move(d).pass_error();
            PTLOAD_TRY(set_items(*d, stack_at(r.from), r.count));
            truncate_stack(r.from);
            return {};
        } else if constexpr (B == 0x90) {  // ADDITEMS: set mark x... -> set
            marked r;
            if (PTLOAD_UNLIKELY(!pop_mark(r))) return no_mark();
            auto s = below(r.from);
            if (!s) return std::move(s).pass_error();
            if (kind_of(*s) != kind::set) return fail(errc::bad_operand, {"ADDITEMS on a ", kind_name(kind_of(*s))});
            for (std::size_t i = 0; i < r.count; ++i) PTLOAD_TRY(set_add(*s, stack_[r.from + i]));
            truncate_stack(r.from);
            return {};
        } else {
            static_assert(B != B, "opcode_table puts this opcode in the container family, which has no handler for it");
            return {};
        }
    }

    /// PUT and GET: the memo.
    template <std::uint8_t B>
    PTLOAD_INLINE status memo_op() {
        if constexpr (B == 'p') {  // PUT text index: memo[i] = top
            auto line = take_line();
            if (!line) return std::move(line).pass_error();
            auto idx = detail::parse_python_int(*line, 20);
            if (idx.status != detail::parsed_int::ok || !idx.small) return fail(errc::bad_text, "PUT index is not an integer");
            if (idx.value < 0) return fail(errc::bad_operand, "negative PUT index");
            auto t = top();
            if (!t) return std::move(t).pass_error();
            return memo_put(static_cast<std::uint64_t>(idx.value), *t);
        } else if constexpr (B == 'q' || B == 'r') {  // BINPUT u1 / LONG_BINPUT u4
            std::uint64_t idx;
            if (PTLOAD_UNLIKELY(!read_count<B>(idx))) return count_error<B>();
            if (PTLOAD_UNLIKELY(stack_.size() <= fence())) return underflow();
            return memo_put(idx, stack_.back());
        } else if constexpr (B == 0x94) {  // MEMOIZE: memo[len(memo)] = top
            if (PTLOAD_UNLIKELY(stack_.size() <= fence())) return underflow();
            return memo_put(memo_count_, stack_.back());
        } else if constexpr (B == 'g') {  // GET text index
            auto line = take_line();
            if (!line) return std::move(line).pass_error();
            auto idx = detail::parse_python_int(*line, 20);
            if (idx.status != detail::parsed_int::ok || !idx.small || idx.value < 0)
                return fail(errc::bad_text, "GET index is not a memo index");
            return memo_get(static_cast<std::uint64_t>(idx.value));
        } else if constexpr (B == 'h' || B == 'j') {  // BINGET u1 / LONG_BINGET u4
            std::uint64_t idx;
            if (PTLOAD_UNLIKELY(!read_count<B>(idx))) return count_error<B>();
            if constexpr (has_fused_call<Handler>::value) {
                PTLOAD_TRY(memo_get(idx));
                if (stack_.back() != handler_.fused_callable()) return {};
                lane l(*this);
                return handler_.fused_call(l);  // the run that follows in one step, or nothing
            } else {
                return memo_get(idx);
            }
        } else {
            static_assert(B != B, "opcode_table puts this opcode in the memo family, which has no handler for it");
            return {};
        }
    }

    /// globals, calls (REDUCE, NEWOBJ, OBJ, INST), BUILD and persistent ids: what the handler gives meaning to.
    template <std::uint8_t B>
    PTLOAD_INLINE status object_op() {
        if constexpr (B == 'c' || B == 'i') {  // GLOBAL / INST: module\n name\n
            auto module = take_line();
            if (!module) return std::move(module).pass_error();
            auto name = take_line();
            if (!name) return std::move(name).pass_error();
            // GLOBAL decodes both lines as UTF-8, INST as ASCII (CPython 3).
            for (std::string_view part : {*module, *name}) {
                bool sur = false;
                auto p = reinterpret_cast<const std::uint8_t*>(part.data());
                if (B == 'c' ? detail::utf8_validate(p, part.size(), false, sur) != part.size()
                             : detail::ascii_decode(p, part.size(), false, scratch_) != part.size())
                    return fail(errc::decode_error, "global name is not valid text");
            }
            if constexpr (B == 'c') {
                return push_global(*module, *name);
            } else {
                marked r;
                if (PTLOAD_UNLIKELY(!pop_mark(r))) return no_mark();
                node_id args = doc_.make_seq(kind::tuple, stack_at(r.from), r.count);
                truncate_stack(r.from);
                PTLOAD_TRY(push_global(*module, *name));
                node_id cls = stack_.back();
                stack_.pop_back();
                auto obj = call(cls, args);
                if (!obj) return std::move(obj).pass_error();
                return push(*obj);
            }
        } else if constexpr (B == 0x93) {  // STACK_GLOBAL: module name -> global
            auto name = pop();
            if (!name) return std::move(name).pass_error();
            auto module = pop();
            if (!module) return std::move(module).pass_error();
            if (kind_of(*name) != kind::string || kind_of(*module) != kind::string)
                return fail(errc::bad_operand, "STACK_GLOBAL needs two str operands");
            // the texts live in the document's arena, which never moves
            return push_global(doc_.text(*module), doc_.text(*name));
        } else if constexpr (B == 'o') {  // OBJ: mark cls args... -> instance
            marked r;
            if (PTLOAD_UNLIKELY(!pop_mark(r))) return no_mark();
            if (r.count == 0) return fail(errc::stack_underflow, "OBJ without a class");
            node_id cls = stack_[r.from];
            node_id args = doc_.make_seq(kind::tuple, stack_at(r.from + 1), r.count - 1);
            truncate_stack(r.from);
            auto obj = call(cls, args);
            if (!obj) return std::move(obj).pass_error();
            return push(*obj);
        } else if constexpr (B == 'R') {  // REDUCE: callable args -> callable(*args)
            node_id args, callable;
            if (PTLOAD_UNLIKELY(!pop_value(args) || !pop_value(callable))) return underflow();
            auto obj = call(callable, args);
            if (!obj) return std::move(obj).pass_error();
            return push(*obj);
        } else if constexpr (B == 0x81) {  // NEWOBJ: cls args -> cls.__new__(cls, *args)
            auto args = pop();
            if (!args) return std::move(args).pass_error();
            auto cls = pop();
            if (!cls) return std::move(cls).pass_error();
            auto obj = new_object(*cls, *args, null_node);
            if (!obj) return std::move(obj).pass_error();
            return push(*obj);
        } else if constexpr (B == 0x92) {  // NEWOBJ_EX: cls args kwargs -> cls.__new__(cls, *args, **kwargs)
            auto kwargs = pop();
            if (!kwargs) return std::move(kwargs).pass_error();
            auto args = pop();
            if (!args) return std::move(args).pass_error();
            auto cls = pop();
            if (!cls) return std::move(cls).pass_error();
            if (kind_of(*kwargs) != kind::dict) return fail(errc::bad_operand, "NEWOBJ_EX keyword arguments are not a dict");
            auto obj = new_object(*cls, *args, *kwargs);
            if (!obj) return std::move(obj).pass_error();
            return push(*obj);
        } else if constexpr (B == 'b') {  // BUILD: obj state -> obj
            auto state = pop();
            if (!state) return std::move(state).pass_error();
            auto obj = top();
            if (!obj) return std::move(obj).pass_error();
            return build(*obj, *state);
        } else if constexpr (B == 'P' || B == 'Q') {  // PERSID text / BINPERSID pid -> persistent_load(pid)
            node_id pid;
            if constexpr (B == 'P') {
                auto line = take_line();
                if (!line) return std::move(line).pass_error();
                bool sur = false;
                if (detail::utf8_validate(reinterpret_cast<const std::uint8_t*>(line->data()), line->size(), false, sur) != line->size())
                    return fail(errc::decode_error, "PERSID is not ASCII text");
                pid = doc_.make_text(kind::string, line->data(), line->size());
            } else if (PTLOAD_UNLIKELY(!pop_value(pid))) {
                return underflow();
            }
            auto obj = handler_.persistent_load(doc_, pid, file_offset());
            if (!obj) return locate(std::move(obj).err());
            return push(*obj);
        } else if constexpr (B == 0x82 || B == 0x83 || B == 0x84) {  // EXT1/2/4: extension registry
            return fail(errc::ext_code, "extension codes need copyreg's registry, which a checkpoint reader does not have");
        } else {
            static_assert(B != B, "opcode_table puts this opcode in the object family, which has no handler for it");
            return {};
        }
    }

    template <std::size_t... I>
    static constexpr std::array<handler_fn, 256> make_table(std::index_sequence<I...>) {
        return {{entry<static_cast<std::uint8_t>(I)>()...}};
    }
    static constexpr std::array<handler_fn, 256> dispatch_table = make_table(std::make_index_sequence<256>{});

public:
    /// Compile-time check that every opcode byte has its own handler and no other byte does
    /// (tests static_assert it for each policy combination).
    static constexpr bool table_complete() {
        handler_fn unknown = &basic_machine::unknown_op;
        std::size_t handled = 0;
        for (std::size_t b = 0; b < 256; ++b) {
            bool is_op = is_opcode(static_cast<std::uint8_t>(b));
            if (is_op == (dispatch_table[b] == unknown)) return false;
            handled += is_op;
        }
        return handled == opcode_count;
    }

private:
    document_data& doc_;
    Handler& handler_;
    const std::uint8_t* begin_;
    const std::uint8_t* cur_;
    const std::uint8_t* end_;
    // The run loop tests cur_ against limit_ alone: it is the nearest of end_, frame_end_ and
    // release_at_, or begin_ once STOP has run, so each of those events costs nothing per opcode.
    const std::uint8_t* limit_ = end_;
    const std::uint8_t* release_at_ = end_;  // where parsed input is next given back (end_: never)
    const std::uint8_t* released_ = begin_;  // input before this was given back
    const std::uint8_t* frame_end_ = nullptr;
    const std::uint8_t* take_end_ = end_;  // where arguments must end: frame_end_ in a frame (never past end_), else end_
    run_options opts_;
    detail::decoding_ops decoding_;
    limit_values limits_;
    key_index keys_;
    detail::pod_vector<node_id> stack_;
    detail::vector<std::size_t> marks_;
    detail::pod_vector<node_id> memo_;
    detail::flat_map<std::uint32_t, node_id> sparse_memo_;
    std::uint64_t memo_count_ = 0;
    std::uint64_t node_budget_ = 0;
    const std::uint8_t* op_at_ = begin_;  // where the running opcode starts
    std::size_t next_buffer_ = 0;
    int proto_ = 0;
    bool stopped_ = false;
    bool allowlist_only_;
    node_id result_ = null_node;
    node_id none_ = null_node;
    node_id empty_tuple_ = null_node;
    node_id bools_[2] = {null_node, null_node};
    node_id small_ints_[256];
    detail::string scratch_;
};

/// The machine for a policy set (ptload::policies<...>): its decoding, limits and globals policy.
template <class Policies, class Handler>
class machine : public basic_machine<Handler> {
public:
    machine(document_data& doc, Handler& handler, const std::uint8_t* data, std::size_t size, run_options opts)
        : basic_machine<Handler>(doc, handler, data, size, std::move(opts),
                                 detail::decoding_ops_of<typename Policies::decoding>(),
                                 limit_values::of<typename Policies::limits>(), Policies::globals::allowlist_only) {}
};

} // namespace pickle
} // namespace v0
} // namespace ptload

#endif
