// policies/source.hpp: byte sources, the `f` argument of torch.load.
//
// A byte source is any type with
//     std::uint64_t size() const;                                   // total bytes
//     ptload::status read_at(std::uint64_t offset, void* dst, std::size_t n);  // exactly n bytes
// and optionally
//     const std::uint8_t* data() const;                             // whole contents in memory
// When data() exists ptload reads in place (no copies of pickles or zip records), and in
// storage_mode::mapped tensor bytes point into the source (mmap_source maps a file).
// A source given to load() by reference is used only until load returns; given by value, the
// document keeps it for as long as its storages need it.
#ifndef PTLOAD_POLICIES_SOURCE_HPP
#define PTLOAD_POLICIES_SOURCE_HPP

#include "../error.hpp"

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

// fd_source and 64-bit stdio offsets need POSIX; Windows (MSVC, mingw-w64) gets file_source
// through _fseeki64 and no fd_source.
#if defined(__unix__) || defined(__APPLE__)
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#define PTLOAD_HAS_POSIX_FD 1
#else
#define PTLOAD_HAS_POSIX_FD 0
#endif
// On 32-bit glibc, off_t is 32 bits unless the program is built with _FILE_OFFSET_BITS=64;
// the *64 calls (declared under _LARGEFILE64_SOURCE, which g++ implies) reach past 2 GiB
// either way. Elsewhere off_t is checked before use.
#if PTLOAD_HAS_POSIX_FD && defined(__GLIBC__) && defined(_LARGEFILE64_SOURCE)
#define PTLOAD_POSIX_LARGEFILE64 1
#else
#define PTLOAD_POSIX_LARGEFILE64 0
#endif

namespace ptload {
inline namespace v0 {

namespace detail {
template <class S, class = void>
struct has_read_at : std::false_type {};
template <class S>
struct has_read_at<S, std::void_t<decltype(std::declval<status&>() = std::declval<S&>().read_at(
                                               std::uint64_t{}, static_cast<void*>(nullptr), std::size_t{}))>>
    : std::true_type {};
template <class S, class = void>
struct has_size : std::false_type {};
template <class S>
struct has_size<S, std::void_t<decltype(std::uint64_t{std::declval<const S&>().size()})>> : std::true_type {};
template <class S, class = void>
struct has_data : std::false_type {};
template <class S>
struct has_data<S, std::enable_if_t<std::is_convertible<decltype(std::declval<const S&>().data()),
                                                        const std::uint8_t*>::value>> : std::true_type {};
} // namespace detail

/// Checks, with a message that says what to add, that S can be used as a byte source.
template <class S>
constexpr bool check_source() {
    static_assert(detail::has_size<S>::value,
                  "ptload byte source: add `std::uint64_t size() const` returning the total number of bytes");
    static_assert(detail::has_read_at<S>::value,
                  "ptload byte source: add `ptload::status read_at(std::uint64_t offset, void* dst, std::size_t n)` "
                  "that reads exactly n bytes at offset or returns an error");
    return detail::has_size<S>::value && detail::has_read_at<S>::value;
}

/// Bytes already in memory (the io.BytesIO case). Does not own them.
///     ptload::memory_source src{buf.data(), buf.size()};
class memory_source {
public:
    memory_source(const void* data, std::size_t size) noexcept
        : data_(static_cast<const std::uint8_t*>(data)), size_(size) {}
    std::uint64_t size() const noexcept { return size_; }
    const std::uint8_t* data() const noexcept { return data_; }
    status read_at(std::uint64_t offset, void* dst, std::size_t n) const noexcept {
        if (offset > size_ || n > size_ - offset)
            return detail::failure(errc::truncated, offset,
                                   {"read of ", n, " bytes past the end of a ", size_, "-byte buffer"});
        if (n) std::memcpy(dst, data_ + offset, n);
        return {};
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
};

/// A C stdio stream; opens a path itself, or borrows a FILE* the caller keeps open.
///     ptload::file_source src{"model.pt"};  if (!src.is_open()) ...
class file_source {
public:
    explicit file_source(const char* path) : file_(std::fopen(path, "rb")), owned_(true), path_(path) {
        if (!file_) open_errno_ = errno;
        else measure();
    }
    explicit file_source(const std::string& path) : file_source(path.c_str()) {}
    /// Borrow an open stream (not closed by ptload).
    explicit file_source(std::FILE* f) : file_(f), owned_(false) { measure(); }
    file_source(const file_source&) = delete;
    file_source& operator=(const file_source&) = delete;
    file_source(file_source&& o) noexcept
        : file_(o.file_), owned_(o.owned_), size_(o.size_), open_errno_(o.open_errno_), path_(std::move(o.path_)) {
        o.file_ = nullptr;
    }
    ~file_source() {
        if (file_ && owned_) std::fclose(file_);
    }
    bool is_open() const noexcept { return file_ != nullptr; }
    /// Why opening failed, as an error (io_error with the path and strerror).
    error open_error() const {
        return make_error(errc::io_error, no_offset, std::strerror(open_errno_ ? open_errno_ : EBADF), path_);
    }
    std::uint64_t size() const noexcept { return size_; }
    status read_at(std::uint64_t offset, void* dst, std::size_t n) {
        if (!file_) return open_error();
        if (offset > size_ || n > size_ - offset)
            return detail::failure(errc::truncated, offset,
                                   {"read of ", n, " bytes past the end of the ", size_, "-byte file"},
                                   path_);
        if (!seek(offset)) return detail::failure(errc::io_error, offset, "seek failed", path_);
        if (n && std::fread(dst, 1, n, file_) != n)
            return detail::failure(errc::io_error, offset, {"short read of ", n, " bytes"}, path_);
        return {};
    }

private:
    bool seek(std::uint64_t offset) {
        if (offset > static_cast<std::uint64_t>(INT64_MAX)) return false;
#if PTLOAD_POSIX_LARGEFILE64
        return fseeko64(file_, static_cast<off64_t>(offset), SEEK_SET) == 0;
#elif PTLOAD_HAS_POSIX_FD
        if (offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max())) return false;
        return fseeko(file_, static_cast<off_t>(offset), SEEK_SET) == 0;
#elif defined(_WIN32)
        return _fseeki64(file_, static_cast<__int64>(offset), SEEK_SET) == 0;
#else
        return offset <= static_cast<std::uint64_t>(LONG_MAX) && std::fseek(file_, static_cast<long>(offset), SEEK_SET) == 0;
#endif
    }
    /// The size from a seek to the end. A file too large for the platform's offsets (ftell
    /// fails with EOVERFLOW) leaves the source closed with that error, never a wrong size.
    void measure() {
        if (!file_) return;
        std::int64_t end = -1;
        errno = 0;
#if PTLOAD_POSIX_LARGEFILE64
        if (fseeko64(file_, 0, SEEK_END) == 0) end = ftello64(file_);
#elif PTLOAD_HAS_POSIX_FD
        if (fseeko(file_, 0, SEEK_END) == 0) end = ftello(file_);
#elif defined(_WIN32)
        if (_fseeki64(file_, 0, SEEK_END) == 0) end = _ftelli64(file_);
#else
        if (std::fseek(file_, 0, SEEK_END) == 0) end = std::ftell(file_);
#endif
        if (end >= 0) {
            size_ = static_cast<std::uint64_t>(end);
            return;
        }
        open_errno_ = errno ? errno : EIO;
        if (owned_) std::fclose(file_);
        file_ = nullptr;
    }
    std::FILE* file_ = nullptr;
    bool owned_ = false;
    std::uint64_t size_ = 0;
    int open_errno_ = 0;
    std::string path_;
};

#if PTLOAD_HAS_POSIX_FD
/// A POSIX file descriptor the caller keeps open; reads with pread, so the descriptor's own
/// position is left alone.
class fd_source {
public:
    explicit fd_source(int fd) noexcept : fd_(fd) {
#if PTLOAD_POSIX_LARGEFILE64
        struct stat64 st;
        if (::fstat64(fd, &st) == 0) size_ = static_cast<std::uint64_t>(st.st_size);
#else
        struct stat st;  // fails (EOVERFLOW) rather than truncate a size off_t cannot hold
        if (::fstat(fd, &st) == 0) size_ = static_cast<std::uint64_t>(st.st_size);
#endif
    }
    std::uint64_t size() const noexcept { return size_; }
    status read_at(std::uint64_t offset, void* dst, std::size_t n) const {
        if (offset > size_ || n > size_ - offset)
            return detail::failure(errc::truncated, offset, {"read past the end of a ", size_, "-byte file"});
        auto* out = static_cast<char*>(dst);
        while (n) {
#if PTLOAD_POSIX_LARGEFILE64
            ssize_t got = ::pread64(fd_, out, n, static_cast<off64_t>(offset));
#else
            if (offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()))
                return detail::failure(errc::io_error, offset, "offset beyond this platform's file offsets");
            ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
#endif
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) return detail::failure(errc::io_error, offset, got < 0 ? std::strerror(errno) : "short read");
            out += got;
            offset += static_cast<std::uint64_t>(got);
            n -= static_cast<std::size_t>(got);
        }
        return {};
    }

private:
    int fd_;
    std::uint64_t size_ = 0;
};
#endif

/// A user stream given as read/seek/tell callbacks (stb's stbi_io_callbacks, as a value).
///     ptload::callback_source src{&my_stream, my_read, my_seek, my_tell};
/// read returns the number of bytes read (0 at end), seek returns 0 on success (whence as fseek),
/// tell returns the position or a negative value on failure.
class callback_source {
public:
    using read_fn = std::size_t (*)(void* ctx, void* dst, std::size_t n);
    using seek_fn = int (*)(void* ctx, std::int64_t offset, int whence);
    using tell_fn = std::int64_t (*)(void* ctx);

    callback_source(void* ctx, read_fn read, seek_fn seek, tell_fn tell) : ctx_(ctx), read_(read), seek_(seek), tell_(tell) {
        if (seek_(ctx_, 0, SEEK_END) == 0) {
            std::int64_t end = tell_(ctx_);
            if (end >= 0) size_ = static_cast<std::uint64_t>(end);
        }
    }
    std::uint64_t size() const noexcept { return size_; }
    status read_at(std::uint64_t offset, void* dst, std::size_t n) {
        if (offset > size_ || n > size_ - offset)
            return detail::failure(errc::truncated, offset, {"read past the end of a ", size_, "-byte stream"});
        if (seek_(ctx_, static_cast<std::int64_t>(offset), SEEK_SET) != 0)
            return detail::failure(errc::io_error, offset, "stream seek failed");
        auto* out = static_cast<char*>(dst);
        while (n) {
            std::size_t got = read_(ctx_, out, n);
            if (got == 0) return detail::failure(errc::io_error, offset, "stream read returned no bytes");
            out += got;
            offset += got;
            n -= got;
        }
        return {};
    }

private:
    void* ctx_;
    read_fn read_;
    seek_fn seek_;
    tell_fn tell_;
    std::uint64_t size_ = 0;
};

} // namespace v0
} // namespace ptload

#endif
