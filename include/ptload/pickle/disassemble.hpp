// pickle/disassemble.hpp: what a pickle would import, found without unpickling it.
//
// One linear pass over the opcodes (opcodes.hpp) with a shadow stack that holds only what a
// verdict needs: string and bytes constants, small integers, globals, tuples' first element, and
// "computed" for everything built at load time. The shadow memo mirrors PUT/GET/MEMOIZE, so a
// STACK_GLOBAL fed from the memo or from STRING/UNICODE/BINUNICODE resolves to the names
// CPython's find_class would receive; operands that only exist at load time are reported as
// dangerous. Nothing is allocated per value beyond a fixed-size slot, strings are views into
// the input (or decoded once), and the memo grows only with the PUTs actually seen.
#ifndef PTLOAD_PICKLE_DISASSEMBLE_HPP
#define PTLOAD_PICKLE_DISASSEMBLE_HPP

#include "../detail/text.hpp"
#include "../detail/utf8.hpp"
#include "../error.hpp"
#include "../torch/globals.hpp"
#include "globals.hpp"
#include "opcodes.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ptload {
inline namespace v0 {

/// How far a name can be trusted in a checkpoint: the verdict resolve_global gives a global.
using scan_verdict = pickle::verdict;

constexpr const char* scan_verdict_name(scan_verdict v) noexcept {
    return v == scan_verdict::safe ? "safe" : v == scan_verdict::unknown ? "unknown" : "dangerous";
}

/// What a finding is about.
enum class scan_item : std::uint8_t {
    global,         ///< a name the pickle imports (GLOBAL, STACK_GLOBAL, INST)
    persistent_id,  ///< a persistent id handed to the loader (its kind: "storage", "module", ...)
    extension,      ///< EXT1/2/4: a name looked up in copyreg's extension registry at load time
    call,           ///< what the pickle does with a global (mutates it, loads a nested stream)
    structure,      ///< the container: zip/tar layout, polyglots, bytes after STOP
};

constexpr const char* scan_item_name(scan_item k) noexcept {
    switch (k) {
    case scan_item::global: return "global";
    case scan_item::persistent_id: return "persistent_id";
    case scan_item::extension: return "extension";
    case scan_item::call: return "call";
    case scan_item::structure: return "structure";
    }
    return "unknown";
}

/// One thing a scan found. Repeats of the same thing in the same stream are counted, and the
/// offsets are those of the first.
struct scan_finding {
    scan_item item = scan_item::global;
    scan_verdict rating = scan_verdict::unknown;
    std::string module, name;      ///< global: after CPython's renames; persistent id: name is its kind
    std::string written;           ///< the global as the pickle spells it, when a rename applied
    std::string why;               ///< why this verdict, or what the structure finding is
    std::string where;             ///< the stream: "archive/data.pkl", "legacy main pickle", nested with " > "
    std::uint64_t offset = no_offset;         ///< byte offset in the file (no_offset inside inflated data)
    std::uint64_t stream_offset = no_offset;  ///< byte offset inside the stream named by `where`
    std::uint64_t count = 1;
};

/// Findings and errors of one scan, with repeats folded.
class scan_sink {
public:
    /// Adds f, or counts it against the same finding seen before; returns its index.
    std::size_t add(scan_finding f) {
        std::string key;
        key.reserve(f.where.size() + f.module.size() + f.name.size() + f.why.size() + 8);
        key += static_cast<char>('0' + static_cast<int>(f.item));
        key += static_cast<char>('0' + static_cast<int>(f.rating));
        for (const std::string* s : {&f.where, &f.module, &f.name, &f.written, &f.why}) {
            key += std::to_string(s->size());
            key += ':';
            key += *s;
        }
        auto it = index_.find(key);
        if (it != index_.end()) {
            findings_[it->second].count += f.count;
            return it->second;
        }
        index_.emplace(std::move(key), findings_.size());
        findings_.push_back(std::move(f));
        return findings_.size() - 1;
    }
    /// One more occurrence of the finding at `index`.
    void repeat(std::size_t index) { ++findings_[index].count; }
    void add_error(error e) { errors_.push_back(std::move(e)); }
    void merge(scan_sink&& other) {
        for (auto& f : other.findings_) add(std::move(f));
        for (auto& e : other.errors_) errors_.push_back(std::move(e));
        other = scan_sink();
    }
    bool dangerous() const noexcept {
        for (const auto& f : findings_)
            if (f.rating == scan_verdict::dangerous) return true;
        return false;
    }
    const std::vector<scan_finding>& findings() const noexcept { return findings_; }
    const std::vector<error>& errors() const noexcept { return errors_; }
    std::vector<scan_finding> take_findings() { index_.clear(); return std::move(findings_); }
    std::vector<error> take_errors() { return std::move(errors_); }

private:
    std::vector<scan_finding> findings_;
    std::unordered_map<std::string, std::size_t> index_;
    std::vector<error> errors_;
};

namespace pickle {

/// The verdict for module.name as find_class receives it, and why: resolve_global applies
/// CPython's renames and follows dotted names attribute by attribute, as protocol 4 does.
inline scan_verdict rate_name(std::string_view module, std::string_view name, int proto, resolved_global& g,
                              std::string& why, std::size_t max_name_parts = default_limits::max_name_parts) {
    g = resolve_global(module, name, proto, max_name_parts);
    if (g.rating == verdict::dangerous) {
        why = std::string(g.why);
        if (!g.denied_as.empty() && g.denied_as != std::string(g.module) + "." + std::string(g.name))
            why += " (as " + g.denied_as + ")";
    }
    else if (g.rating == verdict::unknown) why = "not on the default allowlist; loads as an inert object";
    return g.rating;
}

namespace detail {

/// One shadow-stack slot.
struct shadow {
    enum class type : std::uint8_t {
        computed,    ///< built at load time: could be anything, a str included
        fixed,       ///< a value of a known non-str type (number, None, container)
        str,         ///< a str constant
        bytes,       ///< a bytes constant
        latin1_of,   ///< _codecs.encode(str, 'latin1'): the bytes protocol 2 writes for bytes
        integer,     ///< an int constant that fits 64 bits
        magic,       ///< torch's legacy magic number 0x1950a86a20f9469cfc6c
        tuple,       ///< a tuple; `first` describes its first element
        global,      ///< what find_class returned
    };
    enum class tag : std::uint8_t { other, load_from_bytes, codecs_encode, storage_class };
    type t = type::computed;
    bool pooled = false;      ///< str/bytes text lives in the pool, not the input
    tag g = tag::other;       ///< global: which one matters here
    bool latin1_pair = false; ///< tuple: (x, 'latin1') or an equivalent spelling
    std::uint64_t a = 0;      ///< str/bytes: input offset or pool index; integer: value; global: finding index
    std::uint64_t b = 0;      ///< str/bytes: length; global: element size of a storage class
    std::uint64_t origin = 0; ///< input offset of the opcode that made it: the identity of its bytes
    // the first element of a tuple (its own first element is not kept)
    type first_t = type::computed;
    bool first_pooled = false;
    std::uint64_t first_a = 0, first_b = 0, first_origin = 0;
};

} // namespace detail

/// What one pickle left behind: where it ended and what STOP returned.
struct walk_outcome {
    std::size_t end = 0;             ///< offset just past STOP
    detail::shadow value;            ///< the value STOP returned, as far as the shadow knows it
    std::size_t storage_element = 0; ///< element size of the last legacy storage class named (tar)
};

/// A pickle walker: `Limits` bounds the shadow stack and sparse memo; `Nested` is called as
/// `status nested(const std::uint8_t* p, std::size_t n, std::uint64_t base, const std::string& where,
/// scan_sink& sink)` for each literal bytes argument of torch.storage._load_from_bytes.
template <class Limits, class Nested>
class disassembler {
    using shadow = detail::shadow;
    using type = shadow::type;

public:
    /// p[0, n) holds the pickle; its first byte is at file offset `base` (no_offset when the
    /// bytes are not the file's, e.g. inflated), and findings are named after `where`.
    /// `stream_base` is the offset of p[0] inside the stream `where` names (a zip record, the
    /// nested bytes), for findings' stream_offset.
    disassembler(const std::uint8_t* p, std::size_t n, std::uint64_t base, std::uint64_t stream_base, std::string where,
                 scan_sink& sink, Nested& nested)
        : p_(p), n_(n), base_(base), stream_base_(stream_base), where_(std::move(where)), sink_(sink), nested_(nested) {}

    /// Runs to STOP. On error, the findings seen so far are already in the sink.
    result<walk_outcome> run() {
        for (;;) {
            op_at_ = pos_;
            if (pos_ >= n_) return fail(errc::truncated, "pickle ended before STOP", 0);
            const std::uint8_t op = p_[pos_++];
            const opcode_info* row = find_opcode(op);
            if (!row) return fail(errc::unknown_opcode, "byte 0x" + hex2(op) + " is not a pickle opcode", op);
            PTLOAD_TRY(read_argument(*row));
            if (op == '.') {
                auto v = pop(op);
                if (!v) return std::move(v).pass_error();
                walk_outcome out;
                out.end = pos_;
                out.value = *v;
                out.storage_element = storage_element_;
                return out;
            }
            PTLOAD_TRY(execute(op));
        }
    }

private:
    // ------------------------------------------------------------------ errors and findings
    static std::string hex2(std::uint8_t b) {
        static constexpr char digits[] = "0123456789abcdef";
        return std::string{digits[b >> 4], digits[b & 15]};
    }
    std::uint64_t file_offset(std::size_t at) const noexcept { return base_ == no_offset ? no_offset : base_ + at; }
    error fail(errc code, std::string message, std::uint8_t op) const {
        std::string ctx = where_;
        if (op) ctx += std::string(", opcode ") + std::string(opcode_name(op));
        return make_error(code, base_ == no_offset ? op_at_ : base_ + op_at_, std::move(message), std::move(ctx));
    }
    std::size_t report(scan_item item, scan_verdict rating, std::string module, std::string name, std::string why,
                       std::string written = {}) {
        scan_finding f;
        f.item = item;
        f.rating = rating;
        f.module = std::move(module);
        f.name = std::move(name);
        f.written = std::move(written);
        f.why = std::move(why);
        f.where = where_;
        f.offset = file_offset(op_at_);
        f.stream_offset = stream_base_ + op_at_;
        return sink_.add(std::move(f));
    }

    // ------------------------------------------------------------------ arguments
    status need(std::uint64_t k) {
        if (k > n_ - pos_)
            return fail(errc::truncated, "needs " + std::to_string(k) + " bytes, " + std::to_string(n_ - pos_) + " left",
                        p_[op_at_]);
        return {};
    }
    std::uint64_t le(std::size_t at, int width) const noexcept {
        std::uint64_t v = 0;
        for (int i = width - 1; i >= 0; --i) v = (v << 8) | p_[at + static_cast<std::size_t>(i)];
        return v;
    }
    result<std::string_view> line() {
        const void* nl = std::memchr(p_ + pos_, '\n', n_ - pos_);
        if (!nl) return fail(errc::truncated, "text argument has no end of line", p_[op_at_]);
        const auto* end = static_cast<const std::uint8_t*>(nl);
        std::string_view s(reinterpret_cast<const char*>(p_ + pos_), static_cast<std::size_t>(end - (p_ + pos_)));
        pos_ = static_cast<std::size_t>(end - p_) + 1;
        return s;
    }
    /// Reads the inline argument into arg_int_ / arg_at_+arg_len_ / line1_, line2_.
    status read_argument(const opcode_info& row) {
        const std::uint8_t op = row.byte;
        switch (row.argument) {
        case arg::none: return {};
        case arg::u1: case arg::u2: case arg::i4: case arg::u4: case arg::u8: case arg::f8_be: {
            const int width = row.argument == arg::u1 ? 1 : row.argument == arg::u2 ? 2
                            : (row.argument == arg::i4 || row.argument == arg::u4) ? 4 : 8;
            PTLOAD_TRY(need(static_cast<std::uint64_t>(width)));
            arg_int_ = le(pos_, width);
            pos_ += static_cast<std::size_t>(width);
            return {};
        }
        case arg::line: {
            auto l = line();
            if (!l) return std::move(l).pass_error();
            line1_ = *l;
            return {};
        }
        case arg::two_lines: {
            auto l1 = line();
            if (!l1) return std::move(l1).pass_error();
            auto l2 = line();
            if (!l2) return std::move(l2).pass_error();
            line1_ = *l1;
            line2_ = *l2;
            return {};
        }
        case arg::u1_bytes: case arg::i4_bytes: case arg::u4_bytes: case arg::u8_bytes: {
            const int width = row.argument == arg::u1_bytes ? 1 : row.argument == arg::u8_bytes ? 8 : 4;
            PTLOAD_TRY(need(static_cast<std::uint64_t>(width)));
            std::uint64_t len = le(pos_, width);
            if (row.argument == arg::i4_bytes && (len & 0x80000000u))
                return fail(errc::bad_operand, std::string(row.name) + " length is negative", op);
            pos_ += static_cast<std::size_t>(width);
            PTLOAD_TRY(need(len));  // checked against the bytes that exist before anything else
            arg_at_ = pos_;
            arg_len_ = static_cast<std::size_t>(len);
            pos_ += arg_len_;
            return {};
        }
        }
        return {};
    }

    // ------------------------------------------------------------------ stack and memo
    std::size_t fence() const noexcept { return marks_.empty() ? 0 : marks_.back(); }
    status push(shadow v) {
        if (stack_.size() >= Limits::max_stack)
            return fail(errc::limit_stack, "more than " + std::to_string(Limits::max_stack) + " items on the stack",
                        p_[op_at_]);
        v.origin = op_at_;
        stack_.push_back(v);
        return {};
    }
    status push_copy(const shadow& v) {  // keeps the identity of the original
        if (stack_.size() >= Limits::max_stack)
            return fail(errc::limit_stack, "more than " + std::to_string(Limits::max_stack) + " items on the stack",
                        p_[op_at_]);
        stack_.push_back(v);
        return {};
    }
    status push_type(type t) {
        shadow v;
        v.t = t;
        return push(v);
    }
    result<shadow> pop(std::uint8_t op) {
        if (stack_.size() <= fence()) return fail(errc::stack_underflow, "the stack is empty", op);
        shadow v = stack_.back();
        stack_.pop_back();
        return v;
    }
    result<shadow*> top(std::uint8_t op) {
        if (stack_.size() <= fence()) return fail(errc::stack_underflow, "the stack is empty", op);
        return &stack_.back();
    }
    /// Removes everything above the top MARK and the MARK; returns the index of the first item.
    result<std::size_t> pop_mark(std::uint8_t op) {
        if (marks_.empty()) return fail(errc::mark_missing, "no MARK on the stack", op);
        std::size_t at = marks_.back();
        marks_.pop_back();
        return at;
    }
    status memo_put(std::uint64_t index, const shadow& v) {
        if (index < dense_.size() || index <= 2 * memo_count_ + 4096) {
            if (index >= dense_.size()) {
                dense_.resize(static_cast<std::size_t>(index) + 1);
                present_.resize(static_cast<std::size_t>(index) + 1, false);
            }
            if (!present_[static_cast<std::size_t>(index)]) ++memo_count_;
            dense_[static_cast<std::size_t>(index)] = v;
            present_[static_cast<std::size_t>(index)] = true;
            return {};
        }
        auto it = sparse_.find(index);
        if (it == sparse_.end()) {
            if (sparse_.size() >= Limits::max_memo)
                return fail(errc::limit_memo, "more than " + std::to_string(Limits::max_memo) + " sparse memo entries",
                            p_[op_at_]);
            ++memo_count_;
            sparse_.emplace(index, v);
        } else {
            it->second = v;
        }
        return {};
    }
    result<shadow> memo_get(std::uint64_t index) {
        if (index < dense_.size() && present_[static_cast<std::size_t>(index)]) return dense_[static_cast<std::size_t>(index)];
        auto it = sparse_.find(index);
        if (it != sparse_.end()) return it->second;
        return fail(errc::memo_missing, "memo index " + std::to_string(index) + " was never stored", p_[op_at_]);
    }
    result<std::uint64_t> text_index(std::uint8_t op) {
        auto parsed = ::ptload::detail::parse_python_int(line1_, 20);
        if (parsed.status != ::ptload::detail::parsed_int::ok || !parsed.small || parsed.value < 0)
            return fail(errc::bad_text, "index \"" + std::string(line1_.substr(0, 40)) + "\" is not a memo index", op);
        return static_cast<std::uint64_t>(parsed.value);
    }

    // ------------------------------------------------------------------ text of constants
    std::string_view text(bool pooled, std::uint64_t a, std::uint64_t b) const {
        if (pooled) return pool_[static_cast<std::size_t>(a)];
        return std::string_view(reinterpret_cast<const char*>(p_ + a), static_cast<std::size_t>(b));
    }
    status push_pooled(type t, std::string s) {
        shadow v;
        v.t = t;
        v.pooled = true;
        v.a = pool_.size();
        v.b = s.size();
        pool_.push_back(std::move(s));
        return push(v);
    }
    status push_span(type t) {
        shadow v;
        v.t = t;
        v.a = arg_at_;
        v.b = arg_len_;
        return push(v);
    }
    static bool is_latin1_name(std::string_view s) {
        return s == "latin1" || s == "latin-1" || s == "iso-8859-1" || s == "iso8859-1" || s == "ISO-8859-1" ||
               s == "l1" || s == "latin_1";
    }

    // ------------------------------------------------------------------ globals
    status push_global(std::string_view module, std::string_view name, std::uint8_t op) {
        // A pickle names few distinct globals, however often: resolve each once per protocol.
        std::string key;
        key.reserve(module.size() + name.size() + 2);
        key += static_cast<char>('0' + proto_);
        key += module;
        key += '\n';
        key += name;
        auto cached = resolved_.find(key);
        if (cached != resolved_.end()) {
            sink_.repeat(static_cast<std::size_t>(cached->second.a));
            return push(cached->second);
        }
        resolved_global g;
        std::string why;
        const scan_verdict v = rate_name(module, name, proto_, g, why, Limits::max_name_parts);
        std::string written;
        if (g.module != module || g.name != name) written = std::string(module) + "." + std::string(name);
        shadow s;
        s.t = type::global;
        s.a = report(scan_item::global, v, std::string(g.module), std::string(g.name), std::move(why), std::move(written));
        const torch_global t = find_torch_global(g);
        if (t == torch_global::load_from_bytes) s.g = shadow::tag::load_from_bytes;
        else if (g.id == known_global::codecs_encode) s.g = shadow::tag::codecs_encode;
        else if (t == torch_global::storage_class) {
            s.g = shadow::tag::storage_class;
            const dtype_size ds = storage_element_size(g.name);
            s.b = ds;
            if (ds) storage_element_ = ds;
        }
        (void)op;
        resolved_.emplace(std::move(key), s);  // a repeat adds to the same finding, as sink_.add would
        return push(s);
    }
    using dtype_size = std::size_t;
    /// Element size of a legacy typed storage class ("FloatStorage"), 0 if not one.
    static dtype_size storage_element_size(std::string_view n) {
        static constexpr std::pair<std::string_view, std::size_t> sizes[] = {
            {"DoubleStorage", 8}, {"FloatStorage", 4}, {"HalfStorage", 2}, {"BFloat16Storage", 2},
            {"LongStorage", 8}, {"IntStorage", 4}, {"ShortStorage", 2}, {"CharStorage", 1},
            {"ByteStorage", 1}, {"BoolStorage", 1}, {"ComplexDoubleStorage", 16}, {"ComplexFloatStorage", 8},
            {"QInt8Storage", 1}, {"QUInt8Storage", 1}, {"QInt32Storage", 4}, {"QUInt4x2Storage", 1},
            {"QUInt2x4Storage", 1},
        };
        for (const auto& row : sizes)
            if (row.first == n) return row.second;
        return 0;
    }
    /// BUILD, SETITEM(S), APPEND(S) and ADDITEMS on what find_class returned change a module or
    /// class for everything loaded after it (the "sys module override" attack).
    void check_mutation(const shadow& target, const char* what) {
        if (target.t != type::global) return;
        const scan_finding& g = sink_.findings()[static_cast<std::size_t>(target.a)];
        report(scan_item::call, scan_verdict::dangerous, g.module, g.name,
               std::string(what) + " changes the imported object itself, so later imports see what the pickle put there");
    }
    /// torch.storage._load_from_bytes(b) runs torch.load on b: scan b as a stream of its own.
    status load_from_bytes(const shadow& args) {
        if (args.t != type::tuple || (args.first_t != type::bytes && args.first_t != type::latin1_of)) {
            report(scan_item::call, scan_verdict::dangerous, "torch.storage", "_load_from_bytes",
                   "loads a torch stream whose bytes are computed at load time, so they cannot be scanned");
            return {};
        }
        if (!nested_seen_.insert(args.first_origin).second) return {};  // the same bytes, fetched again
        std::string_view raw = text(args.first_pooled, args.first_a, args.first_b);
        std::string where = where_ + " > torch.storage._load_from_bytes at " + std::to_string(op_at_);
        if (args.first_t == type::bytes) {
            const std::uint64_t base = args.first_pooled ? no_offset : file_offset(static_cast<std::size_t>(args.first_a));
            std::vector<std::uint8_t> copy(raw.begin(), raw.end());  // the pool may move while nested runs
            return nested_(copy.data(), copy.size(), base, where, sink_);
        }
        // The str's code points are the bytes (Latin-1); anything above U+00FF cannot be encoded.
        std::vector<std::uint8_t> bytes;
        bytes.reserve(raw.size());
        const auto* s = reinterpret_cast<const std::uint8_t*>(raw.data());
        for (std::size_t i = 0; i < raw.size();) {
            std::size_t bad = 0;
            std::uint32_t cp = 0;
            const std::size_t len = ::ptload::detail::utf8_sequence(s + i, raw.size() - i, true, bad, &cp);
            if (!len || cp > 0xFF)
                return fail(errc::bad_operand, "_codecs.encode argument is not Latin-1 text", p_[op_at_]);
            bytes.push_back(static_cast<std::uint8_t>(cp));
            i += len;
        }
        return nested_(bytes.data(), bytes.size(), no_offset, where, sink_);
    }

    // ------------------------------------------------------------------ opcodes
    status execute(std::uint8_t op) {
        switch (op) {
        case '(':  // MARK
            if (marks_.size() >= Limits::max_stack)
                return fail(errc::limit_stack, "more than " + std::to_string(Limits::max_stack) + " marks", op);
            marks_.push_back(stack_.size());
            return {};
        case '0':  // POP: the top item, or the top MARK when nothing lies above it
            if (!marks_.empty() && marks_.back() == stack_.size()) {
                marks_.pop_back();
                return {};
            } else {
                auto v = pop(op);
                if (!v) return std::move(v).pass_error();
                return {};
            }
        case '1': {  // POP_MARK
            auto at = pop_mark(op);
            if (!at) return std::move(at).pass_error();
            stack_.resize(*at);
            return {};
        }
        case '2': {  // DUP
            auto t = top(op);
            if (!t) return std::move(t).pass_error();
            shadow copy = **t;
            return push_copy(copy);
        }
        case 'F': case 'G': case 'N': case 0x88: case 0x89: case '}': case ']': case 0x8F:
            return push_type(type::fixed);
        case ')': {  // EMPTY_TUPLE
            shadow v;
            v.t = type::tuple;
            v.first_t = type::fixed;
            return push(v);
        }
        case 'I': {  // INT: text; "01"/"00" are booleans
            if (line1_ == "01" || line1_ == "00") return push_type(type::fixed);
            auto parsed = ::ptload::detail::parse_python_int(line1_, Limits::max_int_digits);
            if (parsed.status != ::ptload::detail::parsed_int::ok)
                return fail(errc::bad_text, "INT argument is not an integer", op);
            shadow v;
            v.t = parsed.small ? type::integer : type::fixed;
            v.a = static_cast<std::uint64_t>(parsed.value);
            return push(v);
        }
        case 'J': case 'K': case 'M': {
            shadow v;
            v.t = type::integer;
            v.a = op == 'J' ? static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int32_t>(arg_int_)))
                            : arg_int_;
            return push(v);
        }
        case 'L': {  // LONG: text
            std::string_view t = ::ptload::detail::strip(line1_);
            if (!t.empty() && t.back() == 'L') t.remove_suffix(1);
            shadow v;
            v.t = t == "119547037146038801333356" ? type::magic : type::fixed;
            return push(v);
        }
        case 0x8A: case 0x8B: {  // LONG1, LONG4: little-endian two's complement
            static const std::uint8_t magic[] = {0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19};
            shadow v;
            v.t = type::fixed;
            if (arg_len_ == sizeof magic && std::memcmp(p_ + arg_at_, magic, sizeof magic) == 0) v.t = type::magic;
            return push(v);
        }
        case 'S': {  // STRING: a quoted Python literal
            std::string_view q = line1_;
            while (!q.empty() && (q.back() == '\r' || q.back() == ' ')) q.remove_suffix(1);
            if (q.size() < 2 || q.front() != q.back() || (q.front() != '\'' && q.front() != '"'))
                return fail(errc::bad_text, "STRING argument is not quoted", op);
            std::string out;
            if (!::ptload::detail::python_escape_decode(q.substr(1, q.size() - 2), out))
                return fail(errc::bad_text, "STRING argument has a bad escape", op);
            return push_pooled(type::str, std::move(out));
        }
        case 'V': {  // UNICODE: raw-unicode-escape
            std::string out;
            bool surrogates = false;
            if (!::ptload::detail::raw_unicode_escape_decode(line1_, out, surrogates))
                return fail(errc::bad_text, "UNICODE argument has a bad escape", op);
            return push_pooled(type::str, std::move(out));
        }
        case 'T': case 'U': case 'X': case 0x8C: case 0x8D:  // BINSTRING (decoded to str by torch.load), BINUNICODE...
            return push_span(type::str);
        case 'B': case 'C': case 0x8E: case 0x96:  // BINBYTES..., BYTEARRAY8
            return push_span(type::bytes);
        case 'P': {  // PERSID: a text persistent id
            report(scan_item::persistent_id, scan_verdict::safe, "", "str", "");
            return push_type(type::computed);
        }
        case 'Q': {  // BINPERSID: pid -> persistent_load(pid)
            auto pid = pop(op);
            if (!pid) return std::move(pid).pass_error();
            std::string kind = "?";
            scan_verdict v = scan_verdict::unknown;
            std::string why = "a persistent id that is not a tuple naming its kind";
            if (pid->t == type::tuple && pid->first_t == type::str) {
                kind = std::string(text(pid->first_pooled, pid->first_a, pid->first_b));
                if (kind == "storage" || kind == "module") {
                    v = scan_verdict::safe;
                    why.clear();
                } else {
                    why = "torch's loaders know only 'storage' and 'module' persistent ids";
                }
            } else if (pid->t == type::tuple && pid->first_t == type::global) {
                kind = "class";  // torch 0.1's (module class, source file, source) for a pickled module
                v = scan_verdict::safe;
                why.clear();
            } else if (pid->t == type::str || pid->t == type::integer) {
                kind = pid->t == type::str ? "str" : "int";
                v = scan_verdict::safe;
                why.clear();
            }
            if (kind.size() > 64) kind = kind.substr(0, 64) + "...";
            report(scan_item::persistent_id, v, "", kind, std::move(why));
            return push_type(type::computed);
        }
        case 'R': {  // REDUCE: callable args -> callable(*args)
            auto args = pop(op);
            if (!args) return std::move(args).pass_error();
            auto callable = pop(op);
            if (!callable) return std::move(callable).pass_error();
            if (callable->t == type::global && callable->g == shadow::tag::load_from_bytes) {
                PTLOAD_TRY(load_from_bytes(*args));
            } else if (callable->t == type::global && callable->g == shadow::tag::codecs_encode &&
                       args->t == type::tuple && args->first_t == type::str && args->latin1_pair) {
                shadow v;  // the bytes are the str's code points; identity stays the str's
                v.t = type::latin1_of;
                v.pooled = args->first_pooled;
                v.a = args->first_a;
                v.b = args->first_b;
                PTLOAD_TRY(push(v));
                stack_.back().origin = args->first_origin;
                return {};
            }
            return push_type(type::computed);
        }
        case 0x81: case 0x92: {  // NEWOBJ: cls args; NEWOBJ_EX: cls args kwargs
            for (int i = op == 0x81 ? 2 : 3; i > 0; --i) {
                auto v = pop(op);
                if (!v) return std::move(v).pass_error();
            }
            return push_type(type::computed);
        }
        case 'a': case 'b': case 's': {  // APPEND, BUILD: x -> ; SETITEM: k v ->
            for (int i = op == 's' ? 2 : 1; i > 0; --i) {
                auto v = pop(op);
                if (!v) return std::move(v).pass_error();
            }
            auto target = top(op);
            if (!target) return std::move(target).pass_error();
            check_mutation(**target, op == 'b' ? "BUILD" : op == 'a' ? "APPEND" : "SETITEM");
            if (op == 'b' && (*target)->t != type::global) (*target)->t = type::computed;  // __setstate__ may return anything
            return {};
        }
        case 'e': case 'u': case 0x90: {  // APPENDS, SETITEMS, ADDITEMS: target mark items ->
            auto at = pop_mark(op);
            if (!at) return std::move(at).pass_error();
            stack_.resize(*at);
            auto target = top(op);
            if (!target) return std::move(target).pass_error();
            check_mutation(**target, op == 'e' ? "APPENDS" : op == 'u' ? "SETITEMS" : "ADDITEMS");
            return {};
        }
        case 'd': case 'l': case 0x91: {  // DICT, LIST, FROZENSET: mark items -> container
            auto at = pop_mark(op);
            if (!at) return std::move(at).pass_error();
            stack_.resize(*at);
            return push_type(type::fixed);
        }
        case 't': case 0x85: case 0x86: case 0x87: {  // TUPLE, TUPLE1/2/3
            std::size_t first;
            if (op == 't') {
                auto at = pop_mark(op);
                if (!at) return std::move(at).pass_error();
                first = *at;
            } else {
                const std::size_t k = op - 0x84u;
                if (stack_.size() < fence() + k) return fail(errc::stack_underflow, "the stack is empty", op);
                first = stack_.size() - k;
            }
            shadow v;
            v.t = type::tuple;
            if (first < stack_.size()) {
                const shadow& e = stack_[first];
                v.first_t = e.t;
                v.first_pooled = e.pooled;
                v.first_a = e.a;
                v.first_b = e.b;
                v.first_origin = e.origin;
                if (stack_.size() - first == 2 && stack_[first + 1].t == type::str) {
                    const shadow& enc = stack_[first + 1];
                    v.latin1_pair = is_latin1_name(text(enc.pooled, enc.a, enc.b));
                }
            } else {
                v.first_t = type::fixed;
            }
            stack_.resize(first);
            return push(v);
        }
        case 'c': case 'i': {  // GLOBAL module name; INST module name: mark args -> instance
            if (op == 'i') {
                auto at = pop_mark(op);
                if (!at) return std::move(at).pass_error();
                stack_.resize(*at);
                PTLOAD_TRY(push_global(line1_, line2_, op));
                stack_.back().t = type::computed;
                return {};
            }
            return push_global(line1_, line2_, op);
        }
        case 0x93: {  // STACK_GLOBAL: module name -> global
            auto name = pop(op);
            if (!name) return std::move(name).pass_error();
            auto module = pop(op);
            if (!module) return std::move(module).pass_error();
            if (module->t == type::str && name->t == type::str)
                return push_global(text(module->pooled, module->a, module->b), text(name->pooled, name->a, name->b), op);
            if (module->t == type::computed || name->t == type::computed || module->t == type::global ||
                name->t == type::global) {
                report(scan_item::global, scan_verdict::dangerous, "?", "?",
                       "global name computed at load time: the import cannot be known before it runs");
                return push_type(type::computed);
            }
            return fail(errc::bad_operand, "STACK_GLOBAL needs two str operands", op);
        }
        case 'o': {  // OBJ: mark cls args... -> instance
            auto at = pop_mark(op);
            if (!at) return std::move(at).pass_error();
            if (*at >= stack_.size()) return fail(errc::stack_underflow, "OBJ without a class", op);
            stack_.resize(*at);
            return push_type(type::computed);
        }
        case 'g': case 'h': case 'j': {  // GET, BINGET, LONG_BINGET
            std::uint64_t index = arg_int_;
            if (op == 'g') {
                auto r = text_index(op);
                if (!r) return std::move(r).pass_error();
                index = *r;
            }
            auto v = memo_get(index);
            if (!v) return std::move(v).pass_error();
            return push_copy(*v);
        }
        case 'p': case 'q': case 'r': case 0x94: {  // PUT, BINPUT, LONG_BINPUT, MEMOIZE
            std::uint64_t index = op == 0x94 ? memo_count_ : arg_int_;
            if (op == 'p') {
                auto r = text_index(op);
                if (!r) return std::move(r).pass_error();
                index = *r;
            }
            auto t = top(op);
            if (!t) return std::move(t).pass_error();
            shadow copy = **t;
            return memo_put(index, copy);
        }
        case 0x80:  // PROTO
            if (arg_int_ > 5) return fail(errc::unknown_opcode, "unsupported pickle protocol " + std::to_string(arg_int_), op);
            proto_ = static_cast<int>(arg_int_);
            return {};
        case 0x95:  // FRAME: only its length is checked; CPython reads on across frame ends
            if (arg_int_ > n_ - pos_)
                return fail(errc::truncated, "FRAME of " + std::to_string(arg_int_) + " bytes, " +
                                                 std::to_string(n_ - pos_) + " left",
                            op);
            return {};
        case 0x82: case 0x83: case 0x84: {  // EXT1/2/4
            report(scan_item::extension, scan_verdict::unknown, "copyreg", "extension " + std::to_string(arg_int_),
                   "resolved through copyreg's extension registry at load time");
            return push_type(type::computed);
        }
        case 0x97:  // NEXT_BUFFER
            return push_type(type::computed);
        case 0x98: {  // READONLY_BUFFER
            auto t = top(op);
            if (!t) return std::move(t).pass_error();
            return {};
        }
        default: break;
        }
        return fail(errc::unknown_opcode, "opcode not handled", op);
    }

    const std::uint8_t* p_;
    std::size_t n_;
    std::uint64_t base_, stream_base_;
    std::string where_;
    scan_sink& sink_;
    Nested& nested_;
    std::size_t pos_ = 0, op_at_ = 0;
    int proto_ = 0;
    std::uint64_t arg_int_ = 0;
    std::size_t arg_at_ = 0, arg_len_ = 0;
    std::string_view line1_, line2_;
    std::vector<shadow> stack_;
    std::vector<std::size_t> marks_;
    std::vector<shadow> dense_;
    std::vector<bool> present_;
    std::unordered_map<std::uint64_t, shadow> sparse_;
    std::uint64_t memo_count_ = 0;
    std::vector<std::string> pool_;
    std::unordered_set<std::uint64_t> nested_seen_;
    std::unordered_map<std::string, shadow> resolved_;
    std::size_t storage_element_ = 0;
};

} // namespace pickle
} // namespace v0
} // namespace ptload

#endif
