// Globals and their verdicts: the deny list resolves names the way CPython's find_class does
// (dotted names, Python 2 renames, C-module twins), and never refuses a data class.
#include "pickle_bytes.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace {

using ptload::pickle::verdict;
constexpr verdict S = verdict::safe, U = verdict::unknown, D = verdict::dangerous;

struct row {
    const char* module;
    const char* name;
    int proto;
    verdict want;
};

// clang-format off
const row table[] = {
    // ---- dangerous: picklescan's and fickling's lists, published gadgets
    {"os", "system", 2, D}, {"posix", "system", 2, D}, {"nt", "system", 2, D}, {"os", "popen", 4, D},
    {"os", "execv", 4, D}, {"os", "remove", 4, D}, {"posix", "spawnv", 4, D}, {"subprocess", "Popen", 2, D},
    {"subprocess", "run", 4, D}, {"subprocess", "check_output", 4, D}, {"_posixsubprocess", "fork_exec", 4, D},
    {"commands", "getoutput", 2, D}, {"commands", "getoutput", 4, D}, {"pty", "spawn", 4, D},
    {"builtins", "eval", 4, D}, {"builtins", "exec", 4, D}, {"builtins", "compile", 4, D},
    {"builtins", "getattr", 4, D}, {"builtins", "setattr", 4, D}, {"builtins", "__import__", 4, D},
    {"builtins", "open", 4, D}, {"builtins", "breakpoint", 4, D}, {"builtins", "globals", 4, D},
    {"__builtin__", "eval", 2, D}, {"__builtin__", "eval", 4, D}, {"__builtin__", "apply", 2, D},
    {"__builtin__", "execfile", 2, D}, {"__builtin__", "reduce", 2, D}, {"__builtin__", "open", 2, D},
    {"exceptions", "getattr", 2, D},
    {"operator", "attrgetter", 4, D}, {"_operator", "attrgetter", 4, D}, {"operator", "methodcaller", 4, D},
    {"_operator", "methodcaller", 4, D}, {"operator", "call", 4, D}, {"functools", "partial", 4, D},
    {"_functools", "partial", 4, D}, {"_functools", "reduce", 4, D}, {"functools", "reduce", 4, D},
    {"types", "CodeType", 4, D}, {"types", "FunctionType", 4, D}, {"pkgutil", "resolve_name", 4, D},
    {"importlib", "import_module", 4, D}, {"importlib.util", "spec_from_file_location", 4, D},
    {"_imp", "create_dynamic", 4, D}, {"inspect", "getattr_static", 4, D}, {"runpy", "_run_code", 4, D},
    {"runpy", "run_path", 4, D}, {"code", "InteractiveInterpreter.runcode", 4, D}, {"codeop", "compile_command", 4, D},
    {"pdb", "run", 4, D}, {"bdb", "Bdb.run", 4, D}, {"trace", "Trace.runctx", 4, D}, {"timeit", "timeit", 4, D},
    {"cProfile", "runctx", 4, D}, {"profile", "Profile.run", 4, D}, {"doctest", "debug_script", 4, D},
    {"pydoc", "pipepager", 4, D}, {"pydoc", "locate", 4, D}, {"idlelib.pyshell", "ModifiedInterpreter.runcode", 4, D},
    {"idlelib.autocomplete", "AutoComplete.get_entity", 4, D}, {"lib2to3.pgen2.grammar", "Grammar.loads", 4, D},
    {"test.support.script_helper", "assert_python_ok", 4, D}, {"_pyrepl.pager", "pipe_pager", 4, D},
    {"_osx_support", "_read_output", 4, D}, {"_aix_support", "_read_cmd_output", 4, D},
    {"uuid", "_get_command_stdout", 4, D}, {"uuid", "getnode", 4, D}, {"imaplib", "IMAP4_stream", 4, D},
    {"ensurepip", "_run_pip", 4, D}, {"venv", "create", 4, D}, {"pip", "main", 4, D},
    {"distutils.file_util", "write_file", 4, D}, {"ctypes", "CDLL", 4, D}, {"_ctypes", "dlopen", 4, D},
    {"sys", "exit", 4, D}, {"sys", "modules", 4, D}, {"marshal", "loads", 4, D}, {"signal", "signal", 4, D},
    {"_signal", "raise_signal", 4, D}, {"multiprocessing", "Process", 4, D}, {"_thread", "start_new_thread", 4, D},
    {"thread", "start_new_thread", 2, D}, {"asyncio.unix_events", "_UnixSubprocessTransport._start", 4, D},
    {"webbrowser", "open", 4, D}, {"atexit", "register", 4, D},
    // files
    {"io", "open", 4, D}, {"_io", "open", 4, D}, {"_io", "FileIO", 4, D}, {"io", "FileIO", 4, D},
    {"_pyio", "open", 4, D}, {"codecs", "open", 4, D}, {"_codecs", "open", 4, D}, {"shutil", "rmtree", 4, D},
    {"shutil", "copyfile", 4, D}, {"tempfile", "mkstemp", 4, D}, {"glob", "glob", 4, D},
    {"logging", "FileHandler", 4, D}, {"logging.handlers", "RotatingFileHandler", 4, D},
    {"logging.config", "listen", 4, D}, {"zipfile", "ZipFile", 4, D}, {"tarfile", "open", 4, D},
    {"sqlite3", "connect", 4, D}, {"shelve", "open", 4, D}, {"dbm", "open", 4, D}, {"linecache", "getline", 4, D},
    {"fileinput", "input", 4, D}, {"mmap", "mmap", 4, D}, {"pathlib", "Path.write_text", 4, D},
    {"pathlib", "PosixPath.unlink", 4, D}, {"pathlib", "Path.open", 4, D},
    // network
    {"socket", "create_connection", 4, D}, {"_socket", "socket", 4, D}, {"urllib.request", "urlopen", 4, D},
    {"urllib2", "urlopen", 2, D}, {"urllib", "urlopen", 2, D}, {"httplib", "HTTPSConnection", 2, D},
    {"http.client", "HTTPSConnection", 4, D}, {"requests.api", "get", 4, D}, {"requests", "post", 4, D},
    {"aiohttp.client", "ClientSession", 4, D}, {"smtplib", "SMTP", 4, D}, {"ftplib", "FTP", 4, D},
    {"xmlrpc.client", "ServerProxy", 4, D}, {"ssl", "create_connection", 4, D},
    // another pickle or model
    {"pickle", "loads", 4, D}, {"_pickle", "loads", 4, D}, {"cPickle", "loads", 2, D}, {"pickle", "Unpickler", 4, D},
    {"dill", "loads", 4, D}, {"cloudpickle.cloudpickle", "_make_function", 4, D},
    {"torch", "load", 4, D}, {"torch.serialization", "load", 2, D}, {"torch.serialization", "_legacy_load", 2, D},
    {"torch.jit", "load", 4, D}, {"torch.jit._serialization", "load", 4, D}, {"torch.hub", "load", 4, D},
    {"torch.hub", "load_state_dict_from_url", 4, D}, {"torch.package", "PackageImporter", 4, D},
    {"torch._inductor.codecache", "compile_file", 4, D}, {"torch.jit.unsupported_tensor_ops", "execWrapper", 4, D},
    {"torch.utils.collect_env", "run", 4, D}, {"torch.utils._config_module", "ConfigModule.load_config", 4, D},
    {"torch.utils.bottleneck.__main__", "run_cprofile", 4, D}, {"torch._dynamo.guards", "GuardBuilder.get", 4, D},
    {"torch.fx.experimental.symbolic_shapes", "ShapeEnv.evaluate_guards_expression", 4, D},
    {"torch.fx.graph_module", "reduce_graph_module", 4, D}, {"torch.utils.data.datapipes.utils.decoder", "basichandlers", 4, D},
    {"torch.utils.cpp_extension", "load", 4, D}, {"torch.ops", "load_library", 4, D},
    {"numpy", "load", 4, D}, {"numpy.lib.npyio", "load", 4, D}, {"numpy.lib._npyio_impl", "load", 4, D},
    {"numpy", "fromfile", 4, D}, {"numpy", "memmap", 4, D}, {"numpy.core.memmap", "memmap", 4, D},
    {"numpy._core.memmap", "memmap", 4, D}, {"numpy", "loadtxt", 4, D}, {"numpy.testing._private.utils", "runstring", 4, D},
    {"numpy.f2py.crackfortran", "getlincoef", 4, D}, {"numpy.lib.format", "read_array", 4, D},
    {"pandas", "read_pickle", 4, D}, {"pandas", "read_csv", 4, D}, {"pandas.io.pickle", "read_pickle", 4, D},
    {"pandas", "eval", 4, D}, {"yaml", "load", 4, D}, {"yaml", "unsafe_load", 4, D}, {"yaml", "UnsafeLoader", 4, D},
    {"joblib", "load", 4, D}, {"joblib.numpy_pickle", "load", 4, D}, {"joblib.numpy_pickle_compat", "load_compat", 4, D},
    {"joblib.numpy_pickle", "NumpyUnpickler", 4, D}, {"joblib.externals.cloudpickle", "loads", 4, D},
    {"joblib._memmapping_reducer", "_strided_from_memmap", 4, D}, {"joblib", "Parallel", 4, D},
    {"keras.models", "load_model", 4, D}, {"huggingface_hub", "hf_hub_download", 4, D},
    // ---- dotted walks (protocol 4 resolves attributes): through a module attribute, a class, a dunder
    {"posixpath", "os.system", 4, D}, {"ntpath", "os.system", 4, D}, {"collections", "os.system", 4, D},
    {"torch", "serialization.load", 4, D}, {"torch", "jit.load", 4, D}, {"torch", "hub.load", 4, D},
    {"numpy", "lib.npyio.load", 4, D}, {"numpy", "core.memmap.memmap", 4, D}, {"some.module", "subprocess.Popen", 4, D},
    {"mylib", "np.load", 4, D}, {"omegaconf", "OmegaConf.load", 4, D}, {"omegaconf.omegaconf", "OmegaConf.load", 4, D},
    {"transformers", "AutoModel.from_pretrained", 4, D}, {"builtins", "object.__subclasses__", 4, D},
    {"argparse", "Namespace.__init__.__globals__", 4, D}, {"torch", "__builtins__", 4, D},
    {"collections", "OrderedDict.__class__", 4, D}, {"pandas", "DataFrame.to_csv", 4, D},
    // ---- unknown: data classes kept as inert objects
    {"joblib.numpy_pickle", "NumpyArrayWrapper", 4, U}, {"joblib.numpy_pickle", "NumpyArrayWrapper", 2, U},
    {"joblib.numpy_pickle_compat", "NDArrayWrapper", 2, U}, {"joblib.numpy_pickle_compat", "ZNDArrayWrapper", 2, U},
    {"joblib.numpy_pickle", "ArrayWrapper", 2, U},
    {"sklearn.linear_model._logistic", "LogisticRegression", 4, U}, {"sklearn.linear_model.logistic", "LogisticRegression", 2, U},
    {"sklearn.preprocessing._data", "StandardScaler", 4, U}, {"sklearn.pipeline", "Pipeline", 4, U},
    {"sklearn.tree._tree", "Tree", 4, U}, {"sklearn.ensemble._forest", "RandomForestClassifier", 4, U},
    {"sklearn.utils._bunch", "Bunch", 4, U},
    {"pandas.core.frame", "DataFrame", 4, U}, {"pandas.core.series", "Series", 4, U},
    {"pandas.core.internals.managers", "BlockManager", 4, U}, {"pandas.core.indexes.base", "_new_Index", 4, U},
    {"pandas._libs.internals", "_unpickle_block", 4, U}, {"pandas.core.indexes.range", "RangeIndex", 4, U},
    {"numpy", "ndarray", 2, S}, {"numpy", "dtype", 2, S}, {"numpy.core.multiarray", "_reconstruct", 2, S},
    {"numpy._core.multiarray", "_reconstruct", 4, S}, {"numpy.core.multiarray", "scalar", 2, S},
    {"numpy.core.numeric", "_frombuffer", 5, U}, {"numpy.random._pickle", "__randomstate_ctor", 4, U},
    {"numpy.random._pickle", "__generator_ctor", 4, U}, {"numpy", "float64", 4, U},
    {"omegaconf.dictconfig", "DictConfig", 4, U}, {"omegaconf.listconfig", "ListConfig", 4, U},
    {"omegaconf.nodes", "AnyNode", 4, U}, {"omegaconf.base", "ContainerMetadata", 4, U},
    {"argparse", "Namespace", 2, U}, {"argparse", "Namespace", 4, U},
    {"collections", "defaultdict", 4, U}, {"collections", "Counter", 4, U}, {"collections", "deque", 4, U},
    {"_collections", "deque", 4, U}, {"collections", "namedtuple", 4, U},
    {"datetime", "datetime", 4, U}, {"datetime", "date", 2, U}, {"datetime", "timedelta", 4, U}, {"datetime", "timezone", 4, U},
    {"_datetime", "datetime", 4, U}, {"decimal", "Decimal", 4, U}, {"fractions", "Fraction", 4, U},
    {"pathlib", "PosixPath", 4, U}, {"pathlib", "WindowsPath", 4, U}, {"uuid", "UUID", 4, U}, {"enum", "Enum", 4, U},
    {"copyreg", "_reconstructor", 2, U}, {"copy_reg", "_reconstructor", 2, U}, {"copyreg", "__newobj__", 2, U},
    {"builtins", "object", 2, U}, {"builtins", "set", 4, U}, {"__builtin__", "set", 2, U}, {"builtins", "list", 4, U},
    {"builtins", "slice", 4, U}, {"_codecs", "encode", 2, U}, {"re", "_compile", 4, U}, {"io", "BytesIO", 4, U},
    {"types", "SimpleNamespace", 4, U}, {"math", "sqrt", 4, U}, {"scipy.sparse._csr", "csr_matrix", 4, U},
    {"ptload_fixtures", "Outer.Inner", 4, U}, {"__main__", "Old", 2, U}, {"__torch__.ptload_ts_fixture", "Scaler", 2, U},
    {"torch.nn.modules.linear", "Linear", 2, U}, {"torch.nn.modules.container", "Sequential", 4, U},
    {"torch._utils", "_rebuild_qtensor", 2, U}, {"torch._utils", "_rebuild_tensor_v3", 2, U},
    {"torch._tensor", "_rebuild_from_type_v2", 2, U}, {"torch.tensor", "_rebuild_from_type_v2", 2, U},
    {"torch", "device", 2, U}, {"torch", "bfloat16", 2, U}, {"torch", "bool", 2, U}, {"torch", "per_tensor_affine", 2, U},
    {"torch.storage", "_load_from_bytes", 2, U}, {"torch.cuda", "FloatStorage", 2, S},
    // ---- safe: torch 1.13's weights_only allowlist (and its dotted spellings)
    {"collections", "OrderedDict", 2, S}, {"torch._utils", "_rebuild_tensor_v2", 2, S}, {"torch._utils", "_rebuild_tensor", 2, S},
    {"torch._utils", "_rebuild_parameter", 2, S}, {"torch._utils", "_rebuild_sparse_tensor", 2, S},
    {"torch._utils", "_rebuild_sparse_csr_tensor", 2, S}, {"torch._utils", "_rebuild_meta_tensor_no_storage", 2, S},
    {"torch.nn.parameter", "Parameter", 2, S}, {"torch", "Size", 2, S}, {"torch", "Tensor", 2, S},
    {"torch.serialization", "_get_layout", 2, S}, {"torch", "FloatStorage", 2, S}, {"torch", "BFloat16Storage", 2, S},
    {"torch", "QUInt4x2Storage", 2, S}, {"torch.storage", "UntypedStorage", 2, S}, {"torch.storage", "TypedStorage", 2, S},
    {"torch", "float32", 2, S}, {"torch", "complex32", 2, S}, {"torch", "int64", 2, S}, {"torch", "LongTensor", 2, S},
    {"torch.cuda", "HalfTensor", 2, S}, {"torch.sparse", "FloatTensor", 2, S}, {"torch.cuda.sparse", "LongTensor", 2, S},
    {"torch", "_utils._rebuild_tensor_v2", 4, S}, {"torch.nn", "parameter.Parameter", 4, S},
};
// clang-format on

using namespace ptload_test::pickle_bytes;

/// SHORT_BINUNICODE s
bytes U8(const std::string& s) { return P({0x8C, static_cast<int>(s.size())}) + s; }

} // namespace

TEST_CASE("every global gets the verdict CPython's resolution of it deserves") {
    std::size_t n = 0, dangerous = 0, safe = 0;
    for (const auto& r : table) {
        std::string where = std::string(r.module) + " " + r.name + " protocol " + std::to_string(r.proto);
        CAPTURE(where);
        auto g = ptload::pickle::resolve_global(r.module, r.name, r.proto);
        CHECK(ptload::pickle::verdict_name(g.rating) == ptload::pickle::verdict_name(r.want));
        CHECK(g.dangerous == (g.rating == verdict::dangerous));
        CHECK(g.why.empty() == (g.rating != verdict::dangerous));
        ++n;
        dangerous += r.want == D;
        safe += r.want == S;
    }
    MESSAGE(n << " globals: " << dangerous << " dangerous, " << safe << " safe");
    CHECK(n >= 150);
}

TEST_CASE("every name on the strict allowlist is rated safe") {
    for (auto full : ptload::pickle::torch_weights_only_globals) {
        CAPTURE(full);
        auto dot = full.rfind('.');
        auto g = ptload::pickle::resolve_global(full.substr(0, dot), full.substr(dot + 1), 2);
        CHECK(g.rating == verdict::safe);
    }
}

TEST_CASE("dangerous verdicts say why") {
    using ptload::pickle::resolve_global;
    CHECK(resolve_global("posix", "system", 2).why == ptload::pickle::reason::command);
    CHECK(resolve_global("torch", "serialization.load", 4).why == ptload::pickle::reason::pickle);
    CHECK(resolve_global("torch", "serialization.load", 4).denied_as == "torch.serialization.load");
    CHECK(resolve_global("posixpath", "os.system", 4).denied_as == "os.system");
    CHECK(resolve_global("codecs", "open", 3).why == ptload::pickle::reason::files);
    CHECK(resolve_global("socket", "socket", 3).why == ptload::pickle::reason::network);
    // Python 2 spellings are renamed only below protocol 3, but never slip through either way
    CHECK(resolve_global("__builtin__", "set", 2).module == "builtins");
    CHECK(resolve_global("__builtin__", "set", 4).module == "__builtin__");
}

TEST_CASE("a name of a million dots is refused in linear time") {
    std::string name;
    for (int i = 0; i < 1000000; ++i) name += "a.";
    name += "b";
    auto g = ptload::pickle::resolve_global("x", name, 4);
    CHECK(g.rating == verdict::dangerous);
    std::string deep = "A.B.C";  // a few nested classes stay data
    CHECK(ptload::pickle::resolve_global("mylib", deep, 4).rating == verdict::unknown);
}

TEST_CASE("files naming a newly denied spelling fail at the global's offset") {
    struct sample {
        const char* what;
        bytes pickle;
        std::uint64_t offset;
        const char* names;
    };
    const bytes proto4 = P({0x80, 4});
    const sample samples[] = {
        {"dotted walk through a module attribute", proto4 + U8("posixpath") + U8("os.system") + P({0x93, '.'}), 24,
         "posixpath.os.system"},
        {"torch's loader through the torch module", proto4 + U8("torch") + U8("serialization.load") + P({0x93, '.'}), 29,
         "torch.serialization.load"},
        {"numpy.lib.npyio.load", P({'c'}) + std::string("numpy.lib.npyio\nload\n") + P({'.'}), 0, "numpy.lib.npyio.load"},
        {"the C twin of io", P({0x80, 2, 'N', '0', 'c'}) + std::string("_io\nopen\n") + P({'.'}), 4, "_io.open"},
        {"codecs.open", P({0x80, 2, 'c'}) + std::string("codecs\nopen\n") + P({'.'}), 2, "codecs.open"},
        {"torch.jit.load", proto4 + U8("torch.jit") + U8("load") + P({0x93, '.'}), 19, "torch.jit.load"},
        {"pandas.read_pickle", P({'c'}) + std::string("pandas\nread_pickle\n") + P({')', 'R', '.'}), 0, "pandas.read_pickle"},
        {"joblib's loader", P({'c'}) + std::string("joblib.numpy_pickle\nload\n") + P({'.'}), 0, "joblib.numpy_pickle.load"},
        {"INST of a dangerous class", P({'(', 'i'}) + std::string("yaml\nload\n") + P({'.'}), 1, "yaml.load"},
    };
    for (const auto& s : samples) {
        CAPTURE(s.what);
        auto doc = parse(s.pickle);
        REQUIRE_FALSE(doc);
        CHECK(doc.err().code == ptload::errc::disallowed_global);
        CHECK(doc.err().offset == s.offset);
        CHECK(doc.err().message.find(s.names) != std::string::npos);
    }
}

TEST_CASE("joblib array wrappers of every era load as inert objects") {
    // joblib >= 0.10 (Python 3): NumpyArrayWrapper, NEWOBJ + BUILD with its attributes
    bytes p3 = P({0x80, 2, 'c'}) + std::string("joblib.numpy_pickle\nNumpyArrayWrapper\n") + P({')', 0x81, '}', '('}) +
               U8("shape") + P({'K', 3, 0x85}) + U8("order") + U8("C") + U8("allow_mmap") + P({0x88, 'u', 'b', '.'});
    // joblib < 0.10 (Python 2, protocol 0): NDArrayWrapper through copy_reg._reconstructor
    bytes p0 = P({'c'}) + std::string("copy_reg\n_reconstructor\n(cjoblib.numpy_pickle_compat\nNDArrayWrapper\n") +
               std::string("c__builtin__\nobject\nNtR(dS'filename'\nS'model.pkl_01.npy'\nsb.");
    // the zlib-compressed twin
    bytes pz = P({'c'}) + std::string("copy_reg\n_reconstructor\n(cjoblib.numpy_pickle_compat\nZNDArrayWrapper\n") +
               std::string("c__builtin__\nobject\nNtR(dS'filename'\nS'model.pkl_01.npy.z'\nsb.");
    for (const bytes* b : {&p3, &p0, &pz}) {
        auto doc = parse(*b);
        REQUIRE(doc);
        auto json = ptload::to_canonical_json(doc->root());
        REQUIRE(json);
        CHECK(json->find("joblib.numpy_pickle") != std::string::npos);
    }
}
