"""The recording Unpickler: real CPython pickle VM, but globals resolved the way ptload does.

Globals ptload models natively resolve to the real Python objects (set, OrderedDict, numpy's
_reconstruct, torch's rebuild functions, ...), a few of them wrapped so the canonical JSON can
show what was pickled rather than what torch derived from it. Known-dangerous globals raise
DisallowedGlobal before anything is imported. Every other global becomes a recorder class
(records.Opaque) that only remembers how it was called.
"""

import _compat_pickle
import importlib
import io
import pickle
import types

import numpy
import torch

from . import records

# Tensors carry the extra facts the canonical form needs (subclass name, attrs, quantizer
# parameters as pickled, storage dtype) in this attribute.
TENSOR_INFO = "_ptload_oracle"


class DisallowedGlobal(pickle.UnpicklingError):
    """A global that is never legitimate data (SECURITY.md "Default mode")."""


class Unsupported(Exception):
    """Valid input that the oracle cannot express in canonical JSON."""


class Malformed(Exception):
    """Input ptload rejects with `code` where torch 1.13 would not fail cleanly.

    torch 1.13 reads storage records without comparing sizes and lets `set_` grow a storage that
    is too small for a view, so a checkpoint that lies about either would give garbage bytes
    (or a crash) instead of an error. The oracle checks first, with ptload's rules.
    """

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


# --- Dangerous globals -------------------------------------------------------------------------
# Kept identical to include/ptload/pickle/globals.hpp (dangerous_modules / dangerous_names): the
# oracle and ptload must refuse the same names or their error lines would differ.

DANGEROUS_MODULES = (
    "os", "posix", "nt", "subprocess", "sys", "socket", "runpy", "pickle", "_pickle", "pip", "pdb",
    "asyncio", "ctypes", "_ctypes", "_pyrepl", "shutil", "pty", "importlib", "webbrowser", "code", "codeop",
    "multiprocessing", "marshal", "shelve", "dill", "cloudpickle", "joblib", "imaplib", "ftplib", "smtplib",
    "telnetlib", "poplib", "nntplib", "http.client", "urllib.request", "_posixsubprocess", "_osx_support",
    "_aix_support", "idlelib", "lib2to3", "cProfile", "profile", "timeit", "trace", "doctest", "bdb",
    "test", "platform", "uuid", "zipimport", "site", "tempfile", "glob", "signal", "venv", "ensurepip",
    "distutils", "setuptools", "pydoc", "sysconfig", "builtins.__import__", "_io", "io",
    "torch.utils.bottleneck", "torch._dynamo", "torch._inductor", "torch.fx.experimental.symbolic_shapes",
    "torch.utils.data.datapipes.utils.decoder", "torch.utils._config_module", "torch.utils.collect_env",
    "numpy.f2py", "numpy.distutils",
    "requests", "aiohttp", "httpx", "urllib3",
)

DANGEROUS_NAMES = {
    ("builtins", "eval"), ("builtins", "exec"), ("builtins", "execfile"), ("builtins", "compile"),
    ("builtins", "getattr"), ("builtins", "setattr"), ("builtins", "delattr"), ("builtins", "__import__"),
    ("builtins", "open"), ("builtins", "apply"), ("builtins", "input"), ("builtins", "breakpoint"),
    ("builtins", "globals"), ("builtins", "locals"), ("builtins", "vars"), ("builtins", "exit"),
    ("builtins", "quit"), ("builtins", "help"),
    ("functools", "partial"), ("functools", "reduce"), ("operator", "attrgetter"), ("operator", "methodcaller"),
    ("operator", "itemgetter"), ("types", "CodeType"), ("types", "FunctionType"), ("types", "MethodType"),
    ("pkgutil", "resolve_name"), ("logging", "FileHandler"), ("logging.handlers", "FileHandler"),
    ("inspect", "getattr_static"), ("numpy", "load"), ("numpy.testing._private.utils", "runstring"),
    ("torch", "load"), ("torch.serialization", "load"), ("torch.serialization", "_load"),
    ("torch.serialization", "_legacy_load"), ("torch._inductor.codecache", "compile_file"),
    ("torch.jit.unsupported_tensor_ops", "execWrapper"), ("torch.utils.collect_env", "run"),
    ("torch.utils._config_module", "ConfigModule"), ("torch.hub", "load"), ("torch.hub", "load_state_dict_from_url"),
    ("copyreg", "_reconstructor_unsafe"),
}


def is_dangerous(module, name):
    for m in DANGEROUS_MODULES:
        if module == m or module.startswith(m + "."):
            return True
    return (module, name) in DANGEROUS_NAMES


def py2_rename(module, name, proto):
    """CPython's find_class renames (fix_imports, only below protocol 3) plus torch's own."""
    if proto < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    # torch.load maps this module (PR 51633); ptload applies it to every pickle.
    if module == "torch.tensor":
        module = "torch._tensor"
    return module, name


# --- Torch rebuilds the oracle replaces ----------------------------------------------------------
# torch 1.13 either lacks these (v3, nested, parameter_with_state), ignores what the canonical
# form must show (_rebuild_from_type_v2 drops a plain tensor's state), or turns the pickled
# values into derived ones (quantizer parameters, sparse components). The replacements keep the
# pickled values next to a real tensor.

def _info(tensor):
    info = getattr(tensor, TENSOR_INFO, None)
    if info is None:
        info = {}
        setattr(tensor, TENSOR_INFO, info)
    return info


def _copy_info(src, dst):
    info = getattr(src, TENSOR_INFO, None)
    if info is not None:
        setattr(dst, TENSOR_INFO, dict(info))


def _no_metadata(metadata):
    # 2.x writes conj/neg view bits here; 1.13 cannot apply them, so refuse rather than lie.
    if metadata:
        raise Unsupported("tensor metadata %r" % (metadata,))


# Logical elements per stored byte of the sub-byte quantized types.
_PER_BYTE = {torch.quint4x2: 2, torch.quint2x4: 4}


def check_view(storage, dtype, storage_offset, size, stride):
    """Refuse a view that does not fit its storage (ptload's bad_tensor rules): the offset,
    sizes and strides are non-negative ints, as many strides as sizes, and unless the view is
    empty its last element lies inside the storage."""
    def ints(seq):
        return isinstance(seq, (tuple, list)) and all(type(v) is int for v in seq)
    if type(storage_offset) is not int or not ints(size) or not ints(stride) or len(size) != len(stride):
        raise Malformed("bad_tensor", "tensor offset/size/stride are not ints of matching ranks")
    if storage_offset < 0 or any(v < 0 for v in size) or any(v < 0 for v in stride):
        raise Malformed("bad_tensor", "negative storage offset, size or stride")
    if any(v == 0 for v in size):
        return
    nbytes = storage.nbytes()
    per_byte = _PER_BYTE.get(dtype)
    capacity = nbytes * per_byte if per_byte else nbytes // torch._utils._element_size(dtype)
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= capacity:
        raise Malformed("bad_tensor", "view reaches element %d of a storage of %d elements" % (last, capacity))


def rebuild_tensor(storage, storage_offset, size, stride):
    check_view(storage, storage.dtype, storage_offset, size, stride)
    return torch._utils._rebuild_tensor(storage, storage_offset, size, stride)


def rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    _no_metadata(metadata)
    check_view(storage, storage.dtype, storage_offset, size, stride)
    return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)


def rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    _no_metadata(metadata)
    if not isinstance(dtype, torch.dtype):
        raise Unsupported("dtype %r unknown to torch %s" % (dtype, torch.__version__))
    untyped = storage.untyped() if hasattr(storage, "untyped") else storage
    check_view(untyped, dtype, storage_offset, size, stride)
    t = torch.empty((0,), dtype=dtype, device=untyped.device)
    t.set_(untyped, storage_offset, size, stride)
    t.requires_grad = requires_grad
    # v3 storages are pickled as UntypedStorage, i.e. bytes.
    _info(t)["storage_dtype"] = "uint8"
    return t


def rebuild_parameter(data, requires_grad, backward_hooks):
    p = torch._utils._rebuild_parameter(data, requires_grad, backward_hooks)
    _copy_info(data, p)
    return p


def _state_attrs(state):
    """Python attributes a BUILD-like state sets: dict, or (dict, slots) merged like setattr."""
    if state is None:
        return None
    if isinstance(state, tuple) and len(state) == 2:
        parts = state
    else:
        parts = (state, None)
    merged = {}
    for part in parts:
        if not part:
            continue
        if not isinstance(part, dict):
            raise Unsupported("tensor state of type %s" % type(part).__name__)
        merged.update(part)
    return merged or None


def rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    p = rebuild_parameter(data, requires_grad, backward_hooks)
    attrs = _state_attrs(state)
    if attrs:
        _info(p)["attrs"] = attrs
    return p


def rebuild_qtensor(storage, storage_offset, size, stride, quantizer_params, requires_grad, backward_hooks):
    check_view(storage, storage.dtype, storage_offset, size, stride)
    t = torch._utils._rebuild_qtensor(storage, storage_offset, size, stride, quantizer_params,
                                      requires_grad, backward_hooks)
    qscheme = str(quantizer_params[0]).replace("torch.", "", 1)
    if quantizer_params[0] == torch.per_tensor_affine:
        _, scale, zero_point = quantizer_params
        quant = [("qscheme", qscheme), ("scale", scale), ("zero_point", zero_point)]
    else:
        _, scales, zero_points, axis = quantizer_params
        # The pickled scales/zero_points, not torch's converted copies: their storages are
        # the ones ptload numbers.
        quant = [("qscheme", qscheme), ("scales", scales), ("zero_points", zero_points), ("axis", axis)]
    _info(t)["quant"] = quant
    return t


def _layout_name(layout):
    return str(layout).replace("torch.", "", 1)


def rebuild_sparse_tensor(layout, data):
    name = _layout_name(layout)
    if name == "sparse_coo":
        if len(data) == 3:
            indices, values, size = data
            coalesced = False  # 1.13 files: torch builds it uncoalesced
        else:
            indices, values, size, coalesced = data
        rec = records.SparseTensor(name, [int(s) for s in size], [("indices", indices), ("values", values)],
                                   bool(coalesced))
    elif name in ("sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc"):
        compressed, plain, values, size = data
        rec = records.SparseTensor(name, [int(s) for s in size],
                                   [("compressed_indices", compressed), ("plain_indices", plain),
                                    ("values", values)], None)
    else:
        raise Unsupported("sparse layout %s" % name)
    _SPARSE_PENDING.append(rec)
    return rec


# Sparse records built by the current load. Their storages are only filled once the whole file
# is read (legacy format), so, like torch, validate them after the load: validate_sparse().
_SPARSE_PENDING = []


def validate_sparse():
    """Fail the way torch does on sparse tensors whose indices do not fit their size."""
    try:
        for rec in _SPARSE_PENDING:
            f = dict(rec.fields)
            if rec.layout == "sparse_coo":
                torch._validate_sparse_coo_tensor_args(f["indices"], f["values"], rec.size)
            elif rec.layout == "sparse_csr":
                torch._validate_sparse_csr_tensor_args(f["compressed_indices"], f["plain_indices"],
                                                       f["values"], rec.size)
            else:
                raise Unsupported("validating %s with torch %s" % (rec.layout, torch.__version__))
    finally:
        _SPARSE_PENDING.clear()


def rebuild_nested_tensor(buffer, sizes, strides, storage_offsets):
    return records.NestedTensor(buffer, sizes, strides, storage_offsets)


def rebuild_device_tensor_from_cpu_tensor(data, dtype, device, requires_grad):
    t = data.to(dtype=dtype, device=device)
    t.requires_grad = requires_grad
    return t


class _FromType:
    """_rebuild_from_type(_v2) following the 2.x semantics the canonical form describes.

    1.13 returns a plain tensor and drops its state; the canonical form keeps the state as
    "attrs" and, for a subclass, the class name. The subclass is never instantiated.
    """

    def __init__(self, ctx):
        self.ctx = ctx

    def __call__(self, func, new_type, args, state):
        t = func(*args)
        if not isinstance(t, torch.Tensor):
            raise Unsupported("_rebuild_from_type_v2 of %r" % (t,))
        if new_type is not torch.Tensor:
            _info(t)["class"] = self.ctx.global_name(new_type)
        attrs = _state_attrs(state)
        if attrs:
            _info(t)["attrs"] = attrs
        return t


def _identity(value, *unused):
    return value


# --- The global table ----------------------------------------------------------------------------

def _static_natives():
    """Natively modelled globals that do not depend on the load: 'module.name' -> object."""
    u = torch._utils
    table = {
        "builtins.set": set, "builtins.frozenset": frozenset, "builtins.bytearray": bytearray,
        "builtins.bytes": bytes, "builtins.complex": complex, "builtins.slice": slice,
        "builtins.range": range,
        "_codecs.encode": importlib.import_module("_codecs").encode,
        "collections.OrderedDict": importlib.import_module("collections").OrderedDict,
        "numpy.core.multiarray._reconstruct": numpy.core.multiarray._reconstruct,
        "numpy._core.multiarray._reconstruct": numpy.core.multiarray._reconstruct,
        "numpy.core.multiarray.scalar": numpy.core.multiarray.scalar,
        "numpy._core.multiarray.scalar": numpy.core.multiarray.scalar,
        "numpy.ndarray": numpy.ndarray,
        "numpy.dtype": numpy.dtype,
        "torch._utils._rebuild_tensor": rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": rebuild_tensor_v2,
        "torch._utils._rebuild_tensor_v3": rebuild_tensor_v3,
        "torch._utils._rebuild_parameter": rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": rebuild_parameter_with_state,
        "torch._utils._rebuild_qtensor": rebuild_qtensor,
        "torch._utils._rebuild_sparse_tensor": rebuild_sparse_tensor,
        "torch._utils._rebuild_sparse_csr_tensor": rebuild_sparse_tensor,
        "torch._utils._rebuild_nested_tensor": rebuild_nested_tensor,
        "torch._utils._rebuild_meta_tensor_no_storage": u._rebuild_meta_tensor_no_storage,
        "torch._utils._rebuild_wrapper_subclass": u._rebuild_wrapper_subclass,
        "torch._utils._rebuild_device_tensor_from_numpy": u._rebuild_device_tensor_from_numpy,
        "torch._utils._rebuild_xla_tensor": u._rebuild_device_tensor_from_numpy,
        "torch._utils._rebuild_device_tensor_from_cpu_tensor": rebuild_device_tensor_from_cpu_tensor,
        "torch.Size": torch.Size, "torch.device": torch.device,
        "torch.Tensor": torch.Tensor, "torch._tensor.Tensor": torch.Tensor,
        "torch.nn.parameter.Parameter": torch.nn.Parameter,
        "torch.serialization._get_layout": torch.serialization._get_layout,
        "torch.storage.UntypedStorage": torch.UntypedStorage, "torch.UntypedStorage": torch.UntypedStorage,
        "torch.storage.TypedStorage": torch.storage.TypedStorage, "torch.TypedStorage": torch.storage.TypedStorage,
    }
    for fn in ("build_intlist", "build_tensorlist", "build_doublelist", "build_boollist",
               "build_tensor_from_id", "restore_type_tag"):
        # Identity functions for a reader (FORMAT.md section 8); ptload treats them so.
        table["torch.jit._pickle." + fn] = _identity
    return table


_STATIC = None


def _torch_attr(name, kinds):
    obj = getattr(torch, name, None) if name.isidentifier() else None
    return obj if isinstance(obj, kinds) else None


class LoadContext:
    """State shared by every pickle of one file: options, recorder classes, global names."""

    def __init__(self, encoding="utf-8", errors="strict", map_location=None):
        global _STATIC
        if _STATIC is None:
            _STATIC = _static_natives()
        self.encoding = encoding
        self.errors = errors
        self.map_location = map_location
        self.recorders = {}
        # id(native object) -> the name the pickle used for it, for {"global": ...}.
        self.names = {}
        self._natives = dict(_STATIC)
        self._natives["torch._tensor._rebuild_from_type_v2"] = _FromType(self)
        self._natives["torch._tensor._rebuild_from_type"] = self._natives["torch._tensor._rebuild_from_type_v2"]
        self._natives["torch.storage._load_from_bytes"] = self.load_from_bytes

    # Resolution -------------------------------------------------------------------------------

    def find_class(self, module, name, proto):
        if not isinstance(module, str) or not isinstance(name, str):
            raise pickle.UnpicklingError("global names must be str")
        module, name = py2_rename(module, name, proto)
        full = "%s.%s" % (module, name)
        if is_dangerous(module, name):
            raise DisallowedGlobal("disallowed global %s" % full)
        obj = self._native(module, name, full)
        if obj is not None:
            self.names[id(obj)] = full
            return obj
        rec = self.recorders.get(full)
        if rec is None:
            rec = self.recorders[full] = records.make_recorder(module, name)
        return rec

    def _native(self, module, name, full):
        obj = self._natives.get(full)
        if obj is not None:
            return obj
        if module == "torch":
            # dtypes and qschemes are pickled by name (FORMAT.md 5.5); legacy tensor types too.
            obj = _torch_attr(name, (torch.dtype, torch.qscheme))
            if obj is not None:
                return obj
            if name.endswith("Tensor"):
                obj = _torch_attr(name, type)
                if obj is not None and issubclass(obj, torch.Tensor):
                    return obj
        if module.split(".")[0] == "torch" and name.endswith("Storage"):
            # torch resolves storage classes by name alone (torch.cuda.FloatStorage included).
            obj = _torch_attr(name, type)
            if obj is not None:
                return obj
        return None

    def global_name(self, obj):
        """The {"global": ...} name of a class or function that appears as data."""
        if records.is_recorder_class(obj):
            return obj._pt_global
        full = self.names.get(id(obj))
        if full is not None:
            return full
        return "%s.%s" % (getattr(obj, "__module__", "?"), getattr(obj, "__qualname__", repr(obj)))

    # Unpicklers -------------------------------------------------------------------------------

    def unpickler_class(self):
        ctx = self

        class RecordingUnpickler(pickle.Unpickler):
            def __init__(self, file, *args, **kwargs):
                super().__init__(file, *args, **kwargs)
                # CPython renames Python-2 globals only below protocol 3 and does not expose
                # the protocol, so read it from the PROTO opcode that starts every pickle
                # written at protocol 2 or later.
                self._pt_proto = _peek_proto(file)

            def find_class(self, module, name):
                return ctx.find_class(module, name, self._pt_proto)

        return RecordingUnpickler

    def pickle_module(self):
        """A stand-in for the pickle module that torch.serialization's loaders accept."""
        mod = types.ModuleType("ptload_oracle_pickle")
        cls = self.unpickler_class()
        mod.Unpickler = cls
        mod.UnpicklingError = pickle.UnpicklingError
        mod.load = lambda f, **kw: cls(f, **kw).load()
        return mod

    def pickle_args(self):
        return {"encoding": self.encoding, "errors": self.errors}

    def load_plain(self, f):
        return self.unpickler_class()(f, **self.pickle_args()).load()

    def load_from_bytes(self, b):
        """torch.storage._load_from_bytes: a whole legacy torch stream inside a pickle."""
        if not isinstance(b, (bytes, bytearray)):
            raise Unsupported("_load_from_bytes of %s" % type(b).__name__)
        return torch.serialization._legacy_load(io.BytesIO(bytes(b)), self.map_location, self.pickle_module(),
                                                **self.pickle_args())



def _peek_proto(file):
    try:
        pos = file.tell()
        head = file.read(2)
        file.seek(pos)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return 0
    if len(head) == 2 and head[0] == 0x80:
        return head[1]
    return 0
