// dump.hpp: run-time choices (encoding, errors, map_location given as text, as on a command
// line) turned into a load, and the two views of the result that `ptload dump` and `ptload ls`
// print: the canonical JSON and the table of tensors.
#ifndef PTLOAD_DUMP_HPP
#define PTLOAD_DUMP_HPP

#include "json.hpp"
#include "load.hpp"
#include "policies/decode.hpp"
#include "torch/tensor.hpp"
#include "value.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptload {
inline namespace v0 {

/// What `ptload dump --json [--encoding E] [--errors M] [--map-location LOC]` says.
struct dump_options {
    encoding enc = encoding::utf8;  ///< torch.load's default
    on_error errors = on_error::strict;
    load_options load;

    /// Parses one command-line flag and its value; false if the flag is not one of these.
    /// `--map-location cpu` sets a device, `--map-location cuda:0=cpu,cuda:1=cpu` a dict.
    result<bool> parse(std::string_view flag, std::string_view arg) {
        if (flag == "--encoding") {
            std::string e(arg);
            for (auto& c : e) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : (c == '_' ? '-' : c));
            if (e == "utf-8" || e == "utf8") enc = encoding::utf8;
            else if (e == "latin1" || e == "latin-1" || e == "iso-8859-1") enc = encoding::latin1;
            else if (e == "ascii") enc = encoding::ascii;
            else if (e == "bytes") enc = encoding::bytes;
            else return make_error(errc::invalid_argument, no_offset, "unknown encoding '" + std::string(arg) + "' (utf-8, latin1, ascii, bytes)");
            return true;
        }
        if (flag == "--errors") {
            if (arg == "strict") errors = on_error::strict;
            else if (arg == "replace") errors = on_error::replace;
            else return make_error(errc::invalid_argument, no_offset, "unknown --errors '" + std::string(arg) + "' (strict, replace)");
            return true;
        }
        if (flag == "--map-location") {
            if (arg.find('=') == std::string_view::npos) {
                load.map_location = std::string(arg);
                return true;
            }
            std::size_t start = 0;
            while (start <= arg.size()) {
                std::size_t comma = arg.find(',', start);
                std::string_view pair = arg.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
                std::size_t eq = pair.find('=');
                if (eq == std::string_view::npos || eq == 0 || eq + 1 == pair.size())
                    return make_error(errc::invalid_argument, no_offset, "--map-location dict entries are FROM=TO");
                load.map_remap.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
                if (comma == std::string_view::npos) break;
                start = comma + 1;
            }
            return true;
        }
        return false;
    }
};

namespace detail {
template <encoding E, on_error M, class Source>
result<document> load_with(Source& src, const load_options& opts) {
    return load_any<decoding<E, M>>(src, opts);
}
} // namespace detail

/// load_any with the encoding and errors chosen at run time.
template <class Source>
result<document> load_dynamic(Source& src, const dump_options& o) {
    bool r = o.errors == on_error::replace;
    switch (o.enc) {
    case encoding::utf8: return r ? detail::load_with<encoding::utf8, on_error::replace>(src, o.load) : detail::load_with<encoding::utf8, on_error::strict>(src, o.load);
    case encoding::latin1: return detail::load_with<encoding::latin1, on_error::strict>(src, o.load);  // never fails
    case encoding::ascii: return r ? detail::load_with<encoding::ascii, on_error::replace>(src, o.load) : detail::load_with<encoding::ascii, on_error::strict>(src, o.load);
    case encoding::bytes: return detail::load_with<encoding::bytes, on_error::strict>(src, o.load);  // never decodes
    }
    return make_error(errc::invalid_argument, no_offset, "unknown encoding");
}

/// The canonical JSON of a whole document; TorchScript archives as {"torchscript": ...}.
inline result<std::string> canonical_json(const document& doc, std::uint64_t limit = default_limits::max_dump_bytes) {
    if (!doc.is_torchscript()) return to_canonical_json(doc.root(), limit);
    // One walk over both pickles, so storage ids and same_as numbers continue from data to constants.
    detail::canonical_writer w(doc, limit);
    auto data = w.run(doc.root().id());
    if (!data) return data;
    auto constants = w.run(doc.constants().id());
    if (!constants) return constants;
    return "{\"torchscript\":{\"data\":" + *data + ",\"constants\":" + *constants + "}}";
}

/// One row of `ptload ls`: where a tensor sits in the document and what it is.
struct tensor_row {
    std::string name;  ///< dotted key path, e.g. "state_dict.fc.weight"
    value tensor_value;
};

/// Every tensor reachable from the root (and constants), depth first, with its key path.
inline std::vector<tensor_row> list_tensors(const document& doc) {
    std::vector<tensor_row> rows;
    struct item {
        node_id id;
        std::string path;
    };
    std::vector<item> stack;
    if (doc.is_torchscript()) stack.push_back({doc.constants().id(), "constants"});
    stack.push_back({doc.root().id(), ""});
    std::vector<bool> seen(doc.node_count(), false);
    auto join = [](const std::string& base, const std::string& key) { return base.empty() ? key : base + "." + key; };
    while (!stack.empty()) {
        item it = std::move(stack.back());
        stack.pop_back();
        if (it.id == null_node || seen[it.id]) continue;
        seen[it.id] = true;
        const detail::node& n = doc.at(it.id);
        std::vector<item> children;
        switch (n.k) {
        case kind::tensor: rows.push_back({it.path, doc.get(it.id)}); break;
        case kind::dict:
        case kind::ordered_dict:
            for (std::size_t i = 0; i + 1 < doc.edge_count(it.id); i += 2) {
                node_id k = doc.edge(it.id, i);
                std::string key = doc.at(k).k == kind::string ? std::string(doc.text(k))
                                  : doc.at(k).k == kind::integer ? std::to_string(doc.at(k).i)
                                                                 : "?";
                children.push_back({doc.edge(it.id, i + 1), join(it.path, key)});
            }
            break;
        case kind::list:
        case kind::tuple:
            for (std::size_t i = 0; i < doc.edge_count(it.id); ++i) children.push_back({doc.edge(it.id, i), join(it.path, std::to_string(i))});
            break;
        case kind::object:  // nn.Module pickles: state dicts hold _parameters/_buffers/_modules
            for (std::size_t f = obj_args; f < obj_fields; ++f)
                if (doc.edge(it.id, f) != null_node) children.push_back({doc.edge(it.id, f), it.path});
            break;
        default: break;
        }
        for (auto c = children.rbegin(); c != children.rend(); ++c) stack.push_back(std::move(*c));
    }
    return rows;
}

} // namespace v0
} // namespace ptload

#endif
