// torch/storage.hpp: the bytes of one torch storage and where they live.
//
// A storage is loaded once and shared by every tensor that views it (FORMAT.md 2.4). Its
// bytes come from the allocator policy (the analogue of map_location): heap memory by default,
// caller memory, or a view into a memory-mapped/in-memory source that outlives the document.
#ifndef PTLOAD_TORCH_STORAGE_HPP
#define PTLOAD_TORCH_STORAGE_HPP

#include "../config.hpp"
#include "dtype.hpp"

#include <cstdint>
#include <string>
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
struct storage_description {
    std::string key;       ///< record key ("0", or a pointer string in legacy files)
    dtype type = dtype::unknown;
    std::uint64_t numel = 0;   ///< elements of `type`
    std::string location;  ///< the saved location tag ("cpu", "cuda:0")
};

/// One loaded storage.
struct storage {
    storage_description desc;
    std::string device;    ///< the location after map_location: what tensors report
    storage_buffer bytes;  ///< numel * element_size bytes, host byte order
    std::uint64_t nbytes() const noexcept { return bytes.size(); }
};

} // namespace v0
} // namespace ptload

#endif
