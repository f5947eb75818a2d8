// bench/bench_libtorch.cpp: time LibTorch's torch::pickle_load on one checkpoint, for comparison
// with bench_checkpoint (bench/checkpoints.sh builds it when Debian's libtorch-dev is installed).
//
//     bench_libtorch FILE [--repeat N] [--warmup K]
//
// Each run reads FILE into a std::vector<char> and calls torch::pickle_load on it (LibTorch's
// C++ reader of torch.save output; it takes the bytes, not a path, so the read is inside the
// clock as it is for every other row). It prints `libtorch FILE SECONDS checksum=... tensors=...
// bytes=...`, the format of bench_checkpoint; the checksum, taken after the clock, sums one byte
// per 4096 of every tensor's data. A file pickle_load cannot read (the legacy format) prints the
// error and exits with status 3, which the script reports as "does not read this format".
#include <torch/serialize.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

struct outcome {
    double seconds = 0;
    std::uint64_t checksum = 0, tensors = 0, bytes = 0;
};

void add_tensor(const at::Tensor& t, outcome& o) {
    at::Tensor b = t.contiguous().view(-1).view(at::kByte);
    const std::uint8_t* p = b.data_ptr<std::uint8_t>();
    const std::int64_t n = b.numel();
    for (std::int64_t i = 0; i < n; i += 4096) o.checksum += p[i];
    o.bytes += static_cast<std::uint64_t>(n);
    ++o.tensors;
}

/// Every tensor in a value: dicts, lists and tuples are walked with an explicit stack.
void add_tensors(const c10::IValue& root, outcome& o) {
    std::vector<c10::IValue> todo{root};
    while (!todo.empty()) {
        c10::IValue v = todo.back();
        todo.pop_back();
        if (v.isTensor()) add_tensor(v.toTensor(), o);
        else if (v.isGenericDict())
            for (const auto& kv : v.toGenericDict()) todo.push_back(kv.value());
        else if (v.isList())
            for (const c10::IValue& x : v.toListRef()) todo.push_back(x);
        else if (v.isTuple())
            for (const c10::IValue& x : v.toTupleRef().elements()) todo.push_back(x);
    }
}

outcome run_once(const std::string& path) {
    outcome o;
    auto t0 = std::chrono::steady_clock::now();
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "bench_libtorch: cannot open %s\n", path.c_str());
        std::exit(1);
    }
    std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    c10::IValue v;
    try {
        v = torch::pickle_load(data);
    } catch (const std::exception& e) {
        const std::string what = e.what();  // its first line: LibTorch appends a C++ backtrace
        std::fprintf(stderr, "bench_libtorch: torch::pickle_load: %s\n", what.substr(0, what.find('\n')).c_str());
        std::exit(3);
    }
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    add_tensors(v, o);
    return o;
}

int to_count(const char* s) {
    char* end = nullptr;
    long v = std::strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 1000000) {
        std::fprintf(stderr, "usage: bench_libtorch FILE [--repeat N] [--warmup K]\n");
        std::exit(2);
    }
    return static_cast<int>(v);
}

} // namespace

int main(int argc, char** argv) {
    std::string path;
    int repeat = 1, warmup = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--repeat" && i + 1 < argc) repeat = to_count(argv[++i]);
        else if (a == "--warmup" && i + 1 < argc) warmup = to_count(argv[++i]);
        else if (a == "--help" || a == "-h") {
            std::printf("usage: bench_libtorch FILE [--repeat N] [--warmup K]\n");
            return 0;
        } else if (path.empty() && !a.empty() && a[0] != '-') path = a;
        else return to_count("");
    }
    if (path.empty()) return to_count("");
    for (int i = 0; i < warmup; ++i) (void)run_once(path);
    for (int i = 0; i < repeat; ++i) {
        outcome o = run_once(path);
        std::printf("libtorch %s %.6f checksum=%" PRIu64 " tensors=%" PRIu64 " bytes=%" PRIu64 "\n", path.c_str(), o.seconds,
                    o.checksum, o.tensors, o.bytes);
        std::fflush(stdout);
    }
    return 0;
}
