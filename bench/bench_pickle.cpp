// bench/bench_pickle.cpp: time ptload::load_pickle on one big plain pickle (bench/run.sh).
//
//     bench_pickle [PATH] [--repeat N] [--only memory|file] [--once memory|file]
//
// PATH defaults to build/bench/dict1m.pkl (bench/gen_dict_pickle.py writes it). Two sources:
//   memory  the file is read into a buffer once, outside the clock; each run parses it in place
//           through ptload::memory_source (the pickle.loads(bytes) case)
//   file    each run opens the path with ptload::file_source and loads it end to end: open,
//           read, parse (the pickle.load(open(path, "rb")) case)
// Each run is checked (root is a dict of the expected size, spot entries hold what
// gen_dict_pickle.py wrote) so a failed or partial load can never be timed as a fast one.
// The clock covers the load only; freeing the document is timed separately ("teardown").
//
// --once loads a single time and prints ru_maxrss: run it in a fresh process for peak memory.
// The load uses ptload's default policies, limits included.
#include <ptload/all.hpp>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
#define BENCH_HAS_RUSAGE 1
#else
#define BENCH_HAS_RUSAGE 0
#endif

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// User and system CPU seconds of this process so far (page faults show up as system time).
void cpu_seconds(double& user, double& sys) {
    user = sys = 0;
#if BENCH_HAS_RUSAGE
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return;
    user = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
    sys = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
#endif
}

long max_rss_kb() {
#if BENCH_HAS_RUSAGE
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
#if defined(__APPLE__)
    return static_cast<long>(ru.ru_maxrss / 1024);  // bytes on macOS
#else
    return static_cast<long>(ru.ru_maxrss);  // kilobytes on Linux
#endif
#else
    return -1;
#endif
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "bench_pickle: %s\n", what.c_str());
    std::exit(1);
}

std::string key_name(std::size_t i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "key_%07zu", i);
    return buf;
}

/// Entry i is "key_{i:07d}": (i, i * 0.5, "v{i % 1000}"), as bench/gen_dict_pickle.py writes it.
void check_entry(const ptload::value& root, std::size_t i) {
    std::string where = "entry " + std::to_string(i);
    auto k = root.key_at(i).as_string();
    if (!k || *k != key_name(i)) die(where + ": wrong key");
    ptload::value t = root.value_at(i);
    if (!t.is(ptload::kind::tuple) || t.size() != 3) die(where + ": value is not a 3-tuple");
    auto a = t[0].as_int();
    auto b = t[1].as_double();
    auto c = t[2].as_string();
    if (!a || *a != static_cast<std::int64_t>(i)) die(where + ": wrong int");
    if (!b || t[1].type() != ptload::kind::floating || *b != static_cast<double>(i) * 0.5) die(where + ": wrong float");
    if (!c || *c != "v" + std::to_string(i % 1000)) die(where + ": wrong str");
}

/// Cheap checks for every timed run: O(1) spot entries.
void check_quick(const ptload::document& doc, std::size_t entries) {
    ptload::value root = doc.root();
    if (!root.is(ptload::kind::dict)) die("root is not a dict");
    if (root.size() != entries) die("dict has " + std::to_string(root.size()) + " entries, want " + std::to_string(entries));
    if (doc.node_count() != 1 + 5 * entries) die("unexpected node count " + std::to_string(doc.node_count()));
    std::size_t spots[] = {0, 1, entries / 2, entries - 1};
    for (std::size_t i : spots) check_entry(root, i);
}

/// Once, outside the clock: every entry, plus lookups by key through the public API.
void check_full(const ptload::document& doc, std::size_t entries) {
    ptload::value root = doc.root();
    for (std::size_t i = 0; i < entries; ++i) check_entry(root, i);
    for (std::size_t i : {std::size_t{0}, entries / 3, entries - 1}) {
        auto v = root[key_name(i)][0].as_int();  // value::operator[] scans: fine for a few keys
        if (!v || *v != static_cast<std::int64_t>(i)) die("lookup of " + key_name(i) + " failed");
    }
    if (root["key_missing"].valid()) die("lookup of a missing key succeeded");
}

std::vector<std::uint8_t> read_all(const std::string& path) {
    ptload::file_source src(path);  // its size(), then one read into a buffer of exactly that size
    if (!src.is_open()) die(src.open_error().what());
    std::vector<std::uint8_t> buf(static_cast<std::size_t>(src.size()));
    auto st = src.read_at(0, buf.data(), buf.size());
    if (!st) die(st.err().what());
    return buf;
}

template <class Limits>
ptload::document load_memory(const std::vector<std::uint8_t>& bytes) {
    auto doc = ptload::load_pickle<Limits>(ptload::memory_source{bytes.data(), bytes.size()});
    if (!doc) die("load (memory_source) failed: " + doc.err().what());
    return std::move(doc).value();
}

template <class Limits>
ptload::document load_file(const std::string& path) {
    ptload::file_source src(path);
    if (!src.is_open()) die(src.open_error().what());
    auto doc = ptload::load_pickle<Limits>(src);
    if (!doc) die("load (file_source) failed: " + doc.err().what());
    return std::move(doc).value();
}

struct stats {
    double median, min, max;
};
stats summarize(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return {med, v.front(), v.back()};
}

template <class Limits>
int run(const std::string& path, int repeat, const std::string& only, const std::string& once) {
    // How many entries: the first load tells (gen_dict_pickle.py --entries may differ from 1M).
    std::vector<std::uint8_t> bytes;
    if (once.empty() || once == "memory") bytes = read_all(path);

    if (!once.empty()) {
        long before = max_rss_kb();
        auto t0 = clock_type::now();
        ptload::document doc = once == "memory" ? load_memory<Limits>(bytes) : load_file<Limits>(path);
        double t = seconds_since(t0);
        long peak = max_rss_kb();
        std::size_t entries = doc.root().size();
        check_quick(doc, entries);
        std::printf("ONCE ptload-%s seconds=%.4f entries=%zu nodes=%zu footprint_mb=%.1f maxrss_before_kb=%ld "
                    "maxrss_kb=%ld\n",
                    once.c_str(), t, entries, doc.node_count(), static_cast<double>(doc.footprint()) / 1e6, before,
                    peak);
        return 0;
    }

    std::size_t entries = 0;
    {
        ptload::document doc = load_memory<Limits>(bytes);  // warm-up, and the full check
        entries = doc.root().size();
        check_quick(doc, entries);
        check_full(doc, entries);
        std::printf("INFO file=%s bytes=%zu entries=%zu nodes=%zu footprint_mb=%.1f\n", path.c_str(), bytes.size(),
                    entries, doc.node_count(), static_cast<double>(doc.footprint()) / 1e6);
    }

    for (const char* mode : {"memory", "file"}) {
        if (!only.empty() && only != mode) continue;
        std::vector<double> load_s, free_s, user_s, sys_s;
        for (int r = 0; r < repeat; ++r) {
            double u0, s0, u1, s1;
            cpu_seconds(u0, s0);
            auto t0 = clock_type::now();
            auto* doc = new ptload::document(std::string(mode) == "memory" ? load_memory<Limits>(bytes)
                                                                           : load_file<Limits>(path));
            load_s.push_back(seconds_since(t0));
            cpu_seconds(u1, s1);
            user_s.push_back(u1 - u0);
            sys_s.push_back(s1 - s0);
            check_quick(*doc, entries);
            auto t1 = clock_type::now();
            delete doc;
            free_s.push_back(seconds_since(t1));
        }
        stats s = summarize(load_s), f = summarize(free_s);
        std::printf("RESULT ptload-%s median=%.4f min=%.4f max=%.4f n=%d user_median=%.4f sys_median=%.4f "
                    "teardown_median=%.4f\n",
                    mode, s.median, s.min, s.max, repeat, summarize(user_s).median, summarize(sys_s).median, f.median);
        std::printf("SAMPLES ptload-%s", mode);
        for (double t : load_s) std::printf(" %.4f", t);
        std::printf("\n");
        std::fflush(stdout);
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    std::string path = "build/bench/dict1m.pkl", only, once;
    int repeat = 7;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die(a + " needs an argument");
            return argv[++i];
        };
        if (a == "--repeat") repeat = std::atoi(next().c_str());
        else if (a == "--only") only = next();
        else if (a == "--once") once = next();
        else if (a == "-h" || a == "--help") {
            std::printf("usage: %s [PATH] [--repeat N] [--only memory|file] [--once memory|file]\n",
                        argv[0]);
            return 0;
        } else if (!a.empty() && a[0] == '-') die("unknown option " + a);
        else path = a;
    }
    if (repeat < 1) die("--repeat must be at least 1");
    if (!only.empty() && only != "memory" && only != "file") die("--only takes memory or file");
    if (!once.empty() && once != "memory" && once != "file") die("--once takes memory or file");
    return run<ptload::default_limits>(path, repeat, only, once);
}
