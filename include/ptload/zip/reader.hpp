// zip/reader.hpp: the zip container of torch >= 1.6 checkpoints (FORMAT.md section 2).
//
//     ptload::file_source src{"model.pt"};
//     auto zip = ptload::read_zip(src);                 // directory + every local header checked
//     if (!zip) return zip.err();
//     auto prefix = ptload::archive_prefix(*zip);       // "model/"
//     const ptload::zip_entry* pkl = zip->find(*prefix + "data.pkl");
//     auto bytes = ptload::read_entry(src, *pkl);       // stored: a copy; deflated: inflated
//
// read_zip trusts nothing it reads. It finds the end-of-central-directory record (EOCD) by
// scanning back over at most a 65535-byte comment, follows the zip64 locator when there is one,
// parses every central-directory record (with the zip64 extra field), then reads and compares
// every local header. It rejects, with errc::bad_zip, the offset of the offending structure and
// the entry name in error.context: offsets or sizes outside the file, an entry count that does
// not fit the directory size, multi-disk archives, encryption and patch flags, methods other
// than stored (0) and deflate (8), inconsistent zip64 fields, local headers that disagree with
// the central directory, duplicate names, NUL bytes in names, overlapping entries and entries
// overlapping (or placed after) the central directory. By default it also insists that every byte of the file
// belongs to a zip structure (local header, data, data descriptor, central directory, zip64
// records, EOCD and its comment), so nothing can hide between records; zip_limits::allow_gaps
// turns that last check off.
#ifndef PTLOAD_ZIP_READER_HPP
#define PTLOAD_ZIP_READER_HPP

#include "../detail/any_source.hpp"
#include "../detail/crc32.hpp"
#include "../detail/offset_order.hpp"
#include "../detail/read_window.hpp"
#include "../detail/sort.hpp"
#include "../detail/vector.hpp"
#include "../error.hpp"
#include "../memory.hpp"
#include "../policies/limits.hpp"
#include "../policies/source.hpp"
#include "../span.hpp"
#include "inflate.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ptload {
inline namespace v0 {

/// Bounds on what a zip may make ptload do. Exceeding an inflate bound is errc::limit_inflate;
/// everything else, the entry count included, is errc::bad_zip. The defaults are those of
/// default_limits (policies/limits.hpp); torch/archive.hpp fills them from the limits policy.
struct zip_limits {
    /// Most central-directory entries accepted. Whatever this says, an archive can never claim
    /// more entries than fit in its central directory (46 bytes each), which lies in the file.
    std::uint64_t max_entries = default_limits::max_zip_entries;
    /// Highest uncompressed:compressed ratio read_entry inflates (deflate itself tops out near
    /// 1032:1); 0 turns the check off. torch stores records uncompressed, so only re-zipped
    /// archives meet this.
    std::uint64_t max_inflate_ratio = default_limits::max_inflate_ratio;
    /// Entries of at most this many uncompressed bytes are exempt from the ratio check: a small
    /// run of zeros legitimately deflates far beyond 100:1, and max_inflate_total still bounds
    /// the total.
    std::uint64_t inflate_ratio_floor = 64 * 1024;
    /// Most uncompressed bytes of all deflated entries together; 0 means
    /// max_inflate_per_file_byte x the file size. read_zip checks the sum declared by the
    /// central directory, which bounds every later read_entry call without shared state,
    /// because inflate_raw produces exactly the declared size of each entry.
    std::uint64_t max_inflate_total = 0;
    /// The inflate total per byte of the file when max_inflate_total is 0 (both 0: no bound).
    std::uint64_t max_inflate_per_file_byte = default_limits::max_inflate_per_file_byte;
    /// Accept bytes that belong to no zip structure: data before the first local header, between
    /// records (other than data descriptors) or between the central directory and the EOCD.
    bool allow_gaps = false;
};

/// One file of the archive, as the central directory and its local header describe it.
struct zip_entry {
    std::string_view name;             ///< raw bytes of the name, e.g. "archive/data/0" (held by the archive)
    std::uint64_t header_offset = 0;   ///< local header
    std::uint64_t data_offset = 0;     ///< first data byte: header_offset + 30 + local name and extra lengths
    std::uint64_t compressed_size = 0; ///< bytes at data_offset
    std::uint64_t size = 0;            ///< uncompressed bytes
    std::uint32_t crc32 = 0;           ///< 0 may mean "not computed" (torch's set_crc32_options(False))
    std::uint16_t method = 0;          ///< 0 stored, 8 deflate
    std::uint16_t flags = 0;           ///< general-purpose bit flags of the central directory
};

class zip_archive;

namespace detail {
struct zip_archive_access;
} // namespace detail

/// The entries of a zip, in central-directory order, with lookup by name. The entries' names
/// are held by the archive (one block for all of them), so it moves but does not copy.
class zip_archive {
public:
    zip_archive() = default;
    zip_archive(zip_archive&&) noexcept = default;
    zip_archive& operator=(zip_archive&&) noexcept = default;
    zip_archive(const zip_archive&) = delete;
    zip_archive& operator=(const zip_archive&) = delete;

    span<const zip_entry> entries() const noexcept { return {entries_.data(), entries_.size()}; }
    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }

    /// The entry with exactly this name, or nullptr.
    ///     if (const zip_entry* e = zip.find("archive/data.pkl")) ...
    const zip_entry* find(std::string_view name) const noexcept {
        auto it = detail::lower_bound(by_name_.begin(), by_name_.end(), name,
                                   [this](std::uint32_t i, std::string_view n) { return entries_[i].name < n; });
        if (it == by_name_.end() || entries_[*it].name != name) return nullptr;
        return &entries_[*it];
    }

    /// Whether the archive has a zip64 end-of-central-directory record (torch always writes one).
    bool zip64() const noexcept { return zip64_; }
    std::uint64_t central_directory_offset() const noexcept { return cd_offset_; }
    std::uint64_t central_directory_size() const noexcept { return cd_size_; }

private:
    friend struct detail::zip_archive_access;
    detail::vector<zip_entry> entries_;
    detail::vector<char> names_;            ///< every entry's name, one after another
    detail::vector<std::uint32_t> by_name_;  ///< indices into entries_, sorted by name
    std::uint64_t cd_offset_ = 0;
    std::uint64_t cd_size_ = 0;
    bool zip64_ = false;
};

namespace detail {

struct zip_archive_access {
    static vector<zip_entry>& entries(zip_archive& a) noexcept { return a.entries_; }
    static vector<char>& names(zip_archive& a) noexcept { return a.names_; }
    static vector<std::uint32_t>& by_name(zip_archive& a) noexcept { return a.by_name_; }
    static void set_directory(zip_archive& a, std::uint64_t offset, std::uint64_t size, bool zip64) noexcept {
        a.cd_offset_ = offset;
        a.cd_size_ = size;
        a.zip64_ = zip64;
    }
};

// Signatures and fixed sizes from APPNOTE.TXT (sections 4.3.7 to 4.3.16).
constexpr std::uint32_t zip_local_sig = 0x04034b50;        // "PK\3\4"
constexpr std::uint32_t zip_central_sig = 0x02014b50;      // "PK\1\2"
constexpr std::uint32_t zip_eocd_sig = 0x06054b50;         // "PK\5\6"
constexpr std::uint32_t zip64_eocd_sig = 0x06064b50;       // "PK\6\6"
constexpr std::uint32_t zip64_locator_sig = 0x07064b50;    // "PK\6\7"
constexpr std::uint32_t zip_descriptor_sig = 0x08074b50;   // "PK\7\8"
constexpr std::size_t zip_local_size = 30;
constexpr std::size_t zip_central_size = 46;
constexpr std::size_t zip_eocd_size = 22;
constexpr std::size_t zip64_locator_size = 20;
constexpr std::size_t zip64_eocd_size = 56;
constexpr std::uint16_t zip64_extra_id = 0x0001;
constexpr std::uint32_t zip_max32 = 0xFFFFFFFFu;  // "see the zip64 record" in a 32-bit field
constexpr std::uint16_t zip_max16 = 0xFFFFu;      // the same in a 16-bit field

// Flags ptload refuses: the data would need a password or a base file to mean anything, and
// readers that ignore them see different bytes than the writer meant.
constexpr std::uint16_t zip_flag_encrypted = 0x0001;
constexpr std::uint16_t zip_flag_descriptor = 0x0008;
constexpr std::uint16_t zip_flag_patched = 0x0020;
constexpr std::uint16_t zip_flag_strong_encryption = 0x0040;
constexpr std::uint16_t zip_flag_masked_headers = 0x2000;

constexpr std::uint16_t le16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>(p[0] | p[1] << 8);
}
constexpr std::uint32_t le32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}
constexpr std::uint64_t le64(const std::uint8_t* p) noexcept {
    return std::uint64_t{le32(p)} | std::uint64_t{le32(p + 4)} << 32;
}

/// Whether [offset, offset + n) lies within a file of file_size bytes, without overflow.
constexpr bool zip_range_ok(std::uint64_t offset, std::uint64_t n, std::uint64_t file_size) noexcept {
    return offset <= file_size && n <= file_size - offset;
}

/// An entry name fit for an error message: control bytes (a NUL would cut a C string short)
/// become \xNN; everything else is kept as it is.
inline std::string zip_printable(std::string_view name) {
    std::string out;
    out.reserve(name.size());
    for (unsigned char c : name) {
        if (c >= 0x20 && c != 0x7F) {
            out += static_cast<char>(c);
            continue;
        }
        static constexpr char hex[] = "0123456789abcdef";
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

PTLOAD_COLD inline error_handoff zip_error(std::uint64_t offset, std::string_view message, std::string_view name = {}) {
    return hand_off(make_error(errc::bad_zip, offset, std::string(message), zip_printable(name)));
}
PTLOAD_COLD inline error_handoff zip_error(std::uint64_t offset, std::initializer_list<message_piece> message,
                                           std::string_view name = {}) {
    return zip_error(offset, message_text(message), name);
}

/// What a flag word has that ptload refuses, or nullptr.
inline const char* zip_refused_flag(std::uint16_t flags) noexcept {
    if (flags & zip_flag_encrypted) return "entry is encrypted (flag bit 0x1)";
    if (flags & zip_flag_patched) return "entry is compressed patched data (flag bit 0x20)";
    if (flags & zip_flag_strong_encryption) return "entry uses strong encryption (flag bit 0x40)";
    if (flags & zip_flag_masked_headers) return "local header values are masked (flag bit 0x2000)";
    return nullptr;
}

/// Bytes [offset, offset + n) of the source, in place when it exposes data() or in a read-ahead
/// window's buffer (until its next read), else read into scratch. The caller has checked that
/// the range lies within the source.
template <class Source>
result<const std::uint8_t*> zip_bytes(Source& src, std::uint64_t offset, std::uint64_t n,
                                      fill_later_vector<std::uint8_t>& scratch) {
    if (n > std::numeric_limits<std::size_t>::max())
        return zip_error(offset, {n, " bytes do not fit in memory on this platform"});
    if (const std::uint8_t* memory = memory_of(src)) return memory + offset;
    if constexpr (is_read_window<Source>::value)
        if (src.can_view(static_cast<std::size_t>(n))) return src.view(offset, static_cast<std::size_t>(n));
    scratch.resize(static_cast<std::size_t>(n));
    if (n) PTLOAD_TRY(src.read_at(offset, scratch.data(), static_cast<std::size_t>(n)));
    return static_cast<const std::uint8_t*>(scratch.data());
}

/// The values an extra field's zip64 record (ID 0x0001) replaces, in its fixed order. Only the
/// fields whose 32/16-bit counterpart holds the placeholder are present (APPNOTE 4.5.3).
struct zip64_fields {
    std::uint64_t size;
    std::uint64_t compressed_size;
    std::uint64_t header_offset;
    std::uint32_t disk_start;
};

/// Replaces the placeholders in `f` from the zip64 record in extra[0, n). `where` is the file
/// offset of the extra field, for errors.
inline status zip_apply_zip64(zip64_fields& f, bool need_size, bool need_compressed, bool need_offset,
                              bool need_disk, const std::uint8_t* extra, std::size_t n, std::uint64_t where,
                              std::string_view name) {
    if (!(need_size || need_compressed || need_offset || need_disk)) return {};
    const std::uint8_t* record = nullptr;
    std::size_t record_len = 0;
    for (std::size_t pos = 0; pos < n;) {
        if (n - pos < 4) return zip_error(where + pos, "extra field ends inside a field header", name);
        const std::uint16_t id = le16(extra + pos), len = le16(extra + pos + 2);
        if (len > n - pos - 4) return zip_error(where + pos, "extra field runs past its declared length", name);
        if (id == zip64_extra_id) {
            // Two zip64 records could be read differently by different readers.
            if (record) return zip_error(where + pos, "two zip64 extra fields", name);
            record = extra + pos + 4;
            record_len = len;
        }
        pos += 4 + std::size_t{len};
    }
    if (!record)
        return zip_error(where, "a size or offset holds 0xFFFFFFFF (or the disk 0xFFFF) but there is no zip64 extra field",
                         name);
    const std::size_t needed = (need_size + need_compressed + need_offset) * std::size_t{8} + need_disk * std::size_t{4};
    if (record_len < needed)
        return zip_error(where, {"zip64 extra field has ", record_len, " bytes, ", needed,
                                 " needed for the fields marked 0xFFFFFFFF"},
                         name);
    const std::uint8_t* p = record;
    if (need_size) {
        f.size = le64(p);
        p += 8;
    }
    if (need_compressed) {
        f.compressed_size = le64(p);
        p += 8;
    }
    if (need_offset) {
        f.header_offset = le64(p);
        p += 8;
    }
    if (need_disk) f.disk_start = le32(p);
    return {};
}

/// Where the central directory is, from the EOCD and the zip64 records.
struct zip_directory {
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
    std::uint64_t count = 0;
    std::uint64_t end_limit = 0;  ///< first byte after the directory's room: zip64 EOCD or EOCD
    bool zip64 = false;
};

template <class Source>
result<zip_directory> zip_find_directory(Source& src, const zip_limits& lim) {
    const std::uint64_t file_size = src.size();
    if (file_size < zip_eocd_size)
        return zip_error(0, {"a ", file_size,
                             "-byte file is too short for a zip end-of-central-directory record (22 bytes)"});

    // The EOCD is the last 22 bytes plus a comment of up to 65535 bytes. Scanning back from the
    // end, take the first signature whose comment length reaches exactly the end of the file.
    const std::uint64_t tail_len = file_size < zip_eocd_size + 0xFFFF ? file_size : std::uint64_t{zip_eocd_size + 0xFFFF};
    const std::uint64_t tail_offset = file_size - tail_len;
    fill_later_vector<std::uint8_t> tail_scratch;
    auto tail_r = zip_bytes(src, tail_offset, tail_len, tail_scratch);
    PTLOAD_TRY(tail_r);
    const std::uint8_t* tail = *tail_r;
    std::uint64_t eocd = file_size;
    for (std::uint64_t pos = tail_len - zip_eocd_size;; --pos) {
        if (le32(tail + pos) == zip_eocd_sig && le16(tail + pos + 20) == tail_len - pos - zip_eocd_size) {
            eocd = tail_offset + pos;
            break;
        }
        if (pos == 0) break;
    }
    if (eocd == file_size)
        return zip_error(tail_offset, {"no end-of-central-directory record in the last ", tail_len,
                                       " bytes (not a zip, or truncated)"});
    const std::uint8_t* e = tail + (eocd - tail_offset);
    const std::uint16_t disk = le16(e + 4), cd_disk = le16(e + 6);
    const std::uint16_t count_disk = le16(e + 8), count = le16(e + 10);
    const std::uint32_t cd_size = le32(e + 12), cd_offset = le32(e + 16);

    zip_directory dir;
    std::uint8_t loc[zip64_locator_size] = {};
    bool has_locator = false;
    if (eocd >= zip64_locator_size) {
        PTLOAD_TRY(src.read_at(eocd - zip64_locator_size, loc, sizeof loc));
        has_locator = le32(loc) == zip64_locator_sig;
    }
    if (!has_locator) {
        if (cd_size == zip_max32 || cd_offset == zip_max32 || disk == zip_max16 || cd_disk == zip_max16)
            return zip_error(eocd, "end-of-central-directory record holds zip64 placeholders (0xFFFF/0xFFFFFFFF) "
                                   "but there is no zip64 locator before it");
        if (disk != 0 || cd_disk != 0 || count_disk != count)
            return zip_error(eocd, "multi-disk (split) archives are not supported");
        // An entry count of 0xFFFF without zip64 is taken literally (Python writes exactly 65535
        // entries that way); the directory-size check below still has to agree with it.
        dir.offset = cd_offset;
        dir.size = cd_size;
        dir.count = count;
        dir.end_limit = eocd;
    } else {
        const std::uint64_t locator = eocd - zip64_locator_size;
        const std::uint32_t z64_disk = le32(loc + 4), total_disks = le32(loc + 16);
        const std::uint64_t z64 = le64(loc + 8);
        if (z64_disk != 0 || total_disks > 1)
            return zip_error(locator, "multi-disk (split) archives are not supported");
        if (z64 > locator || locator - z64 < zip64_eocd_size)
            return zip_error(locator, {"zip64 end-of-central-directory offset ", z64,
                                       " leaves no room for the record before the locator"});
        std::uint8_t r[zip64_eocd_size] = {};
        PTLOAD_TRY(src.read_at(z64, r, sizeof r));
        if (le32(r) != zip64_eocd_sig) return zip_error(z64, "bad zip64 end-of-central-directory signature");
        // The record size excludes its first 12 bytes; anything past 56 is the extensible data sector.
        const std::uint64_t record_size = le64(r + 4);
        if (record_size < zip64_eocd_size - 12 || record_size > locator - z64 - 12)
            return zip_error(z64, {"zip64 end-of-central-directory record size ", record_size,
                                   " does not fit before the locator"});
        if (!lim.allow_gaps && record_size != locator - z64 - 12)
            return zip_error(z64 + 12 + record_size,
                             {locator - z64 - 12 - record_size,
                              " bytes between the zip64 end-of-central-directory record and its locator belong to no "
                              "zip structure"});
        const std::uint32_t z_disk = le32(r + 16), z_cd_disk = le32(r + 20);
        const std::uint64_t z_count_disk = le64(r + 24), z_count = le64(r + 32);
        const std::uint64_t z_cd_size = le64(r + 40), z_cd_offset = le64(r + 48);
        if (z_disk != 0 || z_cd_disk != 0 || z_count_disk != z_count)
            return zip_error(z64, "multi-disk (split) archives are not supported");
        // A classic field must hold either the placeholder or the same value as its zip64 twin;
        // otherwise readers that ignore zip64 would see another directory.
        if ((count != zip_max16 && count != z_count) || (cd_size != zip_max32 && cd_size != z_cd_size) ||
            (cd_offset != zip_max32 && cd_offset != z_cd_offset) || (disk != zip_max16 && disk != 0) ||
            (cd_disk != zip_max16 && cd_disk != 0) || (count_disk != zip_max16 && count_disk != count))
            return zip_error(eocd, "end-of-central-directory record disagrees with the zip64 record");
        dir.offset = z_cd_offset;
        dir.size = z_cd_size;
        dir.count = z_count;
        dir.end_limit = z64;
        dir.zip64 = true;
    }

    if (dir.offset > dir.end_limit || dir.size > dir.end_limit - dir.offset)
        return zip_error(dir.end_limit, {"central directory [", dir.offset, ", +", dir.size,
                                         ") runs past the end-of-central-directory record at ", dir.end_limit});
    if (!lim.allow_gaps && dir.offset + dir.size != dir.end_limit)
        return zip_error(dir.offset + dir.size,
                         {dir.end_limit - dir.offset - dir.size,
                          " bytes between the central directory and the end-of-central-directory record belong to no "
                          "zip structure"});
    if (dir.count > dir.size / zip_central_size)
        return zip_error(dir.offset, {dir.count, " entries cannot fit in a central directory of ", dir.size,
                                      " bytes (46 bytes each at least)"});
    if (dir.count > lim.max_entries)
        return zip_error(dir.offset, {dir.count, " entries exceed zip_limits::max_entries (", lim.max_entries, ")"});
    // The name index and the layout check number entries with 32 bits.
    if (dir.count > std::numeric_limits<std::uint32_t>::max())
        return zip_error(dir.offset, {dir.count, " entries are more than ptload indexes (2^32 - 1)"});
    return dir;
}

/// Parses the central directory into the archive's entries and names (data_offset is filled in
/// later, from the local header).
template <class Source>
status zip_read_directory(Source& src, const zip_directory& dir, zip_archive& archive) {
    fill_later_vector<std::uint8_t> scratch;
    auto bytes_r = zip_bytes(src, dir.offset, dir.size, scratch);
    PTLOAD_TRY(bytes_r);
    const std::uint8_t* cd = *bytes_r;
    const std::uint64_t cd_size = dir.size;

    vector<zip_entry>& entries = zip_archive_access::entries(archive);
    entries.reserve(static_cast<std::size_t>(dir.count));  // <= cd_size / 46, bytes that exist
    // Names are gathered in one block; entries point into it once it is complete (it may move
    // while it fills). Their total is at most the directory's size.
    vector<char>& names = zip_archive_access::names(archive);
    names.reserve(static_cast<std::size_t>(cd_size));
    std::uint64_t pos = 0;
    for (std::uint64_t i = 0; i < dir.count; ++i) {
        const std::uint64_t at = dir.offset + pos;
        if (cd_size - pos < zip_central_size)
            return zip_error(at, {"central directory record ", i, " of ", dir.count,
                                  " runs past the end of the directory"});
        const std::uint8_t* p = cd + pos;
        if (le32(p) != zip_central_sig)
            return zip_error(at, {"bad central directory record signature (record ", i, " of ", dir.count, ")"});
        const std::uint16_t flags = le16(p + 8), method = le16(p + 10);
        const std::uint32_t crc = le32(p + 16), compressed32 = le32(p + 20), size32 = le32(p + 24);
        const std::uint16_t name_len = le16(p + 28), extra_len = le16(p + 30), comment_len = le16(p + 32);
        const std::uint16_t disk16 = le16(p + 34);
        const std::uint32_t offset32 = le32(p + 42);
        const std::uint64_t record_len = zip_central_size + std::uint64_t{name_len} + extra_len + comment_len;
        if (record_len > cd_size - pos)
            return zip_error(at, {"central directory record ", i,
                                  " (name, extra field and comment) runs past the end of the directory"});
        const std::string_view name(reinterpret_cast<const char*>(p + zip_central_size), name_len);
        if (name.find('\0') != std::string_view::npos) return zip_error(at, "entry name contains a NUL byte", name);

        zip64_fields f{size32, compressed32, offset32, disk16};
        PTLOAD_TRY(zip_apply_zip64(f, size32 == zip_max32, compressed32 == zip_max32, offset32 == zip_max32,
                                   disk16 == zip_max16, p + zip_central_size + name_len, extra_len,
                                   at + zip_central_size + name_len, name));
        if (f.disk_start != 0) return zip_error(at, "entry starts on another disk (split archive)", name);
        if (const char* why = zip_refused_flag(flags)) return zip_error(at, why, name);
        if (method != 0 && method != 8)
            return zip_error(at, {"compression method ", method, " is not supported (only 0, stored, and 8, deflate)"},
                             name);
        if (method == 0 && f.compressed_size != f.size)
            return zip_error(at, {"stored entry has compressed size ", f.compressed_size, " but size ", f.size},
                             name);

        zip_entry e;
        e.name = std::string_view(nullptr, name.size());  // its place in `names` is set below
        names.insert(names.end(), name.data(), name.data() + name.size());
        e.header_offset = f.header_offset;
        e.data_offset = 0;
        e.compressed_size = f.compressed_size;
        e.size = f.size;
        e.crc32 = crc;
        e.method = method;
        e.flags = flags;
        entries.push_back(std::move(e));
        pos += record_len;
    }
    if (pos != cd_size)
        return zip_error(dir.offset + pos, {cd_size - pos, " bytes of the central directory follow its ", dir.count,
                                            " declared entries"});
    const char* next = names.data();
    for (zip_entry& e : entries) {
        e.name = std::string_view(next, e.name.size());
        next += e.name.size();
    }
    return {};
}

/// Reads the local header of e, checks it against the central directory, and sets data_offset.
template <class Source>
status zip_check_local_header(Source& src, zip_entry& e, fill_later_vector<std::uint8_t>& scratch) {
    const std::uint64_t file_size = src.size(), at = e.header_offset;
    if (!zip_range_ok(at, zip_local_size, file_size))
        return zip_error(at, {"local header offset ", at, " runs past the end of the ", file_size, "-byte file"},
                         e.name);
    auto header_r = zip_bytes(src, at, zip_local_size, scratch);
    PTLOAD_TRY(header_r);
    const std::uint8_t* h = *header_r;  // read out before the next zip_bytes, which may reuse its buffer
    if (le32(h) != zip_local_sig) return zip_error(at, "bad local header signature", e.name);
    const std::uint16_t flags = le16(h + 6), method = le16(h + 8);
    const std::uint32_t crc = le32(h + 14), compressed32 = le32(h + 18), size32 = le32(h + 22);
    const std::uint16_t name_len = le16(h + 26), extra_len = le16(h + 28);
    const std::uint64_t vars = std::uint64_t{name_len} + extra_len;
    if (!zip_range_ok(at + zip_local_size, vars, file_size))
        return zip_error(at, "local header name and extra field run past the end of the file", e.name);
    auto bytes_r = zip_bytes(src, at + zip_local_size, vars, scratch);
    PTLOAD_TRY(bytes_r);
    const std::uint8_t* name = *bytes_r;

    // Readers that walk local headers (and scanners) would otherwise see another archive.
    if (name_len != e.name.size() || (name_len && std::memcmp(name, e.name.data(), name_len) != 0))
        return zip_error(at, {"local header name \"",
                              zip_printable(std::string_view(reinterpret_cast<const char*>(name), name_len)),
                              "\" differs from the central directory"},
                         e.name);
    if (const char* why = zip_refused_flag(flags)) return zip_error(at, why, e.name);
    if (method != e.method)
        return zip_error(at, {"local header says compression method ", method, ", the central directory ", e.method},
                         e.name);
    // With bit 3 the local CRC and sizes are placeholders (torch writes 0) and the real values
    // follow the data; without it, any value present must agree with the central directory.
    if (!(flags & zip_flag_descriptor)) {
        zip64_fields f{size32, compressed32, 0, 0};
        // A local zip64 record holds both sizes, uncompressed first (APPNOTE 4.5.3).
        const bool wide = size32 == zip_max32 || compressed32 == zip_max32;
        PTLOAD_TRY(zip_apply_zip64(f, wide, wide, false, false, name + name_len, extra_len,
                                   at + zip_local_size + name_len, e.name));
        if (crc != 0 && crc != e.crc32)
            return zip_error(at, "local header CRC-32 differs from the central directory", e.name);
        if ((f.size != 0 && f.size != e.size) || (f.compressed_size != 0 && f.compressed_size != e.compressed_size))
            return zip_error(at, {"local header sizes (", f.compressed_size, " compressed, ", f.size,
                                  ") differ from the central directory (", e.compressed_size, ", ", e.size, ")"},
                             e.name);
    }
    e.data_offset = at + zip_local_size + vars;
    if (!zip_range_ok(e.data_offset, e.compressed_size, file_size))
        return zip_error(e.data_offset, {"entry data of ", e.compressed_size, " bytes runs past the end of the ",
                                         file_size, "-byte file"},
                         e.name);
    return {};
}

/// Whether exactly the `room` bytes at `at` are a data descriptor of e that agrees with the
/// central directory. Its forms: optional signature, CRC-32, then the compressed and uncompressed
/// sizes as 4 or 8 bytes each (12, 16, 20 or 24 bytes). Read through the walk's window.
template <class Source>
result<bool> zip_is_descriptor(read_window<Source>& src, const zip_entry& e, std::uint64_t at, std::uint64_t room) {
    if (room != 12 && room != 16 && room != 20 && room != 24) return false;
    auto in_window = src.view(at, static_cast<std::size_t>(room));
    PTLOAD_TRY(in_window);
    const std::uint8_t* d = *in_window;
    const bool signed_form = room == 16 || room == 24;
    if (signed_form && le32(d) != zip_descriptor_sig) return false;
    const std::uint8_t* p = d + (signed_form ? 4 : 0);
    if (le32(p) != e.crc32) return false;
    if (room == 12 || room == 16) return le32(p + 4) == e.compressed_size && le32(p + 8) == e.size;
    return le64(p + 4) == e.compressed_size && le64(p + 12) == e.size;
}

/// Explains a gap after an entry whose flags promise a data descriptor.
inline std::string zip_descriptor_hint(const zip_entry* prev) {
    if (!prev || !(prev->flags & zip_flag_descriptor)) return {};
    return " (not a data descriptor that agrees with the central directory)";
}

/// The entries in the order of their local headers in the file.
inline vector<offset_item> zip_file_order(const vector<zip_entry>& entries) {
    vector<offset_item> order(entries.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = {entries[i].header_offset, static_cast<std::uint32_t>(i)};
    sort_by_offset(order);
    return order;
}

/// Overlap (always) and, unless allow_gaps, full coverage: from byte 0, each local header, its
/// data and its data descriptor follow one another up to the central directory. Fed the entries
/// in file order, around the reading of each one's local header (which sets data_offset), so
/// that one forward walk of the file serves both: `before` checks what lies between the last
/// entry and this one's header, `after` where this entry's data ends.
class zip_layout_check {
public:
    zip_layout_check(const zip_directory& dir, const zip_limits& lim) noexcept : dir_(dir), lim_(lim) {}

    template <class Source>
    status before(read_window<Source>& src, const zip_entry& e) {
        // One that runs past the end of the file is the local header check's to report.
        if (!zip_range_ok(e.header_offset, zip_local_size, src.size())) return {};
        // Local headers precede the directory; one after it could only hide in the comment.
        if (e.header_offset >= dir_.offset + dir_.size)
            return zip_error(e.header_offset, "entry lies after the central directory", e.name);
        if (e.header_offset >= dir_.offset)
            return zip_error(e.header_offset, {"entry at ", e.header_offset, " overlaps the central directory"},
                             e.name);
        if (prev_ && e.header_offset < cursor_)
            return zip_error(e.header_offset, {"entry at ", e.header_offset, " overlaps entry \"",
                                               zip_printable(prev_->name), "\" ending at ", cursor_},
                             e.name);
        if (lim_.allow_gaps || e.header_offset == cursor_) return {};
        auto desc = prev_ && (prev_->flags & zip_flag_descriptor)
                        ? zip_is_descriptor(src, *prev_, cursor_, e.header_offset - cursor_)
                        : result<bool>(false);
        PTLOAD_TRY(desc);
        if (!*desc)
            return zip_error(cursor_,
                             {e.header_offset - cursor_,
                              prev_ ? " bytes after entry \"" + zip_printable(prev_->name) + "\""
                                    : std::string(" bytes before the first local header"),
                              " belong to no zip structure", zip_descriptor_hint(prev_)},
                             e.name);
        return {};
    }

    status after(const zip_entry& e) {
        const std::uint64_t end = e.data_offset + e.compressed_size;
        if (end > dir_.offset)
            return zip_error(e.header_offset, {"entry [", e.header_offset, ", ", end, ") overlaps the central directory"},
                             e.name);
        cursor_ = end;
        prev_ = &e;
        return {};
    }

    /// After the last entry: what lies between it and the central directory.
    template <class Source>
    status finish(read_window<Source>& src) {
        if (lim_.allow_gaps || cursor_ == dir_.offset) return {};
        // Every entry ends by dir_.offset (checked in after), so cursor_ < dir_.offset here.
        auto desc = prev_ && (prev_->flags & zip_flag_descriptor)
                        ? zip_is_descriptor(src, *prev_, cursor_, dir_.offset - cursor_)
                        : result<bool>(false);
        PTLOAD_TRY(desc);
        if (!*desc)
            return zip_error(cursor_, {dir_.offset - cursor_,
                                       " bytes before the central directory belong to no zip structure",
                                       zip_descriptor_hint(prev_)},
                             prev_ ? prev_->name : std::string_view());
        return {};
    }

private:
    const zip_directory& dir_;
    const zip_limits& lim_;
    std::uint64_t cursor_ = 0;  // end of what is accounted for so far
    const zip_entry* prev_ = nullptr;
};

/// The inflate total of zip_limits, with 0 meaning max_inflate_per_file_byte x the file size.
inline std::uint64_t zip_inflate_total_cap(const zip_limits& lim, std::uint64_t file_size) noexcept {
    if (lim.max_inflate_total) return lim.max_inflate_total;
    const std::uint64_t per = lim.max_inflate_per_file_byte;
    if (per == 0 || file_size > std::numeric_limits<std::uint64_t>::max() / per)
        return std::numeric_limits<std::uint64_t>::max();
    return file_size * per;
}

} // namespace detail

/// Reads and checks the directory of a zip archive: the EOCD (and zip64 records), every
/// central-directory entry and every local header. No entry data is read.
///     ptload::memory_source src{buf.data(), buf.size()};
///     auto zip = ptload::read_zip(src);
///     if (!zip) std::puts(zip.err().what().c_str());
template <class Source>
result<zip_archive> read_zip(Source& src, const zip_limits& lim = {}) {
    static_assert(check_source<Source>(), "read_zip needs a byte source (see ptload/policies/source.hpp)");
    auto dir_r = detail::zip_find_directory(src, lim);
    PTLOAD_TRY(dir_r);
    const detail::zip_directory& dir = *dir_r;
    zip_archive archive;
    PTLOAD_TRY(detail::zip_read_directory(src, dir, archive));
    detail::vector<zip_entry>& entries = detail::zip_archive_access::entries(archive);

    // Sorted name index: lookups, and duplicates sit next to each other. Readers disagree on
    // which duplicate wins (Python the last, miniz either), so there must be none.
    detail::vector<std::uint32_t>& by_name = detail::zip_archive_access::by_name(archive);
    by_name.resize(entries.size());
    for (std::size_t i = 0; i < by_name.size(); ++i) by_name[i] = static_cast<std::uint32_t>(i);
    // Equal names keep their directory order (the index as a tie-break: a stable sort would
    // need a buffer).
    auto by_text = [&](std::uint32_t a, std::uint32_t b) {
        const int c = entries[a].name.compare(entries[b].name);
        return c < 0 || (c == 0 && a < b);
    };
    if (!detail::is_sorted(by_name.begin(), by_name.end(), by_text)) detail::sort(by_name.begin(), by_name.end(), by_text);
    for (std::size_t i = 1; i < by_name.size(); ++i)
        if (entries[by_name[i]].name == entries[by_name[i - 1]].name)
            return detail::zip_error(entries[by_name[i]].header_offset, "duplicate entry name",
                                     entries[by_name[i]].name);

    std::uint64_t inflate_total = 0;
    const std::uint64_t inflate_cap = detail::zip_inflate_total_cap(lim, src.size());
    for (zip_entry& e : entries) {
        if (e.method == 8) {
            // inflate_total <= inflate_cap holds throughout, so the subtraction cannot wrap.
            if (e.size > inflate_cap - inflate_total)
                return detail::failure(errc::limit_inflate, e.header_offset,
                                       {"deflated entries would inflate to more than zip_limits::max_inflate_total (",
                                        inflate_cap, " bytes)"},
                                       e.name);
            inflate_total += e.size;
        }
    }

    // Local headers, and data descriptors between entries, are read in file order through a
    // read-ahead window, in one walk: one read for many small records rather than a seek and a
    // read or two each, and each byte of the file read once. In-memory sources are read in
    // place (the window passes them through).
    const detail::vector<detail::offset_item> by_offset = detail::zip_file_order(entries);
    detail::read_window<Source> window(src);
    detail::fill_later_vector<std::uint8_t> scratch;
    detail::zip_layout_check layout(dir, lim);
    for (const detail::offset_item& item : by_offset) {
        zip_entry& e = entries[item.index];
        PTLOAD_TRY(layout.before(window, e));
        PTLOAD_TRY(detail::zip_check_local_header(window, e, scratch));
        PTLOAD_TRY(layout.after(e));
    }
    PTLOAD_TRY(layout.finish(window));
    detail::zip_archive_access::set_directory(archive, dir.offset, dir.size, dir.zip64);
    return archive;
}

namespace detail {
/// read_entry into any vector of bytes (the loader's come from the memory functions).
template <class Bytes, class Source>
result<Bytes> read_entry_as(Source& src, const zip_entry& e, const zip_limits& lim, bool check_crc) {
    const std::uint64_t file_size = src.size();
    // The entry may not come from read_zip; it must not make us allocate for bytes not in the file.
    if (!detail::zip_range_ok(e.data_offset, e.compressed_size, file_size))
        return detail::zip_error(e.data_offset, {"entry data of ", e.compressed_size,
                                                 " bytes runs past the end of the ", file_size, "-byte file"},
                                 e.name);
    if (const char* why = detail::zip_refused_flag(e.flags)) return detail::zip_error(e.header_offset, why, e.name);
    if (e.size > std::numeric_limits<std::size_t>::max())
        return detail::zip_error(e.header_offset, {"entry of ", e.size,
                                                   " bytes does not fit in memory on this platform"},
                                 e.name);

    Bytes out;
    if (e.method == 0) {
        if (e.compressed_size != e.size)
            return detail::zip_error(e.header_offset, {"stored entry has compressed size ", e.compressed_size,
                                                       " but size ", e.size},
                                     e.name);
        out.resize(static_cast<std::size_t>(e.size));
        if (!out.empty()) PTLOAD_TRY(src.read_at(e.data_offset, reinterpret_cast<std::uint8_t*>(out.data()), out.size()));
    } else if (e.method == 8) {
        // A zip bomb is refused before anything is allocated: both bounds use declared sizes,
        // and inflate_raw never produces more (or less) than the declared size.
        const bool over_ratio = lim.max_inflate_ratio != 0 && e.size > lim.inflate_ratio_floor &&
                                (e.compressed_size == 0 ||
                                 (e.compressed_size <= std::numeric_limits<std::uint64_t>::max() / lim.max_inflate_ratio &&
                                  e.size > e.compressed_size * lim.max_inflate_ratio));
        if (over_ratio)
            return detail::failure(errc::limit_inflate, e.header_offset,
                                   {"compression ratio of ", e.size, " bytes from ", e.compressed_size,
                                    " exceeds zip_limits::max_inflate_ratio (", lim.max_inflate_ratio, ":1)"},
                                   e.name);
        const std::uint64_t cap = detail::zip_inflate_total_cap(lim, file_size);
        if (e.size > cap)
            return detail::failure(errc::limit_inflate, e.header_offset,
                                   {"inflated size ", e.size, " exceeds zip_limits::max_inflate_total (", cap,
                                    " bytes)"},
                                   e.name);
        fill_later_vector<std::uint8_t> scratch;
        auto in_r = detail::zip_bytes(src, e.data_offset, e.compressed_size, scratch);
        PTLOAD_TRY(in_r);
        out.resize(static_cast<std::size_t>(e.size));
        auto st = inflate_raw(*in_r, static_cast<std::size_t>(e.compressed_size),
                              reinterpret_cast<std::uint8_t*>(out.data()), out.size());
        if (!st) {
            error err = std::move(st).err();
            err.offset += e.data_offset;
            err.context = std::string(e.name);
            return err;
        }
    } else {
        return detail::zip_error(e.header_offset, {"compression method ", e.method,
                                                   " is not supported (only 0, stored, and 8, deflate)"},
                                 e.name);
    }

    if (check_crc && e.crc32 != 0) {
        const std::uint32_t actual = detail::crc32(reinterpret_cast<const std::uint8_t*>(out.data()), out.size());
        if (actual != e.crc32) {
            char msg[80];
            std::snprintf(msg, sizeof msg, "CRC-32 mismatch: the central directory says %08x, the data has %08x",
                          static_cast<unsigned>(e.crc32), static_cast<unsigned>(actual));
            return detail::zip_error(e.data_offset, msg, e.name);
        }
    }
    return out;
}

/// The top-level folder of archive_prefix, as a view of the first entry's name.
inline result<std::string_view> archive_folder(const zip_archive& archive) {
    if (archive.empty()) return detail::zip_error(no_offset, "an empty archive has no top-level folder");
    const span<const zip_entry> entries = archive.entries();
    const std::size_t slash = entries[0].name.find('/');
    if (slash == std::string_view::npos)
        return detail::zip_error(entries[0].header_offset, "entry name has no '/' (expected <folder>/<record>)",
                                 entries[0].name);
    const std::string_view prefix = entries[0].name.substr(0, slash + 1);
    for (const zip_entry& e : entries) {
        if (e.name.compare(0, prefix.size(), prefix) == 0) continue;
        if (e.name.find('/') == std::string_view::npos)
            return detail::zip_error(e.header_offset, "entry name has no '/' (expected <folder>/<record>)", e.name);
        return detail::zip_error(e.header_offset,
                                 {"entry is outside the top-level folder \"", detail::zip_printable(prefix),
                                  "\" of the first entry"},
                                 e.name);
    }
    return prefix;
}
} // namespace detail

/// The bytes of one entry: stored entries are copied, deflated ones inflated. With check_crc,
/// a non-zero CRC-32 must match (torch writes 0 when CRC computation is off; 0 is not checked).
/// A deflated entry is refused (errc::limit_inflate) when its ratio exceeds
/// lim.max_inflate_ratio (above lim.inflate_ratio_floor) or its size lim.max_inflate_total.
///     auto bytes = ptload::read_entry(src, *zip->find("archive/data.pkl"));
template <class Source>
result<std::vector<std::uint8_t>> read_entry(Source& src, const zip_entry& e, const zip_limits& lim = {},
                                             bool check_crc = true) {
    static_assert(check_source<Source>(), "read_entry needs a byte source (see ptload/policies/source.hpp)");
    return detail::read_entry_as<std::vector<std::uint8_t>>(src, e, lim, check_crc);
}

/// The single top-level folder every entry name starts with, '/' included ("archive/"): the text
/// up to the first '/' of the first entry. Errors (bad_zip) if the archive is empty, an entry
/// has no '/', or entries disagree (FORMAT.md 2.2; what to do with the prefix is the caller's).
///     auto prefix = ptload::archive_prefix(*zip);   // then zip->find(*prefix + "data.pkl")
inline result<std::string> archive_prefix(const zip_archive& archive) {
    auto folder = detail::archive_folder(archive);
    if (!folder) return std::move(folder).pass_error();
    return std::string(*folder);
}

} // namespace v0
} // namespace ptload

#endif
