// bench/bench_checkpoint.cpp: time ptload loading one torch checkpoint (bench/checkpoints.sh).
//
//     bench_checkpoint MODE FILE [--repeat N] [--warmup K]
//
// MODE is one of
//   eager       ptload::load_file, storage_mode::eager (every storage read before it returns);
//               the clock stops when it returns, as torch.load's and LibTorch's do, and the
//               tensors are listed and checksummed after it
//   lazy-list   ptload::open_file (the pickle only), then every tensor's name, dtype and shape
//               from list_tensors; no tensor data is read
//   lazy-touch  ptload::open_file, then bytes() of every tensor (each storage read on first
//               access), summing one byte per 4096
//   mapped      ptload::load_file, storage_mode::mapped (the file is memory-mapped and
//               storages point into it), then bytes() of every tensor, summing one byte per
//               4096 so every page of the data is faulted in
//   floor       the file into a fresh malloc'd buffer with POSIX read(): what reading the
//               bytes alone costs, the floor for an eager load
//   floor-huge  the same into a posix_memalign'd (2 MiB) buffer given madvise(MADV_HUGEPAGE)
//
// Each run prints one line, `MODE FILE SECONDS key=value...`: a checksum that depends on the
// work done (so none of it can be optimised away), the tensor count, the data bytes, and for
// mapped how many tensors point into the mapping. The clock (steady_clock) covers the mode's
// steps above and nothing else: not the checksum of eager and floor (taken after the clock,
// from one byte per 4096), not freeing the document or buffer. --warmup K runs K untimed
// loads first (not printed). Errors from ptload are printed and end the program (exit 1).
#include <ptload/ptload.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::size_t page = 4096;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "bench_checkpoint: %s\n", what.c_str());
    std::exit(1);
}

struct outcome {
    double seconds = 0;
    std::uint64_t checksum = 0;
    std::uint64_t tensors = 0;
    std::uint64_t bytes = 0;
    std::uint64_t mapped = 0;  // tensors whose storage points into the mapping
};

/// One byte per 4096, from the first.
std::uint64_t sample(const std::uint8_t* p, std::size_t n) {
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < n; i += page) s += p[i];
    return s;
}

std::uint64_t mix(std::uint64_t h, std::uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

ptload::tensor tensor_of(const ptload::tensor_row& row) {
    auto t = row.tensor_value.as_tensor();
    if (!t) die(row.name + ": " + t.err().what());
    return *t;
}

/// Touches every tensor's bytes (reading lazy storages) and sums one byte per page.
void touch_all(const std::vector<ptload::tensor_row>& rows, outcome& o) {
    for (const auto& row : rows) {
        ptload::tensor t = tensor_of(row);
        auto b = t.bytes();
        if (!b) die(row.name + ": " + b.err().what());
        o.checksum += sample(b->data(), b->size());
        o.bytes += b->size();
        o.mapped += t.is_mapped();
        ++o.tensors;
    }
}

ptload::document load_or_die(const std::string& path, ptload::storage_mode mode) {
    ptload::load_options opts;
    opts.storages = mode;
    auto doc = mode == ptload::storage_mode::lazy ? ptload::open_file(path, opts) : ptload::load_file(path, opts);
    if (!doc) die(path + ": " + doc.err().what());
    return std::move(*doc);
}

outcome run_eager(const std::string& path) {
    outcome o;
    auto t0 = clock_type::now();
    ptload::document doc = load_or_die(path, ptload::storage_mode::eager);
    o.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    touch_all(ptload::list_tensors(doc), o);  // resident already: reads memory only, outside the clock
    return o;
}

outcome run_lazy_list(const std::string& path) {
    outcome o;
    auto t0 = clock_type::now();
    ptload::document doc = load_or_die(path, ptload::storage_mode::lazy);
    auto rows = ptload::list_tensors(doc);
    for (const auto& row : rows) {
        ptload::tensor t = tensor_of(row);
        std::uint64_t h = mix(row.name.size(), static_cast<std::uint64_t>(t.dtype()));
        for (auto d : t.shape()) h = mix(h, static_cast<std::uint64_t>(d));
        o.checksum += h + ptload::name(t.dtype()).size();
        o.bytes += t.numel() * ptload::element_size(t.dtype());
        ++o.tensors;
    }
    o.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    return o;
}

outcome run_touch(const std::string& path, ptload::storage_mode mode) {
    outcome o;
    auto t0 = clock_type::now();
    ptload::document doc = load_or_die(path, mode);
    auto rows = ptload::list_tensors(doc);
    touch_all(rows, o);
    o.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    return o;
}

outcome run_floor(const std::string& path, bool huge) {
    outcome o;
    auto t0 = clock_type::now();
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die(path + ": " + std::strerror(errno));
    off_t end = ::lseek(fd, 0, SEEK_END);
    if (end < 0) die(path + ": lseek: " + std::strerror(errno));
    std::size_t n = static_cast<std::size_t>(end);
    std::uint8_t* buf = nullptr;
    if (huge) {
        constexpr std::size_t two_mib = std::size_t{2} << 20;
        std::size_t rounded = (n + two_mib - 1) / two_mib * two_mib;
        void* p = nullptr;
        if (posix_memalign(&p, two_mib, rounded ? rounded : two_mib) != 0) die("posix_memalign failed");
        if (rounded && ::madvise(p, rounded, MADV_HUGEPAGE) != 0) die(std::string("madvise: ") + std::strerror(errno));
        buf = static_cast<std::uint8_t*>(p);
    } else {
        buf = static_cast<std::uint8_t*>(std::malloc(n ? n : 1));
        if (!buf) die("malloc failed");
    }
    std::size_t done = 0;
    while (done < n) {
        ssize_t got = ::pread(fd, buf + done, n - done, static_cast<off_t>(done));
        if (got < 0) {
            if (errno == EINTR) continue;
            die(path + ": read: " + std::strerror(errno));
        }
        if (got == 0) die(path + ": file shrank while read");
        done += static_cast<std::size_t>(got);
    }
    ::close(fd);
    o.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    o.checksum = sample(buf, n);
    o.bytes = n;
    std::free(buf);
    return o;
}

outcome run_once(const std::string& mode, const std::string& path) {
    if (mode == "eager") return run_eager(path);
    if (mode == "lazy-list") return run_lazy_list(path);
    if (mode == "lazy-touch") return run_touch(path, ptload::storage_mode::lazy);
    if (mode == "mapped") return run_touch(path, ptload::storage_mode::mapped);
    if (mode == "floor") return run_floor(path, false);
    if (mode == "floor-huge") return run_floor(path, true);
    die("unknown mode '" + mode + "' (eager, lazy-list, lazy-touch, mapped, floor, floor-huge)");
}

void usage(int code) {
    std::fprintf(code ? stderr : stdout,
                 "usage: bench_checkpoint MODE FILE [--repeat N] [--warmup K]\n"
                 "MODE: eager | lazy-list | lazy-touch | mapped | floor | floor-huge\n");
    std::exit(code);
}

int to_count(const char* s) {
    char* end = nullptr;
    long v = std::strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 1000000) usage(2);
    return static_cast<int>(v);
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> pos;
    int repeat = 1, warmup = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") usage(0);
        else if (a == "--repeat" && i + 1 < argc) repeat = to_count(argv[++i]);
        else if (a == "--warmup" && i + 1 < argc) warmup = to_count(argv[++i]);
        else if (!a.empty() && a[0] == '-') usage(2);
        else pos.push_back(a);
    }
    if (pos.size() != 2) usage(2);
    const std::string& mode = pos[0];
    const std::string& path = pos[1];
    for (int i = 0; i < warmup; ++i) (void)run_once(mode, path);
    for (int i = 0; i < repeat; ++i) {
        outcome o = run_once(mode, path);
        std::printf("%s %s %.6f checksum=%" PRIu64 " tensors=%" PRIu64 " bytes=%" PRIu64, mode.c_str(), path.c_str(),
                    o.seconds, o.checksum, o.tensors, o.bytes);
        if (mode == "mapped") std::printf(" mapped=%" PRIu64, o.mapped);
        std::printf("\n");
        std::fflush(stdout);
    }
    return 0;
}
