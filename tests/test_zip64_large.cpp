// A real zip64 checkpoint over 4 GiB, written as a sparse file: almost no memory or disk.
//
// The archive is laid out byte for byte the way torch 1.13's writer (miniz, see FORMAT.md 2.3)
// lays out a file that size: local headers with flags 0x0808 and zero CRC/sizes, an 'FB' extra
// field padding every record's data to a multiple of 64, data descriptors (24 bytes when the
// record needs zip64), a local zip64 extra of 16 bytes (size, then compressed size, which miniz
// has not computed yet and writes as 0) for the big record and of 8 bytes (the header offset)
// for records whose local header lies at or beyond 4 GiB, central-directory entries with
// 0xFFFFFFFF placeholders and the standard zip64 extra, then the zip64 end-of-central-directory
// record, its locator and a classic EOCD whose directory offset is 0xFFFFFFFF.
//
//   offset         bytes  what
//   0x0                64  local header "big/data/1" (zip64 extra 16 bytes, FB extra with 0 filler)
//   0x40      4 GiB + 64  its data: zeros, a hole in the file; no pickle references this record
//   0x100000080        24  its data descriptor (64-bit sizes)
//   0x100000098       104  local header "big/data.pkl" (zip64 extra with the offset, 46 filler bytes)
//   0x100000100       166  data.pkl: {'w': tensor([[1., 2.], [3., 4.]])}, the exact bytes torch 1.13 pickles
//   0x1000001a6        24  its data descriptor
//   0x1000001be        66  local header "big/data/0" (10 filler bytes)
//   0x100000200        16  data/0: float32 1, 2, 3, 4
//   0x100000210        24  its data descriptor
//   0x100000228        88  local header "big/version" (31 filler bytes)
//   0x100000280         2  "3\n"
//   0x100000282        24  its data descriptor
//   0x10000029a       283  central directory (4 entries), itself beyond 4 GiB
//   0x1000003b5        56  zip64 end-of-central-directory record
//   0x1000003ed        20  zip64 end-of-central-directory locator
//   0x100000401        22  end-of-central-directory record (directory offset 0xFFFFFFFF)
//   0x100000417            end of file: 4294968343 bytes, a few KiB of them allocated
//
// Checked against real torch while writing this test: with PTLOAD_ZIP64_KEEP=1 in the environment
// the file is kept (its path is printed), and
//     /usr/bin/python3 -c "import torch; print(torch.load('<path>'))"     # torch 1.13.0
// prints {'w': tensor([[1., 2.], [3., 4.]])}; Python's zipfile also opens it, lists the same
// offsets and sizes, and zipfile.ZipFile(path).testzip() finds every CRC-32 correct (the
// 4 GiB record's included). The layout was also compared field by field (headers, extra fields,
// descriptors, central directory, zip64 records) with a file torch 1.13 really wrote,
//     torch.save({'b': torch.zeros(2**30 + 16), 'w': torch.tensor([[1., 2.], [3., 4.]])}, 'real.pt')
// whose big record has the same size and the same CRC-32, 0x1dcdf777.
//
// The test skips itself (a MESSAGE, no failure) where the platform or filesystem cannot hold a
// sparse file over 4 GiB, or a write fails (no space, quota, file size limit).
#include <doctest/doctest.h>
#include <ptload/all.hpp>  // first: in the single-include build the two below are then no-ops
#include <ptload/detail/crc32.hpp>
#include <ptload/zip/reader.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#define PTLOAD_TEST_SPARSE 1
#else
#define PTLOAD_TEST_SPARSE 0
#endif

namespace {

constexpr std::uint64_t big_size = (std::uint64_t{1} << 32) + 64;  // 4 GiB + 64 bytes of zeros
constexpr std::uint32_t big_crc = 0x1dcdf777u;
// big_crc was computed once with Python's zlib over real zeros:
//     c = 0
//     for _ in range(64): c = zlib.crc32(bytes(1 << 26), c)
//     print(hex(zlib.crc32(bytes(64), c)))            # 0x1dcdf777
// and the test recomputes it below with crc32_of_zeros (GF(2) polynomial arithmetic).

// --- CRC-32 of n zero bytes without touching n bytes -------------------------------------
//
// In the reflected representation zip's CRC uses (bit 31 is x^0, polynomial 0xEDB88320),
// feeding one zero byte multiplies the CRC register by x^8 modulo P. So n zero bytes turn the
// initial register 0xFFFFFFFF into 0xFFFFFFFF * x^(8n) mod P, and the CRC is its complement.
// (This is the arithmetic behind zlib's crc32_combine.)

/// a * b modulo P.
constexpr std::uint32_t crc_multmodp(std::uint32_t a, std::uint32_t b) noexcept {
    std::uint32_t p = 0;
    for (std::uint32_t m = std::uint32_t{1} << 31; m != 0; m >>= 1) {
        if (a & m) p ^= b;
        b = (b & 1u) ? (b >> 1) ^ 0xEDB88320u : b >> 1;
    }
    return p;
}

/// x^(8n) modulo P, by squaring.
constexpr std::uint32_t crc_x8n(std::uint64_t n) noexcept {
    std::uint32_t result = std::uint32_t{1} << 31;  // x^0
    std::uint32_t base = std::uint32_t{1} << 23;    // x^8
    for (; n != 0; n >>= 1) {
        if (n & 1u) result = crc_multmodp(result, base);
        base = crc_multmodp(base, base);
    }
    return result;
}

constexpr std::uint32_t crc32_of_zeros(std::uint64_t n) noexcept { return ~crc_multmodp(crc_x8n(n), 0xFFFFFFFFu); }

// --- little-endian byte building ---------------------------------------------------------

struct le_bytes {
    std::vector<std::uint8_t> b;
    void u8(unsigned v) { b.push_back(static_cast<std::uint8_t>(v & 0xFFu)); }
    void u16(unsigned v) {
        u8(v);
        u8(v >> 8);
    }
    void u32(std::uint32_t v) {
        u16(v & 0xFFFFu);
        u16(v >> 16);
    }
    void u64(std::uint64_t v) {
        u32(static_cast<std::uint32_t>(v));
        u32(static_cast<std::uint32_t>(v >> 32));
    }
    void str(std::string_view s) { b.insert(b.end(), s.begin(), s.end()); }
};

/// {'w': tensor([[1., 2.], [3., 4.]])} as torch 1.13's torch.save pickles it (protocol 2), opcode
/// for opcode, memo indices included: 166 bytes, CRC-32 0xc19456f8 in torch's own archive.
[[maybe_unused]] std::vector<std::uint8_t> state_dict_pickle() {  // unused without sparse files
    le_bytes p;
    auto binput = [&](unsigned i) { p.u8('q'), p.u8(i); };
    auto binunicode = [&](std::string_view s) {
        p.u8('X');
        p.u32(static_cast<std::uint32_t>(s.size()));
        p.str(s);
    };
    auto global = [&](std::string_view module, std::string_view name) {
        p.u8('c');
        p.str(module);
        p.u8('\n');
        p.str(name);
        p.u8('\n');
    };
    auto binint1 = [&](unsigned v) { p.u8('K'), p.u8(v); };
    p.u8(0x80), p.u8(2);                               // PROTO 2
    p.u8('}'), binput(0);                              // EMPTY_DICT
    binunicode("w"), binput(1);                        // key 'w'
    global("torch._utils", "_rebuild_tensor_v2"), binput(2);
    p.u8('(');                                         // MARK: rebuild arguments
    p.u8('(');                                         // MARK: persistent id
    binunicode("storage"), binput(3);
    global("torch", "FloatStorage"), binput(4);
    binunicode("0"), binput(5);                        // key: record data/0
    binunicode("cpu"), binput(6);                      // location
    binint1(4);                                        // numel
    p.u8('t'), binput(7);                              // TUPLE
    p.u8('Q');                                         // BINPERSID
    binint1(0);                                        // storage_offset
    binint1(2), binint1(2), p.u8(0x86), binput(8);     // size (2, 2): TUPLE2
    binint1(2), binint1(1), p.u8(0x86), binput(9);     // stride (2, 1)
    p.u8(0x89);                                        // NEWFALSE: requires_grad
    global("collections", "OrderedDict"), binput(10);  // backward_hooks = OrderedDict()
    p.u8(')'), p.u8('R'), binput(11);                  // EMPTY_TUPLE, REDUCE
    p.u8('t'), binput(12);                             // TUPLE of the arguments
    p.u8('R'), binput(13);                             // REDUCE: _rebuild_tensor_v2(...)
    p.u8('s');                                         // SETITEM
    p.u8('.');                                         // STOP
    return p.b;
}

#if PTLOAD_TEST_SPARSE

/// Removes the files and then the directory it was given, however the test ends (a REQUIRE that
/// throws, an early return). With PTLOAD_ZIP64_KEEP set, keeps them and says where they are.
struct temp_dir_guard {
    std::string dir;  ///< empty: nothing to remove
    std::vector<std::string> files;
    temp_dir_guard() = default;
    temp_dir_guard(const temp_dir_guard&) = delete;
    temp_dir_guard& operator=(const temp_dir_guard&) = delete;
    ~temp_dir_guard() {
        const char* keep = std::getenv("PTLOAD_ZIP64_KEEP");
        if (keep && *keep) {
            for (const std::string& f : files) MESSAGE("PTLOAD_ZIP64_KEEP: kept " << f);
            return;
        }
        for (const std::string& f : files) ::unlink(f.c_str());
        if (!dir.empty()) ::rmdir(dir.c_str());
    }
};

struct fd_guard {
    int fd = -1;
    fd_guard() = default;
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

/// Ignores SIGXFSZ while it lives, so that writing past a file size limit (ulimit -f) fails with
/// EFBIG, which skips the test, instead of killing the process.
struct ignore_sigxfsz {
    struct sigaction old {};
    bool saved = false;
    ignore_sigxfsz() {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        saved = ::sigaction(SIGXFSZ, &ign, &old) == 0;
    }
    ignore_sigxfsz(const ignore_sigxfsz&) = delete;
    ignore_sigxfsz& operator=(const ignore_sigxfsz&) = delete;
    ~ignore_sigxfsz() {
        if (saved) ::sigaction(SIGXFSZ, &old, nullptr);
    }
};

/// Writes all n bytes at offset; false (errno set) on failure.
bool write_at(int fd, std::uint64_t offset, const std::uint8_t* p, std::size_t n) {
    while (n) {
        const ssize_t got = ::pwrite(fd, p, n, static_cast<off_t>(offset));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            if (got == 0) errno = EIO;
            return false;
        }
        p += got;
        n -= static_cast<std::size_t>(got);
        offset += static_cast<std::uint64_t>(got);
    }
    return true;
}

/// The subset of miniz's zip writer (mz_zip_writer_add_mem_ex_v2 and
/// mz_zip_writer_finalize_archive, as torch's PyTorchStreamWriter drives them: zip64 on from the
/// start, stored records, the 'FB' padding extra from getPadding) that a checkpoint needs, plus
/// records whose data is left as a hole.
class miniz_style_writer {
public:
    explicit miniz_style_writer(int fd) : fd_(fd) {}

    /// Appends a stored record. data == nullptr leaves its `size` bytes as a hole (zeros).
    bool add(const std::string& name, const std::uint8_t* data, std::uint64_t size, std::uint32_t crc) {
        const std::uint64_t header = cursor_;
        const bool wide_size = size >= 0xFFFFFFFFu, wide_offset = header >= 0xFFFFFFFFu;

        // miniz writes the local zip64 extra before it has compressed anything: the compressed
        // size in it is still 0.
        le_bytes zip64;
        if (wide_size || wide_offset) {
            zip64.u16(0x0001);
            zip64.u16((wide_size ? 16u : 0u) + (wide_offset ? 8u : 0u));
            if (wide_size) {
                zip64.u64(size);
                zip64.u64(0);
            }
            if (wide_offset) zip64.u64(header);
        }
        // torch's getPadding: the data starts at the next multiple of 64.
        const std::uint64_t start = header + 30 + name.size() + zip64.b.size() + 4;
        const unsigned filler = static_cast<unsigned>((64 - start % 64) % 64);

        le_bytes h;
        h.u32(0x04034b50);  // "PK\3\4"
        h.u16(0);           // version needed (stored)
        h.u16(0x0808);      // data descriptor follows; UTF-8 name
        h.u16(0);           // stored
        h.u16(0), h.u16(0); // time, date
        h.u32(0), h.u32(0), h.u32(0);  // CRC and sizes come in the descriptor
        h.u16(static_cast<unsigned>(name.size()));
        h.u16(static_cast<unsigned>(zip64.b.size() + 4 + filler));
        h.str(name);
        h.b.insert(h.b.end(), zip64.b.begin(), zip64.b.end());
        h.str("FB");
        h.u16(filler);
        h.b.insert(h.b.end(), filler, 'Z');
        const std::uint64_t data_offset = header + h.b.size();  // == start + filler
        if (!write_at(fd_, header, h.b.data(), h.b.size())) return false;
        if (data && size && !write_at(fd_, data_offset, data, static_cast<std::size_t>(size))) return false;

        le_bytes d;
        d.u32(0x08074b50);  // "PK\7\8"
        d.u32(crc);
        if (zip64.b.empty()) {
            d.u32(static_cast<std::uint32_t>(size));
            d.u32(static_cast<std::uint32_t>(size));
        } else {
            d.u64(size);
            d.u64(size);
        }
        if (!write_at(fd_, data_offset + size, d.b.data(), d.b.size())) return false;
        cursor_ = data_offset + size + d.b.size();

        // The central directory's zip64 extra: both sizes when the size is wide, then the offset.
        le_bytes cz;
        if (wide_size || wide_offset) {
            cz.u16(0x0001);
            cz.u16((wide_size ? 16u : 0u) + (wide_offset ? 8u : 0u));
            if (wide_size) {
                cz.u64(size);
                cz.u64(size);
            }
            if (wide_offset) cz.u64(header);
        }
        const std::uint32_t size32 = wide_size ? 0xFFFFFFFFu : static_cast<std::uint32_t>(size);
        le_bytes& c = central_;
        c.u32(0x02014b50);  // "PK\1\2"
        c.u16(0), c.u16(0); // version made by, needed
        c.u16(0x0808), c.u16(0), c.u16(0), c.u16(0);
        c.u32(crc), c.u32(size32), c.u32(size32);
        c.u16(static_cast<unsigned>(name.size())), c.u16(static_cast<unsigned>(cz.b.size())), c.u16(0);
        c.u16(0), c.u16(0), c.u32(0);  // disk, internal and external attributes
        c.u32(wide_offset ? 0xFFFFFFFFu : static_cast<std::uint32_t>(header));
        c.str(name);
        c.b.insert(c.b.end(), cz.b.begin(), cz.b.end());
        ++count_;
        return true;
    }

    /// Central directory, zip64 EOCD record and locator, classic EOCD.
    bool finish() {
        const std::uint64_t cd_offset = cursor_, cd_size = central_.b.size(), z64 = cd_offset + cd_size;
        le_bytes e = central_;
        e.u32(0x06064b50);  // "PK\6\6"
        e.u64(44);          // record size after this field
        e.u16(0x031E), e.u16(0x002D);  // made by (miniz: always Unix, 3.0), needed 4.5
        e.u32(0), e.u32(0);
        e.u64(count_), e.u64(count_), e.u64(cd_size), e.u64(cd_offset);
        e.u32(0x07064b50);  // "PK\6\7"
        e.u32(0), e.u64(z64), e.u32(1);
        e.u32(0x06054b50);  // "PK\5\6"
        e.u16(0), e.u16(0);
        e.u16(static_cast<unsigned>(count_)), e.u16(static_cast<unsigned>(count_));
        e.u32(cd_size >= 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<std::uint32_t>(cd_size));
        e.u32(cd_offset >= 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<std::uint32_t>(cd_offset));
        e.u16(0);  // comment length
        if (!write_at(fd_, cd_offset, e.b.data(), e.b.size())) return false;
        cursor_ += e.b.size();
        return true;
    }

    std::uint64_t size() const noexcept { return cursor_; }

private:
    int fd_;
    std::uint64_t cursor_ = 0;
    le_bytes central_;
    std::uint64_t count_ = 0;
};

/// Why the file under fd cannot take a 64 MiB hole (probed, then truncated away), or "" if it can.
/// A filesystem without sparse files would have to write 4 GiB of zeros; this avoids trying.
std::string sparse_problem(int fd) {
    constexpr std::uint64_t hole = std::uint64_t{64} << 20;
    const std::uint8_t one = 1;
    if (!write_at(fd, hole, &one, 1)) return std::string("writing past a hole failed: ") + std::strerror(errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) return std::string("fstat failed: ") + std::strerror(errno);
    if (::ftruncate(fd, 0) != 0) return std::string("ftruncate failed: ") + std::strerror(errno);
    if (static_cast<std::uint64_t>(st.st_blocks) * 512 >= hole / 2)
        return "the filesystem allocated " + std::to_string(static_cast<std::uint64_t>(st.st_blocks) * 512) +
               " bytes for a 64 MiB hole (no sparse files)";
    return {};
}

#endif  // PTLOAD_TEST_SPARSE

}  // namespace

TEST_CASE("CRC-32 of a run of zeros from polynomial arithmetic matches the byte-wise CRC") {
    const std::vector<std::uint8_t> zeros(5000, 0);
    for (std::size_t n : std::vector<std::size_t>{0, 1, 3, 8, 64, 1000, 4096, 4999, 5000})
        CHECK(crc32_of_zeros(n) == ptload::detail::crc32(zeros.data(), n));
    CHECK(crc32_of_zeros(64) == 0x758d6336u);      // zlib.crc32(bytes(64))
    CHECK(crc32_of_zeros(big_size) == big_crc);   // see big_crc
}

TEST_CASE("zip64: a torch 1.13-style checkpoint over 4 GiB, records and directory beyond 4 GiB") {
#if !PTLOAD_TEST_SPARSE
    MESSAGE("skipped: this test needs POSIX sparse files");
#else
    if (sizeof(off_t) < 8) {
        MESSAGE("skipped: off_t is narrower than 64 bits");
        return;
    }

    // --- the records ---
    const std::vector<std::uint8_t> pkl = state_dict_pickle();
    CHECK(pkl.size() == 166);
    CHECK(ptload::detail::crc32(pkl.data(), pkl.size()) == 0xc19456f8u);  // torch 1.13's own data.pkl
    const std::uint8_t floats[16] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40};  // 1 2 3 4
    const std::uint8_t version[2] = {'3', '\n'};

    // --- the file, in a fresh directory removed at the end ---
    temp_dir_guard tmp;
    const char* env = std::getenv("TMPDIR");
    std::string pattern = std::string(env && *env ? env : "/tmp") + "/ptload-zip64-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) {
        const std::string why = std::strerror(errno);
        MESSAGE("skipped: cannot create a directory from " << pattern << ": " << why);
        return;
    }
    tmp.dir = buf.data();
    const std::string path = tmp.dir + "/big.pt";  // torch.save would name the prefix "big/" too
    fd_guard fd;
    fd.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd.fd < 0) {
        const std::string why = std::strerror(errno);
        MESSAGE("skipped: cannot create " << path << ": " << why);
        return;
    }
    tmp.files.push_back(path);
    ignore_sigxfsz no_sigxfsz;
    const std::string problem = sparse_problem(fd.fd);
    if (!problem.empty()) {
        MESSAGE("skipped: cannot make a sparse file in " << tmp.dir << ": " << problem);
        return;
    }

    miniz_style_writer w(fd.fd);
    const bool written = w.add("big/data/1", nullptr, big_size, big_crc) &&
                         w.add("big/data.pkl", pkl.data(), pkl.size(), ptload::detail::crc32(pkl.data(), pkl.size())) &&
                         w.add("big/data/0", floats, sizeof floats, ptload::detail::crc32(floats, sizeof floats)) &&
                         w.add("big/version", version, sizeof version, ptload::detail::crc32(version, sizeof version)) &&
                         w.finish();
    if (!written) {
        const std::string why = std::strerror(errno);
        MESSAGE("skipped: writing the sparse file (4 GiB, nearly all of it a hole) failed: " << why);
        return;
    }
    struct stat st {};
    REQUIRE(::fstat(fd.fd, &st) == 0);
    CHECK(static_cast<std::uint64_t>(st.st_size) == 0x100000417u);
    CHECK(w.size() == 0x100000417u);
    INFO("test file " << path << ": " << static_cast<std::uint64_t>(st.st_blocks) * 512 << " bytes allocated");
    ::close(fd.fd);
    fd.fd = -1;

    // --- the zip layer: true sizes and offsets past 4 GiB ---
    {
        ptload::file_source src(path);
        REQUIRE(src.is_open());
        CHECK(src.size() == 0x100000417u);
        auto zip = ptload::read_zip(src);
        REQUIRE_MESSAGE(zip, (zip ? std::string() : zip.err().what()));
        if (!zip) return;
        CHECK(zip->zip64());
        CHECK(zip->size() == 4);
        CHECK(zip->central_directory_offset() == 0x10000029au);
        CHECK(zip->central_directory_size() == 283);
        auto prefix = ptload::archive_prefix(*zip);
        REQUIRE(prefix);
        if (!prefix) return;
        CHECK(*prefix == "big/");

        const ptload::zip_entry* big = zip->find("big/data/1");
        const ptload::zip_entry* p = zip->find("big/data.pkl");
        const ptload::zip_entry* d0 = zip->find("big/data/0");
        const ptload::zip_entry* v = zip->find("big/version");
        REQUIRE(big);
        REQUIRE(p);
        REQUIRE(d0);
        REQUIRE(v);
        if (!(big && p && d0 && v)) return;

        CHECK(big->size == big_size);
        CHECK(big->compressed_size == big_size);
        CHECK(big->header_offset == 0);
        CHECK(big->data_offset == 64);
        CHECK(big->crc32 == big_crc);
        CHECK(big->flags == 0x0808);
        CHECK(big->method == 0);

        CHECK(p->header_offset == 0x100000098u);
        CHECK(p->data_offset == 0x100000100u);
        CHECK(p->size == 166);
        CHECK(d0->header_offset == 0x1000001beu);
        CHECK(d0->data_offset == 0x100000200u);
        CHECK(d0->size == 16);
        CHECK(v->header_offset == 0x100000228u);
        CHECK(v->data_offset == 0x100000280u);
        CHECK(v->size == 2);
        for (const ptload::zip_entry* e : {p, d0, v}) CHECK(e->data_offset % 64 == 0);

        // Reads at 64-bit offsets, with the CRC checked.
        auto bytes = ptload::read_entry(src, *d0);
        REQUIRE_MESSAGE(bytes, (bytes ? std::string() : bytes.err().what()));
        if (bytes) CHECK(std::memcmp(bytes->data(), floats, sizeof floats) == 0);
        auto ver = ptload::read_entry(src, *v);
        REQUIRE(ver);
        if (ver) CHECK(std::string(ver->begin(), ver->end()) == "3\n");
    }

    // --- torch.load ---
    auto doc = ptload::load_file(path);
    REQUIRE_MESSAGE(doc, (doc ? std::string() : doc.err().what()));
    if (!doc) return;
    auto t = doc->root()["w"].as_tensor();
    REQUIRE(t);
    if (!t) return;
    CHECK(t->dtype() == ptload::dtype::float32);
    REQUIRE(t->rank() == 2);
    if (t->rank() != 2) return;
    CHECK(t->shape()[0] == 2);
    CHECK(t->shape()[1] == 2);
    CHECK(t->strides()[0] == 2);
    CHECK(t->strides()[1] == 1);
    CHECK(t->device() == "cpu");
    auto values = t->data<float>();
    REQUIRE(values);
    if (!values) return;
    REQUIRE(values->size() == 4);
    if (values->size() != 4) return;
    CHECK((*values)[0] == 1.0f);
    CHECK((*values)[1] == 2.0f);
    CHECK((*values)[2] == 3.0f);
    CHECK((*values)[3] == 4.0f);
#endif
}
