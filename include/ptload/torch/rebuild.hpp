// torch/rebuild.hpp: what torch's callables mean, without calling anything: the rebuild
// functions of FORMAT.md 5.2 become tensor records that view loaded storages, checked against
// them; torch.Size, torch.device, dtypes and layouts become plain values. This is the Handler
// the pickle machine consults (pickle/machine.hpp) for persistent ids and for the globals
// torch gives a meaning to (torch/globals.hpp).
#ifndef PTLOAD_TORCH_REBUILD_HPP
#define PTLOAD_TORCH_REBUILD_HPP

#include "../detail/checked.hpp"
#include "../detail/sort.hpp"
#include "../detail/vector.hpp"
#include "../error.hpp"
#include "../pickle/globals.hpp"
#include "../pickle/numpy.hpp"
#include "../policies/limits.hpp"
#include "../value.hpp"
#include "dtype.hpp"
#include "globals.hpp"
#include "location.hpp"
#include "storage.hpp"
#include "tensor.hpp"
#include "tensor_run.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

namespace ptload {
inline namespace v0 {

/// Where a checkpoint's storages come from; one implementation per file format.
class storage_provider {
public:
    virtual ~storage_provider() = default;
    /// The document storage index for a ('storage', type, key, location, numel[, view]) id.
    /// `view` is the legacy view metadata node (null_node or None when absent).
    virtual result<std::uint32_t> load_storage(document_data& doc, const storage_description& d, node_id view) = 0;
    /// The object a str persistent id names (tar format); others have none.
    virtual result<node_id> load_object(document_data&, std::string_view key) {
        return detail::failure(errc::bad_storage, no_offset, {"persistent id '", key, "' names no object"});
    }
    /// Whether `(module_class, source_file, source)` ids name classes (tar format).
    virtual bool class_tuples() const { return false; }
};

namespace detail {

/// Reads a sequence of ints (tuple, list or torch.Size) into out.
inline bool int_sequence(const document_data& doc, node_id seq, vector<std::int64_t>& out) {
    kind k = doc.at(seq).k;
    if (k != kind::tuple && k != kind::list && k != kind::torch_size) return false;
    out.clear();
    for (std::size_t i = 0; i < doc.edge_count(seq); ++i) {
        const auto& n = doc.at(doc.edge(seq, i));
        if (n.k != kind::integer) return false;
        out.push_back(n.i);
    }
    return true;
}

inline bool as_text(const document_data& doc, node_id id, std::string_view& out) {
    kind k = doc.at(id).k;
    if (k != kind::string && k != kind::bytes) return false;  // _maybe_decode_ascii: bytes with encoding='bytes'
    out = doc.text(id);
    return true;
}

/// The dtype of the elements of a storage class named `name` ("FloatStorage"; UntypedStorage
/// holds bytes), or dtype::unknown.
inline dtype storage_class_dtype(std::string_view name) noexcept {
    return name == "UntypedStorage" ? dtype::uint8 : dtype_from_storage_class(name);
}

/// Loads a stream nested in a bytes value (torch.storage._load_from_bytes) into the same
/// document: a function and the load it belongs to, set by the format layer. Empty outside a
/// torch load. A plain function pointer: nothing to allocate, copy or compile per load.
struct nested_loader {
    using function = result<node_id> (*)(const nested_loader& self, document_data& doc, const std::uint8_t* p,
                                         std::size_t n);
    function load = nullptr;
    const void* context = nullptr;  // the load's options and policies, for `load`
    std::size_t depth = 0;          // streams around this one

    explicit operator bool() const noexcept { return load != nullptr; }
    result<node_id> operator()(document_data& doc, const std::uint8_t* p, std::size_t n) const { return load(*this, doc, p, n); }
};

} // namespace detail

/// The pickle machine's Handler for torch files and for pickles that contain torch objects,
/// within the limits of the load's policy set. A template only so that a file that includes
/// ptload without loading does not compile it: use it as torch_handler.
template <class = void>
class basic_torch_handler {
public:
    basic_torch_handler(storage_provider* provider, const load_options& opts, const limit_values& limits)
        : provider_(provider), opts_(opts), limits_(limits) {}

    /// Loads a nested legacy stream (torch.storage._load_from_bytes); set by the format layer.
    detail::nested_loader load_from_bytes;

    // ---- Handler hooks ----
    result<node_id> persistent_load(document_data& doc, node_id pid, std::uint64_t) {
        std::string_view key;
        if (detail::as_text(doc, pid, key)) {  // tar format: str keys
            if (!provider_) return no_provider();
            return provider_->load_object(doc, key);
        }
        if (doc.at(pid).k != kind::tuple || doc.edge_count(pid) < 1)
            return detail::failure(errc::bad_storage, no_offset, "persistent id is neither a tuple nor a str key");
        std::string_view type;
        if (!detail::as_text(doc, doc.edge(pid, 0), type)) {
            // the tar format names an nn.Module class as (class, source_file, source)
            if (provider_ && provider_->class_tuples() && doc.edge_count(pid) == 3 && doc.at(doc.edge(pid, 0)).k == kind::global)
                return doc.edge(pid, 0);
            return detail::failure(errc::bad_storage, no_offset, "persistent id type name is not a str");
        }
        std::size_t n = doc.edge_count(pid);
        if (type == "module") {  // ('module', cls, source_file, source): the class itself
            if (n != 4) return detail::failure(errc::bad_storage, no_offset, "'module' persistent id needs 4 items");
            return doc.edge(pid, 1);
        }
        if (type != "storage")
            return detail::failure(errc::bad_storage, no_offset, {"unknown persistent id type '", type, "'"});
        if (n != 5 && n != 6)
            return detail::failure(errc::bad_storage, no_offset, {"'storage' persistent id has ", n, " items, not 5 or 6"});
        node_id cls = doc.edge(pid, 1);
        storage_description d;
        if (torch_global_of(doc, cls) != torch_global::storage_class)
            return detail::failure(errc::bad_storage, no_offset, "persistent id storage type is not a torch storage class");
        d.type = storage_dtype(doc, cls);
        if (d.type == dtype::unknown) return unknown_storage_class(doc, cls);
        std::string_view location;
        if (!detail::as_text(doc, doc.edge(pid, 2), key)) {
            if (doc.at(doc.edge(pid, 2)).k != kind::integer)
                return detail::failure(errc::bad_storage, no_offset, "storage key is not a str");
            d.key = doc.keep_text(detail::index_text(doc.at(doc.edge(pid, 2)).i).view());
        } else {
            d.key = key;
        }
        if (!detail::as_text(doc, doc.edge(pid, 3), location))
            return detail::failure(errc::bad_storage, no_offset, "storage location is not a str", "storage " + std::string(d.key));
        d.location = location;
        const auto& numel = doc.at(doc.edge(pid, 4));
        if (numel.k != kind::integer || numel.i < 0)
            return detail::failure(errc::bad_storage, no_offset, "storage element count is not a size", "storage " + std::string(d.key));
        d.numel = static_cast<std::uint64_t>(numel.i);
        return declare_storage(doc, d, n == 6 ? doc.edge(pid, 5) : null_node);
    }

    /// The fast lane for torch.save's opcodes of one tensor (torch/tensor_run.hpp): the GET of
    /// _rebuild_tensor_v2 starts it, once find_class has made that global.
    node_id fused_callable() const noexcept { return opts_.fused_runs ? rebuild_tensor_v2_ : null_node; }
    template <class Lane>
    status fused_call(Lane& lane) {
        return detail::take_tensor_run(*this, lane);
    }

    /// A storage a checked 'storage' persistent id declares (`view`: the legacy view metadata
    /// node, or null_node): its document value.
    result<node_id> declare_storage(document_data& doc, const storage_description& d, node_id view) {
        if (!provider_) return no_provider();
        auto index = provider_->load_storage(doc, d, view);
        if (!index) return std::move(index).pass_error();
        return storage_node(doc, *index);
    }
    PTLOAD_COLD static error_handoff unknown_storage_class(const document_data& doc, node_id cls) {
        return detail::failure(errc::bad_storage, no_offset, {"unknown storage class ", doc.text(cls)});
    }

    /// find_class: a global torch gives a meaning to becomes a global value that carries its
    /// torch_global (the other hooks read it with torch_global_of), or a dtype value; null_node
    /// leaves any other global to the machine.
    result<node_id> find_class(document_data& doc, const pickle::resolved_global& g, std::uint64_t) {
        torch_global t = find_torch_global(g);
        if (t == torch_global::none) return null_node;
        node_id id = doc.make_global(g.module, g.name, static_cast<std::uint16_t>(g.id));  // the machine's tag: none
        if (t == torch_global::dtype_name) {
            dtype d = dtype_from_name(g.name);
            if (d == dtype::unknown) return id;  // torch.FloatTensor, torch.strided, ...: an ordinary global
            return doc.make_dtype(d);
        }
        detail::set_torch_global(doc, id, t);
        if (t == torch_global::rebuild_tensor_v2) rebuild_tensor_v2_ = id;
        if (t == torch_global::storage_class) {
            auto at = detail::lower_bound(storage_classes_.begin(), storage_classes_.end(), id, node_before);
            storage_classes_.insert(at, {id, detail::storage_class_dtype(g.name)});  // ids grow: at is the end
        }
        return id;  // qschemes stay globals; the rebuild functions read their names
    }

    /// REDUCE, INST and OBJ of a global the machine does not model: torch's callables.
    result<node_id> reduce(document_data& doc, node_id callable, node_id args, std::uint64_t) {
        torch_global t = torch_global_of(doc, callable);
        if (t == torch_global::jit_identity) {
            if (doc.edge_count(args) < 1) return detail::failure(errc::bad_operand, no_offset, "TorchScript type tag without a value");
            return doc.edge(args, 0);
        }
        return call(doc, t, callable, args);
    }

    /// NEWOBJ and NEWOBJ_EX: torch.Size (a tuple subclass, opaque with keyword arguments),
    /// Tensor and Parameter.
    result<node_id> newobj(document_data& doc, node_id cls, node_id args, node_id kwargs, std::uint64_t) {
        torch_global t = torch_global_of(doc, cls);
        switch (t) {
        case torch_global::size:
            if (kwargs != null_node && doc.edge_count(kwargs)) return null_node;
            return call(doc, t, cls, args);
        case torch_global::tensor:
        case torch_global::parameter: return call(doc, t, cls, args);
        default: return null_node;
        }
    }

    /// BUILD on a tensor: Tensor.__setstate__, Python attributes (dict or (dict, slots));
    /// nothing else in files we read. Other values are the machine's.
    result<bool> build(document_data& doc, node_id obj, node_id state, std::uint64_t) {
        if (doc.at(obj).k != kind::tensor) return false;
        PTLOAD_TRY(set_attrs(doc, obj, state));
        return true;
    }

    /// The dtype of a storage class global's elements; dtype::unknown for any other value and
    /// for unknown classes.
    dtype storage_dtype(const document_data& doc, node_id cls) const {
        if (torch_global_of(doc, cls) != torch_global::storage_class) return dtype::unknown;
        auto it = detail::lower_bound(storage_classes_.begin(), storage_classes_.end(), cls, node_before);
        if (it != storage_classes_.end() && it->first == cls) return it->second;
        // a class another handler resolved (a nested stream's): by its name, as find_class did
        return detail::storage_class_dtype(doc.global_name(cls));
    }

    /// callable(*args) for torch's callable `g`; null_node keeps an opaque object.
    result<node_id> call(document_data& doc, torch_global g, node_id callable, node_id args) {
        std::size_t n = doc.edge_count(args);
        auto a = [&](std::size_t i) { return doc.edge(args, i); };
        switch (g) {
        case torch_global::rebuild_tensor:
            if (n != 4) return arity("_rebuild_tensor", n, "4");
            return make_tensor(doc, a(0), a(1), a(2), a(3), dtype::unknown, false);
        case torch_global::rebuild_tensor_v2: {
            if (n != 6 && n != 7) return arity("_rebuild_tensor_v2", n, "6 or 7");
            auto t = make_tensor(doc, a(0), a(1), a(2), a(3), dtype::unknown, truthy(doc, a(4)));
            if (!t) return t;
            if (n == 7) PTLOAD_TRY(apply_metadata(doc, *t, a(6)));
            return t;
        }
        case torch_global::rebuild_tensor_v3: {
            if (n != 7 && n != 8) return arity("_rebuild_tensor_v3", n, "7 or 8");
            if (doc.at(a(6)).k != kind::dtype) return bad("_rebuild_tensor_v3 dtype is not a torch dtype");
            auto t = make_tensor(doc, a(0), a(1), a(2), a(3), doc.dtype_of(a(6)), truthy(doc, a(4)));
            if (!t) return t;
            if (n == 8) PTLOAD_TRY(apply_metadata(doc, *t, a(7)));
            return t;
        }
        case torch_global::rebuild_parameter:
        case torch_global::rebuild_parameter_with_state: {
            bool with_state = g == torch_global::rebuild_parameter_with_state;
            if (n != (with_state ? 4u : 3u)) return arity("_rebuild_parameter", n, with_state ? "4" : "3");
            auto p = derive(doc, a(0), truthy(doc, a(1)), true);
            if (!p) return p;
            if (with_state) PTLOAD_TRY(set_attrs(doc, *p, a(3)));
            return p;
        }
        case torch_global::parameter: {  // Parameter(data[, requires_grad]) via NEWOBJ/REDUCE
            if (n < 1 || n > 2) return arity("Parameter", n, "1 or 2");
            return derive(doc, a(0), n == 2 ? truthy(doc, a(1)) : true, true);
        }
        case torch_global::rebuild_qtensor: return qtensor(doc, args);
        case torch_global::rebuild_sparse_tensor:
        case torch_global::rebuild_sparse_csr_tensor: return sparse(doc, args, g);
        case torch_global::rebuild_nested_tensor: {
            if (n != 4) return arity("_rebuild_nested_tensor", n, "4");
            for (std::size_t i = 0; i < 4; ++i)
                if (doc.at(a(i)).k != kind::tensor) return bad("nested tensor parts must be tensors");
            node_id nested = doc.make_seq(kind::nested_tensor, doc.edges(args), 4);
            PTLOAD_TRY(check_or_defer(doc, nested));
            return nested;
        }
        case torch_global::rebuild_meta_tensor_no_storage: {
            if (n != 4) return arity("_rebuild_meta_tensor_no_storage", n, "4");
            if (doc.at(a(0)).k != kind::dtype) return bad("meta tensor dtype is not a torch dtype");
            return storageless(doc, doc.dtype_of(a(0)), a(1), a(2), 0, truthy(doc, a(3)), "meta",
                               null_node);
        }
        case torch_global::rebuild_wrapper_subclass: {
            if (n != 8) return arity("_rebuild_wrapper_subclass", n, "8");
            if (doc.at(a(1)).k != kind::dtype) return bad("wrapper subclass dtype is not a torch dtype");
            if (doc.at(a(4)).k != kind::integer) return bad("wrapper subclass storage offset is not an int");
            const std::string_view device = doc.at(a(6)).k == kind::device ? doc.text(a(6)) : std::string_view("cpu");
            return storageless(doc, doc.dtype_of(a(1)), a(2), a(3), doc.at(a(4)).i, truthy(doc, a(7)),
                               device, a(0));
        }
        case torch_global::rebuild_device_tensor_from_numpy: return from_numpy(doc, args);
        case torch_global::rebuild_device_tensor_from_cpu_tensor: {
            if (n != 4) return arity("_rebuild_device_tensor_from_cpu_tensor", n, "4");
            std::string_view device;
            if (!detail::as_text(doc, a(2), device)) return bad("device is not a str");
            auto t = derive(doc, a(0), truthy(doc, a(3)), false);
            if (!t) return t;
            doc.tensor_mut(doc.tensor_index(*t)).device = mapped_device(doc, device);
            return t;
        }
        case torch_global::rebuild_from_type_v2:
        case torch_global::rebuild_from_type: return from_type(doc, args);
        case torch_global::size: {  // torch.Size((2, 3))
            detail::vector<std::int64_t> dims;
            if (n != 1 || !detail::int_sequence(doc, a(0), dims)) return bad("torch.Size takes one sequence of ints");
            return doc.make_seq(kind::torch_size, doc.edges(a(0)), doc.edge_count(a(0)));
        }
        case torch_global::device: {  // torch.device('cuda', 1) or ('cuda:1',)
            std::string_view type;
            if (n < 1 || n > 2 || !detail::as_text(doc, a(0), type)) return bad("torch.device takes (type[, index])");
            const bool indexed = n == 2 && doc.at(a(1)).k == kind::integer;
            const detail::index_text number(indexed ? doc.at(a(1)).i : 0);
            const std::string_view index = number.view();
            node_id id = null_node;  // "type" or "type:index"
            char* text = doc.make_text_uninit(kind::device, type.size() + (indexed ? 1 + index.size() : 0), id);
            if (!type.empty()) std::memcpy(text, type.data(), type.size());
            if (indexed) {
                text[type.size()] = ':';
                std::memcpy(text + type.size() + 1, index.data(), index.size());
            }
            return id;
        }
        case torch_global::get_layout: {  // _get_layout('torch.sparse_coo')
            std::string_view l;
            if (n != 1 || !detail::as_text(doc, a(0), l)) return bad("_get_layout takes a layout name");
            std::string_view name = l.substr(0, 6) == "torch." ? l.substr(6) : l;
            node_id layout = doc.make_global("torch", name, static_cast<std::uint16_t>(pickle::known_global::none));
            detail::set_torch_global(doc, layout, torch_global::get_layout);
            return layout;
        }
        case torch_global::load_from_bytes: {
            if (n != 1 || doc.at(a(0)).k != kind::bytes) return bad("_load_from_bytes takes bytes");
            if (!load_from_bytes) return detail::failure(errc::unsupported, no_offset, "nested torch stream outside a torch load");
            auto bytes = doc.text(a(0));  // the byte arena never moves
            return load_from_bytes(doc, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        }
        default:
            (void)callable;
            return null_node;  // an opaque object
        }
    }

    /// _rebuild_from_type(_v2)(func, new_type, args, state): func(*args), re-typed, with
    /// attributes. func may itself be _rebuild_from_type with its own arguments, as deep as the
    /// file likes: the chain is unwound in a loop (bounded by limits::max_depth), the innermost
    /// call made, then each level's type and state applied from the inside out.
    result<node_id> from_type(document_data& doc, node_id args) {
        detail::vector<node_id> levels;  // the argument tuples, outermost first
        node_id call_args = args;
        for (;;) {
            std::size_t n = doc.edge_count(call_args);
            if (n != 4) return arity("_rebuild_from_type", n, "4");
            node_id func = doc.edge(call_args, 0), inner = doc.edge(call_args, 2);
            if (doc.at(func).k != kind::global || doc.at(inner).k != kind::tuple)
                return bad("_rebuild_from_type needs (func, type, args, state)");
            if (levels.size() >= limits_.max_depth)
                return detail::failure(errc::limit_depth, no_offset,
                                       {"_rebuild_from_type nested deeper than ", limits_.max_depth,
                                        " (limits::max_depth)"});
            levels.push_back(call_args);
            auto fid = torch_global_of(doc, func);
            if (fid != torch_global::rebuild_from_type_v2 && fid != torch_global::rebuild_from_type) break;
            call_args = inner;
        }
        node_id innermost = levels.back();
        node_id func = doc.edge(innermost, 0);
        auto t = call(doc, torch_global_of(doc, func), func, doc.edge(innermost, 2));
        if (!t) return t;
        if (*t == null_node || doc.at(*t).k != kind::tensor) return bad("_rebuild_from_type's function did not build a tensor");
        for (std::size_t i = levels.size(); i-- > 0;) {
            node_id new_type = doc.edge(levels[i], 1);
            if (doc.at(new_type).k == kind::global) {
                std::string_view cls = doc.text(new_type);
                if (cls == "torch.nn.parameter.Parameter") doc.tensor_mut(doc.tensor_index(*t)).parameter = true;
                else if (cls != "torch.Tensor" && cls != "torch._tensor.Tensor") doc.tensor_mut(doc.tensor_index(*t)).cls = new_type;
            }
            PTLOAD_TRY(set_attrs(doc, *t, doc.edge(levels[i], 3)));
        }
        return t;
    }

    /// Runs the checks that waited for storage data (legacy files store it after the pickle).
    status finish(document_data& doc) {
        for (node_id c : deferred_) PTLOAD_TRY(check_composite(doc, c));
        deferred_.clear();
        return {};
    }

private:
    static bool node_before(const std::pair<node_id, dtype>& e, node_id id) noexcept { return e.first < id; }
    error no_provider() const {
        return make_error(errc::bad_storage, no_offset, "a persistent id outside a torch checkpoint (a plain pickle cannot hold storages)");
    }
    static error arity(const char* what, std::size_t n, const char* want) {
        return make_error(errc::bad_tensor, no_offset, std::string(what) + " got " + std::to_string(n) + " arguments, expected " + want);
    }
    PTLOAD_COLD static error_handoff bad(std::string_view message) {
        return hand_off(make_error(errc::bad_tensor, no_offset, std::string(message)));
    }
    PTLOAD_COLD static error_handoff bad(std::initializer_list<detail::message_piece> message) {
        return bad(detail::message_text(message));
    }
    static bool truthy(const document_data& doc, node_id id) {
        const auto& n = doc.at(id);
        return (n.k == kind::boolean || n.k == kind::integer) && n.i != 0;
    }

    /// Where map_location sends a tensor saved on `device`, as text the document keeps.
    std::string_view mapped_device(document_data& doc, std::string_view device) const {
        if (!opts_.map_location.empty()) return doc.keep_repeated(opts_.map_location);
        for (const auto& kv : opts_.map_remap)
            if (kv.first == device) return doc.keep_repeated(kv.second);
        return doc.keep_repeated(device);
    }

public:
    /// Checks shape, strides and offset against the storage and records the tensor.
    result<node_id> make_tensor(document_data& doc, node_id storage_id, node_id offset_id, node_id size_id, node_id stride_id,
                                dtype override, bool requires_grad) {
        if (doc.at(storage_id).k != kind::storage) return bad("tensor storage is not a storage persistent id");
        if (doc.at(offset_id).k != kind::integer) return bad("storage offset is not an int");
        detail::tensor_record r;
        std::uint64_t capacity = 0;
        if (!begin_tensor(doc, r, storage_id, doc.at(offset_id).i, override, requires_grad, capacity))
            return bad("dtype without an element size");
        PTLOAD_TRY(shape_into(doc, r, size_id, stride_id, capacity));
        return add(doc, r);
    }
    /// make_tensor of _rebuild_tensor_v2 with its sizes and strides already read as ints.
    result<node_id> make_tensor(document_data& doc, node_id storage_id, std::int64_t offset, span<const std::int64_t> size,
                                span<const std::int64_t> stride, bool requires_grad) {
        detail::tensor_record r;
        std::uint64_t capacity = 0;
        if (!begin_tensor(doc, r, storage_id, offset, dtype::unknown, requires_grad, capacity))
            return bad("dtype without an element size");
        PTLOAD_TRY(check_dims(doc, r, size, stride, capacity));
        return add(doc, r);
    }
    /// The node of a document storage (one per storage, so sharing is identity).
    node_id storage_node(document_data& doc, std::uint32_t index) {
        // indices are dense, in declaration order: a new storage is usually the next one
        if (index == storage_nodes_.size()) storage_nodes_.push_back(null_node);
        else if (index > storage_nodes_.size()) storage_nodes_.resize(std::size_t{index} + 1, null_node);
        if (storage_nodes_[index] != null_node) return storage_nodes_[index];
        node_id id = doc.make_storage_node(index);
        storage_nodes_[index] = id;
        return id;
    }

private:
    /// A tensor record over the storage value `storage_id` before its shape: false when its
    /// dtype has no element size. `capacity`: the storage's size in elements of that dtype, from
    /// its declared size (legacy storages are filled after their tensors are built).
    static bool begin_tensor(const document_data& doc, detail::tensor_record& r, node_id storage_id, std::int64_t offset,
                             dtype override, bool requires_grad, std::uint64_t& capacity) {
        std::uint32_t sindex = doc.storage_index(storage_id);
        const storage& s = doc.storage_at(sindex);
        r.type = override == dtype::unknown ? s.desc.type : override;
        r.storage = sindex;
        r.offset = offset;
        r.requires_grad = requires_grad;
        r.device = s.device;
        std::uint64_t esize = element_size(r.type);
        if (!esize) return false;
        capacity = s.desc.numel * element_size(s.desc.type) / esize * values_per_byte(r.type);
        return true;
    }
    /// Validates and stores shape/strides: rank limit, non-negative sizes, strides and offset,
    /// numel without overflow, and every element inside `capacity` elements.
    status shape_into(document_data& doc, detail::tensor_record& r, node_id size_id, node_id stride_id, std::uint64_t capacity) {
        detail::vector<std::int64_t>& shape = shape_scratch_;  // reused: no allocation per tensor
        detail::vector<std::int64_t>& stride = stride_scratch_;
        if (!detail::int_sequence(doc, size_id, shape)) return bad("tensor size is not a sequence of ints");
        if (!detail::int_sequence(doc, stride_id, stride)) return bad("tensor stride is not a sequence of ints");
        return check_dims(doc, r, {shape.data(), shape.size()}, {stride.data(), stride.size()}, capacity);
    }
    status check_dims(document_data& doc, detail::tensor_record& r, span<const std::int64_t> shape,
                      span<const std::int64_t> stride, std::uint64_t capacity) {
        if (shape.size() != stride.size())
            return bad({"tensor has ", shape.size(), " sizes and ", stride.size(), " strides"});
        if (shape.size() > limits_.max_tensor_rank)
            return detail::failure(errc::limit_tensor, no_offset,
                                   {"tensor rank ", shape.size(), " exceeds limits::max_tensor_rank"});
        if (r.offset < 0) return bad("negative storage offset");
        std::uint64_t numel = 1;
        std::int64_t last = r.offset;  // highest element index touched
        for (std::size_t i = 0; i < shape.size(); ++i) {
            if (shape[i] < 0) return bad({"negative size in dimension ", i});
            if (stride[i] < 0) return bad({"negative stride in dimension ", i});
            if (!detail::checked_mul(numel, static_cast<std::uint64_t>(shape[i]), numel) || numel > (std::uint64_t{1} << 62))
                return detail::failure(errc::bad_tensor, no_offset, "tensor element count overflows");
        }
        if (numel) {
            for (std::size_t i = 0; i < shape.size(); ++i) {
                std::int64_t reach;
                if (!detail::checked_mul(shape[i] - 1, stride[i], reach) || !detail::checked_add(last, reach, last))
                    return bad("tensor extent overflows");
            }
            if (r.storage != null_node && static_cast<std::uint64_t>(last) >= capacity)
                return bad({"view reaches element ", last, " of a storage of ", capacity, " elements"});
        }
        r.rank = static_cast<std::uint32_t>(shape.size());
        r.dims = doc.add_dims(shape.data(), stride.data(), shape.size());
        return {};
    }
    result<node_id> add(document_data& doc, const detail::tensor_record& r) {
        dtype_class cls = info(r.type).cls;
        if (r.requires_grad && cls != dtype_class::floating && cls != dtype_class::complex)
            // torch refuses these when it rebuilds
            return bad({"only tensors of floating point and complex dtype can require gradients (", name(r.type), ")"});
        if (doc.tensor_count() >= limits_.max_tensors)
            return detail::failure(errc::limit_tensor, no_offset, "more than limits::max_tensors tensors");
        return doc.add_tensor(r);
    }
    /// A new tensor object over the same storage (Parameter, device re-tagging).
    result<node_id> derive(document_data& doc, node_id data, bool requires_grad, bool parameter) {
        if (doc.at(data).k != kind::tensor) return bad("expected a tensor");
        detail::tensor_record r = doc.tensor_at(doc.tensor_index(data));
        r.requires_grad = requires_grad;
        r.parameter = r.parameter || parameter;
        return add(doc, r);
    }
    result<node_id> storageless(document_data& doc, dtype t, node_id size, node_id stride, std::int64_t offset, bool requires_grad,
                                std::string_view device, node_id cls) {
        detail::tensor_record r;
        r.type = t;
        r.offset = offset;
        r.requires_grad = requires_grad;
        r.device = device;
        r.cls = cls;
        PTLOAD_TRY(shape_into(doc, r, size, stride, 0));
        return add(doc, r);
    }
    /// Python attributes: a dict, or (dict, slots); empty state is no attribute at all.
    status set_attrs(document_data& doc, node_id tensor_id, node_id state) {
        kind k = doc.at(state).k;
        if (k == kind::none) return {};
        node_id dict_state = state, slots = null_node;
        if (k == kind::tuple && doc.edge_count(state) == 2) {
            dict_state = doc.edge(state, 0);
            slots = doc.edge(state, 1);
        }
        for (node_id part : {dict_state, slots}) {
            if (part == null_node || doc.at(part).k == kind::none) continue;
            if (doc.at(part).k != kind::dict && doc.at(part).k != kind::ordered_dict) return bad("tensor state is not a dict");
            if (!doc.edge_count(part)) continue;
            const std::uint32_t index = doc.tensor_index(tensor_id);
            if (doc.tensor_at(index).attrs == null_node) {
                node_id fresh = doc.make_seq(kind::dict, nullptr, 0);  // grows the node array: no reference held
                doc.tensor_mut(index).attrs = fresh;
            }
            node_id target = doc.tensor_at(index).attrs;
            for (std::size_t i = 0; i + 1 < doc.edge_count(part); i += 2) {
                node_id kv[2] = {doc.edge(part, i), doc.edge(part, i + 1)};
                doc.push_edges(target, kv, 2);
            }
        }
        return {};
    }
    /// The optional metadata dict of _rebuild_tensor_v2/v3: conj and neg view bits.
    status apply_metadata(document_data& doc, node_id t, node_id meta) {
        if (doc.at(meta).k == kind::none) return {};
        if (doc.at(meta).k != kind::dict) return bad("tensor metadata is not a dict");
        auto& r = doc.tensor_mut(doc.tensor_index(t));
        for (std::size_t i = 0; i + 1 < doc.edge_count(meta); i += 2) {
            std::string_view key;
            if (!detail::as_text(doc, doc.edge(meta, i), key)) continue;
            if (key == "conj") r.conj = truthy(doc, doc.edge(meta, i + 1));
            if (key == "neg") r.neg = truthy(doc, doc.edge(meta, i + 1));
        }
        return {};
    }
    result<node_id> qtensor(document_data& doc, node_id args) {
        std::size_t n = doc.edge_count(args);
        if (n != 7) return arity("_rebuild_qtensor", n, "7");
        auto a = [&](std::size_t i) { return doc.edge(args, i); };
        auto t = make_tensor(doc, a(0), a(1), a(2), a(3), dtype::unknown, truthy(doc, a(5)));
        if (!t) return t;
        node_id q = a(4);
        if (doc.at(q).k != kind::tuple || doc.edge_count(q) < 1 || doc.at(doc.edge(q, 0)).k != kind::global)
            return bad("quantizer parameters are not (qscheme, ...)");
        std::string_view scheme = doc.text(doc.edge(q, 0));
        auto& r = doc.tensor_mut(doc.tensor_index(*t));
        if (scheme == "torch.per_tensor_affine" || scheme == "torch.per_tensor_symmetric") {
            if (doc.edge_count(q) != 3) return bad("per-tensor quantizer needs (qscheme, scale, zero_point)");
            const auto& scale = doc.at(doc.edge(q, 1));
            const auto& zp = doc.at(doc.edge(q, 2));
            if (scale.k != kind::floating && scale.k != kind::integer) return bad("quantizer scale is not a number");
            if (zp.k != kind::integer) return bad("quantizer zero point is not an int");
            r.quant = scheme == "torch.per_tensor_affine" ? qscheme::per_tensor_affine : qscheme::per_tensor_symmetric;
            r.scale = scale.k == kind::floating ? scale.f : static_cast<double>(scale.i);
            r.zero_point = zp.i;
            return t;
        }
        if (scheme == "torch.per_channel_affine" || scheme == "torch.per_channel_symmetric" ||
            scheme == "torch.per_channel_affine_float_qparams") {
            if (doc.edge_count(q) != 4) return bad("per-channel quantizer needs (qscheme, scales, zero_points, axis)");
            node_id scales = doc.edge(q, 1), zps = doc.edge(q, 2);
            const auto& axis = doc.at(doc.edge(q, 3));
            if (axis.k != kind::integer || axis.i < 0 || static_cast<std::uint64_t>(axis.i) >= r.rank)
                return bad("per-channel quantizer axis out of range");
            std::int64_t channels = doc.dims(r.dims)[axis.i];
            for (node_id p : {scales, zps}) {
                kind pk = doc.at(p).k;
                if (pk == kind::tensor) {
                    tensor pt(&doc, doc.tensor_index(p));
                    if (pt.rank() != 1 || pt.shape()[0] != channels) return bad("quantizer parameters have the wrong shape");
                } else if (pk == kind::list || pk == kind::tuple) {
                    if (static_cast<std::int64_t>(doc.edge_count(p)) != channels) return bad("quantizer parameters have the wrong length");
                } else {
                    return bad("quantizer parameters are not tensors");
                }
            }
            r.quant = scheme == "torch.per_channel_affine"      ? qscheme::per_channel_affine
                      : scheme == "torch.per_channel_symmetric" ? qscheme::per_channel_symmetric
                                                                : qscheme::per_channel_affine_float_qparams;
            r.scales = scales;
            r.zero_points = zps;
            r.axis = axis.i;
            return t;
        }
        return bad({"unknown qscheme ", scheme});
    }
    /// Reads an integer tensor's elements (int64/int32) for index checks. Index data must be
    /// stored bytes that cover the view (a meta or storage-less tensor has none), and a view
    /// that repeats its storage is read only as far as limits allow.
    status index_values(const document_data& doc, node_id t, detail::vector<std::int64_t>& out) const {
        if (doc.at(t).k != kind::tensor) return bad("sparse or nested tensor metadata is not a tensor");
        tensor v(&doc, doc.tensor_index(t));
        if (v.dtype() != dtype::int64 && v.dtype() != dtype::int32)
            return bad("sparse or nested tensor metadata must be an int64 or int32 tensor");
        if (!v.has_storage()) return bad("sparse or nested tensor metadata has no storage");
        std::uint64_t esize = element_size(v.dtype()), reach = 0, needed = 0, logical = 0;
        if (v.numel()) {
            reach = static_cast<std::uint64_t>(v.offset());
            for (std::size_t i = 0; i < v.rank(); ++i)
                reach += static_cast<std::uint64_t>(v.shape()[i] - 1) * static_cast<std::uint64_t>(v.strides()[i]);
            needed = (reach + 1) * esize;  // shape_into bounded every term
        }
        auto stored = v.storage_data();
        if (!stored) return std::move(stored).pass_error();
        if (stored->size() < needed || (needed && !stored->data()))
            return bad("sparse or nested tensor metadata reaches past its storage's bytes");
        std::uint64_t allowed = 0;
        if (!detail::checked_mul(stored->size(), limits_.max_view_expansion, allowed) ||
            !detail::checked_add(allowed, limits_.view_slack, allowed))
            allowed = ~std::uint64_t{0};
        if (!detail::checked_mul(v.numel(), esize, logical) || logical > allowed)
            return detail::failure(errc::limit_view, no_offset,
                                   {"index tensor of ", v.numel(), " elements repeats its ", stored->size(),
                                    "-byte storage beyond limits::max_view_expansion"});
        out.clear();
        out.reserve(static_cast<std::size_t>(v.numel()));
        bool wide = v.dtype() == dtype::int64;
        return v.for_each_element([&](const std::uint8_t* e) {
            if (wide) {
                std::int64_t x;
                std::memcpy(&x, e, 8);
                out.push_back(x);
            } else {
                std::int32_t x;
                std::memcpy(&x, e, 4);
                out.push_back(x);
            }
        });
    }
    result<node_id> sparse(document_data& doc, node_id args, torch_global g) {
        if (doc.edge_count(args) != 2) return arity("_rebuild_sparse_tensor", doc.edge_count(args), "2");
        node_id layout = doc.edge(args, 0), data = doc.edge(args, 1);
        if (doc.at(layout).k != kind::global || doc.at(data).k != kind::tuple) return bad("sparse tensor needs (layout, data)");
        std::string_view l = doc.text(layout);
        sparse_layout sl;
        if (l == "torch.sparse_coo") sl = sparse_layout::coo;
        else if (l == "torch.sparse_csr") sl = sparse_layout::csr;
        else if (l == "torch.sparse_csc") sl = sparse_layout::csc;
        else if (l == "torch.sparse_bsr") sl = sparse_layout::bsr;
        else if (l == "torch.sparse_bsc") sl = sparse_layout::bsc;
        else return bad({"unknown sparse layout ", l});
        if (g == torch_global::rebuild_sparse_csr_tensor && sl == sparse_layout::coo) return bad("CSR rebuild with COO layout");
        std::size_t n = doc.edge_count(data);
        auto d = [&](std::size_t i) { return doc.edge(data, i); };
        detail::vector<std::int64_t> size;
        node_id parts[4];
        if (sl == sparse_layout::coo) {
            if (n != 3 && n != 4) return bad("COO data needs (indices, values, size[, coalesced])");
            if (!detail::int_sequence(doc, d(2), size)) return bad("sparse size is not a sequence of ints");
            if (doc.at(d(0)).k != kind::tensor || doc.at(d(1)).k != kind::tensor) return bad("COO indices and values must be tensors");
            node_id coalesced = n == 4 ? d(3) : doc.make_bool(false);
            node_id built[4] = {doc.make_seq(kind::torch_size, doc.edges(d(2)), doc.edge_count(d(2))), coalesced, d(0), d(1)};
            for (std::size_t i = 0; i < 4; ++i) parts[i] = built[i];
        } else {
            if (n != 4) return bad("compressed sparse data needs (compressed_indices, plain_indices, values, size)");
            if (!detail::int_sequence(doc, d(3), size)) return bad("sparse size is not a sequence of ints");
            for (std::size_t i = 0; i < 3; ++i)
                if (doc.at(d(i)).k != kind::tensor) return bad("compressed sparse parts must be tensors");
            node_id built[4] = {doc.make_seq(kind::torch_size, doc.edges(d(3)), doc.edge_count(d(3))), d(0), d(1), d(2)};
            for (std::size_t i = 0; i < 4; ++i) parts[i] = built[i];
        }
        node_id s = doc.make_seq(kind::sparse_tensor, parts, 4);
        doc.set_layout(s, sl);
        PTLOAD_TRY(check_or_defer(doc, s));
        return s;
    }

    /// Index checks read tensor data, which the legacy format stores after the pickle: they
    /// run now when the data is there, else from finish().
    status check_or_defer(document_data& doc, node_id composite) {
        for (std::size_t i = 0; i < doc.edge_count(composite); ++i) {
            node_id part = doc.edge(composite, i);
            if (doc.at(part).k != kind::tensor) continue;
            const detail::tensor_record& r = doc.tensor_at(doc.tensor_index(part));
            if (r.storage != null_node && !doc.storage_at(r.storage).resident) {
                deferred_.push_back(composite);
                return {};
            }
        }
        return check_composite(doc, composite);
    }
    status check_composite(document_data& doc, node_id c) {
        return doc.at(c).k == kind::sparse_tensor ? check_sparse(doc, c) : check_nested(doc, c);
    }
    /// COO indices inside the size; compressed indices non-decreasing within nnz, plain
    /// indices inside their dimension (SECURITY.md (a)36: to_dense must never write out of bounds).
    status check_sparse(document_data& doc, node_id s) {
        const sparse_layout layout = doc.layout_of(s);
        detail::vector<std::int64_t> size, idx;
        detail::int_sequence(doc, doc.edge(s, 0), size);
        if (layout == sparse_layout::coo) {
            node_id indices = doc.edge(s, 2);
            tensor it(&doc, doc.tensor_index(indices));
            if (it.rank() != 2) return bad("COO indices must be a 2-D int64 tensor");
            PTLOAD_TRY(index_values(doc, indices, idx));
            std::int64_t sparse_dims = it.shape()[0], nnz = it.shape()[1];
            if (sparse_dims > static_cast<std::int64_t>(size.size())) return bad("COO indices have more rows than the size has dimensions");
            for (std::int64_t r = 0; r < sparse_dims; ++r)
                for (std::int64_t c = 0; c < nnz; ++c) {
                    std::int64_t v = idx[static_cast<std::size_t>(r * nnz + c)];
                    if (v < 0 || v >= size[static_cast<std::size_t>(r)])
                        return bad({"COO index ", v, " out of range for dimension ", r});
                }
            return {};
        }
        detail::vector<std::int64_t> comp, plain;
        PTLOAD_TRY(index_values(doc, doc.edge(s, 1), comp));
        PTLOAD_TRY(index_values(doc, doc.edge(s, 2), plain));
        for (std::size_t i = 1; i < comp.size(); ++i)
            if (comp[i] < comp[i - 1]) return bad("compressed sparse indices decrease");
        for (auto v : comp)
            if (v < 0 || static_cast<std::uint64_t>(v) > plain.size()) return bad("compressed sparse index out of range");
        std::size_t plain_dim = (layout == sparse_layout::csr || layout == sparse_layout::bsr) ? 1 : 0;
        if (size.size() >= 2) {
            std::int64_t limit = size[size.size() - 2 + plain_dim];
            for (auto v : plain)
                if (v < 0 || v >= limit) return bad({"sparse plain index ", v, " out of range"});
        }
        return {};
    }
    status check_nested(document_data& doc, node_id nested) {
        tensor b(&doc, doc.tensor_index(doc.edge(nested, 0)));
        detail::vector<std::int64_t> offs, sz;
        PTLOAD_TRY(index_values(doc, doc.edge(nested, 3), offs));
        PTLOAD_TRY(index_values(doc, doc.edge(nested, 1), sz));
        for (auto o : offs)
            if (o < 0 || static_cast<std::uint64_t>(o) > b.numel()) return bad("nested tensor offset past its buffer");
        for (auto v : sz)
            if (v < 0) return bad("nested tensor has a negative size");
        return {};
    }
    result<node_id> from_numpy(document_data& doc, node_id args) {
        if (doc.edge_count(args) != 4) return arity("_rebuild_device_tensor_from_numpy", doc.edge_count(args), "4");
        node_id arr = doc.edge(args, 0), dt = doc.edge(args, 1), dev = doc.edge(args, 2);
        std::string_view device;
        if (doc.at(arr).k != kind::ndarray || doc.at(dt).k != kind::dtype || !detail::as_text(doc, dev, device))
            return bad("_rebuild_device_tensor_from_numpy needs (ndarray, dtype, device, requires_grad)");
        node_id data = doc.edge(arr, pickle::nd_data), shape = doc.edge(arr, pickle::nd_shape);
        if (data == null_node || doc.at(data).k != kind::bytes || doc.fortran_order(arr))
            return bad("numpy data for a device tensor must be a C-ordered numeric array");
        auto bytes = doc.text(data);
        storage s;
        s.desc.type = doc.dtype_of(dt);
        s.desc.key = "numpy";
        s.desc.location = device;
        std::size_t esize = element_size(s.desc.type);
        if (!esize || bytes.size() % esize) return bad("numpy data size does not fit the dtype");
        // ndarray data is little-endian (build_ndarray swaps '>' arrays); storages hold host order
        if (!detail::host_is_little_endian() && detail::byte_order_unit(s.desc.type) > 1) {
            node_id swapped = null_node;
            char* host = doc.make_text_uninit(kind::bytes, bytes.size(), swapped);
            if (!bytes.empty()) std::memcpy(host, bytes.data(), bytes.size());
            detail::byteswap_elements(reinterpret_cast<std::uint8_t*>(host), bytes.size(), s.desc.type);
            bytes = doc.text(swapped);
        }
        s.desc.numel = bytes.size() / esize;
        s.device = mapped_device(doc, device);
        // The bytes already live in the document's arena for its whole life: borrow them.
        s.bytes = storage_buffer(reinterpret_cast<std::uint8_t*>(const_cast<char*>(bytes.data())), bytes.size(), nullptr, nullptr);
        s.resident = true;
        std::uint32_t index = doc.add_storage(std::move(s));
        detail::vector<std::int64_t> dims;
        if (!detail::int_sequence(doc, shape, dims)) return bad("numpy shape is not a sequence of ints");
        detail::vector<std::int64_t> stride(dims.size());
        std::int64_t st = 1;
        for (std::size_t i = dims.size(); i-- > 0;) {
            stride[i] = st;
            st *= dims[i];
        }
        node_id stride_tuple = doc.make_seq(kind::tuple, nullptr, 0);
        for (auto v : stride) doc.push_edge(stride_tuple, doc.make_int(v));
        node_id storage_id = storage_node(doc, index);
        return make_tensor(doc, storage_id, doc.make_int(0), shape, stride_tuple, dtype::unknown, truthy(doc, doc.edge(args, 3)));
    }

    storage_provider* provider_;
    const load_options& opts_;
    const limit_values& limits_;
    detail::vector<node_id> storage_nodes_;  ///< by storage index (indices are dense, in declaration order)
    detail::vector<std::int64_t> shape_scratch_, stride_scratch_;
    detail::vector<node_id> deferred_;  // sparse/nested tensors whose index data is not read yet
    detail::vector<std::pair<node_id, dtype>> storage_classes_;  // the storage class globals find_class made, by node
    node_id rebuild_tensor_v2_ = null_node;  // the fast lane's global (fused_callable)
};
using torch_handler = basic_torch_handler<>;

} // namespace v0
} // namespace ptload

#endif
