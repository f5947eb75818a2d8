// A user's program, built by tools/package_test.sh through every way of consuming ptload
// (find_package, add_subdirectory, FetchContent, pkg-config, meson, the single header).
//   consumer SAMPLE     loads SAMPLE (examples/sample.pt) and checks a tensor and the version
// Compile with -DPTLOAD_CONSUMER_SINGLE_HEADER and only single_include/ on the include path to
// check the single header on its own.
#ifdef PTLOAD_CONSUMER_SINGLE_HEADER
#include <ptload.hpp>
#else
#include <ptload/ptload.hpp>
#endif

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    const std::string expected = std::to_string(PTLOAD_VERSION_MAJOR) + "." +
                                 std::to_string(PTLOAD_VERSION_MINOR) + "." +
                                 std::to_string(PTLOAD_VERSION_PATCH);
    std::printf("consumer: ptload %s\n", ptload::version_string);
    if (expected != ptload::version_string) return std::fprintf(stderr, "consumer: version mismatch\n"), 1;
    if (argc != 2) return std::fprintf(stderr, "usage: consumer SAMPLE.pt\n"), 2;

    auto doc = ptload::load_file(argv[1]);
    if (!doc) return std::fprintf(stderr, "consumer: %s\n", doc.err().what().c_str()), 1;
    auto w = ptload::get_tensor(*doc, "model.fc1.weight");
    if (!w) return std::fprintf(stderr, "consumer: %s\n", w.err().what().c_str()), 1;
    auto values = w->to_float32();
    if (!values) return std::fprintf(stderr, "consumer: %s\n", values.err().what().c_str()), 1;
    const bool ok = w->dtype() == ptload::dtype::float32 && w->shape().size() == 2 && w->shape()[0] == 8 &&
                    w->shape()[1] == 4 && values->size() == 32;
    std::printf("consumer: model.fc1.weight %s [%lld, %lld], %zu values: %s\n", ptload::name(w->dtype()).data(),
                static_cast<long long>(w->shape().size() > 0 ? w->shape()[0] : -1),
                static_cast<long long>(w->shape().size() > 1 ? w->shape()[1] : -1), values->size(),
                ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
