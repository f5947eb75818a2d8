// torch/detect.hpp: which format a file is, by structure (FORMAT.md 0), and a clear word about
// files that are none of them.
#ifndef PTLOAD_TORCH_DETECT_HPP
#define PTLOAD_TORCH_DETECT_HPP

#include "../error.hpp"

#include <cctype>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ptload {
inline namespace v0 {

enum class file_kind : std::uint8_t {
    empty, zip, tar, pickle_or_legacy, pytorch1_preview, html, git_lfs_pointer, safetensors, numpy_npy, gzip,
    seven_zip, gguf, onnx, unknown
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
    // GGUF: magic, u32 version, u64 tensor count, u64 key count. 'G' is also BINFLOAT, but a
    // pickle of one float is 10 bytes and no torch checkpoint starts with it.
    if (starts_with(head, n, "GGUF") && n >= 24 && head[4] >= 1 && head[4] <= 3 && !head[5] && !head[6] && !head[7])
        return file_kind::gguf;
    // ONNX: a protobuf ModelProto; field 1 (ir_version, a small varint) comes first, then a
    // string or varint field. 0x08 is no pickle opcode, so this never hides a pickle.
    if (n >= 3 && head[0] == 0x08 && head[1] >= 1 && head[1] <= 0x3f &&
        (head[2] == 0x12 || head[2] == 0x1a || head[2] == 0x22 || head[2] == 0x28 || head[2] == 0x32 ||
         head[2] == 0x3a || head[2] == 0x42))
        return file_kind::onnx;
    if (n >= 9 && head[8] == '{') {  // safetensors: u64 little-endian header length, then JSON
        std::uint64_t len = 0;
        for (int i = 7; i >= 0; --i) len = (len << 8) | head[i];
        if (size >= 8 && len <= size - 8) return file_kind::safetensors;  // len + 8 could wrap
    }
    return file_kind::pickle_or_legacy;
}

namespace detail {

/// What a file of a kind ptload does not read is, and what to do with it.
inline const char* foreign_phrase(file_kind kind) {
    switch (kind) {
    case file_kind::empty: return "an empty file";
    case file_kind::pytorch1_preview: return "a 2018 preview-release 'PYTORCH1' archive, which torch itself no longer reads";
    case file_kind::html: return "an HTML/XML page, not a torch checkpoint (a download that returned a web page?)";
    case file_kind::git_lfs_pointer: return "a git-lfs pointer, not a torch checkpoint (fetch the real file with `git lfs pull`)";
    case file_kind::safetensors: return "a safetensors file, not a torch checkpoint (load it with a safetensors reader)";
    case file_kind::numpy_npy: return "a numpy .npy file, not a torch checkpoint (load it with numpy.load)";
    case file_kind::gzip: return "a gzip-compressed file (decompress it first)";
    case file_kind::seven_zip: return "a 7z archive (extract it first)";
    case file_kind::gguf: return "a GGUF file (llama.cpp), not a torch checkpoint (load it with a GGUF reader)";
    case file_kind::onnx: return "an ONNX model, not a torch checkpoint (load it with onnx or onnxruntime)";
    default: return "not a torch checkpoint or pickle";
    }
}

/// Text as a person writes it: printable ASCII, tabs and line ends, or UTF-8 sequences. A cut
/// sequence at the end of the head is allowed (the head is the file's first bytes, not all).
inline bool looks_like_text(const std::uint8_t* h, std::size_t n) {
    for (std::size_t i = 0; i < n;) {
        std::uint8_t c = h[i];
        if (c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c < 0x7f)) {
            ++i;
            continue;
        }
        std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || c == 0xC0 || c == 0xC1) return false;
        for (std::size_t k = 1; k < len; ++k) {
            if (i + k == n) return true;
            if ((h[i + k] & 0xC0) != 0x80) return false;
        }
        i += len;
    }
    return n > 0;
}

/// A first line a protocol-0 pickle could begin with: a MARK or an empty container, or an
/// opcode letter with the argument it takes on its line ("I12", "ccollections", "S'a'").
inline bool looks_like_protocol0(const std::uint8_t* h, std::size_t n) {
    if (n == 0) return false;
    auto in = [](const char* set, std::uint8_t c) { return c != 0 && std::strchr(set, c) != nullptr; };
    const char first = static_cast<char>(h[0]);
    if (in("(}])", h[0])) return true;
    if (first == 'N') return n == 1 || in("(.}])NIJLFSVcpg0", h[1]);  // None, then the next opcode
    std::size_t end = 1;
    while (end < n && h[end] != '\n') ++end;
    if (first == 'S') return n > 1 && (h[1] == '\'' || h[1] == '"');
    auto all = [&](const char* allowed) {
        for (std::size_t i = 1; i < end; ++i)
            if (!(std::isalnum(h[i]) || in(allowed, h[i]))) return false;
        return end > 1;
    };
    if (first == 'c' || first == 'i') return all("._");       // GLOBAL, INST: module names
    if (in("IJLFpgV", h[0])) return all(".+-_");  // numbers (possibly longer than the head), memo keys
    return false;
}

/// The name of the first entry of a zip whose first local header is in the head; empty if not.
inline std::string_view first_zip_entry(const std::uint8_t* h, std::size_t n) {
    if (n < 30) return {};
    std::size_t length = static_cast<std::size_t>(h[26] | (h[27] << 8));
    if (30 + length > n) return {};
    return {reinterpret_cast<const char*>(h + 30), length};
}

} // namespace detail

/// The error for a file ptload does not read, saying what it looks like.
inline error describe_unreadable(file_kind kind, const std::uint8_t*, std::size_t, std::uint64_t size) {
    // An empty file is input that ended before its first value, as pickle and torch.load say.
    if (kind == file_kind::empty) return make_error(errc::truncated, 0, "the file is empty (0 bytes)");
    return make_error(errc::bad_format, 0, std::string(detail::foreign_phrase(kind)) + "; " + std::to_string(size) + " bytes");
}

/// What a file is, in words, when its first bytes (up to 512) show it is no torch checkpoint or
/// pickle: "a safetensors file, not a torch checkpoint (load it with a safetensors reader)".
/// Empty when it may be one, damaged, whose load error says more. Besides the kinds detect()
/// names, this names text and zips of other kinds (numpy .npz, a zipped folder), which detect()
/// leaves to the loaders because a protocol-0 pickle is text and a torch archive is a zip: ask
/// it after a load failed:
///     std::string what = ptload::identify_foreign(head, n, size);
///     std::cerr << path << (what.empty() ? ": " + doc.err().what() : " is " + what) << "\n";
inline std::string identify_foreign(const std::uint8_t* head, std::size_t n, std::uint64_t size) {
    const file_kind kind = detect(head, n, size);
    if (kind == file_kind::zip) {
        std::string_view first = detail::first_zip_entry(head, n);
        if (first.empty()) return {};
        std::string shown(first.substr(0, 60));
        if (first.find('/') == std::string_view::npos) {
            if (first.size() > 4 && first.substr(first.size() - 4) == ".npy")
                return "a numpy .npz archive (arrays saved with numpy.savez), not a torch checkpoint (load it with numpy.load)";
            return "a zip archive of another kind (its first entry is '" + shown +
                   "'; a torch checkpoint's entries all sit in one folder, e.g. 'archive/data.pkl')";
        }
        if (first.back() == '/')  // torch never writes folder entries
            return "a zip of a folder ('" + shown + "'), not a torch checkpoint (give a torch.save file)";
        return {};
    }
    if (kind == file_kind::tar) return {};
    if (kind == file_kind::pickle_or_legacy) {
        using detail::starts_with;
        if (starts_with(head, n, "BZh")) return "a bzip2-compressed file (decompress it first)";
        if (starts_with(head, n, "\xFD" "7zXZ")) return "an xz-compressed file (decompress it first)";
        if (starts_with(head, n, "\x28\xB5\x2F\xFD")) return "a zstd-compressed file (decompress it first)";
        if (starts_with(head, n, "\x89HDF")) return "an HDF5 file (Keras .h5?), not a torch checkpoint";
        if (starts_with(head, n, "\x7f" "ELF")) return "an executable (ELF), not a torch checkpoint";
        if (detail::looks_like_text(head, n) && !detail::looks_like_protocol0(head, n)) {
            std::size_t end = 0;
            while (end < n && end < 40 && head[end] != '\n' && head[end] != '\r') ++end;
            const bool cut = end < n && head[end] != '\n' && head[end] != '\r';
            while (cut && end > 0 && (head[end] & 0xC0) == 0x80) --end;  // not inside a UTF-8 sequence
            std::string line(reinterpret_cast<const char*>(head), end);
            return "a text file, not a torch checkpoint (it begins \"" + line + (cut ? "...\")" : "\")");
        }
        return {};
    }
    return detail::foreign_phrase(kind);
}

} // namespace v0
} // namespace ptload

#endif
