// listing.hpp: the tensors of a document by the names `ptload ls` prints (state_dict-style
// dotted key paths), found without reading any tensor's bytes.
#ifndef PTLOAD_LISTING_HPP
#define PTLOAD_LISTING_HPP

#include "detail/flat_map.hpp"
#include "detail/vector.hpp"
#include "error.hpp"
#include "torch/tensor.hpp"
#include "value.hpp"
#include "walk.hpp"
#include "walk_limits.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptload {
inline namespace v0 {

/// One row of `ptload ls`: where a tensor sits in the document and what it is.
struct tensor_row {
    std::string name;  ///< dotted key path, e.g. "state_dict.fc.weight"
    value tensor_value;
};

namespace detail {

/// The visitor of list_tensors: keys of the path so far, a row per tensor met first. A
/// template, as the functions below, only so that a file that includes ptload without
/// listing does not compile it (std::vector's and the walker's code for its rows).
template <class = void>
class tensor_lister {
public:
    tensor_lister(const document_data& doc, std::size_t max_name, std::vector<tensor_row>& rows)
        : doc_(doc), max_name_(max_name), rows_(rows), budget_(walk_limits_for(doc).max_output),
          seen_((doc.node_count() + 63) / 64, 0) {}

    static constexpr std::uint32_t no_parent = 0xFFFFFFFFu;

    /// A value met again is passed over; attributes set by BUILD on an OrderedDict or a tensor
    /// are not state_dict entries. The marks are paths: an index into steps_.
    walk_action enter(const walk_event& e, std::uint32_t& path) {
        if (e.id == null_node || e.step.slot == walk_slot::attrs || seen(e.id)) return walk_action::skip;
        seen_[e.id / 64] |= std::uint64_t{1} << e.id % 64;
        const kind k = doc_.at(e.id).k;
        const bool tensor = k == kind::tensor;
        // Where state_dict keys live (nn.Module pickles: objects whose state holds
        // _parameters/_buffers/_modules); a set's items, say, have no key to name them by.
        const bool walked = k == kind::dict || k == kind::ordered_dict || k == kind::list || k == kind::tuple ||
                            k == kind::object;
        if (!tensor && !walked) return walk_action::skip;
        switch (e.step.kind) {  // an object's fields add no key to the path
        case step_kind::entry: path = push(e.parent_mark, e.step.key, 0); break;
        case step_kind::item: path = push(e.parent_mark, null_node, e.step.index); break;
        case step_kind::root:
            path = e.step.slot == walk_slot::constants ? push(no_parent, null_node, constants_index) : no_parent;
            break;
        case step_kind::slot: break;
        }
        if (tensor) {
            rows_.push_back(tensor_row{name_of(path), value(&doc_, e.id)});
            return walk_action::skip;
        }
        return walk_action::descend;
    }
    void leave(node_id, std::uint32_t) noexcept {}

private:
    bool seen(node_id id) const noexcept { return seen_[id / 64] >> id % 64 & 1; }
    static constexpr std::uint64_t constants_index = ~std::uint64_t{0};
    struct step {  // one key of a path: a mapping key, a sequence index, or "constants"
        std::uint32_t parent;
        node_id key;  // null_node: use index
        std::uint64_t index;
    };
    std::uint32_t push(std::uint32_t parent, node_id key, std::uint64_t index) {
        steps_.push_back({parent, key, index});
        return static_cast<std::uint32_t>(steps_.size() - 1);
    }
    /// One key of a path: a view of the document's text, or of digits_ (valid until the next
    /// call).
    std::string_view text_of(const step& st) {
        if (st.key == null_node) {
            if (st.index == constants_index) return "constants";
            digits_ = index_text(static_cast<long long>(st.index));
            return digits_.view();
        }
        const detail::node& k = doc_.at(st.key);
        if (k.k == kind::string) return doc_.text(st.key).substr(0, max_name_);
        if (k.k == kind::integer) {
            digits_ = index_text(k.i);
            return digits_.view();
        }
        return "?";
    }
    /// The name is measured from its last key back, then written once front to back: no string
    /// per key (a state_dict of 100,000 tensors spent most of its listing on those).
    std::string name_of(std::uint32_t path) {
        std::size_t cap = spent_ > budget_ ? 1 : max_name_;  // 1: the last key only
        parts_.clear();                                      // last key first
        std::size_t length = 0;
        bool cut = false;
        // Each key costs at least its dot, so this stops within cap + 1 steps however deep.
        for (std::uint32_t p = path; p != no_parent; p = steps_[p].parent) {
            std::size_t add = text_of(steps_[p]).size() + (parts_.empty() ? 0 : 1);
            if (!parts_.empty() && length + add > cap) {
                cut = true;
                break;
            }
            parts_.push_back(p);
            length += add;
        }
        std::string name;
        name.reserve(length + (cut ? 3 : 0));
        if (cut) name = "...";
        for (std::size_t i = parts_.size(); i-- > 0;) {
            name += text_of(steps_[parts_[i]]);
            if (i) name += '.';
        }
        spent_ += name.size();
        return name;
    }

    const document_data& doc_;
    std::size_t max_name_;
    std::vector<tensor_row>& rows_;
    std::uint64_t budget_;
    std::uint64_t spent_ = 0;
    detail::vector<std::uint64_t> seen_;  // a bit per node
    detail::vector<step> steps_;
    detail::vector<std::uint32_t> parts_;  // name_of's steps of one name, kept for the next name
    index_text digits_{0};
};

} // namespace detail

/// Every tensor reachable from the root (and constants), depth first, with its key path. Each
/// tensor and container is visited once (a tensor met again by reference is not listed again),
/// so the rows and the work grow with the document, not with the paths through it.
///
/// Paths are kept as links to their parent, and a row's name is spelled out from its end: a
/// name longer than `max_name` bytes keeps its last keys after "...", and once the names
/// together pass the document's output bound (walk_limits_for) each keeps only its last key.
template <class = void>
std::vector<tensor_row> list_tensors(const document_data& doc, std::size_t max_name = 1024) {
    std::vector<tensor_row> rows;
    rows.reserve(doc.tensor_count());  // each tensor record is listed once at most
    detail::tensor_lister<> lister(doc, max_name, rows);
    walker<detail::tensor_lister<>> w(doc, lister);
    w.run(doc.root().id());
    if (doc.is_torchscript()) w.run(doc.constants().id(), {step_kind::root, walk_slot::constants, null_node, 0});
    return rows;
}
template <class = void>
std::vector<tensor_row> list_tensors(const document& doc, std::size_t max_name = 1024) {
    return list_tensors(doc.data(), max_name);
}

/// The tensor `ls` lists under `name` ("model.fc1.weight"; "constants.0" in a TorchScript
/// archive). Nothing is read from the source: a lazy document reads the tensor's storage when
/// its data is first asked for. Names with dots in their keys are reached by key path
/// instead: doc.root()["model"]["fc1.weight"].as_tensor().
template <class = void>
result<tensor> get_tensor(const document& doc, std::string_view name) {
    for (const auto& row : list_tensors(doc, ~std::size_t{0}))
        if (row.name == name) return row.tensor_value.as_tensor();
    return detail::failure(errc::not_found, no_offset, {"no tensor named '", name, "'"});
}

/// The tensors of a document by name, listed once: each find() is a hash lookup rather than
/// get_tensor's walk of the whole document, for a caller that takes many tensors by name. The
/// rows refer to the document, which must outlive the directory (the tensors found keep its
/// contents alive themselves). Names are not shortened; where two paths spell the same name
/// (keys with dots in them), the first in listing order is found, as get_tensor does. Use it
/// as tensor_directory (a template only for the reason tensor_lister is one).
template <class = void>
class basic_tensor_directory {
public:
    explicit basic_tensor_directory(const document& doc) : rows_(list_tensors(doc, ~std::size_t{0})) {
        by_name_.reserve(rows_.size());
        for (std::size_t i = 0; i < rows_.size(); ++i) by_name_.insert(std::string_view(rows_[i].name), i);
    }
    // The index holds views of the rows' names: a move keeps them (the vector's buffer moves
    // whole), a copy would not.
    basic_tensor_directory(const basic_tensor_directory&) = delete;
    basic_tensor_directory& operator=(const basic_tensor_directory&) = delete;
    basic_tensor_directory(basic_tensor_directory&&) noexcept = default;
    basic_tensor_directory& operator=(basic_tensor_directory&&) noexcept = default;

    /// The tensor listed under `name`, or not_found.
    result<tensor> find(std::string_view name) const {
        const std::size_t* row = by_name_.find(name);
        if (!row) return detail::failure(errc::not_found, no_offset, {"no tensor named '", name, "'"});
        return rows_[*row].tensor_value.as_tensor();
    }
    /// Every row, in list_tensors order.
    const std::vector<tensor_row>& rows() const noexcept { return rows_; }
    std::size_t size() const noexcept { return rows_.size(); }

private:
    std::vector<tensor_row> rows_;
    detail::flat_map<std::string_view, std::size_t> by_name_;  // name -> first row with it
};
using tensor_directory = basic_tensor_directory<>;

} // namespace v0
} // namespace ptload

#endif
