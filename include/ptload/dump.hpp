// dump.hpp: run-time choices (encoding, errors, map_location given as text, as on a command
// line) turned into a load, and the two views of the result that `ptload dump` and `ptload ls`
// print: the canonical JSON and the table of tensors.
#ifndef PTLOAD_DUMP_HPP
#define PTLOAD_DUMP_HPP

#include "json.hpp"
#include "listing.hpp"
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

/// What `ptload dump --json [--encoding E] [--errors M] [--map-location LOC] [--strict]
/// [--allow GLOBAL]...` says.
struct dump_options {
    encoding enc = encoding::utf8;  ///< torch.load's default
    on_error errors = on_error::strict;
    /// torch.load(weights_only=True): only the allowlisted globals (policies/globals.hpp).
    bool strict = false;
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
            else return detail::failure(errc::invalid_argument, no_offset,
                                        {"unknown encoding '", arg, "' (utf-8, latin1, ascii, bytes)"});
            return true;
        }
        if (flag == "--errors") {
            if (arg == "strict") errors = on_error::strict;
            else if (arg == "replace") errors = on_error::replace;
            else return detail::failure(errc::invalid_argument, no_offset,
                                        {"unknown --errors '", arg, "' (strict, replace)"});
            return true;
        }
        if (flag == "--allow") {  // torch.serialization.add_safe_globals, for --strict
            if (arg.find('.') == std::string_view::npos)
                return detail::failure(errc::invalid_argument, no_offset, "--allow takes module.name, e.g. argparse.Namespace");
            load.safe_globals.emplace_back(arg);
            return true;
        }
        if (flag == "--map-location") {
            if (arg.find('=') == std::string_view::npos) {
                PTLOAD_TRY(known_device(arg));
                load.map_location = std::string(arg);
                return true;
            }
            std::size_t start = 0;
            while (start <= arg.size()) {
                std::size_t comma = arg.find(',', start);
                std::string_view pair = arg.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
                std::size_t eq = pair.find('=');
                if (eq == std::string_view::npos || eq == 0 || eq + 1 == pair.size())
                    return detail::failure(errc::invalid_argument, no_offset, "--map-location dict entries are FROM=TO");
                PTLOAD_TRY(known_device(pair.substr(eq + 1)));  // FROM is a saved tag: any is fine
                load.map_remap.emplace_back(std::string(pair.substr(0, eq)), std::string(pair.substr(eq + 1)));
                if (comma == std::string_view::npos) break;
                start = comma + 1;
            }
            return true;
        }
        return false;
    }

    /// A device torch.load restores to, as a map_location string: torch refuses the others
    /// when the first storage is restored ("don't know how to restore data location of ...");
    /// ptload refuses them before reading the file.
    static status known_device(std::string_view device) {
        if (load_options::known_tag(device)) return {};
        return detail::failure(errc::invalid_argument, no_offset,
                               {"--map-location '", device,
                                "': don't know how to restore data location tagged with it, as torch.load says "
                                "(a device: cpu, cuda, cuda:N, mps, meta, xla, hpu, xpu, ipu, privateuseone, ...)"});
    }
};

namespace detail {
template <encoding E, on_error M, class Source>
result<document> load_with(Source&& src, const dump_options& o) {
    if (o.strict) return load_any<decoding<E, M>, ptload::strict>(std::forward<Source>(src), o.load);
    return load_any<decoding<E, M>>(std::forward<Source>(src), o.load);
}
} // namespace detail

/// load_any with the encoding, errors and strict mode chosen at run time (strict mode shares
/// each encoding's loader, so it costs no more code). The source is borrowed or owned as load()
/// says.
template <class Source>
result<document> load_dynamic(Source&& src, const dump_options& o) {
    bool r = o.errors == on_error::replace;
    switch (o.enc) {
    case encoding::utf8: return r ? detail::load_with<encoding::utf8, on_error::replace>(std::forward<Source>(src), o) : detail::load_with<encoding::utf8, on_error::strict>(std::forward<Source>(src), o);
    case encoding::latin1: return detail::load_with<encoding::latin1, on_error::strict>(std::forward<Source>(src), o);  // never fails
    case encoding::ascii: return r ? detail::load_with<encoding::ascii, on_error::replace>(std::forward<Source>(src), o) : detail::load_with<encoding::ascii, on_error::strict>(std::forward<Source>(src), o);
    case encoding::bytes: return detail::load_with<encoding::bytes, on_error::strict>(std::forward<Source>(src), o);  // never decodes
    }
    return detail::failure(errc::invalid_argument, no_offset, "unknown encoding");
}

/// The canonical JSON of a whole document within explicit bounds; TorchScript archives as
/// {"torchscript": ...}.
inline result<std::string> canonical_json(const document_data& doc, const walk_limits& limits) {
    if (!doc.is_torchscript()) return to_canonical_json(doc.root(), limits);
    // One walk over both pickles, so storage ids and same_as numbers continue from data to constants.
    detail::canonical_writer w(doc, limits);
    auto data = w.run(doc.root().id());
    if (!data) return data;
    auto constants = w.run(doc.constants().id());
    if (!constants) return constants;
    return "{\"torchscript\":{\"data\":" + *data + ",\"constants\":" + *constants + "}}";
}
/// The canonical JSON of a whole document within the default bounds (walk_limits_for).
inline result<std::string> canonical_json(const document_data& doc) { return canonical_json(doc, walk_limits_for(doc)); }
/// The same with `limit` in place of the default output bound.
inline result<std::string> canonical_json(const document_data& doc, std::uint64_t limit) {
    walk_limits l = walk_limits_for(doc);
    l.max_output = limit;
    return canonical_json(doc, l);
}

inline result<std::string> canonical_json(const document& doc, const walk_limits& limits) {
    return canonical_json(doc.data(), limits);
}
inline result<std::string> canonical_json(const document& doc) { return canonical_json(doc.data()); }
inline result<std::string> canonical_json(const document& doc, std::uint64_t limit) { return canonical_json(doc.data(), limit); }

} // namespace v0
} // namespace ptload

#endif
