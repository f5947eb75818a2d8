// The README's example: print each tensor's name, dtype and shape.
#include <ptload/ptload.hpp>
#include <cstdio>
int main(int argc, char** argv) {
    auto doc = ptload::load_file(argc > 1 ? argv[1] : "examples/sample.pt");
    if (!doc) return std::fprintf(stderr, "%s\n", doc.err().what().c_str()), 1;
    for (const auto& row : ptload::list_tensors(*doc)) {
        ptload::tensor t = row.tensor_value.as_tensor().value();
        std::printf("%-28s %-8s [", row.name.c_str(), ptload::name(t.dtype()).data());
        for (auto d : t.shape()) std::printf(" %lld", static_cast<long long>(d));
        std::printf(" ]\n");
    }
}
