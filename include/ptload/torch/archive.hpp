// torch/archive.hpp: the zip checkpoint format (torch >= 1.6, FORMAT.md 2) and the data of
// TorchScript archives (FORMAT.md 8): data.pkl (and constants.pkl) run through the pickle
// machine; each persistent id loads `data/<key>` (or `constants/<key>`) once.
#ifndef PTLOAD_TORCH_ARCHIVE_HPP
#define PTLOAD_TORCH_ARCHIVE_HPP

#include "../detail/flat_map.hpp"
#include "../detail/vector.hpp"
#include "../error.hpp"
#include "../memory.hpp"
#include "../pickle/machine.hpp"
#include "../policies/source.hpp"
#include "../value.hpp"
#include "../zip/reader.hpp"
#include "location.hpp"
#include "rebuild.hpp"
#include "storage_io.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace ptload {
inline namespace v0 {
namespace detail {

/// A record's bytes, in place when the source is in memory and the record is stored.
struct record_bytes {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
    fill_later_vector<std::uint8_t> owned;  // a record read or inflated by the zip reader
    unique_array<std::uint8_t> buffer;      // a whole file read once (not zero-filled first)
};

template <class Source>
result<record_bytes> read_record(Source& src, const zip_entry& e, bool check_crc, const zip_limits& lim) {
    record_bytes r;
    if (const std::uint8_t* memory = memory_of(src); memory && e.method == 0 && !check_crc) {
        r.data = memory + e.data_offset;
        r.size = static_cast<std::size_t>(e.size);
        return r;
    }
    auto bytes = read_entry_as<fill_later_vector<std::uint8_t>>(src, e, lim, check_crc);
    if (!bytes) return std::move(bytes).pass_error();
    r.owned = std::move(*bytes);
    r.data = r.owned.data();
    r.size = r.owned.size();
    return r;
}

/// `folder` followed by `name`: a record's full name.
inline string record_name(std::string_view folder, std::string_view name) {
    string full;
    full.reserve(folder.size() + name.size());
    full.append(folder.data(), folder.size()).append(name.data(), name.size());
    return full;
}

/// Storages of a zip checkpoint: `<prefix><folder><key>` records. A template only so that a file
/// that includes ptload without loading does not compile it.
template <class = void>
class zip_storages final : public storage_provider {
public:
    zip_storages(const zip_archive& zip, string folder, const load_options& opts, bool little_endian)
        : zip_(zip), folder_(std::move(folder)), placer_(opts), little_endian_(little_endian) {
        // torch names its records <folder>0, <folder>1, ...: those are found by number, the
        // others (any name is allowed) by the archive's name index.
        const span<const zip_entry> entries = zip_.entries();
        const std::string_view prefix(folder_.data(), folder_.size());
        for (std::size_t i = 0; i < entries.size(); ++i) {
            const std::string_view name = entries[i].name;
            if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
            std::uint64_t n = 0;
            if (!decimal_key(name.substr(prefix.size()), entries.size(), n)) continue;
            if (n >= record_by_number_.size()) record_by_number_.resize(static_cast<std::size_t>(n) + 1, nullptr);
            record_by_number_[static_cast<std::size_t>(n)] = &entries[i];
        }
        by_number_.assign(record_by_number_.size(), no_storage);
    }

    result<std::uint32_t> load_storage(document_data& doc, const storage_description& d, node_id) override {
        // A key is read as a number once: torch's keys are numbers, and this runs per storage.
        std::uint64_t number = 0;
        const bool numbered = decimal_key(d.key, zip_.size(), number);
        if (const std::uint32_t* known = find(d.key, numbered, number); known && *known != no_storage) {
            // a view or shared storage: one load, checked for consistency
            const storage& s = doc.storage_at(*known);
            if (s.desc.type != d.type || s.desc.numel != d.numel)
                return detail::failure(errc::bad_storage, no_offset,
                                       {"storage key '", d.key, "' is declared again with another dtype or size"});
            return *known;
        }
        if (!numbered && (d.key.empty() || d.key.find('/') != std::string_view::npos ||
                          d.key.find('\0') != std::string_view::npos || d.key == "." || d.key == ".."))
            return detail::failure(errc::bad_storage, no_offset, {"storage key '", d.key, "' is not a record name"});
        const zip_entry* e = record(d.key, numbered, number);
        if (!e)
            return detail::failure(errc::missing_record, no_offset,
                                   {"the archive has no record ", folder_, d.key});
        const std::string_view name = e->name;
        std::uint64_t expect;
        if (!checked_mul(d.numel, static_cast<std::uint64_t>(element_size(d.type)), expect) || expect != e->size)
            return detail::failure(errc::bad_storage, e->data_offset,
                                   {"record holds ", e->size, " bytes, the storage needs ", d.numel, " x ",
                                    element_size(d.type)},
                                   name);
        auto device = placer_.place(doc, d, e->data_offset, name);
        if (!device) return std::move(device).pass_error();
        storage s;  // read later: see storage_mode
        s.desc = d;
        s.device = *device;
        s.ref.offset = e->data_offset;
        s.ref.header_offset = e->header_offset;
        s.ref.stored_size = e->compressed_size;
        s.ref.crc32 = e->crc32;
        s.ref.method = e->method;
        s.ref.little_endian = little_endian_;
        std::uint32_t index = doc.add_storage(std::move(s));
        if (std::uint32_t* slot = find(d.key, numbered, number)) *slot = index;  // found again: no pointer is kept across calls
        else by_name_.insert(d.key, index);
        return index;
    }

    /// Records named by number: torch's storages, each declared once.
    std::size_t numbered_records() const noexcept { return record_by_number_.size(); }

private:
    /// A canonical decimal number (no sign, no leading zero) below 2 x `count` + 64: bounded by
    /// the records there are, so a hostile name cannot size a table.
    static bool decimal_key(std::string_view key, std::size_t count, std::uint64_t& n) noexcept {
        if (key.empty() || key.size() > 9 || (key[0] == '0' && key.size() > 1)) return false;
        n = 0;
        for (char c : key) {
            if (c < '0' || c > '9') return false;
            n = n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        return n <= 2 * static_cast<std::uint64_t>(count) + 64;
    }
    /// The record of a storage key (`numbered`: the key is the decimal `number`).
    const zip_entry* record(std::string_view key, bool numbered, std::uint64_t number) const {
        if (numbered) return number < record_by_number_.size() ? record_by_number_[static_cast<std::size_t>(number)] : nullptr;
        const string name = record_name({folder_.data(), folder_.size()}, key);
        return zip_.find({name.data(), name.size()});
    }
    /// The storage slot of a key: numbered keys by number, others through a map. Null when a
    /// named key is new. Keys are texts of the document, which outlives this.
    std::uint32_t* find(std::string_view key, bool numbered, std::uint64_t number) {
        if (numbered && number < by_number_.size()) return &by_number_[static_cast<std::size_t>(number)];
        return by_name_.find(key);
    }

    const zip_archive& zip_;
    string folder_;
    storage_placer placer_;
    bool little_endian_;
    vector<const zip_entry*> record_by_number_;  // records <folder><n>, built once
    vector<std::uint32_t> by_number_;            // storage index by numeric key, no_storage if not yet seen
    flat_map<std::string_view, std::uint32_t> by_name_;
};

/// Runs one pickle record with torch semantics; nothing may follow its STOP.
template <class Handler>
result<node_id> run_record(document_data& doc, Handler& handler, const record_bytes& bytes, std::uint64_t file_offset,
                           std::string_view name, const load_options& opts, const policy_values& policies) {
    pickle::run_options ro;
    ro.record = name;
    ro.base_offset = file_offset;
    ro.buffers = opts.buffers;
    ro.safe_globals = {opts.safe_globals.data(), opts.safe_globals.size()};
    // A record read into a block of ptload's own (not the caller's memory) gives its parsed
    // pages back as the parse goes: data.pkl of 100,000 tensors is 9 MB.
    ro.release_parsed_input = bytes.size && bytes.data == bytes.owned.data() && !current_memory().allocate;
    pickle::basic_machine<Handler> m(doc, handler, bytes.data, bytes.size, ro, policies.decoding, policies.limits,
                                     policies.allowlist_only);
    auto root = m.run();
    if (!root) return root;
    if (m.position() != bytes.size)
        return detail::failure(errc::trailing_data, file_offset + m.position(),
                               {bytes.size - m.position(), " bytes follow the pickle's STOP"}, name);
    return root;
}

template <class Source>
result<node_id> load_zip_pickle(document_data& doc, Source& src, storage_reader& reader, const zip_archive& zip,
                                std::string_view prefix, std::string_view record, std::string_view folder,
                                const load_options& opts, const policy_values& policies, bool little_endian,
                                const nested_loader& nested) {
    const string full = record_name(prefix, record);
    const std::string_view name(full.data(), full.size());
    const zip_entry* e = zip.find(name);
    if (!e) return detail::failure(errc::missing_record, no_offset, {"the archive has no record ", name});
    auto bytes = read_record(src, *e, opts.check_crc, zip_limits_from(policies.limits));
    if (!bytes) return std::move(bytes).pass_error();
    zip_storages<> storages(zip, record_name(prefix, folder), opts, little_endian);
    doc.reserve_records(storages.numbered_records());
    torch_handler handler(&storages, opts, policies.limits);
    handler.load_from_bytes = nested;
    const auto first = static_cast<std::uint32_t>(doc.storage_count());
    auto root = run_record(doc, handler, *bytes, e->data_offset, name, opts, policies);
    if (!root) return root;
    if (opts.storages != storage_mode::lazy)
        PTLOAD_TRY(doc.fetch_range(reader, first, static_cast<std::uint32_t>(doc.storage_count())));
    PTLOAD_TRY(handler.finish(doc));
    return root;
}

/// The small text records: `byteorder` and `version` (read as the pickles are, so that one
/// reader of entries serves both).
template <class Source>
result<fill_later_vector<std::uint8_t>> small_record(Source& src, const zip_entry& e) {
    if (e.size > 64) return detail::failure(errc::bad_zip, e.data_offset, "record is unexpectedly large", e.name);
    return read_entry_as<fill_later_vector<std::uint8_t>>(src, e, zip_limits{}, false);
}
inline std::string_view record_text(const fill_later_vector<std::uint8_t>& bytes) noexcept {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

/// A zip checkpoint or TorchScript archive into doc.
template <class Source>
status load_zip(document_data& doc, Source& src, storage_reader& reader, const load_options& opts, const policy_values& policies,
                const nested_loader& nested) {
    auto zip = read_zip(src, zip_limits_from(policies.limits));
    if (!zip) return std::move(zip).pass_error();
    auto folder = archive_folder(*zip);
    if (!folder) return std::move(folder).pass_error();
    const std::string_view prefix = *folder;
    auto find = [&](std::string_view name) {
        const string full = record_name(prefix, name);
        return zip->find({full.data(), full.size()});
    };

    bool little_endian = true;  // torch >= 2.1 assumes little when the record is absent
    if (const zip_entry* e = find("byteorder")) {
        auto text = small_record(src, *e);
        if (!text) return std::move(text).pass_error();
        const std::string_view order = record_text(*text);
        if (order == "big") little_endian = false;
        else if (order != "little")
            return detail::failure(errc::bad_format, e->data_offset, {"byteorder record says '", order, "'"},
                                   e->name);
    }
    const zip_entry* version = find(".data/version");
    if (!version) version = find("version");
    if (version) {
        auto text = small_record(src, *version);
        if (!text) return std::move(text).pass_error();
        std::string_view v = record_text(*text);
        while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.remove_suffix(1);
        // torch reads files of format versions 1 to 10 (caffe2/serialize/versions.h); parsed by
        // hand, since the text is the file's and std::stoi would throw on what it cannot parse
        bool digits = !v.empty() && v.size() < 6 && v.find_first_not_of("0123456789") == std::string_view::npos;
        unsigned number = 0;
        for (char c : v) number = digits ? number * 10 + static_cast<unsigned>(c - '0') : 0;
        if (!digits || number < 1 || number > 10)
            return detail::failure(errc::bad_format, version->data_offset, {"unsupported archive version '", v, "'"},
                                   version->name);
    }
    auto root = load_zip_pickle(doc, src, reader, *zip, prefix, "data.pkl", "data/", opts, policies, little_endian, nested);
    if (!root) return std::move(root).pass_error();
    doc.set_root(*root);
    if (find("constants.pkl")) {  // TorchScript: tensor constants; code/ is never read
        auto constants =
            load_zip_pickle(doc, src, reader, *zip, prefix, "constants.pkl", "constants/", opts, policies, little_endian, nested);
        if (!constants) return std::move(constants).pass_error();
        doc.set_constants(*constants);
    }
    return {};
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
