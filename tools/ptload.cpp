// ptload: the command-line tool.
//   ptload dump [--json] [--encoding E] [--errors M] [--map-location LOC] [--strict] [--allow G] FILE
//   ptload ls [--encoding E] [--map-location LOC] [--strict] [--allow G] FILE
//   ptload scan [--json] FILE...   (exit 0 clean, 1 dangerous, 2 unreadable)
// FILE is any torch checkpoint or plain pickle, detected by content. Errors go to stderr with
// a non-zero exit status.
#include <ptload/ptload.hpp>
#include <ptload/scan.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {

int usage(std::FILE* to) {
    std::fputs("usage: ptload dump [--json] [--encoding utf-8|latin1|ascii|bytes] [--errors strict|replace]\n"
               "                   [--map-location LOC] [--strict [--allow MODULE.NAME]...] FILE\n"
               "       ptload ls [--encoding E] [--errors M] [--map-location LOC] [--strict ...] FILE\n"
               "       ptload scan [--json] FILE...   (exit 0 clean, 1 dangerous, 2 unreadable)\n"
               "       ptload --version\n"
               "LOC is a device (cpu, cuda:0) or a remapping FROM=TO[,FROM=TO...] (cuda:0=cpu).\n"
               "--strict accepts only the globals torch.load(weights_only=True) accepts (and numeric\n"
               "numpy arrays); --allow adds one, as torch.serialization.add_safe_globals does.\n",
               to);
    return to == stdout ? 0 : 2;
}

int fail(const ptload::error& e) {
    std::fprintf(stderr, "ptload: %s\n", e.what().c_str());
    return 1;
}

std::string shape_text(const ptload::tensor& t) {
    std::string s = "[";
    for (std::size_t i = 0; i < t.rank(); ++i) s += (i ? ", " : "") + std::to_string(t.shape()[i]);
    return s + "]";
}

/// `ptload scan`: what each file would import, without loading it. The worst file decides the
/// exit status: dangerous (1) over unreadable (2) over clean (0).
int scan_files(int argc, char** argv) {
    bool json = false;
    int files = 0, status = 0;
    std::string out;
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--json") {
            json = true;
            continue;
        }
        if (a.size() > 1 && a[0] == '-') return usage(stderr);
    }
    if (json) out += "{\"files\":[";
    for (int i = 2; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--json") continue;
        ptload::scan_report report;
        ptload::file_source src(argv[i]);
        if (src.is_open()) report = ptload::scan(src);
        else report.errors.push_back(src.open_error());
        if (json) out += (files ? "," : "") + ptload::scan_json(report, argv[i]);
        else out += ptload::scan_text(report, argv[i]);
        const int code = report.exit_code();
        if (code == 1 || (code == 2 && status == 0)) status = code;
        ++files;
    }
    if (!files) return usage(stderr);
    if (json) out += "]}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return status;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage(stderr);
    std::string_view command = argv[1];
    if (command == "--version") {
        std::printf("ptload %s\n", ptload::version_string);
        return 0;
    }
    if (command == "--help" || command == "-h") return usage(stdout);
    if (command == "scan") return scan_files(argc, argv);
    if (command != "dump" && command != "ls") return usage(stderr);

    ptload::dump_options opts;
    bool json = false;
    const char* path = nullptr;
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--json") {
            json = true;
        } else if (a == "--strict") {
            opts.strict = true;
        } else if (a.size() > 2 && a.substr(0, 2) == "--") {
            if (i + 1 >= argc) return usage(stderr);
            auto known = opts.parse(a, argv[++i]);
            if (!known) return fail(known.err());
            if (!*known) {
                std::fprintf(stderr, "ptload: unknown option %s\n", argv[i - 1]);
                return 2;
            }
        } else if (!path) {
            path = argv[i];
        } else {
            return usage(stderr);
        }
    }
    if (!path) return usage(stderr);

    ptload::file_source src(path);
    if (!src.is_open()) return fail(src.open_error());
    auto doc = ptload::load_dynamic(src, opts);
    if (!doc) return fail(doc.err());

    if (command == "ls") {
        auto rows = ptload::list_tensors(*doc);
        std::size_t width = 4;
        for (const auto& r : rows) width = r.name.size() > width ? r.name.size() : width;
        std::printf("%-*s  %-10s  %s\n", static_cast<int>(width), "name", "dtype", "shape");
        for (const auto& r : rows) {
            auto t = r.tensor_value.as_tensor();
            std::printf("%-*s  %-10s  %s\n", static_cast<int>(width), r.name.c_str(),
                        std::string(ptload::name(t->dtype())).c_str(), shape_text(*t).c_str());
        }
        return 0;
    }
    if (json) {
        auto text = ptload::canonical_json(*doc);
        if (!text) return fail(text.err());
        std::fwrite(text->data(), 1, text->size(), stdout);
        std::fputc('\n', stdout);
        return 0;
    }
    std::string tree = ptload::to_tree(doc->root());
    if (doc->is_torchscript()) tree = "data: " + tree + "constants: " + ptload::to_tree(doc->constants());
    std::fwrite(tree.data(), 1, tree.size(), stdout);
    return 0;
}
