// listing.hpp: the tensors of a document by the names `ptload ls` prints (state_dict-style
// dotted key paths), found without reading any tensor's bytes.
#ifndef PTLOAD_LISTING_HPP
#define PTLOAD_LISTING_HPP

#include "error.hpp"
#include "torch/tensor.hpp"
#include "value.hpp"
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

/// Every tensor reachable from the root (and constants), depth first, with its key path. Each
/// tensor and container is visited once (a tensor met again by reference is not listed again),
/// so the rows and the work grow with the document, not with the paths through it.
///
/// Paths are kept as links to their parent, and a row's name is spelled out from its end: a
/// name longer than `max_name` bytes keeps its last keys after "...", and once the names
/// together pass the document's output bound (walk_limits_for) each keeps only its last key.
inline std::vector<tensor_row> list_tensors(const document_data& doc, std::size_t max_name = 1024) {
    std::vector<tensor_row> rows;
    constexpr std::uint32_t no_parent = 0xFFFFFFFFu;
    struct step {  // one key of a path: a mapping key, a sequence index, or "constants"
        std::uint32_t parent;
        node_id key;         // null_node: use index
        std::uint64_t index;
    };
    std::vector<step> steps;
    struct item {
        node_id id;
        std::uint32_t path;  // index into steps, or no_parent for the root
    };
    std::vector<item> stack;
    if (doc.is_torchscript()) {
        steps.push_back({no_parent, null_node, ~std::uint64_t{0}});
        stack.push_back({doc.constants().id(), 0});
    }
    stack.push_back({doc.root().id(), no_parent});
    const std::uint64_t budget = walk_limits_for(doc).max_output;
    std::uint64_t spent = 0;
    auto text_of = [&](const step& st) -> std::string {
        if (st.key == null_node) return st.index == ~std::uint64_t{0} ? "constants" : std::to_string(st.index);
        const detail::node& k = doc.at(st.key);
        if (k.k == kind::string) return std::string(doc.text(st.key).substr(0, max_name));
        if (k.k == kind::integer) return std::to_string(k.i);
        return "?";
    };
    auto name_of = [&](std::uint32_t path) {
        std::size_t cap = spent > budget ? 1 : max_name;  // 1: the last key only
        std::vector<std::string> parts;                 // last key first
        std::size_t length = 0;
        bool cut = false;
        // Each key costs at least its dot, so this stops within cap + 1 steps however deep.
        for (std::uint32_t p = path; p != no_parent; p = steps[p].parent) {
            std::string part = text_of(steps[p]);
            std::size_t add = part.size() + (parts.empty() ? 0 : 1);
            if (!parts.empty() && length + add > cap) {
                cut = true;
                break;
            }
            parts.push_back(std::move(part));
            length += add;
        }
        std::string name = cut ? "..." : "";
        for (std::size_t i = parts.size(); i-- > 0;) {
            name += parts[i];
            if (i) name += '.';
        }
        spent += name.size();
        return name;
    };
    std::vector<bool> seen(doc.node_count(), false);
    std::vector<item> children;
    while (!stack.empty()) {
        item it = stack.back();
        stack.pop_back();
        if (it.id == null_node || seen[it.id]) continue;
        seen[it.id] = true;
        const detail::node& n = doc.at(it.id);
        children.clear();
        auto child = [&](node_id id, node_id key, std::uint64_t index) {
            steps.push_back({it.path, key, index});
            children.push_back({id, static_cast<std::uint32_t>(steps.size() - 1)});
        };
        switch (n.k) {
        case kind::tensor: rows.push_back({name_of(it.path), doc.get(it.id)}); break;
        case kind::dict:
        case kind::ordered_dict:
            for (std::size_t i = 0; i + 1 < doc.edge_count(it.id); i += 2)
                if (!seen[doc.edge(it.id, i + 1)]) child(doc.edge(it.id, i + 1), doc.edge(it.id, i), 0);
            break;
        case kind::list:
        case kind::tuple:
            for (std::size_t i = 0; i < doc.edge_count(it.id); ++i)
                if (!seen[doc.edge(it.id, i)]) child(doc.edge(it.id, i), null_node, i);
            break;
        case kind::object:  // nn.Module pickles: state dicts hold _parameters/_buffers/_modules
            for (std::size_t f = obj_args; f < obj_fields; ++f)
                if (doc.edge(it.id, f) != null_node) children.push_back({doc.edge(it.id, f), it.path});
            break;
        default: break;
        }
        for (auto c = children.rbegin(); c != children.rend(); ++c) stack.push_back(*c);
    }
    return rows;
}
inline std::vector<tensor_row> list_tensors(const document& doc, std::size_t max_name = 1024) {
    return list_tensors(doc.data(), max_name);
}

/// The tensor `ls` lists under `name` ("model.fc1.weight"; "constants.0" in a TorchScript
/// archive). Nothing is read from the source: a lazy document reads the tensor's storage when
/// its data is first asked for. Names with dots in their keys are reached by key path
/// instead: doc.root()["model"]["fc1.weight"].as_tensor().
inline result<tensor> get_tensor(const document& doc, std::string_view name) {
    for (const auto& row : list_tensors(doc, ~std::size_t{0}))
        if (row.name == name) return row.tensor_value.as_tensor();
    return make_error(errc::not_found, no_offset, "no tensor named '" + std::string(name) + "'");
}

} // namespace v0
} // namespace ptload

#endif
