// torch/legacy.hpp: the legacy pickle-sequence format (torch 0.4-1.5, and later with
// _use_new_zipfile_serialization=False; FORMAT.md 3): magic number, protocol version, sys_info,
// the main pickle, the sorted storage keys, then each storage's raw bytes.
#ifndef PTLOAD_TORCH_LEGACY_HPP
#define PTLOAD_TORCH_LEGACY_HPP

#include "../detail/flat_map.hpp"
#include "../detail/vector.hpp"
#include "../error.hpp"
#include "../pickle/machine.hpp"
#include "../policies/source.hpp"
#include "../value.hpp"
#include "location.hpp"
#include "rebuild.hpp"
#include "storage_io.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace ptload {
inline namespace v0 {
namespace detail {

/// Storages of a legacy stream: declared by persistent ids, filled after the pickles. A template
/// only so that a file that includes ptload without loading does not compile it.
template <class = void>
class legacy_storages final : public storage_provider {
public:
    explicit legacy_storages(const load_options& opts) : placer_(opts) {}

    result<std::uint32_t> load_storage(document_data& doc, const storage_description& d, node_id view) override {
        auto root = declare(doc, d);
        if (!root) return root;
        if (view == null_node || doc.at(view).k == kind::none) return root;
        // (view_key, offset, size): root[offset : offset + size], sharing its memory
        if (doc.at(view).k != kind::tuple || doc.edge_count(view) != 3)
            return detail::failure(errc::bad_storage, no_offset,
                                   "storage view metadata is not (key, offset, size)", "storage " + std::string(d.key));
        std::string_view vkey;
        if (!as_text(doc, doc.edge(view, 0), vkey))
            return detail::failure(errc::bad_storage, no_offset, "storage view key is not a str", "storage " + std::string(d.key));
        const auto& off = doc.at(doc.edge(view, 1));
        const auto& size = doc.at(doc.edge(view, 2));
        if (off.k != kind::integer || size.k != kind::integer || off.i < 0 || size.i < 0 ||
            static_cast<std::uint64_t>(off.i) > d.numel || static_cast<std::uint64_t>(size.i) > d.numel - static_cast<std::uint64_t>(off.i))
            return detail::failure(errc::bad_storage, no_offset, "storage view lies outside its storage", "storage " + std::string(d.key));
        if (const std::uint32_t* seen = views_.find(vkey)) return *seen;
        storage v;
        v.desc = d;
        v.desc.key = vkey;
        v.desc.numel = static_cast<std::uint64_t>(size.i);
        v.device = doc.storage_at(*root).device;
        std::uint32_t index = doc.add_storage(std::move(v));
        views_.insert(vkey, index);
        fixups_.push_back({index, *root, static_cast<std::uint64_t>(off.i) * element_size(d.type)});
        return index;
    }

    /// Finds each storage in the raw storage section that starts at `offset` (after the key list
    /// pickle), checking the element count stored before it; the bytes are read later.
    template <class Source>
    result<std::uint64_t> read_data(document_data& doc, Source& src, std::uint64_t offset, const vector<std::string_view>& keys) {
        vector<char> filled(doc.storage_count(), 0);  // by document storage index
        for (const auto& key : keys) {
            const std::uint32_t* root = roots_.find(key);
            if (!root)
                return detail::failure(errc::bad_storage, offset,
                                       {"storage data for key '", key, "' that no tensor declared"});
            std::uint8_t count_bytes[8] = {};
            PTLOAD_TRY(src.read_at(offset, count_bytes, 8));
            std::uint64_t count = 0;
            for (int i = 7; i >= 0; --i) count = (count << 8) | count_bytes[i];
            if (filled[*root])
                return detail::failure(errc::bad_storage, offset, {"storage data for key '", key, "' appears twice"});
            filled[*root] = 1;
            storage& s = doc.storage_mut(*root);
            if (count != s.desc.numel)
                return detail::failure(errc::bad_storage, offset,
                                       {"storage has ", count, " elements in the file, ", s.desc.numel, " declared"},
                                       "storage " + std::string(key));
            if (s.nbytes() > src.size() - offset - 8)  // the count's 8 bytes were read: they fit
                return detail::failure(errc::truncated, offset + 8,
                                       {"storage of ", s.nbytes(), " bytes runs past the end of the file"},
                                       "storage " + std::string(key));
            s.ref.offset = offset + 8;  // read later: see storage_mode
            s.ref.stored_size = s.nbytes();
            offset += 8 + s.nbytes();
        }
        for (const auto& kv : roots_)  // every declared storage gets its bytes, or the load fails
            if (!filled[kv.value])
                return detail::failure(errc::bad_storage, offset, {"storage key '", kv.key, "' has no data in the file"});
        for (const auto& f : fixups_) {  // views share their root's memory once it is read
            storage& view = doc.storage_mut(f.view);
            view.ref.view_of = f.root;
            view.ref.view_byte_offset = f.byte_offset;
        }
        return offset;
    }

private:
    result<std::uint32_t> declare(document_data& doc, const storage_description& d) {
        if (const std::uint32_t* root = roots_.find(d.key)) {
            const storage& s = doc.storage_at(*root);
            if (s.desc.type != d.type || s.desc.numel != d.numel)
                return detail::failure(errc::bad_storage, no_offset,
                                       {"storage key '", d.key, "' is declared again with another dtype or size"});
            return *root;
        }
        auto device = placer_.place(doc, d, no_offset);
        if (!device) return std::move(device).pass_error();
        storage s;
        s.desc = d;
        s.device = *device;
        std::uint32_t index = doc.add_storage(std::move(s));
        roots_.insert(d.key, index);
        return index;
    }
    struct fixup {
        std::uint32_t view, root;
        std::uint64_t byte_offset;
    };
    storage_placer placer_;
    // Keys are texts of the document, which outlives this.
    flat_map<std::string_view, std::uint32_t> roots_, views_;
    vector<fixup> fixups_;
};

/// torch's MAGIC_NUMBER 0x1950a86a20f9469cfc6c as LONG1 bytes.
inline bool is_legacy_magic(const document_data& doc, node_id v) {
    static const std::uint8_t magic[] = {0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19};
    if (doc.at(v).k != kind::big_integer) return false;
    auto t = doc.text(v);
    return t.size() == sizeof magic && std::memcmp(t.data(), magic, sizeof magic) == 0;
}

/// One legacy stream from contiguous pickle bytes `p[0, n)` (which begin at `base` in src);
/// storage data is read from src. Returns the main pickle's value.
template <class Source>
result<node_id> load_legacy_from(document_data& doc, Source& src, storage_reader& reader, bool read_now, std::uint64_t base,
                                 const std::uint8_t* p, std::size_t n, const load_options& opts, const policy_values& policies,
                                 const nested_loader& nested, bool& not_legacy) {
    const auto first = static_cast<std::uint32_t>(doc.storage_count());
    legacy_storages<> storages(opts);
    torch_handler handler(&storages, opts, policies.limits);
    handler.load_from_bytes = nested;
    std::size_t pos = 0;
    auto next = [&](const char* what) -> result<node_id> {
        pickle::run_options ro;
        ro.record = what;
        ro.base_offset = base + pos;
        ro.buffers = opts.buffers;
        ro.safe_globals = {opts.safe_globals.data(), opts.safe_globals.size()};
        pickle::basic_machine<torch_handler> m(doc, handler, p + pos, n - pos, ro, policies.decoding, policies.limits,
                                               policies.allowlist_only);
        auto r = m.run();
        if (r) pos += m.position();
        return r;
    };
    // A file whose first pickle does not parse may be a plain pickle rather than a legacy
    // checkpoint, so its errors name the pickle by its place, not by what it was read for.
    auto magic = next("first pickle (a legacy checkpoint's magic number)");
    if (!magic) return magic;
    if (!is_legacy_magic(doc, *magic)) {
        not_legacy = true;
        return detail::failure(errc::bad_format, base, "the first pickle is not torch's magic number");
    }
    auto proto = next("legacy protocol version");
    if (!proto) return proto;
    if (doc.at(*proto).k != kind::integer || doc.at(*proto).i != 1001)
        return detail::failure(errc::unsupported, base + pos, "legacy protocol version is not 1001");
    auto sys_info = next("legacy sys_info");
    if (!sys_info) return sys_info;
    auto root = next("legacy main pickle");
    if (!root) return root;
    auto key_list = next("legacy storage keys");
    if (!key_list) return key_list;
    if (doc.at(*key_list).k != kind::list) return detail::failure(errc::bad_format, base + pos, "legacy storage key list is not a list");
    vector<std::string_view> keys;
    for (std::size_t i = 0; i < doc.edge_count(*key_list); ++i) {
        std::string_view k;
        if (!as_text(doc, doc.edge(*key_list, i), k))
            return detail::failure(errc::bad_format, base + pos, "legacy storage key is not a str");
        keys.emplace_back(k);
    }
    auto end = storages.read_data(doc, src, base + pos, keys);
    if (!end) return std::move(end).pass_error();
    if (read_now) PTLOAD_TRY(doc.fetch_range(reader, first, static_cast<std::uint32_t>(doc.storage_count())));
    PTLOAD_TRY(handler.finish(doc));
    return root;
}

/// A legacy stream from a whole source. Sources that are not in memory are read through a
/// growing window: the pickles come first and are usually small next to the storages.
template <class Source>
result<node_id> load_legacy(document_data& doc, Source& src, storage_reader& reader, bool read_now, const load_options& opts,
                            const policy_values& policies, const nested_loader& nested, bool& not_legacy) {
    if (const std::uint8_t* memory = memory_of(src)) {
        return load_legacy_from(doc, src, reader, read_now, 0, memory, static_cast<std::size_t>(src.size()), opts, policies,
                                nested, not_legacy);
    } else {
        std::uint64_t size = src.size();
        std::uint64_t window = size < (1u << 20) ? size : (1u << 20);
        fill_later_vector<std::uint8_t> bytes;  // each window is read whole
        for (;;) {
            if (window > SIZE_MAX) return detail::failure(errc::limit_tensor, 0, "pickle larger than the address space");
            bytes.resize(static_cast<std::size_t>(window));
            PTLOAD_TRY(src.read_at(0, bytes.data(), bytes.size()));
            auto r = load_legacy_from(doc, src, reader, read_now, 0, bytes.data(), bytes.size(), opts, policies, nested,
                                      not_legacy);
            if (!r && r.err().code == errc::truncated && window < size) {  // the window cut a pickle short
                doc.clear();
                window = window > size / 4 ? size : window * 4;
                continue;
            }
            return r;
        }
    }
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
