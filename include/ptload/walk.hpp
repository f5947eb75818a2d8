// walk.hpp: the depth-first walk over a document's values that the canonical JSON, the tree
// print and the tensor listing share. It alone knows how each kind lays its children out in the
// document's edges (a mapping's key,value pairs, an object's args/state/... fields, an array's
// fields, the attributes BUILD set), so the walks that use it only decide what to do with each
// child.
//
// The walk is iterative, one frame per open container, because documents come from hostile
// files: a million nested lists must not exhaust the C stack. It has no notion of "seen": a
// shared or cyclic value is reached once per path to it, and each walk decides what a value
// met again means to it (the tree says "shown above", the listing lists a tensor once).
#ifndef PTLOAD_WALK_HPP
#define PTLOAD_WALK_HPP

#include "config.hpp"
#include "detail/vector.hpp"
#include "pickle/numpy.hpp"
#include "value.hpp"

#include <cstddef>
#include <cstdint>

namespace ptload {
inline namespace v0 {

/// How a child hangs off its container.
enum class step_kind : std::uint8_t {
    root,   ///< where the walk starts (or a second start, such as TorchScript constants)
    entry,  ///< the value of a mapping entry (or, in a walk of keys, its key first, with slot `key`);
            ///< `key` is the key's node, `index` the entry's position
    item,   ///< an item of a sequence; `index` is its position (fixed layouts also name a `slot`)
    slot,   ///< a named field that is not an item: an object's state, an OrderedDict's attrs...
};

/// The name of a field of a value's layout.
enum class walk_slot : std::uint8_t {
    none, constants,
    key,                                         // mapping entry: the key, in a walk of keys
    cls,                                         // object: the class called (not a child)
    args, kwargs, state, items, dict_items,      // object (the order of object_field)
    attrs,                                       // OrderedDict and tensor: attributes set by BUILD
    dtype, shape, data,                          // ndarray; numpy scalar: dtype, value
    value,
    size, coalesced, indices, compressed_indices, plain_indices, values,  // sparse tensor
    buffer, sizes, strides, offsets,             // nested tensor
    scales, zero_points,                         // per-channel quantized tensor
};

/// The slot's name as Python spells the field ("args", "state", "attrs"...).
constexpr const char* slot_name(walk_slot s) noexcept {
    constexpr const char* names[] = {"", "constants", "key", "class", "args", "kwargs", "state", "items", "dict_items",
                                     "attrs", "dtype", "shape", "data", "value", "size", "coalesced", "indices",
                                     "compressed_indices", "plain_indices", "values", "buffer", "sizes", "strides",
                                     "offsets", "scales", "zero_points"};
    return names[static_cast<int>(s)];
}

/// Whether a walk shows a mapping's keys as children of their own, each before its value: the
/// canonical JSON writes a key as a value (a tuple key has children of its own), while the tree
/// print and the listing only name it (walk_step::key).
enum class map_keys : std::uint8_t { named, walked };

/// One step from a container to a child.
struct walk_step {
    step_kind kind = step_kind::root;
    walk_slot slot = walk_slot::none;
    node_id key = null_node;   ///< entry: the key's node
    std::uint64_t index = 0;   ///< entry: the entry's position; item: the item's position
};

/// A child reached by the walk, as the visitor sees it.
struct walk_event {
    node_id id;            ///< the child (null_node for an empty edge of a sequence)
    node_id parent;        ///< its container (null_node at a root)
    walk_step step;
    std::size_t depth;     ///< 0 at a root
    std::uint32_t parent_mark;  ///< what the visitor marked the container with (its own use)
};

/// What the visitor wants done with a child it was shown.
enum class walk_action : std::uint8_t {
    descend,     ///< walk its children (then call leave)
    skip,        ///< not its children
    skip_items,  ///< neither its children nor the container's items or entries after it; the
                 ///< container's slots after its items (an OrderedDict's attrs) are still shown
    stop,        ///< end the walk
};

namespace detail {

/// The slot names of the fixed layouts that are items too (the tree print shows them as items).
inline walk_slot item_slot(const document_data& doc, node_id id, std::size_t i) noexcept {
    switch (doc.at(id).k) {
    case kind::numpy_scalar: {
        constexpr walk_slot s[] = {walk_slot::dtype, walk_slot::value};
        return i < 2 ? s[i] : walk_slot::none;
    }
    case kind::sparse_tensor: {
        const bool coo = doc.layout_of(id) == sparse_layout::coo;
        constexpr walk_slot s[] = {walk_slot::size, walk_slot::coalesced, walk_slot::indices, walk_slot::values};
        if (i == 1 && !coo) return walk_slot::compressed_indices;
        if (i == 2 && !coo) return walk_slot::plain_indices;
        return i < 4 ? s[i] : walk_slot::none;
    }
    case kind::nested_tensor: {
        constexpr walk_slot s[] = {walk_slot::buffer, walk_slot::sizes, walk_slot::strides, walk_slot::offsets};
        return i < 4 ? s[i] : walk_slot::none;
    }
    default: return walk_slot::none;
    }
}

} // namespace detail

/// Whether values of kind k have children in the walk.
constexpr bool has_children(kind k) noexcept {
    switch (k) {
    case kind::tuple: case kind::list: case kind::dict: case kind::ordered_dict: case kind::set:
    case kind::frozenset: case kind::slice: case kind::range: case kind::object: case kind::tensor:
    case kind::sparse_tensor: case kind::nested_tensor: case kind::torch_size: case kind::ndarray:
    case kind::numpy_scalar:
        return true;
    default: return false;
    }
}

/// The items of a sequence or the entries of a mapping (what "N items" counts); 0 for the
/// other kinds, whose children are all slots.
inline std::size_t item_count(const document_data& doc, node_id id) noexcept {
    const kind k = doc.at(id).k;
    if (k == kind::dict || k == kind::ordered_dict) return doc.edge_count(id) / 2;
    if (!has_children(k) || k == kind::object || k == kind::ndarray || k == kind::tensor) return 0;
    return doc.edge_count(id);
}

/// The node in a named field of a value's layout, or null_node: an object's class and fields,
/// an array's dtype, shape and data, an OrderedDict's or a tensor's attrs.
inline node_id slot_child(const document_data& doc, node_id id, walk_slot s) noexcept {
    const detail::node& n = doc.at(id);
    switch (n.k) {
    case kind::object:
        if (s >= walk_slot::args && s <= walk_slot::dict_items)
            return doc.edge(id, obj_args + (static_cast<std::size_t>(s) - static_cast<std::size_t>(walk_slot::args)));
        return s == walk_slot::cls ? doc.edge(id, obj_class) : null_node;
    case kind::ndarray:
        if (s == walk_slot::dtype) return doc.edge(id, pickle::nd_dtype);
        if (s == walk_slot::shape) return doc.edge(id, pickle::nd_shape);
        if (s == walk_slot::data) return doc.edge(id, pickle::nd_data);
        return null_node;
    case kind::ordered_dict: return s == walk_slot::attrs ? doc.ordered_dict_attrs(id) : null_node;
    case kind::tensor: {
        const detail::tensor_record& r = doc.tensor_at(doc.tensor_index(id));
        return s == walk_slot::attrs ? r.attrs : s == walk_slot::scales ? r.scales
                                             : s == walk_slot::zero_points ? r.zero_points : null_node;
    }
    default: return null_node;
    }
}

namespace detail {

/// The position just past a container's items or entries (see next_child).
inline std::size_t items_end(const document_data& doc, node_id id) noexcept {
    const kind k = doc.at(id).k;
    return k == kind::dict || k == kind::ordered_dict ? 2 * item_count(doc, id) : item_count(doc, id);
}

} // namespace detail

/// The child at position `pos` of container `id` and the step to it, or false past the last.
/// `pos` moves past the child (and past empty slots, which are not children).
///
/// Positions: a mapping's edges (key, value, key, value...: only the values unless keys are
/// walked), then an OrderedDict's attrs; a sequence's items; an object's args, kwargs, state,
/// items, dict_items; an array's dtype, shape, data; a tensor's scales, zero_points, attrs.
inline bool next_child(const document_data& doc, node_id id, std::size_t& pos, node_id& child, walk_step& step,
                       map_keys keys = map_keys::named) noexcept {
    const detail::node& n = doc.at(id);
    switch (n.k) {
    case kind::dict:
    case kind::ordered_dict: {
        // A damaged document may hold an odd count: its last key has no value, and is no entry.
        const std::size_t end = detail::items_end(doc, id);
        if (pos < end) {
            const std::size_t entry = pos / 2;
            const node_id* e = doc.edges(id) + 2 * entry;
            const bool key = pos % 2 == 0 && keys == map_keys::walked;
            step = {step_kind::entry, key ? walk_slot::key : walk_slot::none, e[0], entry};
            child = key ? e[0] : e[1];
            pos = key ? pos + 1 : 2 * entry + 2;
            return true;
        }
        const node_id attrs = doc.ordered_dict_attrs(id);
        if (pos == end && attrs != null_node) {
            step = {step_kind::slot, walk_slot::attrs, null_node, end / 2};
            child = attrs;
            ++pos;
            return true;
        }
        return false;
    }
    case kind::object: {
        constexpr walk_slot names[] = {walk_slot::args, walk_slot::kwargs, walk_slot::state, walk_slot::items,
                                       walk_slot::dict_items};
        for (; pos < 5; ++pos) {
            const node_id c = doc.edge(id, obj_args + pos);
            if (c == null_node) continue;
            step = {step_kind::slot, names[pos], null_node, obj_args + pos};
            child = c;
            ++pos;
            return true;
        }
        return false;
    }
    case kind::ndarray:
    case kind::tensor: {
        constexpr walk_slot array[] = {walk_slot::dtype, walk_slot::shape, walk_slot::data};
        // scales and zero_points before attrs, as the canonical JSON writes them
        constexpr walk_slot tensor[] = {walk_slot::scales, walk_slot::zero_points, walk_slot::attrs};
        for (; pos < 3; ++pos) {
            const walk_slot s = n.k == kind::ndarray ? array[pos] : tensor[pos];
            const node_id c = slot_child(doc, id, s);
            if (c == null_node) continue;
            step = {step_kind::slot, s, null_node, pos};
            child = c;
            ++pos;
            return true;
        }
        return false;
    }
    default:
        if (!has_children(n.k) || pos >= doc.edge_count(id)) return false;
        step = {step_kind::item, detail::item_slot(doc, id, pos), null_node, pos};
        child = doc.edge(id, pos);
        ++pos;
        return true;
    }
}

/// Walks depth first from a root, in the order of each container's layout, telling a visitor
///     walk_action enter(const walk_event& e, std::uint32_t& mark);  // mark: for e's children
///     void leave(node_id id, std::uint32_t mark);                   // after a descended value
/// about every child. leave closes each value that enter descended into, in the reverse order
/// of opening, and gets the mark enter set: a writer can close a value by how it opened it.
/// Frames are kept between runs, so one walker can walk several roots (a TorchScript
/// archive's data and constants) without allocating again.
template <class Visitor>
class walker {
public:
    walker(const document_data& doc, Visitor& visitor, map_keys keys = map_keys::named)
        : doc_(doc), visitor_(visitor), keys_(keys) {}

    /// Walks from `root` (reached by `step`, marked `mark` for the visitor); false when the
    /// visitor stopped the walk.
    bool run(node_id root, walk_step step = {}, std::uint32_t mark = 0) {
        frames_.clear();
        std::uint32_t own = mark;
        const walk_action a = visitor_.enter(walk_event{root, null_node, step, 0, mark}, own);
        if (a == walk_action::stop) return false;
        if (a == walk_action::descend) open(root, own);
        while (!frames_.empty()) {
            const frame f = frames_.back();  // a copy: open() below may grow frames_
            std::size_t pos = f.next;
            node_id child = null_node;
            walk_step s;
            if (!next_child(doc_, f.id, pos, child, s, keys_)) {
                frames_.pop_back();
                visitor_.leave(f.id, f.mark);
                continue;
            }
            frames_.back().next = pos;
            std::uint32_t child_mark = f.mark;
            switch (visitor_.enter(walk_event{child, f.id, s, frames_.size(), f.mark}, child_mark)) {
            case walk_action::stop: return false;
            case walk_action::skip: break;
            case walk_action::skip_items: {
                const std::size_t end = detail::items_end(doc_, f.id);
                if (frames_.back().next < end) frames_.back().next = end;
                break;
            }
            case walk_action::descend: open(child, child_mark); break;
            }
        }
        return true;
    }

private:
    struct frame {
        node_id id;
        std::size_t next;     // position of the next child (see next_child)
        std::uint32_t mark;
    };
    void open(node_id id, std::uint32_t mark) {
        if (id != null_node && has_children(doc_.at(id).k)) frames_.push_back({id, 0, mark});
        else visitor_.leave(id, mark);
    }

    const document_data& doc_;
    Visitor& visitor_;
    map_keys keys_;
    detail::vector<frame> frames_;
};

/// Walks the values under `root` with `visitor` (see walker); false when it stopped the walk.
template <class Visitor>
bool walk(const document_data& doc, node_id root, Visitor& visitor) {
    return walker<Visitor>(doc, visitor).run(root);
}

} // namespace v0
} // namespace ptload

#endif
