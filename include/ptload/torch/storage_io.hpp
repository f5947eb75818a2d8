// torch/storage_io.hpp: bringing one storage's bytes from the file into memory chosen by the
// allocator policy, in the host's byte order.
#ifndef PTLOAD_TORCH_STORAGE_IO_HPP
#define PTLOAD_TORCH_STORAGE_IO_HPP

#include "../detail/checked.hpp"
#include "../error.hpp"
#include "dtype.hpp"
#include "location.hpp"
#include "storage.hpp"

#include <cstdint>
#include <string>
#include <utility>

namespace ptload {
inline namespace v0 {
namespace detail {

/// Where map_location and the registered handlers put a storage (asked once per storage).
inline result<std::string> place_storage(const load_options& opts, const storage_description& d, std::uint64_t offset,
                                         const std::string& record) {
    auto device = opts.resolve_device(d);
    if (!device) {
        error e = std::move(device).err();
        e.offset = offset;
        e.context = record;
        return e;
    }
    return device;
}

/// The storage's bytes: numel elements at `offset` in src, in memory from the allocator policy
/// for `device`. `file_little_endian` is the byte order the file declares for storage data.
template <class Policies, class Source>
result<storage> read_storage(Source& src, std::uint64_t offset, storage_description d, std::string device,
                             const load_options& opts, bool file_little_endian, const std::string& record) {
    std::uint64_t nbytes;
    if (!checked_mul(d.numel, static_cast<std::uint64_t>(element_size(d.type)), nbytes))
        return make_error(errc::bad_storage, offset, "storage byte count overflows", record);
    if (offset > src.size() || nbytes > src.size() - offset)
        return make_error(errc::truncated, offset,
                          "storage of " + std::to_string(nbytes) + " bytes runs past the end of the file", record);
    if (nbytes > static_cast<std::uint64_t>(SIZE_MAX))
        return make_error(errc::limit_tensor, offset, "storage larger than this platform's address space", record);
    storage s;
    s.device = std::move(device);
    s.bytes = Policies::allocator::allocate(d, nbytes, s.device, opts.allocator_context);
    if (!s.bytes.data() && nbytes)
        return make_error(errc::bad_storage, offset, "the allocator could not provide " + std::to_string(nbytes) + " bytes", record);
    if (s.bytes.size() < nbytes)
        return make_error(errc::bad_storage, offset, "the allocator returned a buffer smaller than the storage", record);
    if (nbytes) PTLOAD_TRY(src.read_at(offset, s.bytes.data(), static_cast<std::size_t>(nbytes)));
    if (host_is_little_endian() != file_little_endian) byteswap_elements(s.bytes.data(), nbytes, d.type);
    s.desc = std::move(d);
    return s;
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
