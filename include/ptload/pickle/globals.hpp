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
    {"builtins"sv, "set"sv, known_global::builtins_set},
    {"builtins"sv, "frozenset"sv, known_global::builtins_frozenset},
    {"builtins"sv, "bytearray"sv, known_global::builtins_bytearray},
    {"builtins"sv, "bytes"sv, known_global::builtins_bytes},
    {"builtins"sv, "complex"sv, known_global::builtins_complex},
    {"builtins"sv, "slice"sv, known_global::builtins_slice},
    {"builtins"sv, "range"sv, known_global::builtins_range},
    {"_codecs"sv, "encode"sv, known_global::codecs_encode},
    {"collections"sv, "OrderedDict"sv, known_global::ordered_dict},
    {"numpy.core.multiarray"sv, "_reconstruct"sv, known_global::numpy_reconstruct},
    {"numpy._core.multiarray"sv, "_reconstruct"sv, known_global::numpy_reconstruct},
    {"numpy"sv, "ndarray"sv, known_global::numpy_ndarray},
    {"numpy"sv, "dtype"sv, known_global::numpy_dtype},
    {"numpy.core.multiarray"sv, "scalar"sv, known_global::numpy_scalar},
    {"numpy._core.multiarray"sv, "scalar"sv, known_global::numpy_scalar},
};

// Python 2 spellings that CPython maps when fix_imports is on (Lib/_compat_pickle.py), and
// that CPython 3 itself writes at protocol < 3 (FORMAT.md 1.6).
inline constexpr std::string_view py2_modules[][2] = {
    {"__builtin__"sv, "builtins"sv}, {"copy_reg"sv, "copyreg"sv}, {"Queue"sv, "queue"sv}, {"repr"sv, "reprlib"sv},
    {"_abcoll"sv, "collections.abc"sv}, {"cPickle"sv, "pickle"sv}, {"_elementtree"sv, "xml.etree.ElementTree"sv},
    {"StringIO"sv, "io"sv}, {"cStringIO"sv, "io"sv}, {"UserDict"sv, "collections"sv}, {"UserList"sv, "collections"sv},
    {"UserString"sv, "collections"sv}, {"thread"sv, "_thread"sv}, {"dummy_thread"sv, "_dummy_thread"sv},
    {"urlparse"sv, "urllib.parse"sv}, {"urllib2"sv, "urllib.request"sv}, {"httplib"sv, "http.client"sv},
    {"ConfigParser"sv, "configparser"sv}, {"SocketServer"sv, "socketserver"sv}, {"Tkinter"sv, "tkinter"sv},
    {"whichdb"sv, "dbm"sv}, {"anydbm"sv, "dbm"sv}, {"exceptions"sv, "builtins"sv}, {"dbhash"sv, "dbm.bsd"sv},
    {"dumbdbm"sv, "dbm.dumb"sv}, {"dbm"sv, "dbm.ndbm"sv}, {"gdbm"sv, "dbm.gnu"sv}, {"xmlrpclib"sv, "xmlrpc.client"sv},
    {"SimpleXMLRPCServer"sv, "xmlrpc.server"sv}, {"BaseHTTPServer"sv, "http.server"sv}, {"Cookie"sv, "http.cookies"sv},
    {"cookielib"sv, "http.cookiejar"sv}, {"htmlentitydefs"sv, "html.entities"sv}, {"HTMLParser"sv, "html.parser"sv},
    {"commands"sv, "subprocess"sv}, {"robotparser"sv, "urllib.robotparser"sv}, {"markupbase"sv, "_markupbase"sv},
    {"_winreg"sv, "winreg"sv}, {"__main__"sv, "__main__"sv},
};
inline constexpr std::string_view py2_names[][4] = {
    {"__builtin__"sv, "xrange"sv, "builtins"sv, "range"sv},     {"__builtin__"sv, "reduce"sv, "functools"sv, "reduce"sv},
    {"__builtin__"sv, "intern"sv, "sys"sv, "intern"sv},         {"__builtin__"sv, "unichr"sv, "builtins"sv, "chr"sv},
    {"__builtin__"sv, "unicode"sv, "builtins"sv, "str"sv},      {"__builtin__"sv, "long"sv, "builtins"sv, "int"sv},
    {"__builtin__"sv, "basestring"sv, "builtins"sv, "str"sv},   {"itertools"sv, "izip"sv, "builtins"sv, "zip"sv},
    {"itertools"sv, "imap"sv, "builtins"sv, "map"sv},           {"itertools"sv, "ifilter"sv, "builtins"sv, "filter"sv},
    {"itertools"sv, "ifilterfalse"sv, "itertools"sv, "filterfalse"sv},
    {"itertools"sv, "izip_longest"sv, "itertools"sv, "zip_longest"sv},
    {"UserDict"sv, "IterableUserDict"sv, "collections"sv, "UserDict"sv},
    {"UserList"sv, "UserList"sv, "collections"sv, "UserList"sv}, {"UserString"sv, "UserString"sv, "collections"sv, "UserString"sv},
    {"whichdb"sv, "whichdb"sv, "dbm"sv, "whichdb"sv},           {"_socket"sv, "fromfd"sv, "socket"sv, "fromfd"sv},
    {"_multiprocessing"sv, "Connection"sv, "multiprocessing.connection"sv, "Connection"sv},
    {"multiprocessing.process"sv, "Process"sv, "multiprocessing.context"sv, "Process"sv},
    {"multiprocessing.forking"sv, "Popen"sv, "multiprocessing.popen_fork"sv, "Popen"sv},
    {"urllib"sv, "ContentTooShortError"sv, "urllib.error"sv, "ContentTooShortError"sv},
    {"urllib"sv, "getproxies"sv, "urllib.request"sv, "getproxies"sv}, {"urllib"sv, "pathname2url"sv, "urllib.request"sv, "pathname2url"sv},
    {"urllib"sv, "quote_plus"sv, "urllib.parse"sv, "quote_plus"sv},   {"urllib"sv, "quote"sv, "urllib.parse"sv, "quote"sv},
    {"urllib"sv, "unquote_plus"sv, "urllib.parse"sv, "unquote_plus"sv}, {"urllib"sv, "unquote"sv, "urllib.parse"sv, "unquote"sv},
    {"urllib"sv, "url2pathname"sv, "urllib.request"sv, "url2pathname"sv}, {"urllib"sv, "urlcleanup"sv, "urllib.request"sv, "urlcleanup"sv},
    {"urllib"sv, "urlencode"sv, "urllib.parse"sv, "urlencode"sv},     {"urllib"sv, "urlopen"sv, "urllib.request"sv, "urlopen"sv},
    {"urllib"sv, "urlretrieve"sv, "urllib.request"sv, "urlretrieve"sv}, {"urllib2"sv, "HTTPError"sv, "urllib.error"sv, "HTTPError"sv},
    {"urllib2"sv, "URLError"sv, "urllib.error"sv, "URLError"sv},
    {"exceptions"sv, "StandardError"sv, "builtins"sv, "Exception"sv},
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
    {"builtins.eval"sv, reason::code}, {"builtins.exec"sv, reason::code}, {"builtins.execfile"sv, reason::code},
    {"builtins.compile"sv, reason::code}, {"builtins.breakpoint"sv, reason::code}, {"builtins.input"sv, reason::process},
    {"builtins.help"sv, reason::command}, {"builtins.exit"sv, reason::process}, {"builtins.quit"sv, reason::process},
    {"builtins.globals"sv, reason::internals}, {"builtins.locals"sv, reason::internals}, {"builtins.vars"sv, reason::internals},
    {"builtins.getattr"sv, reason::imports}, {"builtins.setattr"sv, reason::internals}, {"builtins.delattr"sv, reason::internals},
    {"builtins.apply"sv, reason::calls}, {"builtins.reduce"sv, reason::calls}, {"builtins.open"sv, reason::files},
    {"types.CodeType"sv, reason::code}, {"types.FunctionType"sv, reason::code}, {"types.LambdaType"sv, reason::code},
    {"types.MethodType"sv, reason::calls}, {"types.new_class"sv, reason::calls},
    {"code"sv, reason::code}, {"codeop"sv, reason::code}, {"runpy"sv, reason::code}, {"pdb"sv, reason::code}, {"bdb"sv, reason::code},
    {"trace"sv, reason::code}, {"timeit"sv, reason::code}, {"cProfile"sv, reason::code}, {"profile"sv, reason::code},
    {"pstats"sv, reason::pickle}, {"doctest"sv, reason::code}, {"pydoc"sv, reason::command}, {"idlelib"sv, reason::code},
    {"lib2to3"sv, reason::code}, {"test"sv, reason::code}, {"unittest"sv, reason::code}, {"py_compile"sv, reason::files},
    {"compileall"sv, reason::files}, {"marshal"sv, reason::code}, {"_pyrepl"sv, reason::command}, {"tkinter"sv, reason::code},
    {"turtle"sv, reason::code}, {"turtledemo"sv, reason::code}, {"ctypes"sv, reason::internals}, {"cffi"sv, reason::internals},
    {"sys"sv, reason::internals}, {"atexit"sv, reason::calls}, {"functools.partial"sv, reason::calls},
    {"functools.partialmethod"sv, reason::calls}, {"functools.reduce"sv, reason::calls}, {"operator.attrgetter"sv, reason::imports},
    {"operator.methodcaller"sv, reason::imports}, {"operator.itemgetter"sv, reason::imports}, {"operator.call"sv, reason::calls},
    // imports
    {"importlib"sv, reason::imports}, {"pkgutil"sv, reason::imports}, {"zipimport"sv, reason::imports}, {"modulefinder"sv, reason::imports},
    {"inspect"sv, reason::imports}, {"site"sv, reason::imports}, {"sysconfig"sv, reason::imports}, {"pip"sv, reason::command},
    {"setuptools"sv, reason::command}, {"distutils"sv, reason::command}, {"pkg_resources"sv, reason::imports},
    {"ensurepip"sv, reason::command}, {"venv"sv, reason::command},
    // programs, processes, threads
    {"os"sv, reason::command}, {"subprocess"sv, reason::command}, {"pty"sv, reason::command}, {"platform"sv, reason::command},
    {"uuid._*"sv, reason::command}, {"uuid.getnode"sv, reason::command}, {"uuid.uuid1"sv, reason::command},
    {"mailcap"sv, reason::command}, {"pipes"sv, reason::command}, {"_osx_support"sv, reason::command},
    {"_aix_support"sv, reason::command}, {"webbrowser"sv, reason::command}, {"multiprocessing"sv, reason::process},
    {"concurrent"sv, reason::process}, {"asyncio"sv, reason::process}, {"threading"sv, reason::process},
    {"_thread.start_new_thread"sv, reason::process}, {"_thread.start_new"sv, reason::process}, {"signal"sv, reason::process},
    // files
    {"io.open"sv, reason::files}, {"io.open_code"sv, reason::files}, {"io.FileIO"sv, reason::files},
    {"codecs.open"sv, reason::files}, {"codecs.EncodedFile"sv, reason::files}, {"codecs.register"sv, reason::calls},
    {"shutil"sv, reason::files}, {"tempfile"sv, reason::files}, {"glob"sv, reason::files}, {"fileinput"sv, reason::files},
    {"filecmp"sv, reason::files}, {"linecache"sv, reason::files}, {"netrc"sv, reason::files}, {"shelve"sv, reason::pickle},
    {"dbm"sv, reason::files}, {"sqlite3"sv, reason::files}, {"zipfile"sv, reason::files}, {"tarfile"sv, reason::files},
    {"gzip"sv, reason::files}, {"bz2"sv, reason::files}, {"lzma"sv, reason::files}, {"zipapp"sv, reason::files}, {"mmap"sv, reason::files},
    {"logging.FileHandler"sv, reason::files}, {"logging.handlers"sv, reason::files}, {"logging.config"sv, reason::code},
    {"logging.basicConfig"sv, reason::files}, {"xml.etree.ElementTree.parse"sv, reason::files},
    {"xml.etree.ElementTree.iterparse"sv, reason::files}, {"xml.dom.minidom.parse"sv, reason::files},
    {"xml.dom.pulldom.parse"sv, reason::files}, {"xml.sax.parse"sv, reason::files},
    // a path object is data; its methods, reached through a dotted name, open and change files
    {"pathlib.Path.*"sv, reason::files}, {"pathlib.PosixPath.*"sv, reason::files}, {"pathlib.WindowsPath.*"sv, reason::files},
    {"pathlib._local.Path.*"sv, reason::files}, {"pathlib._local.PosixPath.*"sv, reason::files},
    // network
    {"socket"sv, reason::network}, {"ssl"sv, reason::network}, {"http.client"sv, reason::network}, {"http.server"sv, reason::network},
    {"urllib.request"sv, reason::network}, {"urllib3"sv, reason::network}, {"requests"sv, reason::network},
    {"aiohttp"sv, reason::network}, {"httpx"sv, reason::network}, {"ftplib"sv, reason::network}, {"imaplib"sv, reason::network},
    {"smtplib"sv, reason::network}, {"poplib"sv, reason::network}, {"nntplib"sv, reason::network}, {"telnetlib"sv, reason::network},
    {"xmlrpc"sv, reason::network}, {"socketserver"sv, reason::network}, {"smtpd"sv, reason::network},
    {"asynchat"sv, reason::network}, {"asyncore"sv, reason::network}, {"huggingface_hub"sv, reason::network},
    // other pickles and models
    {"pickle"sv, reason::pickle}, {"dill"sv, reason::pickle}, {"cloudpickle"sv, reason::pickle},
    {"joblib.load"sv, reason::pickle}, {"joblib.dump"sv, reason::files}, {"joblib.numpy_pickle.load"sv, reason::pickle},
    {"joblib.numpy_pickle.dump"sv, reason::files}, {"joblib.numpy_pickle.NumpyUnpickler"sv, reason::pickle},
    {"joblib.numpy_pickle_compat.load_compat"sv, reason::pickle}, {"joblib.numpy_pickle_compat.ZipNumpyUnpickler"sv, reason::pickle},
    {"joblib.numpy_pickle_compat.read_zfile"sv, reason::files}, {"joblib.numpy_pickle_compat.write_zfile"sv, reason::files},
    {"joblib.numpy_pickle_utils"sv, reason::files}, {"joblib.externals"sv, reason::pickle}, {"joblib.parallel"sv, reason::process},
    {"joblib.Parallel"sv, reason::process}, {"joblib.memory"sv, reason::files}, {"joblib.Memory"sv, reason::files},
    {"joblib._memmapping_reducer"sv, reason::files}, {"joblib.pool"sv, reason::process}, {"joblib.executor"sv, reason::process},
    {"joblib._parallel_backends"sv, reason::process}, {"joblib.backports"sv, reason::files}, {"joblib.disk"sv, reason::files},
    {"numpy.load"sv, reason::pickle}, {"numpy.lib.npyio"sv, reason::pickle}, {"numpy.lib._npyio_impl"sv, reason::pickle},
    {"numpy.loadtxt"sv, reason::files}, {"numpy.genfromtxt"sv, reason::files}, {"numpy.fromfile"sv, reason::files},
    {"numpy.core.multiarray.fromfile"sv, reason::files}, {"numpy.fromregex"sv, reason::files}, {"numpy.save"sv, reason::files},
    {"numpy.savez"sv, reason::files}, {"numpy.savez_compressed"sv, reason::files}, {"numpy.savetxt"sv, reason::files},
    {"numpy.memmap"sv, reason::files}, {"numpy.core.memmap"sv, reason::files}, {"numpy.lib.format.read_array"sv, reason::pickle},
    {"numpy.lib.format.open_memmap"sv, reason::files}, {"numpy.lib.format.write_array"sv, reason::files},
    {"numpy.lib._datasource"sv, reason::network}, {"numpy.DataSource"sv, reason::network}, {"numpy.ctypeslib"sv, reason::internals},
    {"numpy.f2py"sv, reason::command}, {"numpy.distutils"sv, reason::command}, {"numpy.testing"sv, reason::code},
    {"pandas.read_*"sv, reason::pickle}, {"pandas.io"sv, reason::pickle}, {"pandas.eval"sv, reason::code},
    {"pandas.core.computation"sv, reason::code}, {"pandas.DataFrame.eval"sv, reason::code}, {"pandas.DataFrame.query"sv, reason::code},
    {"pandas.core.frame.DataFrame.eval"sv, reason::code}, {"pandas.core.frame.DataFrame.query"sv, reason::code},
    {"pandas.DataFrame.to_*"sv, reason::files}, {"pandas.Series.to_*"sv, reason::files}, {"pandas.core.frame.DataFrame.to_*"sv, reason::files},
    {"pandas.core.series.Series.to_*"sv, reason::files}, {"pandas.core.generic.NDFrame.to_*"sv, reason::files},
    {"pandas.HDFStore"sv, reason::files}, {"pandas.ExcelFile"sv, reason::files}, {"pandas.ExcelWriter"sv, reason::files},
    {"yaml.load"sv, reason::code}, {"yaml.load_all"sv, reason::code}, {"yaml.unsafe_load"sv, reason::code},
    {"yaml.unsafe_load_all"sv, reason::code}, {"yaml.full_load"sv, reason::code}, {"yaml.full_load_all"sv, reason::code},
    {"yaml.Loader"sv, reason::code}, {"yaml.UnsafeLoader"sv, reason::code}, {"yaml.FullLoader"sv, reason::code},
    {"yaml.loader"sv, reason::code}, {"yaml.constructor"sv, reason::code}, {"yaml.add_constructor"sv, reason::calls},
    {"keras.models.load_model"sv, reason::pickle}, {"keras.saving"sv, reason::pickle}, {"sklearn.datasets"sv, reason::network},
    // torch
    {"torch.load"sv, reason::pickle}, {"torch.serialization.load"sv, reason::pickle}, {"torch.serialization._load"sv, reason::pickle},
    {"torch.serialization._legacy_load"sv, reason::pickle}, {"torch.jit.load"sv, reason::pickle},
    {"torch.jit._serialization"sv, reason::pickle}, {"torch.jit.CompilationUnit"sv, reason::code},
    {"torch.jit.unsupported_tensor_ops"sv, reason::code}, {"torch._C._import_ir_module"sv, reason::pickle},
    {"torch._C.import_ir_module"sv, reason::pickle}, {"torch._C.CompilationUnit"sv, reason::code}, {"torch._C._jit*"sv, reason::code},
    {"torch.package"sv, reason::pickle}, {"torch.hub"sv, reason::network}, {"torch.utils.model_zoo"sv, reason::network},
    {"torch._inductor"sv, reason::code}, {"torch._dynamo"sv, reason::code}, {"torch.utils.bottleneck"sv, reason::code},
    {"torch.utils.cpp_extension"sv, reason::command}, {"torch.utils.collect_env"sv, reason::command},
    {"torch.utils._config_module"sv, reason::code}, {"torch.utils.data.datapipes.utils.decoder"sv, reason::pickle},
    {"torch.utils.tensorboard"sv, reason::files}, {"torch.fx.experimental.symbolic_shapes"sv, reason::code},
    {"torch.fx.graph_module.reduce_graph_module"sv, reason::code}, {"torch.fx.graph_module.reduce_package_graph_module"sv, reason::code},
    {"torch.fx.graph_module.reduce_deploy_graph_module"sv, reason::code}, {"torch.fx.graph_module._exec_with_source"sv, reason::code},
    {"torch.fx.graph_module._forward_from_src"sv, reason::code}, {"torch.ops.load_library"sv, reason::code},
    {"torch.classes.load_library"sv, reason::code}, {"torch._ops.load_library"sv, reason::code},
    {"torch.distributed"sv, reason::network}, {"torch.multiprocessing"sv, reason::process}, {"torch.testing"sv, reason::code},
    {"torch.export.load"sv, reason::pickle},
};

/// C modules, Python 2 names and private twins folded onto the module that exposes the same
/// objects (posix.system is os.system), so a spelling cannot slip past denied_paths.
inline constexpr std::string_view module_aliases[][2] = {
    {"__builtin__"sv, "builtins"sv}, {"exceptions"sv, "builtins"sv}, {"posix"sv, "os"sv}, {"nt"sv, "os"sv}, {"_operator"sv, "operator"sv},
    {"_functools"sv, "functools"sv}, {"_io"sv, "io"sv}, {"_pyio"sv, "io"sv}, {"_pickle"sv, "pickle"sv}, {"cPickle"sv, "pickle"sv},
    {"copy_reg"sv, "copyreg"sv}, {"_codecs"sv, "codecs"sv}, {"_socket"sv, "socket"sv}, {"_ssl"sv, "ssl"sv}, {"thread"sv, "_thread"sv},
    {"_dummy_thread"sv, "_thread"sv}, {"commands"sv, "subprocess"sv}, {"_posixsubprocess"sv, "subprocess"sv},
    {"_winapi"sv, "subprocess"sv}, {"_sqlite3"sv, "sqlite3"sv}, {"_ctypes"sv, "ctypes"sv}, {"_multiprocessing"sv, "multiprocessing"sv},
    {"_signal"sv, "signal"sv}, {"_imp"sv, "importlib"sv}, {"imp"sv, "importlib"sv}, {"_frozen_importlib"sv, "importlib"sv},
    {"_frozen_importlib_external"sv, "importlib"sv}, {"_tkinter"sv, "tkinter"sv}, {"Tkinter"sv, "tkinter"sv}, {"_lzma"sv, "lzma"sv},
    {"_bz2"sv, "bz2"sv}, {"_gdbm"sv, "dbm"sv}, {"_dbm"sv, "dbm"sv}, {"httplib"sv, "http.client"sv}, {"urllib2"sv, "urllib.request"sv},
    {"SocketServer"sv, "socketserver"sv}, {"xmlrpclib"sv, "xmlrpc.client"sv}, {"numpy._core"sv, "numpy.core"sv},
    {"numpy.lib._format_impl"sv, "numpy.lib.format"sv},
};

/// Method names that, reached through a dotted name (`OmegaConf.load`, `Model.from_pretrained`),
/// are never a data class.
inline constexpr std::string_view denied_methods[] = {
    "load"sv, "loads"sv, "load_all"sv, "from_pretrained"sv, "system"sv, "popen"sv, "eval"sv, "exec"sv, "open"sv, "urlopen"sv,
    "load_library"sv, "read_pickle"sv, "run"sv,
};

/// The globals torch 1.13's weights_only unpickler accepts (torch/_weights_only_unpickler.py,
/// _get_allowed_globals), looked up, as there, by "module.name".
inline constexpr std::string_view torch_weights_only_globals[] = {
    "collections.OrderedDict"sv, "torch.nn.parameter.Parameter"sv, "torch.serialization._get_layout"sv, "torch.Size"sv,
    "torch.Tensor"sv,
    "torch.complex32"sv, "torch.complex64"sv, "torch.complex128"sv, "torch.float16"sv, "torch.float32"sv, "torch.float64"sv,
    "torch.int8"sv, "torch.int16"sv, "torch.int32"sv, "torch.int64"sv,
    "torch.BFloat16Tensor"sv, "torch.BoolTensor"sv, "torch.ByteTensor"sv, "torch.CharTensor"sv, "torch.DoubleTensor"sv,
    "torch.FloatTensor"sv, "torch.HalfTensor"sv, "torch.IntTensor"sv, "torch.LongTensor"sv, "torch.ShortTensor"sv,
    "torch.cuda.BFloat16Tensor"sv, "torch.cuda.BoolTensor"sv, "torch.cuda.ByteTensor"sv, "torch.cuda.CharTensor"sv,
    "torch.cuda.DoubleTensor"sv, "torch.cuda.FloatTensor"sv, "torch.cuda.HalfTensor"sv, "torch.cuda.IntTensor"sv,
    "torch.cuda.LongTensor"sv, "torch.cuda.ShortTensor"sv,
    "torch.sparse.BFloat16Tensor"sv, "torch.sparse.ByteTensor"sv, "torch.sparse.CharTensor"sv, "torch.sparse.DoubleTensor"sv,
    "torch.sparse.FloatTensor"sv, "torch.sparse.HalfTensor"sv, "torch.sparse.IntTensor"sv, "torch.sparse.LongTensor"sv,
    "torch.sparse.ShortTensor"sv,
    "torch.cuda.sparse.BFloat16Tensor"sv, "torch.cuda.sparse.ByteTensor"sv, "torch.cuda.sparse.CharTensor"sv,
    "torch.cuda.sparse.DoubleTensor"sv, "torch.cuda.sparse.FloatTensor"sv, "torch.cuda.sparse.HalfTensor"sv,
    "torch.cuda.sparse.IntTensor"sv, "torch.cuda.sparse.LongTensor"sv, "torch.cuda.sparse.ShortTensor"sv,
    "torch.BFloat16Storage"sv, "torch.BoolStorage"sv, "torch.ByteStorage"sv, "torch.CharStorage"sv, "torch.ComplexDoubleStorage"sv,
    "torch.ComplexFloatStorage"sv, "torch.DoubleStorage"sv, "torch.FloatStorage"sv, "torch.HalfStorage"sv, "torch.IntStorage"sv,
    "torch.LongStorage"sv, "torch.QInt32Storage"sv, "torch.QInt8Storage"sv, "torch.QUInt2x4Storage"sv, "torch.QUInt4x2Storage"sv,
    "torch.QUInt8Storage"sv, "torch.ShortStorage"sv,
    "torch.cuda.BFloat16Storage"sv, "torch.cuda.BoolStorage"sv, "torch.cuda.ByteStorage"sv, "torch.cuda.CharStorage"sv,
    "torch.cuda.ComplexDoubleStorage"sv, "torch.cuda.ComplexFloatStorage"sv, "torch.cuda.DoubleStorage"sv,
    "torch.cuda.FloatStorage"sv, "torch.cuda.HalfStorage"sv, "torch.cuda.IntStorage"sv, "torch.cuda.LongStorage"sv,
    "torch.cuda.ShortStorage"sv,
    "torch.storage.TypedStorage"sv, "torch.storage.UntypedStorage"sv,
    "torch._utils._rebuild_parameter"sv, "torch._utils._rebuild_tensor"sv, "torch._utils._rebuild_tensor_v2"sv,
    "torch._utils._rebuild_sparse_tensor"sv, "torch._utils._rebuild_meta_tensor_no_storage"sv,
    "torch._utils._rebuild_sparse_csr_tensor"sv,
};

/// numpy's array, scalar and dtype constructors, which ptload models as data. Object arrays
/// (dtype 'O') hold arbitrary objects; strict mode refuses them where BUILD reveals the dtype.
inline constexpr std::string_view numpy_array_globals[] = {
    "numpy.core.multiarray._reconstruct"sv, "numpy._core.multiarray._reconstruct"sv, "numpy.ndarray"sv, "numpy.dtype"sv,
    "numpy.core.multiarray.scalar"sv, "numpy._core.multiarray.scalar"sv,
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
