// ptload: the command-line tool.
//   ptload dump [--json] [--max-items N | --all] [LOAD OPTIONS] FILE   a readable tree, or the canonical JSON
//   ptload ls [--json] [LOAD OPTIONS] FILE                             the tensor table
//   ptload scan [--json] FILE...   what each file would import (exit 0 clean, 1 dangerous, 2 unreadable)
//   ptload convert [--to safetensors|npz] [--select NAME[,NAME...]] [--zip64] [LOAD OPTIONS] IN OUT
//                                  the tensors as a .safetensors file or a numpy .npz archive
// FILE is any torch checkpoint or plain pickle, detected by content. Errors go to stderr with
// a non-zero exit status: 1 for a file that does not load, 2 for a command line that is wrong.
#include <ptload/all.hpp>
#include <ptload/scan.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#if defined(_WIN32)
#include <io.h>
#define PTLOAD_CLI_ISATTY(fd) _isatty(fd)
#else
#include <unistd.h>
#define PTLOAD_CLI_ISATTY(fd) isatty(fd)
#endif

namespace {

constexpr const char* general_usage =
    "usage: ptload COMMAND [OPTIONS] FILE\n"
    "  dump FILE      print a checkpoint or pickle as a readable tree (--json: the canonical JSON)\n"
    "  ls FILE        list its tensors: name, dtype, shape, device, elements, bytes, and totals\n"
    "  scan FILE...   say what each file would import, without loading it (exit 0 clean, 1 dangerous, 2 unreadable)\n"
    "  convert IN OUT write the tensors of IN to OUT, a .safetensors file or a numpy .npz archive\n"
    "  --version      print the version\n"
    "'ptload COMMAND --help' lists a command's options.\n";

constexpr const char* load_options_help =
    "  --encoding utf-8|latin1|ascii|bytes   how Python 2 str are read (torch.load's encoding; default utf-8)\n"
    "  --errors strict|replace               undecodable bytes: an error, or U+FFFD\n"
    "  --map-location LOC                    a device (cpu, cuda:0, meta, ...) or a remapping\n"
    "                                        FROM=TO[,FROM=TO...] (cuda:0=cpu,cuda:1=cpu)\n"
    "  --strict                              accept only the globals torch.load(weights_only=True) accepts\n"
    "                                        (and numeric numpy arrays)\n"
    "  --allow MODULE.NAME                   with --strict, accept one more, as add_safe_globals does\n"
    "  --progress, --no-progress             progress on stderr while storages are read or tensors written\n"
    "                                        (default: when stderr is a terminal and the work takes a while)\n";

constexpr const char* dump_usage =
    "usage: ptload dump [--json] [--max-items N | --all] [LOAD OPTIONS] FILE\n"
    "Prints FILE as a readable tree, one value per line.\n"
    "  --json          print the canonical JSON instead (the form ptload is compared with torch in)\n"
    "  --max-items N   items shown per container (default 64); the rest are counted\n"
    "  --all           show every item\n";

constexpr const char* ls_usage =
    "usage: ptload ls [--json] [LOAD OPTIONS] FILE\n"
    "Lists every tensor: name, dtype, shape, device, elements and bytes, then the totals (a storage\n"
    "shared by several tensors is counted once).\n"
    "  --json          print an array of rows instead: {name, dtype, shape, device, elements, bytes,\n"
    "                  storage (a number shared by tensors that share memory, or null)}\n";

constexpr const char* scan_usage =
    "usage: ptload scan [--json] FILE...\n"
    "Says what each file would import, with a verdict per global, without loading anything.\n"
    "Exit status: 0 every file clean, 1 one is dangerous, 2 one is unreadable (dangerous wins).\n"
    "  --json          print one JSON document\n";

constexpr const char* convert_usage =
    "usage: ptload convert [--to safetensors|npz] [--select NAME[,NAME...]] [--zip64] [LOAD OPTIONS] IN OUT\n"
    "Writes the tensors of IN to OUT, each as its own row-major array named as `ptload ls` names it,\n"
    "one tensor in memory at a time. OUT is written in full or not at all (a temporary file next to\n"
    "it is renamed at the end).\n"
    "  --to FORMAT     safetensors or npz (numpy.savez's format); default: from OUT's extension\n"
    "                  (.safetensors, .npz)\n"
    "  --select NAMES  only these tensors (comma-separated; may be repeated); a name that matches\n"
    "                  no tensor is an error\n"
    "  --zip64         npz: zip64 fields on every entry, as Python's zipfile writes with force_zip64\n"
    "                  (by default only where a size or offset reaches 4 GiB)\n"
    "A dtype the format has no equivalent for is refused, naming the tensor: complex and quantized\n"
    "tensors in safetensors; bfloat16, float8 and quantized tensors in npz.\n";

/// `--help` of a command (or of ptload) to stdout.
int help(std::string_view command) {
    if (command == "dump") std::printf("%sLOAD OPTIONS:\n%s", dump_usage, load_options_help);
    else if (command == "ls") std::printf("%sLOAD OPTIONS:\n%s", ls_usage, load_options_help);
    else if (command == "scan") std::fputs(scan_usage, stdout);
    else if (command == "convert") std::printf("%sLOAD OPTIONS:\n%s", convert_usage, load_options_help);
    else std::fputs(general_usage, stdout);
    return 0;
}

/// A wrong command line: the reason, then how the command is used; exit status 2.
int usage_error(std::string_view command, const std::string& reason) {
    std::fprintf(stderr, "ptload: %s\n", reason.c_str());
    if (command == "dump") std::fputs(dump_usage, stderr);
    else if (command == "ls") std::fputs(ls_usage, stderr);
    else if (command == "scan") std::fputs(scan_usage, stderr);
    else if (command == "convert") std::fputs(convert_usage, stderr);
    else std::fputs(general_usage, stderr);
    if (command == "dump" || command == "ls" || command == "convert") std::fprintf(stderr, "'ptload %.*s --help' lists the load options.\n", static_cast<int>(command.size()), command.data());
    return 2;
}

/// A file that does not load: what it is when that explains the failure (a safetensors file, a
/// text file, a directory), else the loader's error.
int fail(const char* path, ptload::file_source& src, const ptload::error& e) {
    if (src.is_open()) {
        std::uint8_t head[512] = {};
        const std::size_t n = src.size() < sizeof head ? static_cast<std::size_t>(src.size()) : sizeof head;
        if (src.read_at(0, head, n)) {
            std::string what = ptload::identify_foreign(head, n, src.size());
            if (!what.empty()) {
                std::fprintf(stderr, "ptload: %s is %s\n", path, what.c_str());
                return 1;
            }
        }
    }
    std::fprintf(stderr, "ptload: %s: %s\n", path, e.what().c_str());
    return 1;
}

bool is_directory(const char* path) {
    std::error_code ec;
    return std::filesystem::is_directory(path, ec);
}

std::string directory_error(const char* path) {
    return std::string("ptload: ") + path + " is a directory, not a torch checkpoint (give a file in it)\n";
}

std::string shape_text(const ptload::tensor& t, const char* separator) {
    std::string s = "[";
    for (std::size_t i = 0; i < t.rank(); ++i) s += (i ? separator : "") + std::to_string(t.shape()[i]);
    return s + "]";
}

/// The bytes a tensor's elements take (a packed sub-byte dtype holds several per byte).
std::uint64_t tensor_bytes(const ptload::tensor& t) {
    const std::uint64_t per_byte = ptload::values_per_byte(t.dtype());
    return (t.numel() + per_byte - 1) / per_byte * ptload::element_size(t.dtype());
}

/// "360 bytes", "1234567 bytes (1.2 MiB)".
std::string bytes_text(std::uint64_t n) {
    std::string s = std::to_string(n) + (n == 1 ? " byte" : " bytes");
    if (n < 1024) return s;
    const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = static_cast<double>(n);
    int u = -1;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, " (%.1f %s)", v, units[u]);
    return s + buf;
}

/// Progress on stderr for the load and conversion callbacks (load_options::progress,
/// convert_options::progress). On a terminal it appears once the work has taken half a second,
/// redrawn at most ten times a second and finished with a newline; short work shows nothing.
/// Asked for (--progress), every stage is shown, the last always.
class stderr_progress {
public:
    enum class mode { off, terminal, always };
    stderr_progress(mode m, const char* what) : mode_(m), what_(what) {}
    bool on() const noexcept { return mode_ != mode::off; }
    static void report(void* self, std::uint64_t done, std::uint64_t total) {
        static_cast<stderr_progress*>(self)->update(done, total);
    }

private:
    void update(std::uint64_t done, std::uint64_t total) {
        using clock = std::chrono::steady_clock;
        const clock::time_point now = clock::now();
        const bool last = done >= total;
        if (mode_ == mode::terminal && !shown_ && (last || now - start_ < std::chrono::milliseconds(500))) return;
        if (!last && shown_ && now - drawn_ < std::chrono::milliseconds(100)) return;
        drawn_ = now;
        shown_ = true;
        const unsigned percent = total ? static_cast<unsigned>(static_cast<double>(done) * 100.0 / static_cast<double>(total)) : 100;
        std::fprintf(stderr, "\r%s: %3u%% (%s of %s)%s", what_, percent, bytes_text(done).c_str(), bytes_text(total).c_str(),
                     last ? "\n" : "");
        std::fflush(stderr);
    }

    mode mode_;
    const char* what_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), drawn_;
    bool shown_ = false;
};

/// `ptload ls`: the tensor table with totals, or (--json) an array of rows.
int list(const ptload::document& doc, bool json) {
    auto rows = ptload::list_tensors(doc);
    struct line {
        std::string name, dtype, shape, device, elements, bytes;
    };
    std::vector<line> lines;
    lines.push_back({"name", "dtype", "shape", "device", "elements", "bytes"});
    // Storages in the order first met: a storage shared by several tensors is counted once.
    std::unordered_map<std::uint32_t, std::size_t> storage_number;
    std::uint64_t elements = 0, storage_bytes = 0;
    std::string out = json ? "[" : "";
    for (const auto& r : rows) {
        auto t = r.tensor_value.as_tensor();
        if (!t) continue;  // list_tensors lists tensors only
        std::string storage = "null";
        if (t->has_storage()) {
            auto found = storage_number.emplace(t->storage_index(), storage_number.size());
            if (found.second) storage_bytes += t->storage_nbytes();
            storage = std::to_string(found.first->second);
        }
        elements += t->numel();
        const std::string dtype(ptload::name(t->dtype()));
        const std::string device(t->device());
        if (json) {
            out += out.size() > 1 ? ",\n{\"name\":" : "\n{\"name\":";
            ptload::detail::json_string(out, r.name);
            out += ",\"dtype\":\"" + dtype + "\",\"shape\":" + shape_text(*t, ",") + ",\"device\":";
            ptload::detail::json_string(out, device);
            out += ",\"elements\":" + std::to_string(t->numel()) + ",\"bytes\":" + std::to_string(tensor_bytes(*t)) +
                   ",\"storage\":" + storage + "}";
        } else {
            lines.push_back({r.name, dtype, shape_text(*t, ", "), device, std::to_string(t->numel()),
                             std::to_string(tensor_bytes(*t))});
        }
    }
    if (json) {
        out += rows.empty() ? "]\n" : "\n]\n";
    } else {
        std::size_t w[6] = {};
        for (const auto& l : lines) {
            const std::string* cells[] = {&l.name, &l.dtype, &l.shape, &l.device, &l.elements, &l.bytes};
            for (int c = 0; c < 6; ++c) w[c] = cells[c]->size() > w[c] ? cells[c]->size() : w[c];
        }
        for (const auto& l : lines) {  // text columns to the left, numbers to the right
            const std::string* cells[] = {&l.name, &l.dtype, &l.shape, &l.device, &l.elements, &l.bytes};
            for (int c = 0; c < 6; ++c) {
                const std::size_t pad = w[c] - cells[c]->size();
                if (c >= 4) out.append(pad, ' ');
                out += *cells[c];
                if (c < 4) out.append(pad, ' ');
                out += c < 5 ? "  " : "\n";
            }
        }
        const std::size_t tensors = lines.size() - 1;
        out += "total: " + std::to_string(tensors) + (tensors == 1 ? " tensor, " : " tensors, ") + std::to_string(elements) +
               (elements == 1 ? " element, " : " elements, ") + bytes_text(storage_bytes) + " in " +
               std::to_string(storage_number.size()) + (storage_number.size() == 1 ? " storage" : " storages");
        std::size_t with_storage = 0;
        for (const auto& r : rows) {
            auto t = r.tensor_value.as_tensor();
            if (t && t->has_storage()) ++with_storage;
        }
        if (with_storage > storage_number.size()) out += " (tensors that share a storage count its bytes once)";
        out += "\n";
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

/// `ptload scan`: what each file would import, without loading it. The worst file decides the
/// exit status: dangerous (1) over unreadable (2) over clean (0).
int scan_files(int argc, char** argv) {
    bool json = false;
    int files = 0, status = 0;
    std::string out;
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--help" || a == "-h") return help("scan");
        if (a == "--json") {
            json = true;
            continue;
        }
        if (a.size() > 1 && a[0] == '-') return usage_error("scan", "scan: unknown option " + std::string(a));
    }
    if (json) out += "{\"files\":[";
    for (int i = 2; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--json") continue;
        ptload::scan_report report;
        ptload::file_source src(argv[i]);
        if (is_directory(argv[i]))
            report.errors.push_back(ptload::make_error(ptload::errc::io_error, ptload::no_offset, "a directory, not a file"));
        else if (src.is_open()) report = ptload::scan(src);
        else report.errors.push_back(src.open_error());
        if (json) out += (files ? "," : "") + ptload::scan_json(report, argv[i]);
        else out += ptload::scan_text(report, argv[i]);
        const int code = report.exit_code();
        if (code == 1 || (code == 2 && status == 0)) status = code;
        ++files;
    }
    if (!files) return usage_error("scan", "scan takes one or more FILEs, got none");
    if (json) out += "]}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return status;
}

/// `ptload convert`: the tensors into a temporary file next to OUT, renamed over OUT once
/// everything is written, so a conversion that fails (a refused dtype, a storage that does not
/// read, a full disk) leaves OUT as it was.
int convert(const ptload::document& doc, const char* in, const char* out, ptload::convert_format format,
            const ptload::convert_options& options) {
    namespace fs = std::filesystem;
    std::string partial;
    for (int i = 0; i < 100 && partial.empty(); ++i) {  // a name no other file has
        std::error_code ec;
        std::string candidate = std::string(out) + ".ptload-partial" + (i ? std::to_string(i) : "");
        if (!fs::exists(candidate, ec) && !ec) partial = candidate;
    }
    if (partial.empty()) {
        std::fprintf(stderr, "ptload: cannot write %s: no free name for a temporary file next to it\n", out);
        return 1;
    }
    std::FILE* f = std::fopen(partial.c_str(), "wb");
    if (!f) {
        std::fprintf(stderr, "ptload: cannot write %s: %s\n", out, std::strerror(errno));
        return 1;
    }
    ptload::file_sink sink(f);
    auto done = ptload::write_converted(doc, sink, format, options);
    // A full disk may show only when the buffered bytes are flushed, or at close.
    errno = 0;
    bool written = std::fflush(f) == 0 && !std::ferror(f);
    const int write_errno = errno;
    written = std::fclose(f) == 0 && written;
    auto discard = [&]() {
        std::error_code ignored;
        fs::remove(partial, ignored);
    };
    if (!written) {
        discard();
        std::fprintf(stderr, "ptload: cannot write %s: %s\n", out, std::strerror(write_errno ? write_errno : errno));
        return 1;
    }
    if (!done) {
        discard();
        std::fprintf(stderr, "ptload: %s: %s\n", in, done.err().what().c_str());
        return 1;
    }
    std::error_code ec;
    fs::rename(partial, out, ec);
    if (ec) {
        discard();
        std::fprintf(stderr, "ptload: cannot write %s: %s\n", out, ec.message().c_str());
        return 1;
    }
    std::printf("wrote %s (%s): %s %s, %s\n", out, format == ptload::convert_format::npz ? "npz" : "safetensors",
                std::to_string(done->tensors).c_str(), done->tensors == 1 ? "tensor" : "tensors", bytes_text(done->bytes).c_str());
    return 0;
}

/// The format OUT's extension names (.safetensors, .npz, in any case); false for others.
bool format_from_extension(std::string_view path, ptload::convert_format& format) {
    auto ends_with = [&](std::string_view ext) {
        if (path.size() < ext.size()) return false;
        for (std::size_t i = 0; i < ext.size(); ++i) {
            char c = path[path.size() - ext.size() + i];
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            if (c != ext[i]) return false;
        }
        return true;
    };
    if (ends_with(".safetensors")) format = ptload::convert_format::safetensors;
    else if (ends_with(".npz")) format = ptload::convert_format::npz;
    else return false;
    return true;
}

/// A count for --max-items: decimal digits only, at most 18 of them (no overflow).
bool parse_count(std::string_view text, std::size_t& count) {
    if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string_view::npos) return false;
    std::uint64_t n = 0;
    for (char c : text) n = n * 10 + static_cast<std::uint64_t>(c - '0');
    count = n > std::numeric_limits<std::size_t>::max() ? std::numeric_limits<std::size_t>::max() : static_cast<std::size_t>(n);
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage_error("", "no command given");
    const std::string_view command = argv[1];
    if (command == "--version") {
        std::printf("ptload %s\n", ptload::version_string);
        return 0;
    }
    if (command == "--help" || command == "-h") return help("");
    if (command == "scan") return scan_files(argc, argv);
    if (command != "dump" && command != "ls" && command != "convert") {
        std::string reason = "unknown command '" + std::string(command) + "'";
        if (command == "help") reason += " (ptload --help, or ptload COMMAND --help)";
        return usage_error("", reason);
    }
    const std::string cmd(command);

    ptload::dump_options opts;
    ptload::tree_options tree;
    tree.more_hint = "use --max-items or --all";
    bool json = false, tree_option = false, options_end = false;
    std::vector<const char*> paths;
    ptload::convert_options convert_opts;
    ptload::convert_format format = ptload::convert_format::safetensors;
    bool format_given = false;
    stderr_progress::mode progress = PTLOAD_CLI_ISATTY(2) ? stderr_progress::mode::terminal : stderr_progress::mode::off;
    for (int i = 2; i < argc; ++i) {
        std::string_view a = argv[i];
        if (options_end || a.size() < 2 || a[0] != '-') {
            paths.push_back(argv[i]);
            continue;
        }
        if (a == "--") {
            options_end = true;
            continue;
        }
        if (a == "--help" || a == "-h") return help(command);
        // --flag=value is --flag value
        std::string_view inline_value;
        bool has_inline = false;
        if (std::size_t eq = a.find('='); a.substr(0, 2) == "--" && eq != std::string_view::npos) {
            inline_value = a.substr(eq + 1);
            a = a.substr(0, eq);
            has_inline = true;
        }
        auto takes_no_value = [&]() { return has_inline ? usage_error(command, cmd + ": " + std::string(a) + " takes no value") : 0; };
        auto next_value = [&](std::string_view& v) {
            if (has_inline) {
                v = inline_value;
                return true;
            }
            if (i + 1 >= argc) return false;
            v = argv[++i];
            return true;
        };
        if (a == "--json" && command != "convert") {
            if (int rc = takes_no_value()) return rc;
            json = true;
        } else if (a == "--strict") {
            if (int rc = takes_no_value()) return rc;
            opts.strict = true;
        } else if (a == "--progress" || a == "--no-progress") {
            if (int rc = takes_no_value()) return rc;
            progress = a == "--progress" ? stderr_progress::mode::always : stderr_progress::mode::off;
        } else if (a == "--all" && command == "dump") {
            if (int rc = takes_no_value()) return rc;
            tree.max_items = std::numeric_limits<std::size_t>::max();
            tree.max_lines = std::numeric_limits<std::size_t>::max();  // the output stays bounded by max_bytes
            tree_option = true;
        } else if (a == "--max-items" && command == "dump") {
            std::string_view v;
            if (!next_value(v)) return usage_error(command, cmd + ": --max-items needs a number");
            if (!parse_count(v, tree.max_items))
                return usage_error(command, cmd + ": --max-items takes a number of items, got '" + std::string(v) + "'");
            tree_option = true;
        } else if (a == "--to" && command == "convert") {
            std::string_view v;
            if (!next_value(v)) return usage_error(command, cmd + ": --to needs a format (safetensors or npz)");
            if (v == "safetensors") format = ptload::convert_format::safetensors;
            else if (v == "npz") format = ptload::convert_format::npz;
            else return usage_error(command, cmd + ": --to takes safetensors or npz, got '" + std::string(v) + "'");
            format_given = true;
        } else if (a == "--zip64" && command == "convert") {
            if (int rc = takes_no_value()) return rc;
            convert_opts.force_zip64 = true;
        } else if (a == "--select" && command == "convert") {
            std::string_view v;
            if (!next_value(v) || v.empty()) return usage_error(command, cmd + ": --select needs tensor names");
            for (std::size_t start = 0; start <= v.size();) {
                std::size_t comma = v.find(',', start);
                if (comma == std::string_view::npos) comma = v.size();
                if (comma > start) convert_opts.select.emplace_back(v.substr(start, comma - start));
                start = comma + 1;
            }
        } else if (a == "--encoding" || a == "--errors" || a == "--map-location" || a == "--allow") {
            std::string_view v;
            if (!next_value(v)) return usage_error(command, cmd + ": " + std::string(a) + " needs a value");
            auto known = opts.parse(a, v);
            if (!known) return usage_error(command, cmd + ": " + known.err().message);
        } else {
            return usage_error(command, cmd + ": unknown option " + std::string(argv[i]));
        }
    }
    if (command == "convert" && paths.size() != 2)
        return usage_error(command, "convert takes IN and OUT, got " + std::to_string(paths.size()) +
                                        (paths.size() == 1 ? " file" : " files"));
    if (command != "convert" && paths.size() != 1)
        return usage_error(command, cmd + " takes one FILE, got " + std::to_string(paths.size()));
    if (command == "convert") {
        if (!format_given && !format_from_extension(paths[1], format))
            return usage_error(command, std::string("convert: cannot tell the format from the name ") + paths[1] +
                                            " (give it a .safetensors or .npz extension, or use --to)");
        if (is_directory(paths[1])) return usage_error(command, std::string("convert: ") + paths[1] + " is a directory");
        std::error_code ec;
        if (std::filesystem::equivalent(paths[0], paths[1], ec) && !ec)
            return usage_error(command, std::string("convert: OUT is the input file ") + paths[0]);
    }
    if (json && tree_option) return usage_error(command, "dump: --max-items and --all shape the tree; --json prints everything");
    const char* path = paths[0];

    if (is_directory(path)) {
        std::fputs(directory_error(path).c_str(), stderr);
        return 1;
    }
    ptload::file_source src(path);
    if (!src.is_open()) {
        std::fprintf(stderr, "ptload: %s\n", src.open_error().what().c_str());
        return 1;
    }
    // The listing and the tree describe tensors without their bytes: those loads read the
    // pickle alone (lazy, the document owning a second handle on the file); the JSON hashes
    // every storage, so it reads them all. A conversion reads each storage as it writes it.
    if (!json) opts.load.storages = ptload::storage_mode::lazy;
    stderr_progress reading(progress, "reading storages");
    if (reading.on()) {
        opts.load.progress = &stderr_progress::report;
        opts.load.progress_context = &reading;
    }
    stderr_progress writing(progress, "writing tensors");
    if (writing.on()) {
        convert_opts.progress = &stderr_progress::report;
        convert_opts.progress_context = &writing;
    }
    auto doc = json ? ptload::load_dynamic(src, opts) : ptload::load_dynamic(ptload::file_source(path), opts);
    if (!doc) return fail(path, src, doc.err());

    if (command == "ls") return list(*doc, json);
    if (command == "convert") return convert(*doc, path, paths[1], format, convert_opts);
    if (json) {
        auto text = ptload::canonical_json(*doc);
        if (!text) {  // the file loaded: what went wrong is the walk's, not the file's kind
            std::fprintf(stderr, "ptload: %s: %s\n", path, text.err().what().c_str());
            return 1;
        }
        std::fwrite(text->data(), 1, text->size(), stdout);
        std::fputc('\n', stdout);
        return 0;
    }
    std::string out = ptload::to_tree(doc->root(), tree);
    if (doc->is_torchscript()) out = "data: " + out + "constants: " + ptload::to_tree(doc->constants(), tree);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}
