// torch/storage.hpp: the bytes of one torch storage and where they live.
//
// A storage is declared once and shared by every tensor that views it. Loading records where
// its bytes sit in the source (a storage_ref); they are read when the load's storage_mode says:
// all before load returns (eager), on first access (lazy), or not at all where the source is in
// memory and the bytes can be used in place (mapped). Read bytes come from the allocator policy
// (the analogue of map_location).
#ifndef PTLOAD_TORCH_STORAGE_HPP
#define PTLOAD_TORCH_STORAGE_HPP

#include "../config.hpp"
#include "../detail/shared.hpp"
#include "../error.hpp"
#include "dtype.hpp"

#include <cstdint>
#include <string_view>
#include <utility>

namespace ptload {
inline namespace v0 {

/// Owned (or borrowed) bytes. `release` is called once with `context` when the document dies;
/// a borrowed view has no release function.
class storage_buffer {
public:
    using release_fn = void (*)(void* context, std::uint8_t* data, std::uint64_t size);

    storage_buffer() noexcept = default;
    storage_buffer(std::uint8_t* data, std::uint64_t size, release_fn release, void* context) noexcept
        : data_(data), size_(size), release_(release), context_(context) {}
    storage_buffer(const storage_buffer&) = delete;
    storage_buffer& operator=(const storage_buffer&) = delete;
    storage_buffer(storage_buffer&& o) noexcept { swap(o); }
    storage_buffer& operator=(storage_buffer&& o) noexcept {
        storage_buffer tmp(std::move(o));
        swap(tmp);
        return *this;
    }
    ~storage_buffer() {
        if (release_) release_(context_, data_, size_);
    }
    std::uint8_t* data() const noexcept { return data_; }
    std::uint64_t size() const noexcept { return size_; }

private:
    void swap(storage_buffer& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        std::swap(release_, o.release_);
        std::swap(context_, o.context_);
    }
    std::uint8_t* data_ = nullptr;
    std::uint64_t size_ = 0;
    release_fn release_ = nullptr;
    void* context_ = nullptr;
};

/// What a storage is, as the checkpoint describes it; the map_location callable sees this.
/// Its texts (and a storage's device) are held by the document they belong to.
struct storage_description {
    std::string_view key;       ///< record key ("0", or a pointer string in legacy files)
    dtype type = dtype::unknown;
    std::uint64_t numel = 0;   ///< elements of `type`
    std::string_view location;  ///< the saved location tag ("cpu", "cuda:0")
};

/// When storage bytes are read (load_options::storages).
enum class storage_mode : std::uint8_t {
    eager,   ///< every storage is read before load returns; the source is not needed after
    lazy,    ///< a storage is read when a tensor's data is first asked for (the document owns the source)
    mapped,  ///< storages point into an in-memory or memory-mapped source where the record is stored
             ///< uncompressed, aligned for its dtype and in host byte order; others are read eagerly.
             ///< A source given by reference must then outlive every tensor that points into it.
};

inline constexpr std::uint32_t no_storage = 0xFFFFFFFFu;

/// Where a storage's bytes sit in the load's source, so they can be read when touched.
struct storage_ref {
    std::uint64_t offset = 0;       ///< first data byte in the source
    std::uint64_t header_offset = 0;  ///< zip records: the local header (for error messages)
    std::uint64_t stored_size = 0;  ///< bytes at offset (the compressed size of a deflated record)
    std::uint32_t crc32 = 0;        ///< zip records: checked when load_options::check_crc
    std::uint16_t method = 0;       ///< zip records: 0 stored, 8 deflate
    bool little_endian = true;      ///< byte order of the elements in the file
    /// A legacy storage view: its bytes are view_of's, from view_byte_offset on.
    std::uint32_t view_of = no_storage;
    std::uint64_t view_byte_offset = 0;
};

/// One storage of a loaded document.
struct storage {
    storage_description desc;
    std::string_view device;  ///< the location after map_location: what tensors report
    storage_buffer bytes;  ///< nbytes() bytes in host byte order once resident; empty before
    storage_ref ref;
    bool resident = false; ///< bytes holds the data
    bool mapped = false;   ///< bytes point into the source itself (no copy was made)
    /// numel * element size (checked not to overflow when the storage was declared).
    std::uint64_t nbytes() const noexcept { return desc.numel * element_size(desc.type); }
};

namespace detail {
/// Reads declared storages from the source of one load. The document keeps one for storages
/// read on first access; it is dropped once nothing is left to read.
class storage_reader : public shared_object {
public:
    virtual ~storage_reader() = default;
    /// Makes s resident: reads (or, in mapped mode, points at) its bytes.
    virtual status fetch(storage& s) = 0;
    /// fetch() for each of `list`, which is in source order (a load reading all its storages),
    /// telling the progress callback after each.
    status fetch_in_order(storage* const* list, std::size_t n) {
        batch_progress progress(*this, list, n);
        return fetch_batch(list, n, progress);
    }
    /// n bytes from `begin` within s's data, in host byte order, into dst, keeping nothing.
    virtual status read_range(const storage& s, std::uint64_t begin, void* dst, std::size_t n) = 0;

protected:
    /// load_options::progress and its context.
    void (*progress_fn)(void*, std::uint64_t, std::uint64_t) = nullptr;
    void* progress_context = nullptr;

    /// Bytes done of a batch's total, reported as each storage is read.
    class batch_progress {
    public:
        batch_progress(const storage_reader& r, storage* const* list, std::size_t n) noexcept
            : fn_(r.progress_fn), context_(r.progress_context) {
            if (!fn_) return;
            for (std::size_t i = 0; i < n; ++i) total_ += list[i]->nbytes();
            fn_(context_, 0, total_);
        }
        void storage_read(const storage& s) noexcept {
            done_ += s.nbytes();
            if (fn_) fn_(context_, done_, total_);
        }

    private:
        void (*fn_)(void*, std::uint64_t, std::uint64_t);
        void* context_;
        std::uint64_t done_ = 0, total_ = 0;
    };
    /// Reads each of `list` (in source order) and tells `progress` after each.
    virtual status fetch_batch(storage* const* list, std::size_t n, batch_progress& progress) {
        for (std::size_t i = 0; i < n; ++i) {
            PTLOAD_TRY(fetch(*list[i]));
            progress.storage_read(*list[i]);
        }
        return {};
    }
};
} // namespace detail

} // namespace v0
} // namespace ptload

#endif
