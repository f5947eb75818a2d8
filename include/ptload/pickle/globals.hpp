// pickle/globals.hpp: what a GLOBAL names. ptload never imports or calls anything: a global
// is resolved against a table of the callables it models natively (builtins that pickle uses,
// OrderedDict, numpy arrays, torch's rebuild functions); any other name becomes an inert
// reference, and names that are never legitimate in a checkpoint fail the load.
#ifndef PTLOAD_PICKLE_GLOBALS_HPP
#define PTLOAD_PICKLE_GLOBALS_HPP

#include "../config.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ptload {
inline namespace v0 {
namespace pickle {

/// Globals ptload models natively. `none` means an ordinary (opaque) global.
enum class known_global : std::uint16_t {
    none,
    // builtins the pickler emits for plain values (FORMAT.md 1.7)
    builtins_set, builtins_frozenset, builtins_bytearray, builtins_bytes, builtins_complex,
    builtins_slice, builtins_range,
    codecs_encode,             ///< _codecs.encode(str, 'latin1') -> bytes
    ordered_dict,              ///< collections.OrderedDict
    // numpy
    numpy_reconstruct, numpy_ndarray, numpy_dtype, numpy_scalar,
    // torch
    torch_rebuild_tensor, torch_rebuild_tensor_v2, torch_rebuild_tensor_v3,
    torch_rebuild_parameter, torch_rebuild_parameter_with_state, torch_rebuild_qtensor,
    torch_rebuild_sparse_tensor, torch_rebuild_sparse_csr_tensor, torch_rebuild_nested_tensor,
    torch_rebuild_meta_tensor_no_storage, torch_rebuild_wrapper_subclass,
    torch_rebuild_device_tensor_from_numpy, torch_rebuild_device_tensor_from_cpu_tensor,
    torch_rebuild_from_type_v2, torch_rebuild_from_type,
    torch_size, torch_device, torch_tensor, torch_parameter, torch_get_layout, torch_load_from_bytes,
    torch_storage_class,       ///< torch.FloatStorage ... (dtype by name), typed/untyped storages
    torch_dtype,               ///< torch.float32 ...
    torch_qscheme,             ///< torch.per_tensor_affine ...
    jit_identity,              ///< torch.jit._pickle.build_intlist/... and restore_type_tag: return arg 0
    count_
};

struct global_row {
    std::string_view module, name;
    known_global id;
};

// clang-format off
inline constexpr global_row known_globals[] = {
    {"builtins", "set", known_global::builtins_set},
    {"builtins", "frozenset", known_global::builtins_frozenset},
    {"builtins", "bytearray", known_global::builtins_bytearray},
    {"builtins", "bytes", known_global::builtins_bytes},
    {"builtins", "complex", known_global::builtins_complex},
    {"builtins", "slice", known_global::builtins_slice},
    {"builtins", "range", known_global::builtins_range},
    {"_codecs", "encode", known_global::codecs_encode},
    {"collections", "OrderedDict", known_global::ordered_dict},
    {"numpy.core.multiarray", "_reconstruct", known_global::numpy_reconstruct},
    {"numpy._core.multiarray", "_reconstruct", known_global::numpy_reconstruct},
    {"numpy", "ndarray", known_global::numpy_ndarray},
    {"numpy", "dtype", known_global::numpy_dtype},
    {"numpy.core.multiarray", "scalar", known_global::numpy_scalar},
    {"numpy._core.multiarray", "scalar", known_global::numpy_scalar},
    {"torch._utils", "_rebuild_tensor", known_global::torch_rebuild_tensor},
    {"torch._utils", "_rebuild_tensor_v2", known_global::torch_rebuild_tensor_v2},
    {"torch._utils", "_rebuild_tensor_v3", known_global::torch_rebuild_tensor_v3},
    {"torch._utils", "_rebuild_parameter", known_global::torch_rebuild_parameter},
    {"torch._utils", "_rebuild_parameter_with_state", known_global::torch_rebuild_parameter_with_state},
    {"torch._utils", "_rebuild_qtensor", known_global::torch_rebuild_qtensor},
    {"torch._utils", "_rebuild_sparse_tensor", known_global::torch_rebuild_sparse_tensor},
    {"torch._utils", "_rebuild_sparse_csr_tensor", known_global::torch_rebuild_sparse_csr_tensor},
    {"torch._utils", "_rebuild_nested_tensor", known_global::torch_rebuild_nested_tensor},
    {"torch._utils", "_rebuild_meta_tensor_no_storage", known_global::torch_rebuild_meta_tensor_no_storage},
    {"torch._utils", "_rebuild_wrapper_subclass", known_global::torch_rebuild_wrapper_subclass},
    {"torch._utils", "_rebuild_device_tensor_from_numpy", known_global::torch_rebuild_device_tensor_from_numpy},
    {"torch._utils", "_rebuild_xla_tensor", known_global::torch_rebuild_device_tensor_from_numpy},
    {"torch._utils", "_rebuild_device_tensor_from_cpu_tensor", known_global::torch_rebuild_device_tensor_from_cpu_tensor},
    {"torch._tensor", "_rebuild_from_type_v2", known_global::torch_rebuild_from_type_v2},
    {"torch._tensor", "_rebuild_from_type", known_global::torch_rebuild_from_type},
    {"torch", "Size", known_global::torch_size},
    {"torch", "device", known_global::torch_device},
    {"torch", "Tensor", known_global::torch_tensor},
    {"torch._tensor", "Tensor", known_global::torch_tensor},
    {"torch.nn.parameter", "Parameter", known_global::torch_parameter},
    {"torch.serialization", "_get_layout", known_global::torch_get_layout},
    {"torch.storage", "_load_from_bytes", known_global::torch_load_from_bytes},
    {"torch.storage", "UntypedStorage", known_global::torch_storage_class},
    {"torch.storage", "TypedStorage", known_global::torch_storage_class},
    {"torch", "UntypedStorage", known_global::torch_storage_class},
    {"torch", "TypedStorage", known_global::torch_storage_class},
    {"torch", "per_tensor_affine", known_global::torch_qscheme},
    {"torch", "per_channel_affine", known_global::torch_qscheme},
    {"torch", "per_tensor_symmetric", known_global::torch_qscheme},
    {"torch", "per_channel_symmetric", known_global::torch_qscheme},
    {"torch", "per_channel_affine_float_qparams", known_global::torch_qscheme},
    {"torch.jit._pickle", "build_intlist", known_global::jit_identity},
    {"torch.jit._pickle", "build_tensorlist", known_global::jit_identity},
    {"torch.jit._pickle", "build_doublelist", known_global::jit_identity},
    {"torch.jit._pickle", "build_boollist", known_global::jit_identity},
    {"torch.jit._pickle", "build_tensor_from_id", known_global::jit_identity},
    {"torch.jit._pickle", "restore_type_tag", known_global::jit_identity},
};

// Python 2 spellings that CPython maps when fix_imports is on (Lib/_compat_pickle.py), and
// that CPython 3 itself writes at protocol < 3 (FORMAT.md 1.6).
inline constexpr std::string_view py2_modules[][2] = {
    {"__builtin__", "builtins"}, {"copy_reg", "copyreg"}, {"Queue", "queue"}, {"repr", "reprlib"},
    {"_abcoll", "collections.abc"}, {"cPickle", "pickle"}, {"_elementtree", "xml.etree.ElementTree"},
    {"StringIO", "io"}, {"cStringIO", "io"}, {"UserDict", "collections"}, {"UserList", "collections"},
    {"UserString", "collections"}, {"thread", "_thread"}, {"dummy_thread", "_dummy_thread"},
    {"urlparse", "urllib.parse"}, {"urllib2", "urllib.request"}, {"httplib", "http.client"},
    {"ConfigParser", "configparser"}, {"SocketServer", "socketserver"}, {"Tkinter", "tkinter"},
    {"whichdb", "dbm"}, {"anydbm", "dbm"}, {"exceptions", "builtins"}, {"dbhash", "dbm.bsd"},
    {"dumbdbm", "dbm.dumb"}, {"dbm", "dbm.ndbm"}, {"gdbm", "dbm.gnu"}, {"xmlrpclib", "xmlrpc.client"},
    {"SimpleXMLRPCServer", "xmlrpc.server"}, {"BaseHTTPServer", "http.server"}, {"Cookie", "http.cookies"},
    {"cookielib", "http.cookiejar"}, {"htmlentitydefs", "html.entities"}, {"HTMLParser", "html.parser"},
    {"commands", "subprocess"}, {"robotparser", "urllib.robotparser"}, {"markupbase", "_markupbase"},
    {"_winreg", "winreg"}, {"__main__", "__main__"},
};
inline constexpr std::string_view py2_names[][4] = {
    {"__builtin__", "xrange", "builtins", "range"},     {"__builtin__", "reduce", "functools", "reduce"},
    {"__builtin__", "intern", "sys", "intern"},         {"__builtin__", "unichr", "builtins", "chr"},
    {"__builtin__", "unicode", "builtins", "str"},      {"__builtin__", "long", "builtins", "int"},
    {"__builtin__", "basestring", "builtins", "str"},   {"itertools", "izip", "builtins", "zip"},
    {"itertools", "imap", "builtins", "map"},           {"itertools", "ifilter", "builtins", "filter"},
    {"itertools", "ifilterfalse", "itertools", "filterfalse"},
    {"itertools", "izip_longest", "itertools", "zip_longest"},
    {"UserDict", "IterableUserDict", "collections", "UserDict"},
    {"UserList", "UserList", "collections", "UserList"}, {"UserString", "UserString", "collections", "UserString"},
    {"whichdb", "whichdb", "dbm", "whichdb"},           {"_socket", "fromfd", "socket", "fromfd"},
    {"_multiprocessing", "Connection", "multiprocessing.connection", "Connection"},
    {"multiprocessing.process", "Process", "multiprocessing.context", "Process"},
    {"multiprocessing.forking", "Popen", "multiprocessing.popen_fork", "Popen"},
    {"urllib", "ContentTooShortError", "urllib.error", "ContentTooShortError"},
    {"urllib", "getproxies", "urllib.request", "getproxies"}, {"urllib", "pathname2url", "urllib.request", "pathname2url"},
    {"urllib", "quote_plus", "urllib.parse", "quote_plus"},   {"urllib", "quote", "urllib.parse", "quote"},
    {"urllib", "unquote_plus", "urllib.parse", "unquote_plus"}, {"urllib", "unquote", "urllib.parse", "unquote"},
    {"urllib", "url2pathname", "urllib.request", "url2pathname"}, {"urllib", "urlcleanup", "urllib.request", "urlcleanup"},
    {"urllib", "urlencode", "urllib.parse", "urlencode"},     {"urllib", "urlopen", "urllib.request", "urlopen"},
    {"urllib", "urlretrieve", "urllib.request", "urlretrieve"}, {"urllib2", "HTTPError", "urllib.error", "HTTPError"},
    {"urllib2", "URLError", "urllib.error", "URLError"},
    {"exceptions", "StandardError", "builtins", "Exception"},
};

// Whole modules whose members are never data in a checkpoint (SECURITY.md: picklescan and
// fickling lists). A name matches the module itself and every submodule.
inline constexpr std::string_view dangerous_modules[] = {
    "os", "posix", "nt", "subprocess", "sys", "socket", "runpy", "pickle", "_pickle", "pip", "pdb",
    "asyncio", "ctypes", "_ctypes", "_pyrepl", "shutil", "pty", "importlib", "webbrowser", "code", "codeop",
    "multiprocessing", "marshal", "shelve", "dill", "cloudpickle", "joblib", "imaplib", "ftplib", "smtplib",
    "telnetlib", "poplib", "nntplib", "http.client", "urllib.request", "_posixsubprocess", "_osx_support",
    "_aix_support", "idlelib", "lib2to3", "cProfile", "profile", "timeit", "trace", "doctest", "bdb",
    "test", "platform", "uuid", "zipimport", "site", "tempfile", "glob", "signal", "venv", "ensurepip",
    "distutils", "setuptools", "pydoc", "sysconfig", "builtins.__import__", "_io", "io",
    // gadgets in torch and numpy that run code or fetch files (picklescan's GHSA samples)
    "torch.utils.bottleneck", "torch._dynamo", "torch._inductor", "torch.fx.experimental.symbolic_shapes",
    "torch.utils.data.datapipes.utils.decoder", "torch.utils._config_module", "torch.utils.collect_env",
    "numpy.f2py", "numpy.distutils",
    // network clients
    "requests", "aiohttp", "httpx", "urllib3",
};
// Single callables that are never data (module, name).
inline constexpr std::string_view dangerous_names[][2] = {
    {"builtins", "eval"}, {"builtins", "exec"}, {"builtins", "execfile"}, {"builtins", "compile"},
    {"builtins", "getattr"}, {"builtins", "setattr"}, {"builtins", "delattr"}, {"builtins", "__import__"},
    {"builtins", "open"}, {"builtins", "apply"}, {"builtins", "input"}, {"builtins", "breakpoint"},
    {"builtins", "globals"}, {"builtins", "locals"}, {"builtins", "vars"}, {"builtins", "exit"},
    {"builtins", "quit"}, {"builtins", "help"},
    {"functools", "partial"}, {"functools", "reduce"}, {"operator", "attrgetter"}, {"operator", "methodcaller"},
    {"operator", "itemgetter"}, {"types", "CodeType"}, {"types", "FunctionType"}, {"types", "MethodType"},
    {"pkgutil", "resolve_name"}, {"logging", "FileHandler"}, {"logging.handlers", "FileHandler"},
    {"inspect", "getattr_static"}, {"numpy", "load"}, {"numpy.testing._private.utils", "runstring"},
    {"torch", "load"}, {"torch.serialization", "load"}, {"torch.serialization", "_load"},
    {"torch.serialization", "_legacy_load"}, {"torch._inductor.codecache", "compile_file"},
    {"torch.jit.unsupported_tensor_ops", "execWrapper"}, {"torch.utils.collect_env", "run"},
    {"torch.utils._config_module", "ConfigModule"}, {"torch.hub", "load"}, {"torch.hub", "load_state_dict_from_url"},
    {"copyreg", "_reconstructor_unsafe"},
};
// clang-format on

/// A resolved global: module and qualified name after Python-2 and torch renames.
struct resolved_global {
    std::string module, name;
    known_global id = known_global::none;
    bool dangerous = false;
};

inline bool module_matches(std::string_view module, std::string_view prefix) {
    return module == prefix || (module.size() > prefix.size() && module.compare(0, prefix.size(), prefix) == 0 &&
                                module[prefix.size()] == '.');
}

/// Applies the renames CPython's find_class applies (py2 tables when `proto < 3`) and torch's
/// own (`torch.tensor` -> `torch._tensor`), then classifies the name.
inline resolved_global resolve_global(std::string_view module, std::string_view name, int proto) {
    resolved_global g{std::string(module), std::string(name), known_global::none, false};
    if (proto < 3) {
        bool renamed = false;
        for (const auto& row : py2_names)
            if (row[0] == module && row[1] == name) {
                g.module = std::string(row[2]);
                g.name = std::string(row[3]);
                renamed = true;
                break;
            }
        if (!renamed)
            for (const auto& row : py2_modules)
                if (row[0] == module) {
                    g.module = std::string(row[1]);
                    break;
                }
    }
    if (g.module == "torch.tensor") g.module = "torch._tensor";

    for (const auto& m : dangerous_modules)
        if (module_matches(g.module, m)) g.dangerous = true;
    for (const auto& row : dangerous_names)
        if (g.module == row[0] && g.name == row[1]) g.dangerous = true;
    if (g.dangerous) return g;

    for (const auto& row : known_globals)
        if (row.module == g.module && row.name == g.name) {
            g.id = row.id;
            return g;
        }
    // torch's loader maps any global whose name ends in "Storage" by name (module ignored),
    // e.g. torch.cuda.FloatStorage in old files.
    if (g.module.compare(0, 5, "torch") == 0 && g.name.size() > 7 &&
        g.name.compare(g.name.size() - 7, 7, "Storage") == 0)
        g.id = known_global::torch_storage_class;
    else if (g.module == "torch")
        g.id = known_global::torch_dtype;  // confirmed (or refused) by the torch layer by name
    return g;
}

} // namespace pickle
} // namespace v0
} // namespace ptload

#endif
