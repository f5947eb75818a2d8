// torch/tensor_run.hpp: torch.save's opcodes for one tensor, taken in one step.
//
// A state_dict of many small tensors is mostly one run of about thirty opcodes per tensor
// (protocol 2, as torch.save writes it; PUTs may be BINPUT, LONG_BINPUT or MEMOIZE):
//
//     GET _rebuild_tensor_v2
//     MARK  MARK GET 'storage'  GET <storage class>  <key> [PUT]  <location> [PUT]  <numel>
//           TUPLE [PUT]  BINPERSID
//           <offset>  <size tuple> [PUT]  <stride tuple> [PUT]  NEWFALSE | NEWTRUE
//           GET OrderedDict  EMPTY_TUPLE  REDUCE [PUT]
//     TUPLE [PUT]  REDUCE [PUT]
//
// where the key and location are short ASCII strs or GETs of strs, the ints BININT1, BININT2 or
// BININT, and a tuple of ints EMPTY_TUPLE, TUPLE1-3 or MARK ... TUPLE (rank 8 at most here).
// The machine runs each of these through its dispatch, stack and checks, a few thousand
// instructions per tensor; once the GET has pushed the callable, the pickle machine hands the
// bytes after it to the torch handler's fused_call, which reads the whole run first without
// changing anything and, when it matches, makes its values in the opcodes' order through the
// machine's lane: the same values, memo entries and stack, the storage declared and the tensor
// rebuilt by the same functions, and an error reported at the opcode that would have raised it.
// Anything else (another shape, text that is not ASCII, a frame that ends inside, a GET of an
// entry that a PUT of the same run writes first, a limit close by) is left to the machine, which
// runs the opcodes one by one as before.
#ifndef PTLOAD_TORCH_TENSOR_RUN_HPP
#define PTLOAD_TORCH_TENSOR_RUN_HPP

#include "../error.hpp"
#include "../span.hpp"
#include "../value.hpp"
#include "globals.hpp"
#include "storage.hpp"

#include <cstdint>
#include <string_view>

namespace ptload {
inline namespace v0 {
namespace detail {

/// A size or stride tuple of a tensor run.
struct run_dims {
    static constexpr std::size_t max_rank = 8;  // longer ones are left to the machine
    std::int64_t value[max_rank];
    const std::uint8_t* at[max_rank];  // each int's opcode
    std::size_t rank = 0;
    bool empty_opcode = false;         // EMPTY_TUPLE, whose tuple is the shared one
    const std::uint8_t* put = nullptr;
};

/// The key or location of a persistent id: a str read from the run, or a memo entry.
struct run_text {
    node_id memo = null_node;
    std::string_view text;              // when memo is null_node
    const std::uint8_t* put = nullptr;
};

/// One tensor's run, read: each opcode that makes a value or can fail, and what it reads.
struct tensor_run {
    node_id storage_word = null_node, cls = null_node, ordered_dict = null_node;
    run_text key, location;
    std::int64_t numel = 0, offset = 0;
    const std::uint8_t* numel_at = nullptr;
    const std::uint8_t* offset_at = nullptr;
    const std::uint8_t* pid_put = nullptr;
    const std::uint8_t* persid_at = nullptr;
    run_dims size, stride;
    bool requires_grad = false;
    const std::uint8_t* dict_put = nullptr;
    const std::uint8_t* args_put = nullptr;
    const std::uint8_t* reduce_at = nullptr;
    const std::uint8_t* tensor_put = nullptr;
    const std::uint8_t* next = nullptr;  // just past the run
};

/// Reads a run through the lane, opcode by opcode, remembering the memo indices its PUTs will
/// write: the opcodes one by one would see such a PUT before a later GET of the same run, so a
/// GET of an index the run writes is left to the machine.
template <class Lane>
class run_reader {
public:
    explicit run_reader(const Lane& lane) noexcept
        : lane_(lane), p_(lane.begin()), end_(lane.end()), memo_count_(lane.memo_count()) {}

    const std::uint8_t* position() const noexcept { return p_; }
    const document_data& doc() const noexcept { return lane_.doc(); }
    PTLOAD_INLINE bool op(std::uint8_t b) noexcept { return Lane::op(p_, end_, b); }
    PTLOAD_INLINE bool integer(std::int64_t& v, const std::uint8_t*& at) noexcept { return Lane::integer(p_, end_, v, at); }
    PTLOAD_INLINE bool ascii_text(std::string_view& s) noexcept { return Lane::ascii_text(p_, end_, s); }
    PTLOAD_INLINE bool is_ordered_dict(node_id id) const noexcept { return lane_.is_ordered_dict(id); }
    PTLOAD_INLINE bool get(node_id& out) noexcept {
        std::uint64_t index = 0;
        return lane_.get(p_, end_, out, index) && !written(index);
    }
    /// An optional PUT; false only when the run has more PUTs than a run of torch's.
    PTLOAD_INLINE bool put(const std::uint8_t*& at) noexcept {
        std::uint64_t index = 0;
        Lane::put(p_, end_, at, index);
        if (!at) return true;
        if (index == Lane::memoize_index) memoized_ = true;
        else if (puts_ < max_puts) put_index_[puts_++] = index;
        else return false;
        return true;
    }

private:
    static constexpr std::size_t max_puts = 8;  // key, location, id, size, stride, dict, arguments, tensor
    PTLOAD_INLINE bool written(std::uint64_t index) const noexcept {
        if (memoized_ && index >= memo_count_) return true;  // a MEMOIZE writes the count it finds
        for (std::size_t i = 0; i < puts_; ++i)
            if (put_index_[i] == index) return true;
        return false;
    }
    const Lane& lane_;
    const std::uint8_t* p_;
    const std::uint8_t* const end_;  // a copy: no store through a pointer can change it
    std::uint64_t memo_count_;
    std::uint64_t put_index_[max_puts];
    std::size_t puts_ = 0;
    bool memoized_ = false;
};

template <class Reader>
PTLOAD_INLINE bool read_run_text(Reader& in, run_text& t) {
    if (in.get(t.memo)) return in.doc().at(t.memo).k == kind::string;
    return in.ascii_text(t.text) && in.put(t.put);
}

template <class Reader>
PTLOAD_INLINE bool read_run_dims(Reader& in, run_dims& d) {
    if (in.op(')')) {
        d.empty_opcode = true;
    } else if (in.op('(')) {
        while (!in.op('t')) {
            if (d.rank == run_dims::max_rank || !in.integer(d.value[d.rank], d.at[d.rank])) return false;
            ++d.rank;
        }
    } else {
        while (d.rank < 3 && in.integer(d.value[d.rank], d.at[d.rank])) ++d.rank;
        if (d.rank == 0 || !in.op(static_cast<std::uint8_t>(0x84 + d.rank))) return false;  // TUPLE1..3
    }
    return in.put(d.put);
}

/// Reads the run that follows the GET of _rebuild_tensor_v2; false, with nothing changed,
/// when the bytes are anything else.
template <class Lane>
PTLOAD_INLINE bool read_tensor_run(const Lane& lane, tensor_run& r) {
    run_reader<Lane> in(lane);
    const document_data& doc = lane.doc();
    if (!in.op('(') || !in.op('(')) return false;
    if (!in.get(r.storage_word) || doc.at(r.storage_word).k != kind::string || doc.text(r.storage_word) != "storage")
        return false;
    if (!in.get(r.cls) || torch_global_of(doc, r.cls) != torch_global::storage_class) return false;
    if (!read_run_text(in, r.key) || !read_run_text(in, r.location)) return false;
    if (!in.integer(r.numel, r.numel_at) || r.numel < 0) return false;
    if (!in.op('t') || !in.put(r.pid_put)) return false;
    r.persid_at = in.position();
    if (!in.op('Q')) return false;
    if (!in.integer(r.offset, r.offset_at) || !read_run_dims(in, r.size) || !read_run_dims(in, r.stride)) return false;
    if (in.op(0x88)) r.requires_grad = true;
    else if (!in.op(0x89)) return false;
    if (!in.get(r.ordered_dict) || !in.is_ordered_dict(r.ordered_dict)) return false;
    if (!in.op(')') || !in.op('R') || !in.put(r.dict_put)) return false;
    if (!in.op('t') || !in.put(r.args_put)) return false;
    r.reduce_at = in.position();
    if (!in.op('R') || !in.put(r.tensor_put)) return false;
    r.next = in.position();
    return true;
}

template <class Lane>
PTLOAD_INLINE node_id make_run_text(Lane& lane, const run_text& t) {
    return t.memo != null_node ? t.memo : lane.text_node(t.text);
}

template <class Lane>
PTLOAD_INLINE node_id make_run_dims(Lane& lane, const run_dims& d) {
    node_id items[run_dims::max_rank];
    for (std::size_t i = 0; i < d.rank; ++i) items[i] = lane.integer_node(d.at[i]);
    return lane.tuple(items, d.rank, d.empty_opcode);
}

/// The values a run makes at most (its ints, texts, tuples, the storage, dict and tensor), and
/// the stack items and marks it holds at most above the GET's value.
constexpr std::size_t run_nodes = 2 * run_dims::max_rank + 16;
constexpr std::size_t run_stack = run_dims::max_rank + 4;
constexpr std::size_t run_marks = 3;

/// Takes the run after the GET of _rebuild_tensor_v2 in one step when it is there (see the top
/// of this file); otherwise changes nothing. `Handler` is torch's.
template <class Handler, class Lane>
PTLOAD_NOINLINE status take_tensor_run(Handler& handler, Lane& lane) {
    tensor_run r;
    if (!lane.has_room(run_nodes, run_stack, run_marks) || !read_tensor_run(lane, r)) return {};
    document_data& doc = lane.doc();

    // MARK MARK GET GET <key> [PUT] <location> [PUT] <numel> TUPLE [PUT]
    const node_id key = make_run_text(lane, r.key);
    PTLOAD_TRY(lane.memo_put(r.key.put, key));
    const node_id location = make_run_text(lane, r.location);
    PTLOAD_TRY(lane.memo_put(r.location.put, location));
    const node_id pid_items[5] = {r.storage_word, r.cls, key, location, lane.integer_node(r.numel_at)};
    const node_id pid = lane.tuple(pid_items, 5, false);
    PTLOAD_TRY(lane.memo_put(r.pid_put, pid));

    // BINPERSID: persistent_load's checks, which the reading above has made
    storage_description d;
    d.type = handler.storage_dtype(doc, r.cls);
    d.key = doc.text(key);
    d.location = doc.text(location);
    d.numel = static_cast<std::uint64_t>(r.numel);
    auto storage = d.type == dtype::unknown ? result<node_id>(Handler::unknown_storage_class(doc, r.cls))
                                            : handler.declare_storage(doc, d, null_node);
    if (!storage) return lane.locate(r.persid_at, std::move(storage).err());

    // <offset> <size> [PUT] <stride> [PUT] NEWFALSE GET EMPTY_TUPLE REDUCE [PUT] TUPLE [PUT]
    const node_id offset = lane.integer_node(r.offset_at);
    const node_id size = make_run_dims(lane, r.size);
    PTLOAD_TRY(lane.memo_put(r.size.put, size));
    const node_id stride = make_run_dims(lane, r.stride);
    PTLOAD_TRY(lane.memo_put(r.stride.put, stride));
    const node_id grad = lane.boolean(r.requires_grad);
    (void)lane.tuple(nullptr, 0, true);  // EMPTY_TUPLE, the argument of OrderedDict()
    const node_id hooks = lane.empty_ordered_dict();
    PTLOAD_TRY(lane.memo_put(r.dict_put, hooks));
    const node_id arg_items[6] = {*storage, offset, size, stride, grad, hooks};
    const node_id args = lane.tuple(arg_items, 6, false);
    PTLOAD_TRY(lane.memo_put(r.args_put, args));

    // REDUCE: _rebuild_tensor_v2(*args) [PUT]
    auto tensor = handler.make_tensor(doc, *storage, r.offset, {r.size.value, r.size.rank}, {r.stride.value, r.stride.rank},
                                      r.requires_grad);
    if (!tensor) return lane.locate(r.reduce_at, std::move(tensor).err());
    PTLOAD_TRY(lane.memo_put(r.tensor_put, *tensor));
    lane.finish(r.next, *tensor);
    return {};
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
