// torch/detect.hpp: which format a file is, by structure (FORMAT.md 0), and a clear word about
// files that are none of them.
#ifndef PTLOAD_TORCH_DETECT_HPP
#define PTLOAD_TORCH_DETECT_HPP

#include "../error.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ptload {
inline namespace v0 {

enum class file_kind : std::uint8_t {
    empty, zip, tar, pickle_or_legacy, pytorch1_preview, html, git_lfs_pointer, safetensors, numpy_npy, gzip,
    seven_zip, unknown
};

namespace detail {

/// A POSIX tar header: "ustar" magic at 257 and a valid header checksum.
inline bool is_tar_header(const std::uint8_t* h, std::size_t n) {
    if (n < 512 || std::memcmp(h + 257, "ustar", 5) != 0) return false;
    std::uint64_t stored = 0;
    std::size_t i = 148;
    while (i < 156 && h[i] == ' ') ++i;
    for (; i < 156 && h[i] >= '0' && h[i] <= '7'; ++i) stored = stored * 8 + (h[i] - '0');
    std::uint64_t sum = 0;
    for (std::size_t k = 0; k < 512; ++k) sum += (k >= 148 && k < 156) ? ' ' : h[k];
    return sum == stored;
}

inline bool starts_with(const std::uint8_t* h, std::size_t n, std::string_view s) {
    return n >= s.size() && std::memcmp(h, s.data(), s.size()) == 0;
}

} // namespace detail

/// The format of a file from its first bytes (up to 512) and its size.
inline file_kind detect(const std::uint8_t* head, std::size_t n, std::uint64_t size) {
    using detail::starts_with;
    if (size == 0) return file_kind::empty;
    if (starts_with(head, n, "PK\x03\x04")) return file_kind::zip;
    if (starts_with(head, n, "PYTORCH1")) return file_kind::pytorch1_preview;
    if (detail::is_tar_header(head, n)) return file_kind::tar;
    // A pickle begins with PROTO (0x80), a protocol-0/1 opcode, or FRAME; anything printable
    // could be protocol 0, so the other formats are recognised first by their signatures.
    if (starts_with(head, n, "version https://git-lfs")) return file_kind::git_lfs_pointer;
    std::size_t skip = 0;
    while (skip < n && (head[skip] == ' ' || head[skip] == '\n' || head[skip] == '\r' || head[skip] == '\t')) ++skip;
    if (n - skip >= 5 && (head[skip] == '<') &&
        (starts_with(head + skip, n - skip, "<!DOCTYPE") || starts_with(head + skip, n - skip, "<!doctype") ||
         starts_with(head + skip, n - skip, "<html") || starts_with(head + skip, n - skip, "<HTML") ||
         starts_with(head + skip, n - skip, "<?xml")))
        return file_kind::html;
    if (starts_with(head, n, "\x93NUMPY")) return file_kind::numpy_npy;
    if (starts_with(head, n, "\x1f\x8b")) return file_kind::gzip;
    if (starts_with(head, n, "7z\xBC\xAF\x27\x1C")) return file_kind::seven_zip;
    if (n >= 9 && head[8] == '{') {  // safetensors: u64 little-endian header length, then JSON
        std::uint64_t len = 0;
        for (int i = 7; i >= 0; --i) len = (len << 8) | head[i];
        if (size >= 8 && len <= size - 8) return file_kind::safetensors;  // len + 8 could wrap
    }
    return file_kind::pickle_or_legacy;
}

/// The error for a file ptload does not read, saying what it looks like.
inline error describe_unreadable(file_kind kind, const std::uint8_t*, std::size_t, std::uint64_t size) {
    const char* what = "not a torch checkpoint or pickle";
    switch (kind) {
    case file_kind::empty: what = "the file is empty"; break;
    case file_kind::pytorch1_preview: what = "a 2018 preview-release 'PYTORCH1' archive, which torch itself no longer reads"; break;
    case file_kind::html: what = "an HTML/XML page, not a checkpoint (a download that returned a web page?)"; break;
    case file_kind::git_lfs_pointer: what = "a git-lfs pointer file; fetch the real object with `git lfs pull`"; break;
    case file_kind::safetensors: what = "a safetensors file, not a torch.save checkpoint"; break;
    case file_kind::numpy_npy: what = "a numpy .npy file, not a torch.save checkpoint"; break;
    case file_kind::gzip: what = "a gzip-compressed file; decompress it first"; break;
    case file_kind::seven_zip: what = "a 7z archive; extract it first"; break;
    default: break;
    }
    // An empty file is input that ended before its first value, as pickle and torch.load say.
    return make_error(kind == file_kind::empty ? errc::truncated : errc::bad_format, 0,
                      std::string(what) + " (" + std::to_string(size) + " bytes)");
}

} // namespace v0
} // namespace ptload

#endif
