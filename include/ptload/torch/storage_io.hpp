// torch/storage_io.hpp: bringing a declared storage's bytes from the source into memory
// chosen by the allocator policy (or, in mapped mode, pointing at them in place), in the
// host's byte order.
#ifndef PTLOAD_TORCH_STORAGE_IO_HPP
#define PTLOAD_TORCH_STORAGE_IO_HPP

#include "../detail/any_source.hpp"
#include "../detail/checked.hpp"
#include "../detail/page_alias.hpp"
#include "../detail/read_window.hpp"
#include "../detail/vector.hpp"
#include "../error.hpp"
#include "../value.hpp"
#include "../policies/allocator.hpp"
#include "../policies/decode.hpp"
#include "../policies/limits.hpp"
#include "../policies/source.hpp"
#include "../zip/reader.hpp"
#include "dtype.hpp"
#include "location.hpp"
#include "storage.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

namespace ptload {
inline namespace v0 {
namespace detail {

/// Where map_location and the registered handlers put a storage (asked once per storage), as
/// text the document keeps. An error is at `offset` and names the storage ("storage <key>").
inline result<std::string_view> place_storage(document_data& doc, const load_options& opts, const storage_description& d,
                                              std::uint64_t offset) {
    std::string scratch;  // only a map_location callable or a location handler writes here
    auto device = opts.resolve_device(d, scratch);
    if (PTLOAD_UNLIKELY(!device)) {
        error e = std::move(device).err();
        e.offset = offset;
        return e;
    }
    return doc.keep_repeated(*device);
}

/// The same for a storage that is a record of its own: an error names the record
/// ("archive/data/0").
inline result<std::string_view> place_storage(document_data& doc, const load_options& opts, const storage_description& d,
                                              std::uint64_t offset, std::string_view record) {
    auto device = place_storage(doc, opts, d, offset);
    if (PTLOAD_UNLIKELY(!device)) {
        error e = std::move(device).err();
        e.context = std::string(record);
        return e;
    }
    return device;
}

/// place_storage for the storages of one load, asking map_location once per location tag
/// rather than once per storage: torch tags every storage of a checkpoint alike ("cpu"), and
/// unless a callable or a registered handler decides (they see the whole description), the
/// device depends on the tag alone. The last tag is kept as document text (a loader's default
/// tag may be a literal). Every loader places its storages through one.
class storage_placer {
public:
    explicit storage_placer(const load_options& opts) noexcept
        : opts_(opts), by_tag_(!opts.map_callable && !opts.has_location_handlers()) {}

    /// `record`, when not empty, names the storage's record in errors.
    result<std::string_view> place(document_data& doc, const storage_description& d, std::uint64_t offset,
                                   std::string_view record = {}) {
        if (by_tag_ && placed_ && d.location == last_tag_) return last_device_;
        auto device = record.empty() ? place_storage(doc, opts_, d, offset) : place_storage(doc, opts_, d, offset, record);
        if (device && by_tag_) {
            last_tag_ = doc.keep_repeated(d.location);
            last_device_ = *device;
            placed_ = true;
        }
        return device;
    }

private:
    const load_options& opts_;
    bool by_tag_;
    bool placed_ = false;
    std::string_view last_tag_, last_device_;
};

/// The zip reader's bounds from the limits policy.
inline zip_limits zip_limits_from(const limit_values& limits) noexcept {
    zip_limits z;
    z.max_entries = limits.max_zip_entries;
    z.max_inflate_ratio = limits.max_inflate_ratio;
    z.max_inflate_per_file_byte = limits.max_inflate_per_file_byte;
    return z;
}

/// b, if it is memory an allocator may give s; else the error that says why not.
inline result<storage_buffer> checked_buffer(const storage& s, const storage_origin& origin, storage_buffer b) {
    const std::uint64_t nbytes = origin.nbytes;
    if (b.data() && b.data() == origin.in_place && !origin.host_order)
        return detail::failure(errc::bad_storage, s.ref.offset,
                               "the allocator used the source's bytes in place, but they are not in the host's byte order",
                               "storage " + std::string(s.desc.key));
    if (!b.data() && nbytes)
        return detail::failure(errc::bad_storage, s.ref.offset, {"the allocator could not provide ", nbytes, " bytes"},
                               "storage " + std::string(s.desc.key));
    if (b.size() < nbytes)
        return detail::failure(errc::bad_storage, s.ref.offset, "the allocator returned a buffer smaller than the storage",
                               "storage " + std::string(s.desc.key));
    return b;
}

/// A load's policy set as values: its decoding, limits, globals policy and allocator. The
/// loaders, the machine and the storage reader are compiled once for every policy set; each
/// policy reaches them through here.
struct policy_values {
    decoding_ops decoding;
    limit_values limits;
    bool allowlist_only;  ///< ptload::strict
    allocator_ops allocator;
};

/// The policy_values of a canonical policy set.
template <class Policies>
constexpr policy_values policy_values_of() noexcept {
    return {decoding_ops_of<typename Policies::decoding>(), limit_values::of<typename Policies::limits>(),
            Policies::globals::allowlist_only, allocator_ops_of<typename Policies::allocator>()};
}

/// Memory for a storage from the allocator policy, or the error that says why there is none.
inline result<storage_buffer> allocate_storage(const storage& s, const storage_origin& origin, const allocator_ops& allocator,
                                               void* context) {
    if (origin.nbytes > static_cast<std::uint64_t>(SIZE_MAX))
        return detail::failure(errc::limit_tensor, s.ref.offset, "storage larger than this platform's address space",
                               "storage " + std::string(s.desc.key));
    return checked_buffer(s, origin, allocator.allocate(s.desc, origin, s.device, context));
}

/// The storage reader of one load, with memory from the allocator policy. `owner`, when set,
/// keeps the source alive (a document that reads lazily, or whose storages point into the
/// source); otherwise the caller keeps it alive for as long as the reader is used. A template
/// only so that a file that includes ptload without loading does not compile it: use
/// source_reader.
template <class = void>
class basic_source_reader final : public storage_reader {
public:
    basic_source_reader(any_source src, shared<shared_object> owner, const load_options& opts, const policy_values& policies)
        : src_(src), owner_(std::move(owner)), allocator_(policies.allocator), zip_limits_(zip_limits_from(policies.limits)),
          mode_(opts.storages), check_crc_(opts.check_crc), context_(opts.allocator_context) {
        progress_fn = opts.progress;
        progress_context = opts.progress_context;
    }
    basic_source_reader(const basic_source_reader&) = delete;
    basic_source_reader& operator=(const basic_source_reader&) = delete;
    ~basic_source_reader() override {
        if (packer_) allocator_.delete_packer(packer_);
    }

    status fetch(storage& s) override { return fetch_from(src_, s); }

    status read_range(const storage& s, std::uint64_t begin, void* dst, std::size_t n) override {
        if (!is_plain(s)) {  // a deflated record is inflated whole; the bytes wanted are copied out
            storage tmp;
            tmp.desc = s.desc;
            tmp.device = s.device;
            tmp.ref = s.ref;
            PTLOAD_TRY(fetch_record(tmp, s.nbytes()));
            if (n) std::memcpy(dst, tmp.bytes.data() + begin, n);
            return {};
        }
        PTLOAD_TRY(check_range(s, begin, n));
        if (n) PTLOAD_TRY(read_to(src_, s.ref.offset + begin, static_cast<std::uint8_t*>(dst), n));
        if (host_is_little_endian() != s.ref.little_endian) byteswap_elements(static_cast<std::uint8_t*>(dst), n, s.desc.type);
        return {};
    }

protected:
    /// Storages in source order: small ones through a read-ahead window, so a checkpoint of
    /// many small tensors costs a few large reads rather than a seek and a read per tensor.
    status fetch_batch(storage* const* list, std::size_t count, batch_progress& progress) override {
        reserve_packs(list, count);
        if (src_.memory()) return storage_reader::fetch_batch(list, count, progress);
        read_window<any_source> window(src_);
        for (std::size_t i = 0; i < count; ++i) {
            storage& s = *list[i];
            if (is_plain(s) && s.nbytes() < read_window<any_source>::default_capacity / 2) PTLOAD_TRY(fetch_from(window, s));
            else PTLOAD_TRY(fetch(s));
            progress.storage_read(s);
        }
        return {};
    }

private:
    /// Tells the packer what the batch's small storages take in all, where it takes a total
    /// ahead: they then share one block instead of filling one of the usual size after another.
    /// The total is what the storages declare, before any is read: the default packer bounds
    /// the block it makes for it (max_block_bytes), and a mapping's pages cost only when written.
    void reserve_packs(storage* const* list, std::size_t count) {
        if (!allocator_.reserve_packs) return;
        std::uint64_t bytes = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const storage& s = *list[i];
            const std::uint64_t n = s.nbytes();
            if (n <= allocator_.pack_up_to && !(is_plain(s) && in_place(s)))
                bytes += allocator_.packed_size(n);  // each at most about max_bytes, over a list that fits in memory
        }
        if (!bytes) return;
        if (!packer_) packer_ = allocator_.new_packer();
        allocator_.reserve_packs(packer_, bytes);
    }

    /// Whether mapped mode points s (a plain record) at the source's own bytes: the source is
    /// in memory, and the bytes are in the host's order and aligned for the dtype.
    bool in_place(const storage& s) const noexcept {
        if (!src_.memory() || mode_ != storage_mode::mapped || !origin_of(s, s.nbytes()).host_order) return false;
        const std::size_t align = element_size(s.desc.type) < 8 ? element_size(s.desc.type) : 8;
        return align && reinterpret_cast<std::uintptr_t>(src_.memory() + s.ref.offset) % align == 0;
    }

    /// Reads (or points at) s's bytes, through `from`: the source or a read-ahead window on it.
    template <class From>
    status fetch_from(From& from, storage& s) {
        const std::uint64_t n = s.nbytes();
        if (!is_plain(s)) return fetch_record(s, n);
        PTLOAD_TRY(check_range(s, 0, n));
        storage_origin origin = origin_of(s, n);
        if (src_.memory()) {
            const std::uint8_t* p = src_.memory() + s.ref.offset;
            origin.in_place = p;
            if (in_place(s)) return use_in_place(s, storage_buffer(const_cast<std::uint8_t*>(p), n, nullptr, nullptr));
        }
        auto b = allocate(s, origin);
        if (!b) return std::move(b).pass_error();
        if (n && b->data() == origin.in_place) return use_in_place(s, std::move(*b));  // the allocator's choice
        if (n) PTLOAD_TRY(read_to(from, s.ref.offset, b->data(), static_cast<std::size_t>(n)));
        return adopt(s, std::move(*b));
    }

    /// n bytes at `offset` into `to`: from the source placed clear of 4 KiB aliasing
    /// (page_alias.hpp); through the read-ahead window (small storages) as they come.
    template <class From>
    status read_to(From& from, std::uint64_t offset, std::uint8_t* to, std::size_t n) {
        if constexpr (std::is_same<From, any_source>::value) {
            const std::uint8_t* bytes = from.memory();
            const std::uint64_t phase =
                bytes ? static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(bytes + offset)) : offset;
            return read_unaliased(offset, phase, to, n, [&from](std::uint64_t at, void* dst, std::size_t count) {
                return from.read_at(at, dst, count);
            });
        } else {
            return from.read_at(offset, to, n);
        }
    }

    /// Memory for s from the allocator policy, small storages from its packer where it has one.
    result<storage_buffer> allocate(const storage& s, const storage_origin& origin) {
        if (allocator_.new_packer && origin.nbytes <= allocator_.pack_up_to) {
            if (!packer_) packer_ = allocator_.new_packer();
            return checked_buffer(s, origin, allocator_.pack(packer_, origin.nbytes));
        }
        return allocate_storage(s, origin, allocator_, context_);
    }

    /// Where s's n bytes sit, for the allocator (in_place is set by the caller that has them).
    static storage_origin origin_of(const storage& s, std::uint64_t n) noexcept {
        storage_origin origin;
        origin.offset = s.ref.offset;
        origin.nbytes = n;
        origin.host_order = host_is_little_endian() == s.ref.little_endian || byte_order_unit(s.desc.type) < 2;
        return origin;
    }

    /// Gives s the source's own bytes (in the host's order): nothing read or copied.
    static status use_in_place(storage& s, storage_buffer b) {
        s.bytes = std::move(b);
        s.mapped = true;
        s.resident = true;
        return {};
    }

    /// Gives s the bytes read into b, in the host's byte order.
    static status adopt(storage& s, storage_buffer b) {
        if (host_is_little_endian() != s.ref.little_endian) byteswap_elements(b.data(), s.nbytes(), s.desc.type);
        s.bytes = std::move(b);
        s.resident = true;
        return {};
    }

    /// Bytes stored as they are, readable in place.
    bool is_plain(const storage& s) const noexcept { return s.ref.method == 0 && !(check_crc_ && s.ref.crc32); }

    status check_range(const storage& s, std::uint64_t begin, std::uint64_t n) const {
        const std::uint64_t size = src_.size();
        if (s.ref.offset > size || begin > size - s.ref.offset || n > size - s.ref.offset - begin)
            return detail::failure(errc::truncated, s.ref.offset,
                                   {"storage of ", s.nbytes(), " bytes runs past the end of the file"},
                                   "storage " + std::string(s.desc.key));
        return {};
    }

    /// A zip record that is deflated or has a CRC to check: through the zip reader.
    status fetch_record(storage& s, std::uint64_t n) {
        zip_entry e;  // its errors are named after the storage below
        e.header_offset = s.ref.header_offset;
        e.data_offset = s.ref.offset;
        e.compressed_size = s.ref.stored_size;
        e.size = n;
        e.crc32 = s.ref.crc32;
        e.method = s.ref.method;
        auto bytes = read_entry_as<fill_later_vector<std::uint8_t>>(src_, e, zip_limits_, check_crc_);
        if (PTLOAD_UNLIKELY(!bytes)) {
            error err = std::move(bytes).err();
            err.context = "storage " + std::string(s.desc.key);
            return err;
        }
        const storage_origin origin = origin_of(s, n);  // inflated (or checked) on the way: not usable in place
        auto b = allocate(s, origin);
        if (!b) return std::move(b).pass_error();
        if (n) std::memcpy(b->data(), bytes->data(), static_cast<std::size_t>(n));
        return adopt(s, std::move(*b));
    }

    any_source src_;
    shared<shared_object> owner_;  // a source the caller gave by value, else empty
    const allocator_ops allocator_;  // a copy: five words, and no lifetime to keep in step
    void* packer_ = nullptr;  // the allocator's small-storage packer, made on first use
    zip_limits zip_limits_;
    storage_mode mode_;
    bool check_crc_;
    void* context_;
};
using source_reader = basic_source_reader<>;

/// A storage whose bytes are at `offset` in src, read now (formats whose storages are already
/// in memory when they are declared: the tar format's members).
template <class Source>
result<storage> read_storage(Source& src, std::uint64_t offset, storage_description d, std::string_view device,
                             const load_options& opts, const policy_values& policies, bool file_little_endian) {
    std::uint64_t nbytes;
    if (!checked_mul(d.numel, static_cast<std::uint64_t>(element_size(d.type)), nbytes))
        return detail::failure(errc::bad_storage, offset, "storage byte count overflows", "storage " + std::string(d.key));
    storage s;
    s.desc = std::move(d);
    s.device = device;
    s.ref.offset = offset;
    s.ref.stored_size = nbytes;
    s.ref.little_endian = file_little_endian;
    load_options eager;
    eager.allocator_context = opts.allocator_context;
    source_reader reader(any_source(src), nullptr, eager, policies);
    PTLOAD_TRY(reader.fetch(s));
    return s;
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
