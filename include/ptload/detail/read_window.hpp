// detail/read_window.hpp: a byte source that reads ahead of another, for walks that make many
// small reads in file order (a zip's local headers, the storages of a checkpoint of many small
// tensors). One read of the window replaces a seek and a read per record; a read the window
// cannot serve refills it from that offset. Reads at least half the window's size go straight
// to the source.
//
// How far to read ahead is learnt from the walk: a refill that continues where the last window
// ended doubles the next one (up to the capacity), and one that jumps well past it goes back to
// a page. Records a few hundred bytes apart are then read 256 KiB at a time, while the local
// headers of a 1 GiB checkpoint's records, 16 MiB apart, cost a page each instead of a whole
// window (17 MB of reads for 64 records, most of what listing its tensors read).
//
// A window over a source whose bytes are in memory reads nothing ahead: it passes every read
// through and says where the bytes are (memory()), so that callers read them in place. Code
// that walks records through a window is then compiled once for both kinds of source. A
// record's header is looked at where it lies, in the window's buffer or the source's memory
// (view()), rather than copied out first.
#ifndef PTLOAD_DETAIL_READ_WINDOW_HPP
#define PTLOAD_DETAIL_READ_WINDOW_HPP

#include "../error.hpp"
#include "../memory.hpp"
#include "any_source.hpp"

#include <cstdint>
#include <cstring>
#include <new>
#include <string>

namespace ptload {
inline namespace v0 {
namespace detail {

template <class Source>
class read_window {
public:
    static constexpr std::size_t default_capacity = std::size_t{256} << 10;
    /// The least a refill reads: a zip record's local header and name, or its data descriptor
    /// and the next record's header.
    static constexpr std::size_t min_ahead = std::size_t{4} << 10;

    explicit read_window(Source& src, std::size_t capacity = default_capacity) noexcept
        : src_(src), capacity_(capacity), ahead_(capacity < min_ahead ? capacity : min_ahead) {}
    std::uint64_t size() const { return src_.size(); }
    /// The source's whole contents when they are in memory, else null.
    const std::uint8_t* memory() const noexcept { return memory_of(src_); }
    status read_at(std::uint64_t offset, void* dst, std::size_t n) {
        if (n >= capacity_ / 2 || memory()) return src_.read_at(offset, dst, n);
        if (offset < start_ || offset - start_ > held_ || n > held_ - (offset - start_)) PTLOAD_TRY(refill(offset, n));
        if (n) std::memcpy(dst, buffer_.get() + (offset - start_), n);
        return {};
    }
    /// The n bytes at offset where they lie: in the source's memory, or in the window, where they
    /// stay until the next read or view. For n up to half the window's size (can_view; read
    /// larger ones): a larger view of a source not in memory fails.
    PTLOAD_INLINE result<const std::uint8_t*> view(std::uint64_t offset, std::size_t n) {
        if (held_ && !memory() && offset >= start_ && offset - start_ <= held_ && n <= held_ - (offset - start_))
            return static_cast<const std::uint8_t*>(buffer_.get() + (offset - start_));
        return view_elsewhere(offset, n);
    }
    /// Whether view takes n bytes.
    bool can_view(std::size_t n) const noexcept { return n <= capacity_ / 2 || memory(); }

private:
    /// view's bytes in the source's memory, or after a refill.
    result<const std::uint8_t*> view_elsewhere(std::uint64_t offset, std::size_t n) {
        if (const std::uint8_t* m = memory()) {
            PTLOAD_TRY(within_source(offset, n));
            return m + offset;
        }
        PTLOAD_TRY(refill(offset, n));
        return static_cast<const std::uint8_t*>(buffer_.get());
    }

    status within_source(std::uint64_t offset, std::size_t n) const {
        const std::uint64_t size = src_.size();
        if (offset > size || n > size - offset)
            return detail::failure(errc::truncated, offset,
                                   {"read of ", n, " bytes past the end of the ", size, "-byte source"});
        return {};
    }

    status refill(std::uint64_t offset, std::size_t n) {
        PTLOAD_TRY(within_source(offset, n));
        if (n > capacity_ / 2)  // read_at passes these to the source; a view of them has no room here
            return detail::failure(errc::io_error, offset,
                                   {"a view of ", n, " bytes does not fit a read-ahead window of ", capacity_});
        const std::uint64_t size = src_.size();
        if (!buffer_) {
            buffer_ = try_make_array<std::uint8_t>(capacity_);
            if (!buffer_) return detail::failure(errc::io_error, offset, "no memory for a read-ahead window");
        }
        if (held_ && offset >= start_) {  // learn from how the last window was used
            const std::uint64_t end = start_ + held_;
            if (offset >= start_ + held_ / 2 && offset <= end + min_ahead) ahead_ = ahead_ * 2 < capacity_ ? ahead_ * 2 : capacity_;
            else if (offset > end + ahead_) ahead_ = capacity_ < min_ahead ? capacity_ : min_ahead;
        }
        const std::size_t want = n > ahead_ ? n : ahead_;  // n <= capacity_ / 2: checked above
        const std::uint64_t left = size - offset;
        held_ = static_cast<std::size_t>(left < want ? left : want);
        start_ = offset;
        status r = src_.read_at(offset, buffer_.get(), held_);
        if (!r) held_ = 0;
        return r;
    }

    Source& src_;
    std::size_t capacity_;
    std::size_t ahead_;  // bytes the next refill reads, n permitting
    unique_array<std::uint8_t> buffer_;
    std::uint64_t start_ = 0;
    std::size_t held_ = 0;
};

template <class Source>
struct runtime_memory<read_window<Source>> : std::true_type {};

template <class Source>
struct is_read_window : std::false_type {};
template <class Source>
struct is_read_window<read_window<Source>> : std::true_type {};

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
