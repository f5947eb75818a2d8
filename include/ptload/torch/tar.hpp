// torch/tar.hpp: the tar format of torch <= 0.1 (FORMAT.md 4): members `sys_info`, `pickle`,
// `tensors` and `storages`. Storages load first (then their views), then tensors from raw
// metadata, then the main pickle, whose persistent ids are str keys of those objects.
#ifndef PTLOAD_TORCH_TAR_HPP
#define PTLOAD_TORCH_TAR_HPP

#include "../detail/checked.hpp"
#include "../detail/flat_map.hpp"
#include "../detail/tar_octal.hpp"
#include "../detail/vector.hpp"
#include "../error.hpp"
#include "../pickle/machine.hpp"
#include "../value.hpp"
#include "detect.hpp"
#include "legacy.hpp"
#include "location.hpp"
#include "rebuild.hpp"
#include "storage_io.hpp"

#include <cstdint>
#include <cstring>
#include <string>

namespace ptload {
inline namespace v0 {
namespace detail {

struct tar_member {
    std::uint64_t offset = 0, size = 0;
    bool found = false;
};

/// Objects of a tar checkpoint by key, for the main pickle's str persistent ids. A template only so
/// that a file that includes ptload without loading does not compile it.
template <class = void>
class tar_objects final : public storage_provider {
public:
    result<std::uint32_t> load_storage(document_data&, const storage_description&, node_id) override {
        return detail::failure(errc::bad_storage, no_offset, "tar checkpoints name storages by str keys, not tuples");
    }
    result<node_id> load_object(document_data&, std::string_view key) override {
        const node_id* found = objects.find(key);
        if (!found) return detail::failure(errc::missing_record, no_offset, {"no tensor or storage with key ", key});
        return *found;
    }
    bool class_tuples() const override { return true; }
    flat_map<std::string_view, node_id> objects;  // keys are texts of the document
};

/// Finds the four members; every header is checked and every member must lie in the file.
template <class Source>
status tar_members(Source& src, tar_member (&m)[4]) {
    static const char* names[4] = {"sys_info", "pickle", "tensors", "storages"};
    std::uint64_t off = 0, size = src.size();
    std::uint8_t h[512] = {};
    while (off + 512 <= size) {
        PTLOAD_TRY(src.read_at(off, h, 512));
        bool zero = true;
        for (auto b : h) zero = zero && b == 0;
        if (zero) break;  // end-of-archive blocks
        if (!is_tar_header(h, 512)) return detail::failure(errc::bad_format, off, "bad tar header checksum");
        std::uint64_t len;
        if (!tar_octal(h + 124, 12, len)) return detail::failure(errc::bad_format, off, "bad tar member size");
        std::uint64_t data = off + 512;
        if (data > size || len > size - data) return detail::failure(errc::truncated, off, "tar member runs past the end of the file");
        std::string name(reinterpret_cast<const char*>(h), strnlen(reinterpret_cast<const char*>(h), 100));
        if (name.compare(0, 2, "./") == 0) name.erase(0, 2);
        char type = static_cast<char>(h[156]);
        if (type == '0' || type == 0)
            for (int i = 0; i < 4; ++i)
                if (name == names[i]) {
                    if (m[i].found)
                        return detail::failure(errc::bad_format, off, {"tar member ", name, " appears twice"});
                    m[i] = {data, len, true};
                }
        std::uint64_t blocks = (len + 511) / 512 * 512;
        if (!checked_add(data, blocks, off)) return detail::failure(errc::bad_format, off, "tar member size overflows");
    }
    for (int i = 0; i < 4; ++i)
        if (!m[i].found) return detail::failure(errc::missing_record, no_offset,
                                                {"tar checkpoint has no ", names[i], " member"});
    return {};
}

template <class Source>
result<node_id> load_tar(document_data& doc, Source& src, const load_options& opts, const policy_values& policies,
                         const nested_loader& nested) {
    tar_member m[4];
    PTLOAD_TRY(tar_members(src, m));
    tar_objects<> objects;
    torch_handler handler(&objects, opts, policies.limits);
    handler.load_from_bytes = nested;

    // Each member is a run of pickles and raw bytes; read it whole (members are the file).
    auto member = [&](const tar_member& t, fill_later_vector<std::uint8_t>& out) -> status {
        if (t.size > SIZE_MAX) return detail::failure(errc::limit_tensor, t.offset, "tar member larger than the address space");
        out.resize(static_cast<std::size_t>(t.size));
        return src.read_at(t.offset, out.data(), out.size());
    };
    fill_later_vector<std::uint8_t> bytes;
    std::uint64_t base = 0;
    std::size_t pos = 0;
    auto next = [&](const char* what) -> result<node_id> {
        pickle::run_options ro;
        ro.record = what;
        ro.base_offset = base + pos;
        ro.safe_globals = {opts.safe_globals.data(), opts.safe_globals.size()};
        pickle::basic_machine<torch_handler> mach(doc, handler, bytes.data() + pos, bytes.size() - pos, ro,
                                                  policies.decoding, policies.limits, policies.allowlist_only);
        auto r = mach.run();
        if (r) pos += mach.position();
        return r;
    };
    auto raw = [&](std::size_t n, const char* what) -> result<const std::uint8_t*> {
        if (n > bytes.size() - pos)
            return detail::failure(errc::truncated, base + pos, {what, " runs past its tar member"});
        const std::uint8_t* p = bytes.data() + pos;
        pos += n;
        return p;
    };
    auto le64 = [](const std::uint8_t* p) {
        std::uint64_t v = 0;
        for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
        return v;
    };
    auto key_text = [&](node_id k, std::string_view& out) {  // a text the document holds
        if (doc.at(k).k != kind::integer) return as_text(doc, k, out);
        out = doc.keep_text(detail::index_text(doc.at(k).i).view());
        return true;
    };

    // storages: count, then (key, location, storage_type) + raw storage each, then the views
    PTLOAD_TRY(member(m[3], bytes));
    base = m[3].offset;
    pos = 0;
    auto count = next("tar storages");
    if (!count) return count;
    if (doc.at(*count).k != kind::integer || doc.at(*count).i < 0)
        return detail::failure(errc::bad_format, base, "tar storage count is not a size");
    flat_map<std::string_view, std::uint32_t> storages;
    storage_placer placer(opts);
    for (std::int64_t i = 0; i < doc.at(*count).i; ++i) {
        auto entry = next("tar storage header");
        if (!entry) return entry;
        std::size_t n = doc.edge_count(*entry);
        if (doc.at(*entry).k != kind::tuple || (n != 3 && n != 2))
            return detail::failure(errc::bad_format, base + pos, "tar storage header is not (key, location, type)");
        storage_description d;
        if (!key_text(doc.edge(*entry, 0), d.key)) return detail::failure(errc::bad_format, base + pos, "tar storage key is not an int");
        node_id type = doc.edge(*entry, n - 1);
        d.type = handler.storage_dtype(doc, type);
        if (d.type == dtype::unknown)
            return detail::failure(errc::bad_storage, base + pos, "tar storage type is not a torch storage class");
        d.location = "cpu";
        std::string_view loc;
        if (n == 3 && as_text(doc, doc.edge(*entry, 1), loc)) d.location = loc;
        auto numel = raw(8, "storage size");
        if (!numel) return std::move(numel).pass_error();
        d.numel = le64(*numel);
        std::uint64_t nbytes;
        if (!checked_mul(d.numel, static_cast<std::uint64_t>(element_size(d.type)), nbytes) || nbytes > bytes.size() - pos)
            return detail::failure(errc::truncated, base + pos, "tar storage data runs past its member", "storage " + std::string(d.key));
        auto device = placer.place(doc, d, base + pos);
        if (!device) return std::move(device).pass_error();
        memory_source member_bytes(bytes.data(), bytes.size());  // already read: no second I/O
        auto s = read_storage(member_bytes, pos, d, *device, opts, policies, true);
        if (!s) return std::move(s).pass_error();
        pos += static_cast<std::size_t>(nbytes);
        std::uint32_t index = doc.add_storage(std::move(*s));
        storages[d.key] = index;
        objects.objects[d.key] = handler.storage_node(doc, index);
    }
    auto views = next("tar storage views");
    if (!views) return views;
    if (doc.at(*views).k != kind::list) return detail::failure(errc::bad_format, base + pos, "tar storage views are not a list");
    for (std::size_t i = 0; i < doc.edge_count(*views); ++i) {
        node_id v = doc.edge(*views, i);
        if (doc.at(v).k != kind::tuple || doc.edge_count(v) != 4)
            return detail::failure(errc::bad_format, base + pos, "tar view is not (key, root, offset, size)");
        std::string_view vkey, rkey;
        const auto& off = doc.at(doc.edge(v, 2));
        const auto& num = doc.at(doc.edge(v, 3));
        if (!key_text(doc.edge(v, 0), vkey) || !key_text(doc.edge(v, 1), rkey) || off.k != kind::integer || num.k != kind::integer)
            return detail::failure(errc::bad_format, base + pos, "tar view is not (key, root, offset, size)");
        const std::uint32_t* root = storages.find(rkey);
        if (!root) return detail::failure(errc::missing_record, base + pos, {"tar view of unknown storage ", rkey});
        const storage& r = doc.storage_at(*root);
        if (off.i < 0 || num.i < 0 || static_cast<std::uint64_t>(off.i) > r.desc.numel ||
            static_cast<std::uint64_t>(num.i) > r.desc.numel - static_cast<std::uint64_t>(off.i))
            return detail::failure(errc::bad_storage, base + pos, "tar view lies outside its storage", "storage " + std::string(vkey));
        storage view;
        view.desc = r.desc;
        view.desc.key = vkey;
        view.desc.numel = static_cast<std::uint64_t>(num.i);
        view.device = r.device;
        std::size_t esize = element_size(r.desc.type);
        view.bytes = storage_buffer(r.bytes.data() + static_cast<std::uint64_t>(off.i) * esize, view.desc.numel * esize, nullptr, nullptr);
        view.resident = true;
        std::uint32_t index = doc.add_storage(std::move(view));
        storages[vkey] = index;
        objects.objects[vkey] = handler.storage_node(doc, index);
    }

    // tensors: count, then (key, storage_key, class) + raw metadata each
    PTLOAD_TRY(member(m[2], bytes));
    base = m[2].offset;
    pos = 0;
    count = next("tar tensors");
    if (!count) return count;
    if (doc.at(*count).k != kind::integer || doc.at(*count).i < 0)
        return detail::failure(errc::bad_format, base, "tar tensor count is not a size");
    for (std::int64_t i = 0; i < doc.at(*count).i; ++i) {
        auto entry = next("tar tensor header");
        if (!entry) return entry;
        if (doc.at(*entry).k != kind::tuple || doc.edge_count(*entry) != 3)
            return detail::failure(errc::bad_format, base + pos, "tar tensor header is not (key, storage, class)");
        std::string_view key, skey;
        if (!key_text(doc.edge(*entry, 0), key) || !key_text(doc.edge(*entry, 1), skey))
            return detail::failure(errc::bad_format, base + pos, "tar tensor keys are not ints");
        auto head = raw(8, "tensor metadata");
        if (!head) return std::move(head).pass_error();
        std::uint32_t ndim = static_cast<std::uint32_t>((*head)[0] | ((*head)[1] << 8) | ((*head)[2] << 16) | ((*head)[3] << 24));
        if (ndim > policies.limits.max_tensor_rank) return detail::failure(errc::limit_tensor, base + pos, "tar tensor rank too large");
        auto dims = raw((2 * ndim + 1) * 8, "tensor metadata");
        if (!dims) return std::move(dims).pass_error();
        node_id size = doc.make_seq(kind::tuple, nullptr, 0), stride = doc.make_seq(kind::tuple, nullptr, 0);
        for (std::uint32_t d = 0; d < ndim; ++d) doc.push_edge(size, doc.make_int(static_cast<std::int64_t>(le64(*dims + 8 * d))));
        for (std::uint32_t d = 0; d < ndim; ++d) doc.push_edge(stride, doc.make_int(static_cast<std::int64_t>(le64(*dims + 8 * (ndim + d)))));
        node_id offset = doc.make_int(static_cast<std::int64_t>(le64(*dims + 16 * ndim)));
        const std::uint32_t* st = storages.find(skey);
        if (!st) return detail::failure(errc::missing_record, base + pos, {"tar tensor of unknown storage ", skey});
        auto t = handler.make_tensor(doc, handler.storage_node(doc, *st), offset, size, stride, dtype::unknown, false);
        if (!t) return t;
        objects.objects[key] = *t;
    }

    // the main pickle
    PTLOAD_TRY(member(m[1], bytes));
    base = m[1].offset;
    pos = 0;
    return next("tar pickle");
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
