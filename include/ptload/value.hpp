// value.hpp: the document that owns every value of a loaded pickle, and handles into it.
//
// Nodes live in one array and refer to each other by index, so shared references (a memo GET)
// and cycles cost nothing and teardown is a few vector frees: no per-node heap churn, no
// recursion, no leaks. Container items live in one edge array; a container that outgrows its
// slot moves to the end (amortised O(1), at most 2x slack). Strings and bytes live in a chunked
// byte arena that never moves, so string_views into it stay valid for the document's life.
#ifndef PTLOAD_VALUE_HPP
#define PTLOAD_VALUE_HPP

#include "config.hpp"
#include "detail/atomic.hpp"
#include "detail/flat_map.hpp"
#include "detail/offset_order.hpp"
#include "detail/pod_vector.hpp"
#include "detail/shared.hpp"
#include "detail/vector.hpp"
#include "error.hpp"
#include "memory.hpp"
#include "span.hpp"
#include "torch/dtype.hpp"
#include "torch/storage.hpp"

#include <array>
#include <cassert>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>


namespace ptload {
inline namespace v0 {

using node_id = std::uint32_t;
inline constexpr node_id null_node = 0xFFFFFFFFu;

/// The kind of a value. Python builtins first, then torch and numpy values.
enum class kind : std::uint8_t {
    none, boolean, integer, big_integer, floating, complex, string, bytes, bytearray,
    tuple, list, dict, ordered_dict, set, frozenset, slice, range,
    global,          ///< a class or function that was referenced, never called
    object,          ///< an inert record of a call to a global ptload does not model
    tensor, sparse_tensor, nested_tensor, storage, torch_size, device, dtype,
    ndarray, numpy_scalar, numpy_dtype,
};

constexpr const char* kind_name(kind k) noexcept {
    constexpr const char* names[] = {"None", "bool", "int", "int", "float", "complex", "str", "bytes", "bytearray",
                                     "tuple", "list", "dict", "OrderedDict", "set", "frozenset", "slice", "range",
                                     "global", "object", "tensor", "sparse_tensor", "nested_tensor", "storage",
                                     "torch.Size", "torch.device", "torch.dtype", "ndarray", "numpy scalar",
                                     "numpy.dtype"};
    return names[static_cast<int>(k)];
}

/// Which fields of an object record are set (the `object` JSON member order).
enum object_field : std::uint32_t { obj_class, obj_args, obj_kwargs, obj_state, obj_items, obj_dict_items, obj_fields };
/// Sparse layouts (torch.serialization._get_layout strings).
enum class sparse_layout : std::uint8_t { coo, csr, csc, bsr, bsc };
constexpr const char* layout_name(sparse_layout l) noexcept {
    constexpr const char* names[] = {"sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc"};
    return names[static_cast<int>(l)];
}
/// Quantization schemes as torch names them.
enum class qscheme : std::uint8_t { none, per_tensor_affine, per_channel_affine, per_tensor_symmetric,
                                    per_channel_symmetric, per_channel_affine_float_qparams };
constexpr const char* qscheme_name(qscheme q) noexcept {
    constexpr const char* names[] = {"none", "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric",
                                     "per_channel_symmetric", "per_channel_affine_float_qparams"};
    return names[static_cast<int>(q)];
}

class document_data;

namespace detail {

/// One value. 24 bytes: kind, three small fields whose meaning depends on the kind, and a
/// 16-byte payload. The small fields are private: document_data reads and writes them through
/// accessors named for what each holds for its kind (has_lone_surrogates, tensor_index, ...),
/// so no other code can read one kind's field as another kind's meaning.
class node {
public:
    kind k;

private:
    friend class ptload::document_data;
    std::uint8_t flags_;  // string: 1 = lone surrogates; global: the handler's id for it
    std::uint16_t tag_;   // global: the machine's known_global; dtype; ndarray: Fortran order; sparse_tensor: layout
    std::uint32_t aux_;   // ordered_dict: attrs node; global: module length; tensor: record; storage: index

public:
    struct complex_parts { double re, im; };
    struct text_span { const char* p; std::uint64_t n; };
    struct edge_slot { std::uint32_t first, size, cap; };
    union {
        std::int64_t i;
        double f;
        complex_parts c;
        text_span s;
        edge_slot seq;
    };
};
static_assert(sizeof(node) == 24, "node layout");

/// The document's values, in chunks that never move once full. A vector would copy every value
/// each time it doubles, and for a moment hold the old array and its copy: for a pickle of
/// millions of values that copy was a third of the peak memory and a good part of the page
/// faults. The first chunk grows by doubling up to a full chunk (small documents stay small);
/// later chunks are allocated full. A value's index splits into chunk and position by a shift.
/// Chunks are pod_vectors, so a big one is a mapping backed by huge pages where the system has
/// them, and the first grows by moving its pages (memory.hpp).
class node_store {
public:
    static constexpr unsigned chunk_bits = 18;  // 262,144 values, 6 MiB: three whole huge pages
    static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;

    node& operator[](std::size_t i) noexcept { return chunks_[i >> chunk_bits][i & (chunk_size - 1)]; }
    const node& operator[](std::size_t i) const noexcept { return chunks_[i >> chunk_bits][i & (chunk_size - 1)]; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    /// A new last value, its fields unset for the caller to write; the reference is valid until
    /// the next one is added.
    node& append() {
        if (size_ == capacity_) grow();
        return (*this)[size_++];
    }
    void clear() noexcept {
        chunks_.clear();
        size_ = capacity_ = 0;
    }
    /// Bytes allocated for values.
    std::size_t capacity_bytes() const noexcept { return capacity_ * sizeof(node); }

private:
    PTLOAD_NOINLINE void grow() {  // out of line: append's fast path inlines into every maker
        if (chunks_.empty() || capacity_ == chunks_.size() * chunk_size) chunks_.emplace_back();
        auto& chunk = chunks_.back();
        // The first chunk doubles from 64 values (its items all written: it grows when full);
        // later ones are made full at once. Items are written as values are added.
        const std::size_t cap = capacity_ == 0 ? 64 : capacity_ < chunk_size ? capacity_ * 2 : chunk_size;
        chunk.grow_to(cap);
        capacity_ += cap - (capacity_ < chunk_size ? capacity_ : 0);
    }

    vector<pod_vector<node>> chunks_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

/// memcpy for the short texts most keys and names are: two overlapping word moves (or a few
/// bytes) rather than a call into the C library; long ones go to memcpy.
inline void copy_text(char* to, const void* from, std::size_t n) noexcept {
    const char* f = static_cast<const char*>(from);
    if (n >= 8 && n <= 16) {
        std::uint64_t head, tail;
        std::memcpy(&head, f, 8);
        std::memcpy(&tail, f + n - 8, 8);
        std::memcpy(to, &head, 8);
        std::memcpy(to + n - 8, &tail, 8);
    } else if (n >= 4 && n < 8) {
        std::uint32_t head, tail;
        std::memcpy(&head, f, 4);
        std::memcpy(&tail, f + n - 4, 4);
        std::memcpy(to, &head, 4);
        std::memcpy(to + n - 4, &tail, 4);
    } else if (n < 4) {
        for (std::size_t i = 0; i < n; ++i) to[i] = f[i];
    } else {
        std::memcpy(to, f, n);
    }
}

/// Append-only byte storage whose blocks never move.
class byte_arena {
public:
    const char* store(const void* src, std::size_t n) {
        char* p = allocate(n);
        copy_text(p, src, n);
        return p;
    }
    char* allocate(std::size_t n) {
        if (PTLOAD_UNLIKELY(n > left_)) return allocate_block(n);
        char* p = cur_;
        cur_ += n;
        left_ -= n;
        bytes_ += n;
        return p;
    }
    std::uint64_t bytes() const noexcept { return bytes_; }

private:
    /// The rare path, out of line: a new block, or one of its own for a big value. Blocks
    /// double from 64 KiB to 4 MiB, so that a small document stays small and the text of a
    /// big one (20 MB of keys in a 1M-entry dict) lies in a few blocks, each of 2 MiB or more a
    /// mapping backed by huge pages where the system has them (memory.hpp).
    PTLOAD_NOINLINE char* allocate_block(std::size_t n) {
        if (n > block_size_ / 4) {
            blocks_.emplace_back();
            blocks_.back().grow_to(n);
            bytes_ += n;
            return blocks_.back().data();
        }
        if (cur_ && block_size_ < max_block_size) block_size_ *= 2;  // not before the first
        blocks_.emplace_back();
        blocks_.back().grow_to(block_size_);
        cur_ = blocks_.back().data();
        left_ = block_size_;
        return allocate(n);
    }

    static constexpr std::size_t max_block_size = std::size_t{4} << 20;
    vector<pod_vector<char>> blocks_;
    std::size_t block_size_ = 64 * 1024;
    char* cur_ = nullptr;
    std::size_t left_ = 0;
    std::uint64_t bytes_ = 0;
};

/// A tensor's metadata; shape and strides live in the document's dimension pool.
struct tensor_record {
    dtype type = dtype::unknown;
    std::uint32_t storage = null_node;  ///< index into document storages, null for meta tensors
    std::int64_t offset = 0;            ///< storage offset in elements
    std::uint32_t dims = 0;             ///< pool index: rank sizes then rank strides
    std::uint32_t rank = 0;
    bool requires_grad = false, parameter = false, conj = false, neg = false;
    std::string_view device;            ///< device after map_location (text the document holds)
    node_id attrs = null_node;          ///< Python attributes (_rebuild_from_type_v2 state, Parameter state)
    node_id cls = null_node;            ///< subclass global, if any
    qscheme quant = qscheme::none;
    double scale = 0;
    std::int64_t zero_point = 0, axis = 0;
    node_id scales = null_node, zero_points = null_node;  ///< per-channel parameter tensors
};
static_assert(std::is_trivially_copyable<tensor_record>::value, "tensor records are copied as values");

class key_tables;
} // namespace detail

class document;
class tensor;

/// A read-only handle to one value of a document: cheap to copy. A failed lookup gives a
/// "missing" value whose getters report the key path that failed.
///
/// A found value remembers the lookups that led to it without touching the heap: the last
/// `path_capacity` steps, each as the container it was made in and the position found there,
/// from which the step's text (`["key"]`, `[5]`, int key `[3]`) is read back from the document
/// only when an error needs it. A longer chain shows its last steps after `...`. A missing value
/// holds its path as text (the failing key is not in the document), in memory from the memory
/// functions: failing allocates there, finding never allocates at all.
class value {
public:
    value() = default;
    value(const document_data* doc, node_id id) noexcept : doc_(doc), id_(id) {}
    value(const value& o) : doc_(o.doc_), id_(o.id_), count_(o.count_), clipped_(o.clipped_), steps_(o.steps_),
                            text_(o.text_ ? detail::new_object<detail::string>(*o.text_) : nullptr) {}
    value(value&&) noexcept = default;
    value& operator=(const value& o) {
        if (this != &o) *this = value(o);
        return *this;
    }
    value& operator=(value&&) noexcept = default;

    bool valid() const noexcept { return doc_ && id_ != null_node; }
    node_id id() const noexcept { return id_; }
    const document_data* doc() const noexcept { return doc_; }
    kind type() const noexcept;
    bool is(kind k) const noexcept { return valid() && type() == k; }
    bool is_none() const noexcept { return is(kind::none); }
    /// True for dict and ordered_dict.
    bool is_mapping() const noexcept { return is(kind::dict) || is(kind::ordered_dict); }
    /// True for list, tuple, set, frozenset and torch.Size.
    bool is_sequence() const noexcept;

    result<bool> as_bool() const;
    /// An int that fits int64 (bools convert, as in Python).
    result<std::int64_t> as_int() const;
    /// int or float as a double.
    result<double> as_double() const;
    result<std::string_view> as_string() const;
    /// bytes or bytearray contents.
    result<span<const std::uint8_t>> as_bytes() const;
    result<tensor> as_tensor() const;
    /// Module-qualified name of a global or object class ("collections.OrderedDict").
    result<std::string_view> class_name() const;

    /// Number of items (pairs for mappings); 0 for scalars.
    std::size_t size() const noexcept;
    /// The i-th item of a sequence (or of an object's args for kind::object).
    value operator[](std::size_t i) const;
    value operator[](int i) const { return (*this)[static_cast<std::size_t>(i)]; }
    /// Mapping lookup by str key.
    value operator[](std::string_view key) const;
    value operator[](const char* key) const { return (*this)[std::string_view(key)]; }
    /// Mapping lookup by int key (optimizer state dicts).
    value at_int_key(std::int64_t key) const;
    /// The lookup error, if this value is missing: its context is the lookup path
    /// (`["state_dict"]["fc.weight"]`), rendered now.
    error missing_error() const;
    /// The attributes set by BUILD on an OrderedDict (state_dict `_metadata`) or object state.
    value attrs() const;
    /// Key/value of the i-th entry of a mapping.
    value key_at(std::size_t i) const;
    value value_at(std::size_t i) const;

    /// Iteration: items of sequences, or keys of mappings (use items() for pairs).
    class iterator;
    iterator begin() const;
    iterator end() const;
    struct item;
    class item_range;
    item_range items() const;

    /// Found steps remembered inline; a longer chain keeps the last ones.
    static constexpr std::size_t path_capacity = 5;

private:
    /// One found lookup: the container it was made in (a sequence, or an object's args) and
    /// the position found there (item index of a sequence, entry index of a mapping).
    struct step {
        node_id container;
        std::uint32_t pos;
    };
    /// A found child: this value's steps plus one, no heap.
    value child(node_id id, node_id container, std::size_t pos) const noexcept;
    /// A missing value: the path so far plus the failing step's text (open, middle, close).
    value missing(std::string_view open, std::string_view middle = {}, std::string_view close = {}) const;
    /// The lookup path as text (`["a"][5]`): read back from the document for a found value.
    detail::string path() const;
    void append_step_text(detail::string& out, step s) const;
    const document_data* doc_ = nullptr;
    node_id id_ = null_node;
    std::uint8_t count_ = 0;   // steps_ in use
    bool clipped_ = false;     // earlier steps were dropped to keep the last path_capacity
    std::array<step, path_capacity> steps_{};
    detail::owned<detail::string> text_;  // a missing value's whole path, else null
};

/// Every node, string, storage and tensor of one load. It lives on the heap behind a
/// `document` (and behind every `tensor` taken from it), so it never moves while values and
/// tensors point into it.
class document_data : public detail::shared_object {
public:
    document_data() = default;
    document_data(const document_data&) = delete;
    document_data& operator=(const document_data&) = delete;
    ~document_data();

    /// The loaded object (what torch.load returns; for a TorchScript archive, data.pkl).
    value root() const noexcept { return value(this, root_); }
    /// For a TorchScript archive: the tuple of constants.pkl (invalid otherwise).
    value constants() const noexcept { return value(this, constants_); }
    bool is_torchscript() const noexcept { return constants_ != null_node; }
    value get(node_id id) const noexcept { return value(this, id); }
    std::size_t node_count() const noexcept { return nodes_.size(); }
    std::size_t storage_count() const noexcept { return storages_.size(); }
    std::size_t tensor_count() const noexcept { return tensors_.size(); }
    const storage& storage_at(std::size_t i) const noexcept { return storages_[i]; }

    // ---- storage bytes, read when first touched ----
    /// The bytes of storage i, read now if the load left them in the source. Reading changes
    /// only that storage's bytes; lazy reads are not synchronised (see storage_mode).
    result<span<const std::uint8_t>> storage_data(std::uint32_t i) const {
        storage& s = storages_[i];
        if (!s.resident) PTLOAD_TRY(make_resident(s));
        return span<const std::uint8_t>(s.bytes.data(), static_cast<std::size_t>(s.nbytes()));
    }
    /// n bytes of storage i from `begin` into dst; from the source when not resident, keeping
    /// nothing (the lazy way to read one tensor).
    status read_storage_range(std::uint32_t i, std::uint64_t begin, void* dst, std::size_t n) const {
        const storage& s = storages_[i];
        if (begin > s.nbytes() || n > s.nbytes() - begin)
            return detail::failure(errc::bad_tensor, no_offset, {"read past the end of storage ", s.desc.key});
        if (s.resident || s.ref.view_of != no_storage || !reader_) {
            auto all = storage_data(i);
            if (!all) return std::move(all).pass_error();
            if (n) std::memcpy(dst, all->data() + begin, n);
            return {};
        }
        return reader_->read_range(s, begin, dst, n);
    }
    /// Reads every storage not yet resident, in source order.
    status fetch_all() const {
        if (reader_) return fetch_range(*reader_, 0, static_cast<std::uint32_t>(storages_.size()));
        for (auto& s : storages_)  // views of resident roots can still be made resident
            if (!s.resident) PTLOAD_TRY(make_resident(s));
        return {};
    }
    /// Reads storages [first, last) that are not resident with `reader`, in source order.
    status fetch_range(detail::storage_reader& reader, std::uint32_t first, std::uint32_t last) const {
        detail::vector<detail::offset_item> order;
        for (std::uint32_t i = first; i < last; ++i)
            if (!storages_[i].resident && storages_[i].ref.view_of == no_storage) order.push_back({storages_[i].ref.offset, i});
        detail::sort_by_offset(order);
        detail::vector<storage*> list(order.size());
        for (std::size_t k = 0; k < order.size(); ++k) list[k] = &storages_[order[k].index];
        PTLOAD_TRY(reader.fetch_in_order(list.data(), list.size()));
        for (std::uint32_t i = first; i < last; ++i)  // views share their (now resident) root's bytes
            if (!storages_[i].resident) PTLOAD_TRY(make_resident(storages_[i]));
        return {};
    }
    /// The reader for storages left in the source (set by the loader).
    void set_reader(detail::shared<detail::storage_reader> r) noexcept { reader_ = std::move(r); }
    /// Lets go of the source: storages not read by now fail with an io_error when touched.
    /// Storages that point into a mapped source keep it alive.
    void close_source() noexcept {
        bool any_mapped = false;
        for (const auto& s : storages_) any_mapped = any_mapped || s.mapped;
        if (any_mapped && reader_) mapped_source_ = reader_;
        reader_.reset();
    }
    bool has_source() const noexcept { return static_cast<bool>(reader_); }

    // ---- building (used by the pickle machine and the torch layer) ----
    /// Room for `edges` container items. A big edge array is a mapping of its own, asked for
    /// huge pages as a whole (memory.hpp): a pickle of millions of values touches every page
    /// of it once.
    void reserve_edge_room(std::size_t edges) { edges_.reserve(edges); }
    void set_root(node_id id) noexcept { root_ = id; }
    /// Back to empty, keeping the reader (a load that starts over).
    void clear() noexcept {
        nodes_.clear();
        edges_.clear();
        dims_.clear();
        bytes_ = detail::byte_arena{};
        recent_next_ = 0;  // the kept texts were in the arena just dropped
        storages_.clear();
        tensors_.clear();
        root_ = constants_ = null_node;
        input_bytes_ = 0;
        drop_key_tables();
    }
    void set_constants(node_id id) noexcept { constants_ = id; }
    node_id add(kind k) {
        (void)add_node(k);
        return id_of_last();
    }
    node_id make_int(std::int64_t v) {
        add_node(kind::integer).i = v;
        return id_of_last();
    }
    node_id make_bool(bool v) {
        add_node(kind::boolean).i = v;
        return id_of_last();
    }
    node_id make_float(double v) {
        add_node(kind::floating).f = v;
        return id_of_last();
    }
    node_id make_complex(double re, double im) {
        detail::node& n = add_node(kind::complex);
        n.c.re = re;
        n.c.im = im;
        return id_of_last();
    }
    /// str (valid UTF-8, or WTF-8 with lone surrogates when `surrogates`), bytes, bytearray,
    /// big_integer (two's complement little-endian), device, numpy_dtype: text in the arena.
    PTLOAD_INLINE node_id make_text(kind k, const void* p, std::size_t n, bool surrogates = false) {
        const char* text = bytes_.store(p, n);
        detail::node& v = add_node(k);
        v.s.p = text;
        v.s.n = n;
        v.flags_ = k == kind::string && surrogates ? 1 : 0;
        return id_of_last();
    }
    node_id make_string(std::string_view s) { return make_text(kind::string, s.data(), s.size()); }
    /// A copy of `s` that lives as long as the document: storage keys, location tags.
    std::string_view keep_text(std::string_view s) { return {bytes_.store(s.data(), s.size()), s.size()}; }
    /// keep_text for texts that repeat from storage to storage (devices, location tags): the
    /// last few distinct ones are kept once, so 100,000 storages on "cpu" hold one copy.
    std::string_view keep_repeated(std::string_view s) {
        const std::size_t filled = recent_next_ < recent_texts_count ? recent_next_ : recent_texts_count;
        for (std::size_t i = 0; i < filled; ++i)
            if (recent_texts_[i] == s) return recent_texts_[i];
        std::string_view kept = keep_text(s);
        recent_texts_[recent_next_++ % recent_texts_count] = kept;
        return kept;
    }
    /// Reserve n arena bytes for a text-like node and fill them in place (avoids a copy).
    char* make_text_uninit(kind k, std::size_t n, node_id& out) {
        out = add(k);
        char* p = bytes_.allocate(n);
        nodes_[out].s.p = p;
        nodes_[out].s.n = n;
        return p;
    }
    /// A global "module.name"; `known` is the pickle machine's pickle::known_global for it (0:
    /// none), kept here as a number (see known_global_id).
    node_id make_global(std::string_view module, std::string_view name, std::uint16_t known) {
        node_id id = null_node;
        char* full = make_text_uninit(kind::global, module.size() + 1 + name.size(), id);
        if (!module.empty()) std::memcpy(full, module.data(), module.size());
        full[module.size()] = '.';
        if (!name.empty()) std::memcpy(full + module.size() + 1, name.data(), name.size());
        nodes_[id].aux_ = static_cast<std::uint32_t>(module.size());
        nodes_[id].tag_ = known;
        return id;
    }
    /// A container with `n` items taken from `items` (tuple, list, set, frozenset, torch_size,
    /// slice, range; dicts take 2n edges: key, value, ...).
    /// `items` may point into this document's own edges (a torch.Size made from a tuple's items).
    node_id make_seq(kind k, const node_id* items, std::size_t n) {
        const auto first = static_cast<std::uint32_t>(edges_.size());
        append_edges(items, n);  // adds no value: the new one's slot is set after
        detail::node& v = add_node(k);
        v.seq.first = first;
        v.seq.size = static_cast<std::uint32_t>(n);
        v.seq.cap = static_cast<std::uint32_t>(n);
        return id_of_last();
    }
    node_id make_object(node_id cls) {
        node_id fields[obj_fields] = {cls, null_node, null_node, null_node, null_node, null_node};
        return make_seq(kind::object, fields, obj_fields);
    }
    /// Append one edge to a container (a dict entry is two appends: key, value).
    void push_edge(node_id container, node_id item) { push_edges(container, &item, 1); }
    /// `items` may point into this document's own edges (they are copied before edges grow).
    void push_edges(node_id container, const node_id* items, std::size_t n) {
        if (n == 0) return;
        if (key_tables_.load(detail::order::relaxed)) drop_key_tables();  // a lookup during a load
        detail::node::edge_slot& s = nodes_[container].seq;
        if (PTLOAD_LIKELY(s.size + n <= s.cap)) {  // room in the slot: nothing moves, items stay valid
            detail::copy_items(edges_.data() + s.first + s.size, items, n);
            s.size = static_cast<std::uint32_t>(s.size + n);
            return;
        }
        push_edges_growing(container, items, n);
    }
    /// push_edges when the container's slot must grow, out of line so that the common case
    /// inlines.
    PTLOAD_NOINLINE void push_edges_growing(node_id container, const node_id* items, std::size_t n) {
        detail::vector<node_id> own;
        if (aliases_edges(items)) {
            own.assign(items, items + n);
            items = own.data();
        }
        grow(container, nodes_[container].seq.size + n);
        const detail::node::edge_slot t = nodes_[container].seq;
        detail::copy_items(edges_.data() + t.first + t.size, items, n);
        nodes_[container].seq.size = static_cast<std::uint32_t>(t.size + n);
    }
    /// Drops a container's items past the first n (keeps its slot).
    void truncate_edges(node_id container, std::size_t n) noexcept {
        if (key_tables_.load(detail::order::relaxed)) drop_key_tables();
        if (n < nodes_[container].seq.size) nodes_[container].seq.size = static_cast<std::uint32_t>(n);
    }
    PTLOAD_INLINE node_id edge(node_id container, std::size_t i) const noexcept { return edges_[nodes_[container].seq.first + i]; }
    void set_edge(node_id container, std::size_t i, node_id v) noexcept {
        if (key_tables_.load(detail::order::relaxed)) drop_key_tables();
        edges_[nodes_[container].seq.first + i] = v;
    }
    PTLOAD_INLINE std::size_t edge_count(node_id container) const noexcept { return nodes_[container].seq.size; }
    const node_id* edges(node_id container) const noexcept {
        return edges_.data() + nodes_[container].seq.first;
    }

    detail::node& at(node_id id) noexcept { return nodes_[id]; }
    PTLOAD_INLINE const detail::node& at(node_id id) const noexcept { return nodes_[id]; }
    std::string_view text(node_id id) const noexcept { return {nodes_[id].s.p, static_cast<std::size_t>(nodes_[id].s.n)}; }

    // ---- what a kind keeps beside its payload ----
    // Readers a caller may hand any value return a neutral answer for other kinds; the others
    // expect their kind (the caller has checked it) and assert it.

    /// str: whether the text holds lone surrogates (WTF-8, which UTF-8 cannot encode).
    bool has_lone_surrogates(node_id id) const noexcept {
        return nodes_[id].k == kind::string && nodes_[id].flags_ != 0;
    }
    /// global: "module" of its "module.name" text.
    std::string_view global_module(node_id id) const noexcept {
        assert(nodes_[id].k == kind::global);
        return text(id).substr(0, nodes_[id].aux_);
    }
    /// global: "name" of its "module.name" text.
    std::string_view global_name(node_id id) const noexcept {
        assert(nodes_[id].k == kind::global);
        return text(id).substr(std::size_t{nodes_[id].aux_} + 1);
    }
    /// global: the pickle machine's pickle::known_global for it, as a number; 0 (none) for an
    /// ordinary global and for any other kind.
    std::uint16_t known_global_id(node_id id) const noexcept {
        return nodes_[id].k == kind::global ? nodes_[id].tag_ : 0;
    }
    /// global: the id the machine's Handler gives it (for torch, a torch_global: see
    /// torch_global_of), opaque here; 0 (none) when it has none and for any other kind.
    std::uint8_t handler_global_id(node_id id) const noexcept {
        return nodes_[id].k == kind::global ? nodes_[id].flags_ : 0;
    }
    void set_handler_global_id(node_id id, std::uint8_t handler_id) noexcept {
        assert(nodes_[id].k == kind::global);
        nodes_[id].flags_ = handler_id;
    }
    /// OrderedDict: the dict of attributes BUILD set on it; null_node when none, and for any
    /// other kind.
    node_id ordered_dict_attrs(node_id id) const noexcept {
        return nodes_[id].k == kind::ordered_dict ? nodes_[id].aux_ : null_node;
    }
    void set_ordered_dict_attrs(node_id id, node_id attrs) noexcept {
        assert(nodes_[id].k == kind::ordered_dict);
        nodes_[id].aux_ = attrs;
    }
    /// tensor: its record (tensor_at).
    std::uint32_t tensor_index(node_id id) const noexcept {
        assert(nodes_[id].k == kind::tensor);
        return nodes_[id].aux_;
    }
    /// storage: its index (storage_at).
    std::uint32_t storage_index(node_id id) const noexcept {
        assert(nodes_[id].k == kind::storage);
        return nodes_[id].aux_;
    }
    /// torch.dtype: the dtype; dtype::unknown for any other kind.
    dtype dtype_of(node_id id) const noexcept {
        return nodes_[id].k == kind::dtype ? static_cast<dtype>(nodes_[id].tag_) : dtype::unknown;
    }
    /// sparse_tensor: its layout, which names its parts.
    sparse_layout layout_of(node_id id) const noexcept {
        assert(nodes_[id].k == kind::sparse_tensor);
        return static_cast<sparse_layout>(nodes_[id].tag_);
    }
    void set_layout(node_id id, sparse_layout l) noexcept {
        assert(nodes_[id].k == kind::sparse_tensor);
        nodes_[id].tag_ = static_cast<std::uint16_t>(l);
    }
    /// ndarray: whether its data is in Fortran order; false for any other kind.
    bool fortran_order(node_id id) const noexcept { return nodes_[id].k == kind::ndarray && nodes_[id].tag_ != 0; }
    void set_fortran_order(node_id id, bool fortran) noexcept {
        assert(nodes_[id].k == kind::ndarray);
        nodes_[id].tag_ = fortran ? 1 : 0;
    }

    // dimension pool for tensor shapes/strides
    std::uint32_t add_dims(const std::int64_t* shape, const std::int64_t* stride, std::size_t rank) {
        auto at = static_cast<std::uint32_t>(dims_.size());
        dims_.append(shape, rank);
        dims_.append(stride, rank);
        return at;
    }
    const std::int64_t* dims(std::uint32_t at) const noexcept { return dims_.data() + at; }

    /// Room for `more` storages and as many tensors (a hint from the archive's record count:
    /// a checkpoint has about one tensor per storage).
    void reserve_records(std::size_t more) {
        storages_.reserve(storages_.size() + more);
        tensors_.reserve(tensors_.size() + more);
    }
    std::uint32_t add_storage(storage&& s) {
        storages_.push_back(std::move(s));
        return static_cast<std::uint32_t>(storages_.size() - 1);
    }
    storage& storage_mut(std::size_t i) noexcept { return storages_[i]; }
    node_id add_tensor(const detail::tensor_record& r) {  // trivially copyable: copied once, into place
        tensors_.push_back(r);
        node_id id = add(kind::tensor);
        nodes_[id].aux_ = static_cast<std::uint32_t>(tensors_.size() - 1);
        return id;
    }
    /// The value of storage `index` (a persistent id's storage).
    node_id make_storage_node(std::uint32_t index) {
        node_id id = add(kind::storage);
        nodes_[id].aux_ = index;
        return id;
    }
    node_id make_dtype(dtype d) {
        node_id id = add(kind::dtype);
        nodes_[id].tag_ = static_cast<std::uint16_t>(d);
        return id;
    }
    const detail::tensor_record& tensor_at(std::size_t i) const noexcept { return tensors_[i]; }
    detail::tensor_record& tensor_mut(std::size_t i) noexcept { return tensors_[i]; }

    /// Pickle bytes unpickled into this document (every stream, nested ones included): what
    /// output limits of the walks are proportional to.
    std::uint64_t input_bytes() const noexcept { return input_bytes_; }
    void add_input_bytes(std::uint64_t n) noexcept { input_bytes_ += n; }

    /// The position of str key `key` in mapping `m` (entry index), or -1: hashed for mappings
    /// of many entries, so a state_dict's lookups do not scan it. The hash tables are built by
    /// the first lookup into a big mapping, for all of them at once, and published atomically:
    /// lookups from several threads are safe.
    std::int64_t find_str_key(node_id m, std::string_view key) const;

    /// Memory held, for benchmarks and limits: nodes, edges, text and dimensions (not storages).
    std::uint64_t footprint() const noexcept {
        return nodes_.capacity_bytes() + edges_.capacity() * sizeof(node_id) + bytes_.bytes() +
               dims_.capacity() * sizeof(std::int64_t);
    }

private:
    /// A new value of kind k for its maker to fill in: the reference is valid until the next
    /// value is added, and id_of_last() names it.
    detail::node& add_node(kind k) {
        // Written in place, field by field (a node built aside and copied in cost a copy per
        // value); memory grows with the values parsed, never ahead of them.
        detail::node& n = nodes_.append();
        n.k = k;
        n.flags_ = 0;
        n.tag_ = 0;
        n.aux_ = null_node;  // an OrderedDict without attrs
        n.s = {nullptr, 0};  // all 16 bytes of the payload
        return n;
    }
    node_id id_of_last() const noexcept { return static_cast<node_id>(nodes_.size() - 1); }
    bool aliases_edges(const node_id* items) const noexcept {
        // compared as addresses: `<` between pointers into different arrays is unspecified
        const auto at = reinterpret_cast<std::uintptr_t>(items), first = reinterpret_cast<std::uintptr_t>(edges_.data());
        return items && !edges_.empty() && at >= first && at < first + edges_.size() * sizeof(node_id);
    }
    /// Appends n edges at the end of the edge array, copying first when they alias it.
    void append_edges(const node_id* items, std::size_t n) {
        if (PTLOAD_LIKELY(n <= edges_.capacity() - edges_.size())) {  // room: nothing moves, items stay valid
            edges_.append(items, n);
            return;
        }
        append_edges_growing(items, n);
    }
    /// append_edges when the edge array must grow, out of line so that the common case inlines.
    PTLOAD_NOINLINE void append_edges_growing(const node_id* items, std::size_t n) {
        detail::vector<node_id> own;
        if (aliases_edges(items)) {  // decided before anything can move the edges
            own.assign(items, items + n);
            items = own.data();
        }
        reserve_edges(edges_.size() + n);
        edges_.append(items, n);
    }
    void reserve_edges(std::size_t need) {
        if (need > edges_.capacity()) reserve_edge_room(need > 2 * edges_.capacity() ? need : 2 * edges_.capacity());
    }
    void grow(node_id container, std::size_t need) {
        auto& s = nodes_[container].seq;
        std::size_t cap = s.cap < 4 ? 4 : static_cast<std::size_t>(s.cap) * 2;
        if (cap < need) cap = need;
        if (s.first + s.cap == edges_.size()) {  // last slot: extend in place
            reserve_edges(s.first + cap);
            edges_.grow_to(s.first + cap);  // the slot's new room is written before it is read
        } else {
            auto first = edges_.size();
            reserve_edges(first + cap);
            edges_.grow_to(first + cap);
            std::memmove(&edges_[first], &edges_[s.first], s.size * sizeof(node_id));
            // The old slot is dead: nothing refers to it, and the array only grows at its end.
            // A big dict that moves as it fills leaves as many bytes behind as it ends with.
            edges_.discard(s.first, s.cap);
            s.first = static_cast<std::uint32_t>(first);
        }
        s.cap = static_cast<std::uint32_t>(cap);
    }

    detail::node_store nodes_;
    detail::pod_vector<node_id> edges_;
    detail::pod_vector<std::int64_t> dims_;
    detail::byte_arena bytes_;
    status make_resident(storage& s) const {
        if (s.ref.view_of != no_storage) {  // a legacy view: a window on its root's bytes
            auto root = storage_data(s.ref.view_of);
            if (!root) return std::move(root).pass_error();
            s.bytes = storage_buffer(const_cast<std::uint8_t*>(root->data()) + s.ref.view_byte_offset, s.nbytes(), nullptr,
                                     nullptr);
            s.mapped = storages_[s.ref.view_of].mapped;
            s.resident = true;
            return {};
        }
        if (!reader_)
            return detail::failure(errc::io_error, s.ref.offset,
                                   "storage was not read before the document let go of its source", "storage " + std::string(s.desc.key));
        return reader_->fetch(s);
    }

    /// Builds and publishes the tables of every big mapping (or returns those another thread
    /// published first).
    const detail::key_tables* build_key_tables() const;
    void drop_key_tables() noexcept;

    // Storages are filled in place when first touched, which is not a change a reader of the
    // document can see other than in time: hence mutable. The vector itself never grows after
    // the load, so references into it stay valid.
    mutable detail::vector<storage> storages_;
    detail::shared<detail::storage_reader> reader_;
    detail::shared<detail::storage_reader> mapped_source_;  // kept after close_source: storages point into its source
    detail::vector<detail::tensor_record> tensors_;
    mutable detail::atomic<const detail::key_tables*> key_tables_{nullptr};
    static constexpr std::size_t recent_texts_count = 4;
    std::string_view recent_texts_[recent_texts_count];
    std::size_t recent_next_ = 0;
    node_id root_ = null_node;
    node_id constants_ = null_node;
    std::uint64_t input_bytes_ = 0;
};

namespace detail {
/// Hash tables of the str keys of every mapping with at least min_entries entries: open
/// addressing over entry indices, one pool for all tables. Built once, never changed.
class key_tables {
public:
    static constexpr std::size_t min_entries = 32;
    static constexpr std::int64_t no_table = -2;

    void build(const document_data& doc) {
        for (node_id id = 0; id < doc.node_count(); ++id) {
            const kind k = doc.at(id).k;
            if (k != kind::dict && k != kind::ordered_dict) continue;
            const std::size_t n = doc.edge_count(id) / 2;
            if (n < min_entries) continue;
            std::size_t cap = 64;
            while (cap < 2 * n) cap *= 2;
            table t{pool_.size(), static_cast<std::uint32_t>(cap - 1)};
            pool_.resize(pool_.size() + cap, 0);
            const node_id* e = doc.edges(id);
            for (std::size_t i = 0; i < n; ++i) {
                if (doc.at(e[2 * i]).k != kind::string) continue;
                const std::string_view key = doc.text(e[2 * i]);
                std::uint32_t s = static_cast<std::uint32_t>(hash(key)) & t.mask;
                for (;; s = (s + 1) & t.mask) {
                    std::uint32_t& slot = pool_[t.first + s];
                    if (slot == 0) {  // the first of equal keys wins, as a scan would find it
                        slot = static_cast<std::uint32_t>(i + 1);
                        break;
                    }
                    if (doc.text(e[2 * (slot - 1)]) == key) break;
                }
            }
            tables_.insert(id, t);
        }
    }
    std::int64_t find(const document_data& doc, node_id m, std::string_view key) const {
        const table* found = tables_.find(m);
        if (!found) return no_table;  // made after the tables: the caller scans
        const table& t = *found;
        const node_id* e = doc.edges(m);
        for (std::uint32_t s = static_cast<std::uint32_t>(hash(key)) & t.mask;; s = (s + 1) & t.mask) {
            const std::uint32_t slot = pool_[t.first + s];
            if (slot == 0) return -1;
            if (doc.text(e[2 * (slot - 1)]) == key) return static_cast<std::int64_t>(slot - 1);
        }
    }

private:
    struct table {
        std::size_t first;
        std::uint32_t mask;
    };
    static std::uint64_t hash(std::string_view s) noexcept {  // seeded FNV-1a, high half folded into the low
        const std::uint64_t h = flat_hash<std::string_view>{}(s);
        return h ^ (h >> 32);
    }
    vector<std::uint32_t> pool_;
    flat_map<node_id, table> tables_;
};
} // namespace detail

inline document_data::~document_data() { drop_key_tables(); }
inline void document_data::drop_key_tables() noexcept {
    detail::delete_object(key_tables_.exchange(nullptr, detail::order::acq_rel));
}

inline std::int64_t document_data::find_str_key(node_id m, std::string_view key) const {
    const std::size_t n = edge_count(m) / 2;
    const node_id* e = edges(m);
    if (n >= detail::key_tables::min_entries) {
        const detail::key_tables* t = key_tables_.load(detail::order::acquire);
        if (!t) t = build_key_tables();
        if (const std::int64_t i = t->find(*this, m, key); i != detail::key_tables::no_table) return i;
    }
    for (std::size_t i = 0; i < n; ++i)
        if (nodes_[e[2 * i]].k == kind::string && text(e[2 * i]) == key) return static_cast<std::int64_t>(i);
    return -1;
}

inline const detail::key_tables* document_data::build_key_tables() const {
    auto* built = detail::new_object<detail::key_tables>();
    built->build(*this);
    const detail::key_tables* expected = nullptr;
    if (key_tables_.compare_exchange(expected, built, detail::order::acq_rel)) return built;
    detail::delete_object(built);  // another thread published first: use its tables
    return expected;
}

/// The result of a load: owns every value, storage and tensor. Cheap to move; values taken
/// from it stay valid across moves, and tensors keep what they view alive on their own.
class document {
public:
    document() : d_(detail::make_shared<document_data>()) {}

    /// The loaded object (what torch.load returns; for a TorchScript archive, data.pkl).
    value root() const noexcept { return d_->root(); }
    /// For a TorchScript archive: the tuple of constants.pkl (invalid otherwise).
    value constants() const noexcept { return d_->constants(); }
    bool is_torchscript() const noexcept { return d_->is_torchscript(); }
    value get(node_id id) const noexcept { return d_->get(id); }
    std::size_t node_count() const noexcept { return d_->node_count(); }
    std::size_t storage_count() const noexcept { return d_->storage_count(); }
    std::size_t tensor_count() const noexcept { return d_->tensor_count(); }
    const storage& storage_at(std::size_t i) const noexcept { return d_->storage_at(i); }
    /// The i-th tensor built by the load (0 <= i < tensor_count()), wherever it sits.
    ptload::tensor tensor_at(std::size_t i) const noexcept;
    /// Reads every storage a lazy load left in the source (in source order).
    status fetch_all() const { return d_->fetch_all(); }
    /// Lets go of the source (closing a file the document owns); see document_data::close_source.
    void close_source() noexcept { d_->close_source(); }
    /// Whether storages can still be read from the source.
    bool has_source() const noexcept { return d_->has_source(); }
    std::uint64_t input_bytes() const noexcept { return d_->input_bytes(); }
    std::uint64_t footprint() const noexcept { return d_->footprint(); }

    /// The contents, for loaders and walks.
    document_data& data() noexcept { return *d_; }
    const document_data& data() const noexcept { return *d_; }

private:
    detail::shared<document_data> d_;
};

// ---- value implementation ----

inline kind value::type() const noexcept { return doc_->at(id_).k; }

inline bool value::is_sequence() const noexcept {
    if (!valid()) return false;
    switch (type()) {
    case kind::list: case kind::tuple: case kind::set: case kind::frozenset: case kind::torch_size: return true;
    default: return false;
    }
}

inline value value::child(node_id id, node_id container, std::size_t pos) const noexcept {
    value v(doc_, id);
    v.steps_ = steps_;
    v.count_ = count_;
    v.clipped_ = clipped_;
    const step s{container, static_cast<std::uint32_t>(pos)};  // positions are below 2^32: edges are counted in 32 bits
    if (v.count_ < path_capacity) {
        v.steps_[v.count_++] = s;
    } else {  // keep the most recent steps
        for (std::size_t i = 1; i < path_capacity; ++i) v.steps_[i - 1] = v.steps_[i];
        v.steps_[path_capacity - 1] = s;
        v.clipped_ = true;
    }
    return v;
}

namespace detail {
/// `[n]`: an index or an int key as a step of a path.
struct index_text {
    explicit index_text(long long n) noexcept : size(static_cast<std::size_t>(std::snprintf(digits, sizeof digits, "%lld", n))) {}
    std::string_view view() const noexcept { return {digits, size}; }
    char digits[24];
    std::size_t size;
};
} // namespace detail

inline void value::append_step_text(detail::string& out, step s) const {
    const kind container = doc_->at(s.container).k;
    long long n = static_cast<long long>(s.pos);  // a sequence's index
    if (container == kind::dict || container == kind::ordered_dict) {
        // a mapping entry, found by its str key or by its int (or bool) key
        const node_id key = doc_->edge(s.container, 2 * static_cast<std::size_t>(s.pos));
        const detail::node& k = doc_->at(key);
        if (k.k == kind::string) {
            const std::string_view text = doc_->text(key);
            out.append("[\"").append(text.data(), text.size()).append("\"]");
            return;
        }
        n = k.i;
    }
    const detail::index_text number(n);
    out.append("[").append(number.digits, number.size).append("]");
}

inline detail::string value::path() const {
    if (text_) return *text_;
    detail::string out;
    if (clipped_) out = "...";
    for (std::size_t i = 0; i < count_; ++i) append_step_text(out, steps_[i]);
    return out;
}

inline value value::missing(std::string_view open, std::string_view middle, std::string_view close) const {
    value v(doc_, null_node);
    detail::string text = path();
    text.append(open.data(), open.size()).append(middle.data(), middle.size()).append(close.data(), close.size());
    v.text_.reset(detail::new_object<detail::string>(std::move(text)));
    return v;
}

inline error value::missing_error() const {
    const detail::string p = path();
    const char* message = p.empty() ? "no value" : "no such key or index";
    return make_error(errc::not_found, no_offset, message, std::string(p.data(), p.size()));
}

namespace detail {
inline error kind_error(const value& v, const char* wanted) {
    if (!v.valid()) return v.missing_error();
    // The lookup path that led to v, which missing_error carries as its context.
    return make_error(errc::wrong_kind, no_offset, std::string("expected ") + wanted + ", got " + kind_name(v.type()),
                      v.missing_error().context);
}
} // namespace detail

inline result<bool> value::as_bool() const {
    if (is(kind::boolean)) return doc_->at(id_).i != 0;
    return detail::kind_error(*this, "bool");
}
inline result<std::int64_t> value::as_int() const {
    if (is(kind::integer) || is(kind::boolean)) return doc_->at(id_).i;
    if (is(kind::big_integer))
        return detail::failure(errc::limit_integer, no_offset, "integer does not fit in 64 bits");
    return detail::kind_error(*this, "int");
}
inline result<double> value::as_double() const {
    if (is(kind::floating)) return doc_->at(id_).f;
    if (is(kind::integer) || is(kind::boolean)) return static_cast<double>(doc_->at(id_).i);
    return detail::kind_error(*this, "float");
}
inline result<std::string_view> value::as_string() const {
    if (is(kind::string)) return doc_->text(id_);
    return detail::kind_error(*this, "str");
}
inline result<span<const std::uint8_t>> value::as_bytes() const {
    if (is(kind::bytes) || is(kind::bytearray)) {
        auto t = doc_->text(id_);
        return span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(t.data()), t.size());
    }
    return detail::kind_error(*this, "bytes");
}
inline result<std::string_view> value::class_name() const {
    if (is(kind::global)) return doc_->text(id_);
    if (is(kind::object)) return value(doc_, doc_->edge(id_, obj_class)).class_name();
    return detail::kind_error(*this, "global or object");
}

inline std::size_t value::size() const noexcept {
    if (!valid()) return 0;
    switch (type()) {
    case kind::list: case kind::tuple: case kind::set: case kind::frozenset: case kind::torch_size:
        return doc_->edge_count(id_);
    case kind::dict: case kind::ordered_dict: return doc_->edge_count(id_) / 2;
    case kind::string: case kind::bytes: case kind::bytearray: return doc_->text(id_).size();
    default: return 0;
    }
}

inline value value::operator[](std::size_t i) const {
    if (valid()) {
        node_id base = id_;
        if (type() == kind::object) base = doc_->edge(id_, obj_args);
        if (base != null_node) {
            switch (doc_->at(base).k) {
            case kind::list: case kind::tuple: case kind::set: case kind::frozenset: case kind::torch_size:
                if (i < doc_->edge_count(base)) return child(doc_->edge(base, i), base, i);
                break;
            default: break;
            }
        }
    }
    return missing("[", detail::index_text(static_cast<long long>(i)).view(), "]");
}

inline value value::operator[](std::string_view key) const {
    if (is_mapping()) {
        const std::int64_t i = doc_->find_str_key(id_, key);
        if (i >= 0) return child(doc_->edge(id_, 2 * static_cast<std::size_t>(i) + 1), id_, static_cast<std::size_t>(i));
    }
    return missing("[\"", key, "\"]");
}

inline value value::at_int_key(std::int64_t key) const {
    if (is_mapping()) {
        const std::size_t n = doc_->edge_count(id_);
        const node_id* e = doc_->edges(id_);
        for (std::size_t i = 0; i < n; i += 2) {
            const auto& k = doc_->at(e[i]);
            if ((k.k == kind::integer || k.k == kind::boolean) && k.i == key) return child(e[i + 1], id_, i / 2);
        }
    }
    return missing("[", detail::index_text(key).view(), "]");
}

inline value value::attrs() const {
    if (!valid()) return missing(".attrs");
    const auto& n = doc_->at(id_);
    if (n.k == kind::ordered_dict) return value(doc_, doc_->ordered_dict_attrs(id_));
    if (n.k == kind::object) return value(doc_, doc_->edge(id_, obj_state));
    if (n.k == kind::tensor) return value(doc_, doc_->tensor_at(doc_->tensor_index(id_)).attrs);
    return missing(".attrs");
}

inline value value::key_at(std::size_t i) const {
    if (!is_mapping() || i >= size()) return missing("[#", detail::index_text(static_cast<long long>(i)).view(), "]");
    return value(doc_, doc_->edge(id_, 2 * i));
}
inline value value::value_at(std::size_t i) const {
    if (!is_mapping() || i >= size()) return missing("[#", detail::index_text(static_cast<long long>(i)).view(), "]");
    return value(doc_, doc_->edge(id_, 2 * i + 1));
}

/// One entry of a mapping.
struct value::item {
    value key, val;
};

/// Iterates items of a sequence, or keys of a mapping.
class value::iterator {
public:
    iterator(const document_data* d, node_id c, std::size_t i, std::size_t step) : doc_(d), c_(c), i_(i), step_(step) {}
    value operator*() const { return value(doc_, doc_->edge(c_, i_)); }
    iterator& operator++() {
        i_ += step_;
        return *this;
    }
    bool operator!=(const iterator& o) const { return i_ != o.i_; }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

private:
    const document_data* doc_;
    node_id c_;
    std::size_t i_, step_;
};

inline value::iterator value::begin() const {
    return iterator(doc_, id_, 0, is_mapping() ? 2 : 1);
}
inline value::iterator value::end() const {
    std::size_t n = (is_sequence() || is_mapping()) ? doc_->edge_count(id_) : 0;
    return iterator(doc_, id_, n, is_mapping() ? 2 : 1);
}

/// Key/value pairs of a mapping: `for (auto [k, v] : doc.root().items())`.
class value::item_range {
public:
    class iterator {
    public:
        iterator(const document_data* d, node_id c, std::size_t i) : doc_(d), c_(c), i_(i) {}
        item operator*() const { return {value(doc_, doc_->edge(c_, i_)), value(doc_, doc_->edge(c_, i_ + 1))}; }
        iterator& operator++() {
            i_ += 2;
            return *this;
        }
        bool operator!=(const iterator& o) const { return i_ != o.i_; }

    private:
        const document_data* doc_;
        node_id c_;
        std::size_t i_;
    };
    item_range(const document_data* d, node_id c, std::size_t n) : doc_(d), c_(c), n_(n) {}
    iterator begin() const { return iterator(doc_, c_, 0); }
    iterator end() const { return iterator(doc_, c_, n_); }

private:
    const document_data* doc_;
    node_id c_;
    std::size_t n_;
};

inline value::item_range value::items() const {
    return item_range(doc_, id_, is_mapping() ? doc_->edge_count(id_) : 0);
}

} // namespace v0
} // namespace ptload

#endif
