// pickle/globals.hpp: what a GLOBAL names. ptload never imports or calls anything: a global
// is resolved against a table of the Python callables the pickle machine models natively
// (builtins that pickle uses, OrderedDict, numpy arrays); any other name becomes an inert
// reference, which a Handler (pickle/machine.hpp) may give a meaning of its own (torch's are in
// torch/globals.hpp). Each global also gets a verdict: `safe` (strict mode's default allowlist,
// the globals torch's weights_only unpickler accepts plus numpy arrays), `dangerous` (calling it
// on file data could run code, touch files, processes or the network, or load another pickle:
// the load fails) or `unknown` (anything else). Names are classified the way CPython's
// find_class would resolve them: Python 2 renames, C-module twins (posix is os) and dotted
// attribute walks (posixpath + os.system is os.system).
#ifndef PTLOAD_PICKLE_GLOBALS_HPP
#define PTLOAD_PICKLE_GLOBALS_HPP

#include "../config.hpp"
#include "../memory.hpp"
#include "../policies/limits.hpp"

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>

namespace ptload {
inline namespace v0 {
namespace pickle {

/// The Python callables the pickle machine models natively. `none` means a global the machine
/// does not model: an ordinary (opaque) global, unless its Handler gives it a meaning.
enum class known_global : std::uint16_t {
    none,
    // builtins the pickler emits for plain values (FORMAT.md 1.7)
    builtins_set, builtins_frozenset, builtins_bytearray, builtins_bytes, builtins_complex,
    builtins_slice, builtins_range,
    codecs_encode,             ///< _codecs.encode(str, 'latin1') -> bytes
    ordered_dict,              ///< collections.OrderedDict
    // numpy
    numpy_reconstruct, numpy_ndarray, numpy_dtype, numpy_scalar,
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

/// What a global would do if Python resolved it and called it on data from the file.
enum class verdict : std::uint8_t {
    safe,       ///< on strict mode's default allowlist (torch 1.13's weights_only globals, numpy arrays)
    unknown,    ///< anything else: an inert object in the default mode, refused in strict mode
    dangerous,  ///< can run code, touch files, processes or the network, or load another pickle: refused
};

inline constexpr std::string_view verdict_name(verdict v) noexcept {
    return v == verdict::safe ? "safe" : v == verdict::dangerous ? "dangerous" : "unknown";
}

/// Why a global is dangerous, in a few words (shown by errors and by scans).
namespace reason {
inline constexpr std::string_view code = "runs Python code";
inline constexpr std::string_view command = "runs a shell command or another program";
inline constexpr std::string_view process = "controls processes, threads or signals";
inline constexpr std::string_view files = "opens, reads or changes files";
inline constexpr std::string_view network = "uses the network";
inline constexpr std::string_view pickle = "loads another pickle or model";
inline constexpr std::string_view imports = "imports modules or reaches attributes by name";
inline constexpr std::string_view calls = "calls a callable the file supplies";
inline constexpr std::string_view internals = "reaches interpreter internals";
inline constexpr std::string_view method = "a method of that name loads, opens or runs something";
} // namespace reason

/// A dotted path denied together with everything below it ("os" covers os.system and
/// os.path.join; "torch.hub" covers torch.hub.load). A trailing '*' matches any suffix of
/// the last component ("pandas.read_*").
struct denied_path {
    std::string_view path, why;
};

// Paths are written the way CPython names the object after aliases are folded (module_aliases).
// Sources: the lists of picklescan and fickling, the gadgets of published advisories, and what
// each module does when a pickle calls it.
// clang-format off
inline constexpr denied_path denied_paths[] = {
    // running code
    {"builtins.eval", reason::code}, {"builtins.exec", reason::code}, {"builtins.execfile", reason::code},
    {"builtins.compile", reason::code}, {"builtins.breakpoint", reason::code}, {"builtins.input", reason::process},
    {"builtins.help", reason::command}, {"builtins.exit", reason::process}, {"builtins.quit", reason::process},
    {"builtins.globals", reason::internals}, {"builtins.locals", reason::internals}, {"builtins.vars", reason::internals},
    {"builtins.getattr", reason::imports}, {"builtins.setattr", reason::internals}, {"builtins.delattr", reason::internals},
    {"builtins.apply", reason::calls}, {"builtins.reduce", reason::calls}, {"builtins.open", reason::files},
    {"types.CodeType", reason::code}, {"types.FunctionType", reason::code}, {"types.LambdaType", reason::code},
    {"types.MethodType", reason::calls}, {"types.new_class", reason::calls},
    {"code", reason::code}, {"codeop", reason::code}, {"runpy", reason::code}, {"pdb", reason::code}, {"bdb", reason::code},
    {"trace", reason::code}, {"timeit", reason::code}, {"cProfile", reason::code}, {"profile", reason::code},
    {"pstats", reason::pickle}, {"doctest", reason::code}, {"pydoc", reason::command}, {"idlelib", reason::code},
    {"lib2to3", reason::code}, {"test", reason::code}, {"unittest", reason::code}, {"py_compile", reason::files},
    {"compileall", reason::files}, {"marshal", reason::code}, {"_pyrepl", reason::command}, {"tkinter", reason::code},
    {"turtle", reason::code}, {"turtledemo", reason::code}, {"ctypes", reason::internals}, {"cffi", reason::internals},
    {"sys", reason::internals}, {"atexit", reason::calls}, {"functools.partial", reason::calls},
    {"functools.partialmethod", reason::calls}, {"functools.reduce", reason::calls}, {"operator.attrgetter", reason::imports},
    {"operator.methodcaller", reason::imports}, {"operator.itemgetter", reason::imports}, {"operator.call", reason::calls},
    // imports
    {"importlib", reason::imports}, {"pkgutil", reason::imports}, {"zipimport", reason::imports}, {"modulefinder", reason::imports},
    {"inspect", reason::imports}, {"site", reason::imports}, {"sysconfig", reason::imports}, {"pip", reason::command},
    {"setuptools", reason::command}, {"distutils", reason::command}, {"pkg_resources", reason::imports},
    {"ensurepip", reason::command}, {"venv", reason::command},
    // programs, processes, threads
    {"os", reason::command}, {"subprocess", reason::command}, {"pty", reason::command}, {"platform", reason::command},
    {"uuid._*", reason::command}, {"uuid.getnode", reason::command}, {"uuid.uuid1", reason::command},
    {"mailcap", reason::command}, {"pipes", reason::command}, {"_osx_support", reason::command},
    {"_aix_support", reason::command}, {"webbrowser", reason::command}, {"multiprocessing", reason::process},
    {"concurrent", reason::process}, {"asyncio", reason::process}, {"threading", reason::process},
    {"_thread.start_new_thread", reason::process}, {"_thread.start_new", reason::process}, {"signal", reason::process},
    // files
    {"io.open", reason::files}, {"io.open_code", reason::files}, {"io.FileIO", reason::files},
    {"codecs.open", reason::files}, {"codecs.EncodedFile", reason::files}, {"codecs.register", reason::calls},
    {"shutil", reason::files}, {"tempfile", reason::files}, {"glob", reason::files}, {"fileinput", reason::files},
    {"filecmp", reason::files}, {"linecache", reason::files}, {"netrc", reason::files}, {"shelve", reason::pickle},
    {"dbm", reason::files}, {"sqlite3", reason::files}, {"zipfile", reason::files}, {"tarfile", reason::files},
    {"gzip", reason::files}, {"bz2", reason::files}, {"lzma", reason::files}, {"zipapp", reason::files}, {"mmap", reason::files},
    {"logging.FileHandler", reason::files}, {"logging.handlers", reason::files}, {"logging.config", reason::code},
    {"logging.basicConfig", reason::files}, {"xml.etree.ElementTree.parse", reason::files},
    {"xml.etree.ElementTree.iterparse", reason::files}, {"xml.dom.minidom.parse", reason::files},
    {"xml.dom.pulldom.parse", reason::files}, {"xml.sax.parse", reason::files},
    // a path object is data; its methods, reached through a dotted name, open and change files
    {"pathlib.Path.*", reason::files}, {"pathlib.PosixPath.*", reason::files}, {"pathlib.WindowsPath.*", reason::files},
    {"pathlib._local.Path.*", reason::files}, {"pathlib._local.PosixPath.*", reason::files},
    // network
    {"socket", reason::network}, {"ssl", reason::network}, {"http.client", reason::network}, {"http.server", reason::network},
    {"urllib.request", reason::network}, {"urllib3", reason::network}, {"requests", reason::network},
    {"aiohttp", reason::network}, {"httpx", reason::network}, {"ftplib", reason::network}, {"imaplib", reason::network},
    {"smtplib", reason::network}, {"poplib", reason::network}, {"nntplib", reason::network}, {"telnetlib", reason::network},
    {"xmlrpc", reason::network}, {"socketserver", reason::network}, {"smtpd", reason::network},
    {"asynchat", reason::network}, {"asyncore", reason::network}, {"huggingface_hub", reason::network},
    // other pickles and models
    {"pickle", reason::pickle}, {"dill", reason::pickle}, {"cloudpickle", reason::pickle},
    {"joblib.load", reason::pickle}, {"joblib.dump", reason::files}, {"joblib.numpy_pickle.load", reason::pickle},
    {"joblib.numpy_pickle.dump", reason::files}, {"joblib.numpy_pickle.NumpyUnpickler", reason::pickle},
    {"joblib.numpy_pickle_compat.load_compat", reason::pickle}, {"joblib.numpy_pickle_compat.ZipNumpyUnpickler", reason::pickle},
    {"joblib.numpy_pickle_compat.read_zfile", reason::files}, {"joblib.numpy_pickle_compat.write_zfile", reason::files},
    {"joblib.numpy_pickle_utils", reason::files}, {"joblib.externals", reason::pickle}, {"joblib.parallel", reason::process},
    {"joblib.Parallel", reason::process}, {"joblib.memory", reason::files}, {"joblib.Memory", reason::files},
    {"joblib._memmapping_reducer", reason::files}, {"joblib.pool", reason::process}, {"joblib.executor", reason::process},
    {"joblib._parallel_backends", reason::process}, {"joblib.backports", reason::files}, {"joblib.disk", reason::files},
    {"numpy.load", reason::pickle}, {"numpy.lib.npyio", reason::pickle}, {"numpy.lib._npyio_impl", reason::pickle},
    {"numpy.loadtxt", reason::files}, {"numpy.genfromtxt", reason::files}, {"numpy.fromfile", reason::files},
    {"numpy.core.multiarray.fromfile", reason::files}, {"numpy.fromregex", reason::files}, {"numpy.save", reason::files},
    {"numpy.savez", reason::files}, {"numpy.savez_compressed", reason::files}, {"numpy.savetxt", reason::files},
    {"numpy.memmap", reason::files}, {"numpy.core.memmap", reason::files}, {"numpy.lib.format.read_array", reason::pickle},
    {"numpy.lib.format.open_memmap", reason::files}, {"numpy.lib.format.write_array", reason::files},
    {"numpy.lib._datasource", reason::network}, {"numpy.DataSource", reason::network}, {"numpy.ctypeslib", reason::internals},
    {"numpy.f2py", reason::command}, {"numpy.distutils", reason::command}, {"numpy.testing", reason::code},
    {"pandas.read_*", reason::pickle}, {"pandas.io", reason::pickle}, {"pandas.eval", reason::code},
    {"pandas.core.computation", reason::code}, {"pandas.DataFrame.eval", reason::code}, {"pandas.DataFrame.query", reason::code},
    {"pandas.core.frame.DataFrame.eval", reason::code}, {"pandas.core.frame.DataFrame.query", reason::code},
    {"pandas.DataFrame.to_*", reason::files}, {"pandas.Series.to_*", reason::files}, {"pandas.core.frame.DataFrame.to_*", reason::files},
    {"pandas.core.series.Series.to_*", reason::files}, {"pandas.core.generic.NDFrame.to_*", reason::files},
    {"pandas.HDFStore", reason::files}, {"pandas.ExcelFile", reason::files}, {"pandas.ExcelWriter", reason::files},
    {"yaml.load", reason::code}, {"yaml.load_all", reason::code}, {"yaml.unsafe_load", reason::code},
    {"yaml.unsafe_load_all", reason::code}, {"yaml.full_load", reason::code}, {"yaml.full_load_all", reason::code},
    {"yaml.Loader", reason::code}, {"yaml.UnsafeLoader", reason::code}, {"yaml.FullLoader", reason::code},
    {"yaml.loader", reason::code}, {"yaml.constructor", reason::code}, {"yaml.add_constructor", reason::calls},
    {"keras.models.load_model", reason::pickle}, {"keras.saving", reason::pickle}, {"sklearn.datasets", reason::network},
    // torch
    {"torch.load", reason::pickle}, {"torch.serialization.load", reason::pickle}, {"torch.serialization._load", reason::pickle},
    {"torch.serialization._legacy_load", reason::pickle}, {"torch.jit.load", reason::pickle},
    {"torch.jit._serialization", reason::pickle}, {"torch.jit.CompilationUnit", reason::code},
    {"torch.jit.unsupported_tensor_ops", reason::code}, {"torch._C._import_ir_module", reason::pickle},
    {"torch._C.import_ir_module", reason::pickle}, {"torch._C.CompilationUnit", reason::code}, {"torch._C._jit*", reason::code},
    {"torch.package", reason::pickle}, {"torch.hub", reason::network}, {"torch.utils.model_zoo", reason::network},
    {"torch._inductor", reason::code}, {"torch._dynamo", reason::code}, {"torch.utils.bottleneck", reason::code},
    {"torch.utils.cpp_extension", reason::command}, {"torch.utils.collect_env", reason::command},
    {"torch.utils._config_module", reason::code}, {"torch.utils.data.datapipes.utils.decoder", reason::pickle},
    {"torch.utils.tensorboard", reason::files}, {"torch.fx.experimental.symbolic_shapes", reason::code},
    {"torch.fx.graph_module.reduce_graph_module", reason::code}, {"torch.fx.graph_module.reduce_package_graph_module", reason::code},
    {"torch.fx.graph_module.reduce_deploy_graph_module", reason::code}, {"torch.fx.graph_module._exec_with_source", reason::code},
    {"torch.fx.graph_module._forward_from_src", reason::code}, {"torch.ops.load_library", reason::code},
    {"torch.classes.load_library", reason::code}, {"torch._ops.load_library", reason::code},
    {"torch.distributed", reason::network}, {"torch.multiprocessing", reason::process}, {"torch.testing", reason::code},
    {"torch.export.load", reason::pickle},
};

/// C modules, Python 2 names and private twins folded onto the module that exposes the same
/// objects (posix.system is os.system), so a spelling cannot slip past denied_paths.
inline constexpr std::string_view module_aliases[][2] = {
    {"__builtin__", "builtins"}, {"exceptions", "builtins"}, {"posix", "os"}, {"nt", "os"}, {"_operator", "operator"},
    {"_functools", "functools"}, {"_io", "io"}, {"_pyio", "io"}, {"_pickle", "pickle"}, {"cPickle", "pickle"},
    {"copy_reg", "copyreg"}, {"_codecs", "codecs"}, {"_socket", "socket"}, {"_ssl", "ssl"}, {"thread", "_thread"},
    {"_dummy_thread", "_thread"}, {"commands", "subprocess"}, {"_posixsubprocess", "subprocess"},
    {"_winapi", "subprocess"}, {"_sqlite3", "sqlite3"}, {"_ctypes", "ctypes"}, {"_multiprocessing", "multiprocessing"},
    {"_signal", "signal"}, {"_imp", "importlib"}, {"imp", "importlib"}, {"_frozen_importlib", "importlib"},
    {"_frozen_importlib_external", "importlib"}, {"_tkinter", "tkinter"}, {"Tkinter", "tkinter"}, {"_lzma", "lzma"},
    {"_bz2", "bz2"}, {"_gdbm", "dbm"}, {"_dbm", "dbm"}, {"httplib", "http.client"}, {"urllib2", "urllib.request"},
    {"SocketServer", "socketserver"}, {"xmlrpclib", "xmlrpc.client"}, {"numpy._core", "numpy.core"},
    {"numpy.lib._format_impl", "numpy.lib.format"},
};

/// Method names that, reached through a dotted name (`OmegaConf.load`, `Model.from_pretrained`),
/// are never a data class.
inline constexpr std::string_view denied_methods[] = {
    "load", "loads", "load_all", "from_pretrained", "system", "popen", "eval", "exec", "open", "urlopen",
    "load_library", "read_pickle", "run",
};

/// The globals torch 1.13's weights_only unpickler accepts (torch/_weights_only_unpickler.py,
/// _get_allowed_globals), looked up, as there, by "module.name".
inline constexpr std::string_view torch_weights_only_globals[] = {
    "collections.OrderedDict", "torch.nn.parameter.Parameter", "torch.serialization._get_layout", "torch.Size",
    "torch.Tensor",
    "torch.complex32", "torch.complex64", "torch.complex128", "torch.float16", "torch.float32", "torch.float64",
    "torch.int8", "torch.int16", "torch.int32", "torch.int64",
    "torch.BFloat16Tensor", "torch.BoolTensor", "torch.ByteTensor", "torch.CharTensor", "torch.DoubleTensor",
    "torch.FloatTensor", "torch.HalfTensor", "torch.IntTensor", "torch.LongTensor", "torch.ShortTensor",
    "torch.cuda.BFloat16Tensor", "torch.cuda.BoolTensor", "torch.cuda.ByteTensor", "torch.cuda.CharTensor",
    "torch.cuda.DoubleTensor", "torch.cuda.FloatTensor", "torch.cuda.HalfTensor", "torch.cuda.IntTensor",
    "torch.cuda.LongTensor", "torch.cuda.ShortTensor",
    "torch.sparse.BFloat16Tensor", "torch.sparse.ByteTensor", "torch.sparse.CharTensor", "torch.sparse.DoubleTensor",
    "torch.sparse.FloatTensor", "torch.sparse.HalfTensor", "torch.sparse.IntTensor", "torch.sparse.LongTensor",
    "torch.sparse.ShortTensor",
    "torch.cuda.sparse.BFloat16Tensor", "torch.cuda.sparse.ByteTensor", "torch.cuda.sparse.CharTensor",
    "torch.cuda.sparse.DoubleTensor", "torch.cuda.sparse.FloatTensor", "torch.cuda.sparse.HalfTensor",
    "torch.cuda.sparse.IntTensor", "torch.cuda.sparse.LongTensor", "torch.cuda.sparse.ShortTensor",
    "torch.BFloat16Storage", "torch.BoolStorage", "torch.ByteStorage", "torch.CharStorage", "torch.ComplexDoubleStorage",
    "torch.ComplexFloatStorage", "torch.DoubleStorage", "torch.FloatStorage", "torch.HalfStorage", "torch.IntStorage",
    "torch.LongStorage", "torch.QInt32Storage", "torch.QInt8Storage", "torch.QUInt2x4Storage", "torch.QUInt4x2Storage",
    "torch.QUInt8Storage", "torch.ShortStorage",
    "torch.cuda.BFloat16Storage", "torch.cuda.BoolStorage", "torch.cuda.ByteStorage", "torch.cuda.CharStorage",
    "torch.cuda.ComplexDoubleStorage", "torch.cuda.ComplexFloatStorage", "torch.cuda.DoubleStorage",
    "torch.cuda.FloatStorage", "torch.cuda.HalfStorage", "torch.cuda.IntStorage", "torch.cuda.LongStorage",
    "torch.cuda.ShortStorage",
    "torch.storage.TypedStorage", "torch.storage.UntypedStorage",
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_sparse_tensor", "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_sparse_csr_tensor",
};

/// numpy's array, scalar and dtype constructors, which ptload models as data. Object arrays
/// (dtype 'O') hold arbitrary objects; strict mode refuses them where BUILD reveals the dtype.
inline constexpr std::string_view numpy_array_globals[] = {
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
};
// clang-format on

/// A resolved global: module and qualified name after Python-2 and torch renames, what the
/// pickle machine models it as, and its verdict. The names are views of the texts given to
/// resolve_global or of ptload's rename tables: they live as long as those.
struct resolved_global {
    std::string_view module, name;
    known_global id = known_global::none;
    bool dangerous = false;            ///< rating == verdict::dangerous
    verdict rating = verdict::unknown;
    std::string_view why;              ///< for dangerous globals: what calling it would do
    std::string denied_as;             ///< for dangerous globals: the path that matched ("os.system")
    int proto = 0;                     ///< the protocol it was resolved at (dotted names walk attributes from 4)
};

inline bool module_matches(std::string_view module, std::string_view prefix) {
    return module == prefix || (module.size() > prefix.size() && module.compare(0, prefix.size(), prefix) == 0 &&
                                module[prefix.size()] == '.');
}

/// Whether "am.an" and "bm.bn" are the same path (no string is built).
inline bool same_path(std::string_view am, std::string_view an, std::string_view bm, std::string_view bn) noexcept {
    if (am.size() + an.size() != bm.size() + bn.size()) return false;
    if (am.size() > bm.size()) {
        std::swap(am, bm);
        std::swap(an, bn);
    }
    if (am.size() == bm.size()) return am == bm && an == bn;
    // bm is am '.' mid, so an must be mid '.' bn
    std::string_view mid = bm.substr(am.size() + 1);
    return bm.compare(0, am.size(), am) == 0 && bm[am.size()] == '.' && an.compare(0, mid.size(), mid) == 0 &&
           an[mid.size()] == '.' && an.substr(mid.size() + 1) == bn;
}

/// Whether the resolved global `g` is a table's module.name (an undotted name of its own). A
/// dotted name reaches the same object as its spelled-out module at protocol 4 and above
/// (CPython walks the attributes), so it matches on the whole path there, and not below.
inline bool names_global(const resolved_global& g, std::string_view module, std::string_view name) noexcept {
    if (g.name.find('.') == std::string_view::npos) return g.module == module && g.name == name;
    return g.proto >= 4 && same_path(g.module, g.name, module, name);
}

} // namespace pickle

namespace detail {
using pickle::denied_path;
using pickle::module_matches;

/// `path` with a leading aliased module replaced ("posix.system" -> "os.system").
inline string fold_aliases(string path) {
    for (const auto& row : pickle::module_aliases)
        if (module_matches({path.data(), path.size()}, row[0])) {
            string folded(row[1].data(), row[1].size());
            return folded.append(path, row[0].size(), string::npos);
        }
    return path;
}

/// module "." name, in ptload's memory.
inline string dotted(std::string_view module, std::string_view name) {
    string full;
    full.reserve(module.size() + 1 + name.size());
    full.append(module.data(), module.size()).append(1, '.').append(name.data(), name.size());
    return full;
}

/// The denied_paths row that covers the dotted path `p`, or null.
inline const denied_path* denied_row(std::string_view p) {
    for (const auto& row : pickle::denied_paths) {
        std::string_view d = row.path;
        if (!d.empty() && d.back() == '*') {
            d.remove_suffix(1);
            if (p.size() >= d.size() && p.compare(0, d.size(), d) == 0) return &row;
        } else if (module_matches(p, d)) {
            return &row;
        }
    }
    return nullptr;
}

inline bool is_dunder(std::string_view part) {
    return part.size() > 4 && part.compare(0, 2, "__") == 0 && part.compare(part.size() - 2, 2, "__") == 0;
}

/// Classifies module.name as dangerous the way CPython's find_class could resolve it: the
/// path itself, and, for a dotted name (protocol 4 walks attributes), every tail of the name,
/// since an attribute can be a module imported under its own name (posixpath.os is os).
inline bool classify_dangerous(std::string_view module, std::string_view name, pickle::resolved_global& g,
                               std::size_t max_name_parts) {
    using namespace pickle;
    auto deny = [&](const string& path, std::string_view why) {
        g.denied_as = std::string(path.data(), path.size());
        g.why = why;
        return true;
    };
    const string full = fold_aliases(dotted(module, name));
    if (const denied_path* row = denied_row({full.data(), full.size()})) return deny(full, row->why);
    // every component of the name: dunder attributes lead to interpreter internals
    std::size_t start = 0, parts = 0;
    while (start <= name.size()) {
        std::size_t dot = name.find('.', start);
        std::string_view part = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        ++parts;
        if (is_dunder(part) && part != "__newobj__" && part != "__newobj_ex__") return deny(full, reason::internals);
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (parts < 2) return false;
    // Real qualified names nest a few classes deep; checking every tail of a name with
    // thousands of parts would cost its length squared, so such a name is refused unread.
    if (parts > max_name_parts) return deny(full, reason::internals);
    // tails "b.c" of "a.b.c": attribute a may be a module named a, and so on
    for (std::size_t dot = name.find('.'), from = 0; dot != std::string_view::npos; dot = name.find('.', from)) {
        const std::string_view rest = name.substr(from);
        const string tail = fold_aliases(string(rest.data(), rest.size()));
        if (const denied_path* row = denied_row({tail.data(), tail.size()})) return deny(tail, row->why);
        from = dot + 1;
        if (name.find('.', from) == std::string_view::npos) break;  // a one-part tail names no module
    }
    std::string_view last = name.substr(name.rfind('.') + 1);
    for (auto m : denied_methods)
        if (last == m) return deny(full, reason::method);
    return false;
}

inline bool in_list(std::string_view full, const std::string_view* list, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (list[i] == full) return true;
    return false;
}

} // namespace detail

namespace pickle {

/// True when strict mode accepts "module.name" without user additions.
inline bool strict_default_allows(std::string_view full) {
    return detail::in_list(full, torch_weights_only_globals, std::size(torch_weights_only_globals)) ||
           detail::in_list(full, numpy_array_globals, std::size(numpy_array_globals));
}

/// Applies the renames CPython's find_class applies (py2 tables when `proto < 3`) and torch's
/// own (`torch.tensor` -> `torch._tensor`), then rates the name and finds what the machine models.
/// `max_name_parts` bounds the dotted parts of a name (limits::max_name_parts).
inline resolved_global resolve_global(std::string_view module, std::string_view name, int proto,
                                      std::size_t max_name_parts = default_limits::max_name_parts) {
    resolved_global g;
    g.module = module;
    g.name = name;
    g.proto = proto;
    if (proto < 3) {
        bool renamed = false;
        for (const auto& row : py2_names)
            if (row[0] == module && row[1] == name) {
                g.module = row[2];
                g.name = row[3];
                renamed = true;
                break;
            }
        if (!renamed)
            for (const auto& row : py2_modules)
                if (row[0] == module) {
                    g.module = row[1];
                    break;
                }
    }
    if (g.module == "torch.tensor") g.module = "torch._tensor";

    if (detail::classify_dangerous(g.module, g.name, g, max_name_parts)) {
        g.dangerous = true;
        g.rating = verdict::dangerous;
        return g;
    }
    const detail::string full = detail::dotted(g.module, g.name);
    if (strict_default_allows({full.data(), full.size()})) g.rating = verdict::safe;

    for (const auto& row : known_globals)
        if (names_global(g, row.module, row.name)) {
            g.id = row.id;
            break;
        }
    return g;
}

} // namespace pickle
} // namespace v0
} // namespace ptload

#endif
