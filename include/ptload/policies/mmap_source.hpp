// policies/mmap_source.hpp: a file mapped read-only into memory, as a byte source.
//
//     ptload::mmap_source map{"model.pt"};
//     if (!map.is_open()) return map.open_error();
//     ptload::load_options opts;
//     opts.storages = ptload::storage_mode::mapped;
//     auto doc = ptload::load(std::move(map), opts);  // tensors point into the mapping
//
// The source has data(), so pickles and stored records are read in place and, in mapped mode,
// tensor bytes are the mapping's own pages: the kernel reads them on first touch and may drop
// them again under memory pressure. Given to a document by value, the mapping lives as long
// as the document or any tensor taken from it. POSIX mmap, and CreateFileMapping /
// MapViewOfFile on Windows; PTLOAD_HAS_MMAP is 0 elsewhere.
#ifndef PTLOAD_POLICIES_MMAP_SOURCE_HPP
#define PTLOAD_POLICIES_MMAP_SOURCE_HPP

#include "../error.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#define PTLOAD_HAS_MMAP 1
#elif defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define PTLOAD_HAS_MMAP 1
#else
#define PTLOAD_HAS_MMAP 0
#endif

namespace ptload {
inline namespace v0 {

#if PTLOAD_HAS_MMAP
/// A whole file mapped read-only. Move-only; unmapped when destroyed.
class mmap_source {
public:
    explicit mmap_source(const std::string& path) : path_(path) { open(path.c_str()); }
    mmap_source(const mmap_source&) = delete;
    mmap_source& operator=(const mmap_source&) = delete;
    mmap_source(mmap_source&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), open_(std::exchange(o.open_, false)),
          error_(o.error_), path_(std::move(o.path_)) {}
    mmap_source& operator=(mmap_source&& o) noexcept {
        if (this != &o) {
            unmap();
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
            open_ = std::exchange(o.open_, false);
            error_ = o.error_;
            path_ = std::move(o.path_);
        }
        return *this;
    }
    ~mmap_source() { unmap(); }

    bool is_open() const noexcept { return open_; }
    /// Why opening or mapping failed (io_error with the path).
    error open_error() const { return make_error(errc::io_error, no_offset, error_.empty() ? "not open" : error_, path_); }
    std::uint64_t size() const noexcept { return size_; }
    const std::uint8_t* data() const noexcept { return data_; }
    status read_at(std::uint64_t offset, void* dst, std::size_t n) const {
        if (!open_) return open_error();
        if (offset > size_ || n > size_ - offset)
            return detail::failure(errc::truncated, offset,
                                   {"read of ", n, " bytes past the end of the ", size_, "-byte file"},
                                   path_);
        if (n) std::memcpy(dst, data_ + offset, n);
        return {};
    }

private:
#if defined(_WIN32)
    void open(const char* path) {
        HANDLE file = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
        if (file == INVALID_HANDLE_VALUE) return fail("cannot open the file");
        LARGE_INTEGER size;
        if (!GetFileSizeEx(file, &size)) {
            CloseHandle(file);
            return fail("cannot read the file's size");
        }
        if (static_cast<unsigned long long>(size.QuadPart) > SIZE_MAX) {
            CloseHandle(file);
            return fail("file larger than this platform's address space");
        }
        size_ = static_cast<std::uint64_t>(size.QuadPart);
        if (size_ == 0) {  // an empty file cannot be mapped; it has no bytes to point at
            CloseHandle(file);
            open_ = true;
            return;
        }
        HANDLE mapping = CreateFileMappingA(file, nullptr, PAGE_READONLY, 0, 0, nullptr);
        CloseHandle(file);  // the mapping keeps the file open
        if (!mapping) return fail("cannot map the file");
        void* view = MapViewOfFile(mapping, FILE_MAP_READ, 0, 0, 0);
        CloseHandle(mapping);  // the view keeps the mapping
        if (!view) return fail("cannot map the file");
        data_ = static_cast<const std::uint8_t*>(view);
        open_ = true;
    }
    void unmap() noexcept {
        if (data_) UnmapViewOfFile(data_);
        data_ = nullptr;
    }
#else
    void open(const char* path) {
        int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return fail(std::strerror(errno));
        struct stat st;
        if (::fstat(fd, &st) != 0) {  // fails with EOVERFLOW where off_t cannot hold the size
            int e = errno;
            ::close(fd);
            return fail(std::strerror(e));
        }
        if ((st.st_mode & S_IFMT) == S_IFDIR) {
            ::close(fd);
            return fail(std::strerror(EISDIR));
        }
        if (static_cast<std::uint64_t>(st.st_size) > SIZE_MAX) {
            ::close(fd);
            return fail("file larger than this platform's address space");
        }
        size_ = static_cast<std::uint64_t>(st.st_size);
        if (size_ == 0) {  // an empty file cannot be mapped; it has no bytes to point at
            ::close(fd);
            open_ = true;
            return;
        }
        void* p = ::mmap(nullptr, static_cast<std::size_t>(size_), PROT_READ, MAP_PRIVATE, fd, 0);
        int e = errno;
        ::close(fd);  // the mapping keeps the file
        if (p == MAP_FAILED) return fail(std::strerror(e));
        data_ = static_cast<const std::uint8_t*>(p);
        open_ = true;
    }
    void unmap() noexcept {
        if (data_) ::munmap(const_cast<std::uint8_t*>(data_), static_cast<std::size_t>(size_));
        data_ = nullptr;
    }
#endif
    void fail(const char* why) {
        error_ = why;
        size_ = 0;
    }

    const std::uint8_t* data_ = nullptr;
    std::uint64_t size_ = 0;
    bool open_ = false;
    std::string error_;
    std::string path_;
};
#endif

} // namespace v0
} // namespace ptload

#endif
