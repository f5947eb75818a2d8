// load.hpp: the entry points, torch.load and pickle.load in C++.
//
//     auto doc = ptload::load(ptload::file_source{"model.pt"});          // torch.load(f)
//     auto doc = ptload::load<ptload::latin1>(src, opts);                 // encoding='latin1'
//     auto doc = ptload::load_pickle(ptload::memory_source{p, n});        // pickle.loads
// Policies are named in any order; roles not named take their defaults (policies/select.hpp).
#ifndef PTLOAD_LOAD_HPP
#define PTLOAD_LOAD_HPP

#include "detail/any_source.hpp"
#include "error.hpp"
#include "pickle/machine.hpp"
#include "policies/select.hpp"
#include "policies/mmap_source.hpp"
#include "policies/source.hpp"
#include "torch/archive.hpp"
#include "torch/detect.hpp"
#include "torch/legacy.hpp"
#include "torch/location.hpp"
#include "torch/rebuild.hpp"
#include "torch/tar.hpp"
#include "value.hpp"

#include <cstdint>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

namespace ptload {
inline namespace v0 {
namespace detail {

/// A load's options and policies, which the nested loader refers to.
struct load_context {
    const load_options& opts;
    const policy_values& policies;
};

// The loaders below are compiled once for every policy set (each policy reaches them as a value,
// policy_values). They are templates, with one unused parameter, only so that a file that
// includes ptload without loading does not compile them and so that separate compilation can
// name them (see the end of this file).

/// torch.storage._load_from_bytes: a whole legacy stream inside a bytes value, loaded into the
/// same document. `self.depth` counts the streams around this one; each level is a C++ call,
/// so the nesting is bounded by limits::max_stream_nesting.
template <class = void>
result<node_id> load_nested(const nested_loader& self, document_data& doc, const std::uint8_t* p, std::size_t n) {
    const load_context& ctx = *static_cast<const load_context*>(self.context);
    const load_options& opts = ctx.opts;
    const policy_values& policies = ctx.policies;
    if (self.depth >= policies.limits.max_stream_nesting)
        return detail::failure(errc::limit_depth, no_offset,
                               {"torch streams nested more than ", policies.limits.max_stream_nesting,
                                " deep (limits::max_stream_nesting)"});
    // The stream's bytes live in the document: its storages are read now, in every mode.
    memory_source mem(p, n);
    any_source src(mem);
    source_reader reader(src, nullptr, opts, policies);
    bool not_legacy = false;
    const nested_loader inner{&load_nested<>, self.context, self.depth + 1};
    return load_legacy(doc, src, reader, true, opts, policies, inner, not_legacy);
}
template <class = void>
nested_loader make_nested_loader(const load_context& context) {
    return {&load_nested<>, &context, 0};
}

/// Contiguous bytes of a whole source: in place for memory sources, else read.
inline result<record_bytes> whole(any_source& src) {
    record_bytes r;
    if (const std::uint8_t* memory = memory_of(src)) {
        r.data = memory;
        r.size = static_cast<std::size_t>(src.size());
    } else {
        if (src.size() > SIZE_MAX) return detail::failure(errc::limit_tensor, 0, "file larger than the address space");
        r.size = static_cast<std::size_t>(src.size());
        r.buffer = try_make_array<std::uint8_t>(r.size);
        if (!r.buffer) return detail::failure(errc::io_error, 0, {"no memory for a ", r.size, "-byte file"});
        PTLOAD_TRY(src.read_at(0, r.buffer.get(), r.size));
        r.data = r.buffer.get();
    }
    return r;
}

/// pickle.load, whatever the source and the policies (`policies`).
template <class = void>
result<document> load_pickle_impl(any_source src, const load_options& opts, const policy_values& policies) {
    auto bytes = whole(src);
    if (!bytes) return std::move(bytes).pass_error();
    document doc;
    torch_handler handler(nullptr, opts, policies.limits);
    const load_context context{opts, policies};
    handler.load_from_bytes = make_nested_loader(context);
    pickle::run_options ro;
    ro.buffers = opts.buffers;
    ro.safe_globals = {opts.safe_globals.data(), opts.safe_globals.size()};
    // A file read into a block of operator new's is ptload's to give back as it is parsed; a
    // block from the user's memory functions (a static pool) is left as it is.
    ro.release_parsed_input = static_cast<bool>(bytes->buffer) && !current_memory().allocate;
    pickle::basic_machine<torch_handler> m(doc.data(), handler, bytes->data, bytes->size, ro, policies.decoding,
                                           policies.limits, policies.allowlist_only);
    auto root = m.run();
    if (!root) return std::move(root).pass_error();
    doc.data().set_root(*root);
    return doc;
}

/// After a successful load: a document that reads no more lets go of its source.
inline result<document> finish_load(document doc, const load_options& opts) {
    if (opts.storages != storage_mode::lazy) doc.close_source();
    return doc;
}

/// torch.load, whatever the source and the policies (`policies`): `owner` keeps the source
/// alive when the caller gave it by value (the document may need it after the load), and is
/// null when the caller keeps it.
template <class = void>
result<document> load_torch_impl(any_source src, shared<shared_object> owner, const load_options& opts,
                                 const policy_values& policies, bool pickle_fallback) {
    if (opts.storages == storage_mode::lazy && !owner)
        return detail::failure(errc::invalid_argument, no_offset,
                               "a lazy load reads storages after it returns, so the document must own the source: pass it "
                               "by value (std::move) or use ptload::open_file");
    std::uint8_t head[512] = {};
    std::size_t head_size = src.size() < sizeof head ? static_cast<std::size_t>(src.size()) : sizeof head;
    PTLOAD_TRY(src.read_at(0, head, head_size));
    file_kind kind = detect(head, head_size, src.size());
    document doc;
    auto reader = detail::make_shared<source_reader>(src, std::move(owner), opts, policies);
    doc.data().set_reader(reader);
    const bool read_now = opts.storages != storage_mode::lazy;
    const load_context context{opts, policies};
    nested_loader nested = make_nested_loader(context);
    switch (kind) {
    case file_kind::zip: {
        auto loaded = load_zip(doc.data(), src, *reader, opts, policies, nested);
        if (loaded) return finish_load(std::move(doc), opts);
        // a zip of another kind (an .npz, a zipped folder) is named rather than diagnosed
        std::string foreign = identify_foreign(head, head_size, src.size());
        if (!foreign.empty()) return detail::failure(errc::bad_format, 0, std::move(foreign));
        return std::move(loaded).pass_error();
    }
    case file_kind::tar: {
        auto root = load_tar(doc.data(), src, opts, policies, nested);
        if (!root) return std::move(root).pass_error();
        doc.data().set_root(*root);
        return finish_load(std::move(doc), opts);
    }
    case file_kind::pickle_or_legacy: {
        bool not_legacy = false;
        auto root = load_legacy(doc.data(), src, *reader, read_now, opts, policies, nested, not_legacy);
        if (root) {
            doc.data().set_root(*root);
            return finish_load(std::move(doc), opts);
        }
        if (not_legacy) {
            if (pickle_fallback) return load_pickle_impl(src, opts, policies);
            return detail::failure(errc::bad_format, 0,
                                   "a plain pickle, not a torch checkpoint (its first value is not torch's magic number); "
                                   "load it with ptload::load_pickle");
        }
        return std::move(root).pass_error();  // as torch.load fails (the CLI also names text and the like)
    }
    default: return describe_unreadable(kind, head, head_size, src.size());
    }
}

/// The policy_values of a set, made once for the program.
template <class Policies>
inline constexpr policy_values policy_values_v = policy_values_of<Policies>();

/// load_torch_impl on src: moved into shared ownership when given by value, borrowed otherwise.
template <class Policies, class Source>
result<document> load_source(Source&& src, const load_options& opts, bool pickle_fallback) {
    if constexpr (std::is_lvalue_reference<Source>::value) {
        return load_torch_impl(any_source(src), nullptr, opts, policy_values_v<Policies>, pickle_fallback);
    } else {
        auto owned = detail::make_shared<shared_value<std::remove_reference_t<Source>>>(std::move(src));
        any_source view(owned->value);
        return load_torch_impl(view, std::move(owned), opts, policy_values_v<Policies>, pickle_fallback);
    }
}

template <class Source>
using source_t = std::remove_cv_t<std::remove_reference_t<Source>>;

} // namespace detail

/// torch.load(f, map_location, encoding=...): zip checkpoints, TorchScript archive data, the
/// legacy stream and the tar format, detected by content. Never executes anything.
/// A source given by reference is used only until load returns; one given by value
/// (`load(std::move(src))`, `load(file_source{path})`) is kept by the document for as long as
/// its storage_mode needs it (lazy reads, storages mapped in place).
template <class... Policies, class Source>
result<document> load(Source&& src, const load_options& opts = {}) {
    static_assert(check_source<detail::source_t<Source>>(), "ptload::load: the argument must be a byte source");
    return detail::load_source<canonical_policies<Policies...>>(std::forward<Source>(src), opts, false);
}

/// pickle.load(f, encoding=...): one plain pickle. Objects torch pickles inline
/// (torch.storage._load_from_bytes) are still understood; persistent ids are not.
template <class... Policies, class Source>
result<document> load_pickle(Source&& src, const load_options& opts = {}) {
    static_assert(check_source<detail::source_t<Source>>(), "ptload::load_pickle: the argument must be a byte source");
    using set = canonical_policies<Policies...>;
    return detail::load_pickle_impl(detail::any_source(src), opts, detail::policy_values_v<set>);
}

/// A torch checkpoint if the content is one, else a plain pickle (what `ptload dump` reads).
template <class... Policies, class Source>
result<document> load_any(Source&& src, const load_options& opts = {}) {
    static_assert(check_source<detail::source_t<Source>>(), "ptload::load_any: the argument must be a byte source");
    return detail::load_source<canonical_policies<Policies...>>(std::forward<Source>(src), opts, true);
}

/// torch.load on a path. In mapped mode the file is memory-mapped where the platform can
/// (mmap_source), and storages point into the mapping.
template <class... Policies>
result<document> load_file(const std::string& path, const load_options& opts = {}) {
#if PTLOAD_HAS_MMAP
    if (opts.storages == storage_mode::mapped) {
        mmap_source map(path);
        if (!map.is_open()) return map.open_error();
        return load<Policies...>(std::move(map), opts);
    }
#endif
    file_source src(path);
    if (!src.is_open()) return src.open_error();
    return load<Policies...>(std::move(src), opts);
}

/// Opens a checkpoint without reading its tensors' data: the document describes every tensor
/// (dtype, shape, strides, device, storage) from the pickle alone, and each storage is read
/// when a tensor's data is first asked for (storage_mode::lazy; storage_mode::mapped maps the
/// file instead where the platform can).
template <class... Policies>
result<document> open_file(const std::string& path, load_options opts = {}) {
    if (opts.storages == storage_mode::eager) opts.storages = storage_mode::lazy;
    return load_file<Policies...>(path, std::move(opts));
}

} // namespace v0
} // namespace ptload

// Separate compilation. The loaders are one piece of code for every policy set, compiled in
// every file that loads (seconds at -O2). A project that loads in many files can compile them once: with
// PTLOAD_SEPARATE_COMPILATION defined everywhere and PTLOAD_IMPLEMENTATION in exactly one
// file, they are compiled in that file only, for every policy set, and the others only declare
// them.
#define PTLOAD_LOADERS_(prefix)                                                                                  \
    namespace ptload {                                                                                           \
    inline namespace v0 {                                                                                        \
    namespace detail {                                                                                           \
    prefix template result<document> load_torch_impl<>(any_source, shared<shared_object>, const load_options&,   \
                                                       const policy_values&, bool);                              \
    prefix template result<document> load_pickle_impl<>(any_source, const load_options&, const policy_values&);  \
    }                                                                                                            \
    }                                                                                                            \
    }
#if defined(PTLOAD_SEPARATE_COMPILATION) && !defined(PTLOAD_IMPLEMENTATION)
PTLOAD_LOADERS_(extern)
#elif defined(PTLOAD_IMPLEMENTATION)
PTLOAD_LOADERS_()
#endif

#endif
