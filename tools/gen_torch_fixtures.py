#!/usr/bin/env python3
"""Writes the torch checkpoint fixture corpus and its expected canonical JSON.

  /usr/bin/python3 tools/gen_torch_fixtures.py

Outputs (rerunnable; every file is rewritten only when its bytes change):
  tests/fixtures/torch/<name>.{pt,tar,pkl}          the checkpoints
  tests/expected/torch/<name>[.<options>].json      normalized canonical JSON
  tests/expected/torch.tsv                          manifest for the C++ harness (tests/test_expected.cpp)

Most files are written by torch 1.13 itself: torch.save in the zip format and in the legacy format
(`_use_new_zipfile_serialization=False`) at pickle protocols 1-5, torch.jit.save for TorchScript.
The expected JSON is what tools/oracle (torch.serialization's own loaders) prints for them.

Some files are built by hand because torch 1.13 cannot write them; each builder says how:
  * CUDA location tags: torch.save with torch.serialization.location_tag swapped for a function
    that tags chosen storages `cuda:0` / `cuda:1` (nothing else in the file changes);
  * Python-2-era checkpoints: torch.save through a pickler that writes str as Python-2 8-bit
    strings (SHORT_BINSTRING / BINSTRING), the way Python 2's cPickle did;
  * 2.x-only features (`_rebuild_tensor_v3` with float8/uint16, `byteorder`, `.format_version`,
    `.storage_alignment`, `.data/serialization_id`), the torch 0.1 tar format, older zip layouts
    and malformed files: assembled from records with torch_zip(), a writer that reproduces
    torch's miniz layout byte for byte (checked against torch.save at startup).
Files torch 1.13 cannot load correctly get an expectation computed here from a twin file holding
the same logical content in a form torch 1.13 does read; the manifest lists them in `# computed:`
comments (tools/oracle.py check and tools/live_oracle_check.py do not rerun the oracle on them).

Options: most files are dumped without options (CPU storages, so map_location changes nothing).
CUDA-tagged files also with `--map-location cpu`, with `--map-location cuda:0=cpu,cuda:1=cpu` and
without one, where torch 1.13 without CUDA fails (error:other). Python-2 files with torch's
default utf-8 and with latin1, bytes and ascii. Option sets with equal results share one JSON.

Determinism: the zip format embeds no timestamps and numbers storages 0, 1, ...; the legacy format
names storages by C pointers, so legacy files are written with fixed keys instead
(fixed_legacy_keys). A rerun writes identical bytes for every file.
"""

import argparse
import collections
import contextlib
import inspect
import io
import json
import linecache
import os
import pickle
import re
import struct
import sys
import tarfile
import tempfile
import textwrap
import time
import types
import warnings
import zipfile
import zlib

# Sets of strings are pickled in hash order; fix the seed so reruns write identical bytes.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))



import numpy  # noqa: E402
import torch  # noqa: E402
import torch.serialization  # noqa: E402

from oracle import canonical, manifest  # noqa: E402

FIXTURE_DIR = "tests/fixtures/torch"
EXPECTED_DIR = "tests/expected/torch"
MANIFEST = "tests/expected/torch.tsv"

DEFAULT = [{}]
CUDA_OPTIONS = [{"map_location": "cpu"}, {"map_location": "cuda:0=cpu,cuda:1=cpu"}, {}]
PY2_OPTIONS = [{}, {"encoding": "latin1"}, {"encoding": "bytes"}, {"encoding": "ascii"}]
ALL_PROTOCOLS = (1, 2, 3, 4, 5)

warnings.simplefilter("ignore")  # TypedStorage, sparse beta, source-change and tracer warnings


# --- Fixture registry ------------------------------------------------------------------------------

class Fixture:
    def __init__(self, name, data, ext, options, computed):
        self.name = name
        self.data = data
        self.ext = ext
        self.options = options
        # None, or (twin bytes, twin extension, fixup(json) -> json, reason): the expectation is
        # the oracle's output for the twin file, passed through fixup.
        self.computed = computed

    @property
    def rel(self):
        return "%s/%s.%s" % (FIXTURE_DIR, self.name, self.ext)


FIXTURES = []


def fixture(name, data, ext="pt", options=DEFAULT, computed=None):
    assert re.fullmatch(r"[a-z0-9_]+", name), name
    assert name not in {f.name for f in FIXTURES}, name
    FIXTURES.append(Fixture(name, bytes(data), ext, options, computed))


# --- Writers --------------------------------------------------------------------------------------

def save_zip(obj, proto=2):
    buf = io.BytesIO()
    torch.save(obj, buf, pickle_protocol=proto)
    return buf.getvalue()


def save_legacy(obj, proto=2, pickle_module=pickle):
    buf = io.BytesIO()
    with fixed_legacy_keys():
        torch.save(obj, buf, pickle_module=pickle_module, pickle_protocol=proto, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def save(fmt, obj, proto=2):
    return save_zip(obj, proto) if fmt == "zip" else save_legacy(obj, proto)


def each_format(prefix, make, protocols=ALL_PROTOCOLS, formats=("zip", "legacy"), **kw):
    """One fixture per format and protocol: <prefix>_<zip|legacy>_p<N>. `make` builds a fresh
    value each time (seeded), so nothing from one save leaks into the next."""
    for fmt in formats:
        for proto in protocols:
            fixture("%s_%s_p%d" % (prefix, fmt, proto), save(fmt, make(), proto), **kw)


@contextlib.contextmanager
def fixed_legacy_keys():
    """torch's legacy writer with deterministic storage keys.

    _legacy_save names each storage `str(storage._cdata)`, a C pointer, and writes the storages
    in the string order of those names, so keys, block order and even lengths change from run
    to run. Inside this context torch.serialization._legacy_save is torch's own function,
    recompiled from its source with that one expression replaced: keys are 100000000000001,
    100000000000002, ... in order of first use within each save (pointer-like, 15 digits).
    Every other byte is what torch writes. torch.save and Storage.__reduce__ (the streams inside
    torch.storage._load_from_bytes) both reach the writer through the module attribute.
    """
    original = torch.serialization._legacy_save
    source = textwrap.dedent(inspect.getsource(original))
    needle = "storage_key = str(storage._cdata)"
    assert source.count(needle) == 1, "torch's _legacy_save changed; update fixed_legacy_keys"
    keys = {}
    env = dict(vars(torch.serialization))  # read now: location_tags() may have swapped a global
    env["_ptload_storage_key"] = lambda storage: keys.setdefault(storage._cdata, str(10 ** 14 + len(keys) + 1))
    exec(compile(source.replace(needle, "storage_key = _ptload_storage_key(storage)"),
                 original.__code__.co_filename, "exec"), env)
    patched = env["_legacy_save"]

    def legacy_save(*args, **kwargs):
        keys.clear()
        return patched(*args, **kwargs)
    torch.serialization._legacy_save = legacy_save
    try:
        yield
    finally:
        torch.serialization._legacy_save = original


def torch_zip(records, align=64):
    """A zip laid out exactly as torch's writer (miniz via PyTorchStreamWriter) lays it out.

    records: [(name, bytes)] in archive order, names with their prefix. Stored records, local
    headers with flags 0x0808, zero times, CRC/sizes in a 16-byte data descriptor, an `FB` extra
    field padding each record's data to `align`, a plain central directory, then zip64 EOCD,
    zip64 locator and the classic EOCD (FORMAT.md 2.3).
    """
    out = bytearray()
    offsets = []
    for name, data in records:
        n = name.encode("utf-8")
        offsets.append(len(out))
        start = len(out) + 30 + len(n) + 4
        pad = (-start) % align
        extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, 0x0808, 0, 0, 0, 0, 0, 0, len(n), len(extra))
        out += n + extra + data
        out += struct.pack("<IIII", 0x08074B50, zlib.crc32(data), len(data), len(data))
    cd = len(out)
    for (name, data), offset in zip(records, offsets):
        n = name.encode("utf-8")
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, 0x0808, 0, 0, 0, zlib.crc32(data), len(data),
                           len(data), len(n), 0, 0, 0, 0, 0, offset)
        out += n
    cd_size = len(out) - cd
    z64 = len(out)
    count = len(records)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 0x2D, 0, 0, count, count, cd_size, cd)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd, 0)
    return bytes(out)


def zip_records(data):
    """[(name, bytes)] of a zip in archive order."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(info.filename, z.read(info)) for info in z.infolist()]


def split_prefix(records):
    """(prefix, [(name without prefix, bytes)])."""
    prefix = records[0][0].split("/", 1)[0]
    assert all(name.startswith(prefix + "/") for name, _ in records)
    return prefix, [(name[len(prefix) + 1:], data) for name, data in records]


def rezip(data, edit, prefix=None):
    """Rebuild a torch zip after edit([(record, bytes)]) -> [(record, bytes)]; same prefix unless given."""
    old_prefix, recs = split_prefix(zip_records(data))
    recs = edit(list(recs))
    return torch_zip([("%s/%s" % (prefix or old_prefix, name), body) for name, body in recs])


def check_torch_zip():
    """torch_zip must reproduce torch.save's own bytes, or the hand-built files would not be
    'exactly per FORMAT.md'."""
    for obj in ({"a": torch.arange(3.0)}, [torch.ones(5, 5), torch.zeros(100, dtype=torch.int64), "x" * 300]):
        data = save_zip(obj)
        assert torch_zip(zip_records(data)) == data, "torch_zip no longer matches torch.save's layout"


def legacy_stream(obj, persistent_id, storages, proto=2, pickle_module=pickle):
    """A legacy-format stream written here rather than by torch (FORMAT.md 3): magic number,
    protocol version, sys_info, the object (with `persistent_id`), the sorted key list, then for
    each key an int64 element count and the raw little-endian bytes. storages: key -> (count, bytes)."""
    f = io.BytesIO()
    pickle_module.dump(0x1950A86A20F9469CFC6C, f, protocol=proto)
    pickle_module.dump(1001, f, protocol=proto)
    pickle_module.dump({"protocol_version": 1001, "little_endian": True,
                        "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=proto)
    p = pickle_module.Pickler(f, protocol=proto)
    p.persistent_id = persistent_id
    p.dump(obj)
    keys = sorted(storages)
    pickle_module.dump(keys, f, protocol=proto)
    for key in keys:
        count, raw = storages[key]
        f.write(struct.pack("<q", count) + raw)
    return f.getvalue()


def untyped(t):
    """The UntypedStorage (bytes) under a CPU tensor (torch 1.13 spelling)."""
    return t.storage()._storage


def storage_bytes(t):
    """Raw little-endian bytes of a CPU tensor's whole storage."""
    return bytes(untyped(t).tolist())


# --- Classes the fixtures pickle ------------------------------------------------------------------
# They live in a module of their own so the pickles name `ptload_fixtures.X` whatever this script
# is called as. The oracle never imports it: to ptload and the oracle they are opaque globals.

fx = types.ModuleType("ptload_fixtures")
sys.modules["ptload_fixtures"] = fx


def in_fx(cls):
    cls.__module__ = "ptload_fixtures"
    cls.__qualname__ = cls.__name__
    setattr(fx, cls.__name__, cls)
    return cls


@in_fx
class MyTensor(torch.Tensor):
    """A tensor subclass: torch 1.13 pickles it through torch._tensor._rebuild_from_type_v2."""


@in_fx
class TinyNet(torch.nn.Module):
    """A user module: whole-module pickles name it; its source is not retrievable (no file), so
    legacy files carry ('module', TinyNet, None, None)."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(3, 2)
        self.scale = torch.nn.Parameter(torch.tensor([0.5, 2.0]))
        self.register_buffer("steps", torch.tensor(7))
        self.name = "tiny"
        self.sizes = [3, 2]

    def forward(self, x):
        return self.body(x) * self.scale


class Call:
    """Pickles as REDUCE func(*args): lets a fixture call a rebuild function with chosen arguments."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


class _NamedGlobal:
    """Pickles as GLOBAL <module> <name>: a stand-in for a torch global 1.13 lacks."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return self.name


@contextlib.contextmanager
def torch_globals(**stubs):
    """Lends torch (and torch._utils) the globals of a later torch for the time of a save.

    pickle writes a global as GLOBAL module name only after checking that the module really
    holds that very object, so the stand-in is put there while pickling. Keys `utils__<name>` go
    to torch._utils, the others to torch.
    """
    placed = []
    for key, obj in stubs.items():
        module = torch._utils if key.startswith("utils__") else torch
        name = key[len("utils__"):] if key.startswith("utils__") else key
        assert not hasattr(module, name), name
        if isinstance(obj, _NamedGlobal):
            type(obj).__module__ = module.__name__
        else:
            obj.__module__, obj.__qualname__ = module.__name__, name
        setattr(module, name, obj)
        placed.append((module, name))
    try:
        yield
    finally:
        for module, name in placed:
            delattr(module, name)


def function_stub(name):
    return types.FunctionType((lambda *a: None).__code__, {}, name)


@contextlib.contextmanager
def location_tags(tags):
    """torch.save tags each storage with torch.serialization.location_tag(storage); tag the
    storages whose data pointer is in `tags` with that string instead (torch 1.13 here has no
    CUDA, and this is the only thing a CUDA save writes differently besides the bytes' origin)."""
    original = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: tags.get(storage.data_ptr(), original(storage))
    try:
        yield
    finally:
        torch.serialization.location_tag = original


# --- Python 2 ----------------------------------------------------------------------------------

class Py2Bytes(bytes):
    """Raw bytes that a Python-2 writer held in a str (not valid UTF-8 in the fixtures)."""


class Py2Pickler(pickle._Pickler):
    """CPython's pure-Python pickler, writing str and bytes the way Python 2 pickled its 8-bit str:
    SHORT_BINSTRING (< 256 bytes) or BINSTRING. A str is written as its UTF-8 bytes (a Python 2
    source literal in a UTF-8 file), Py2Bytes and bytes as they are."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        data = obj.encode("utf-8") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str
    dispatch[Py2Bytes] = save_py2_str


py2_pickle = types.ModuleType("ptload_py2_pickle")
py2_pickle.Pickler = Py2Pickler
py2_pickle.dump = lambda obj, f, protocol=2: Py2Pickler(f, protocol).dump(obj)


# --- Ordinary torch.save fixtures ----------------------------------------------------------------

def dtype_values():
    torch.manual_seed(1)
    f = [0.0, -0.0, 1.5, -2.25, float("inf"), float("-inf"), float("nan"), 1e-40, 65504.0, 3.0e38]
    x = torch.tensor([[0.5, -1.0, 2.0], [0.0, 3.25, -4.5]])
    return {
        "float64": torch.tensor(f + [1e-310, 1e308], dtype=torch.float64),
        "float32": torch.tensor(f, dtype=torch.float32),
        "float16": torch.tensor(f[:9] + [6e-8], dtype=torch.float16),
        "bfloat16": torch.tensor(f + [1e-39], dtype=torch.bfloat16),
        "int64": torch.tensor([0, 1, -1, 2**63 - 1, -2**63, 2**40], dtype=torch.int64),
        "int32": torch.tensor([0, 1, -1, 2**31 - 1, -2**31], dtype=torch.int32),
        "int16": torch.tensor([0, 1, -1, 32767, -32768], dtype=torch.int16),
        "int8": torch.tensor([0, 1, -1, 127, -128], dtype=torch.int8),
        "uint8": torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, False, True]),
        "complex64": torch.tensor([1 - 2j, complex(float("nan"), float("inf")), -0.0j], dtype=torch.complex64),
        "complex128": torch.tensor([1e300 + 1e-300j, -1j], dtype=torch.complex128),
        "qint8": torch.quantize_per_tensor(x, 0.25, 0, torch.qint8),
        "quint8": torch.quantize_per_tensor(x, 0.1, 10, torch.quint8),
        "qint32": torch.quantize_per_tensor(x, 0.001, -5, torch.qint32),
        "randn": torch.randn(3, 4),
    }


def subbyte_values():
    """Sub-byte quantized types: two (quint4x2) or four (quint2x4) values per stored byte, so the
    storage holds fewer bytes than the tensor has elements (a file of their own: a reader that
    bounds-checks views in bytes refuses the whole file)."""
    x = torch.tensor([0.5, 1.0, 2.0, 0.0, 3.5])
    return {
        "quint4x2": torch.quantize_per_tensor(x, 0.5, 2, torch.quint4x2),
        "quint4x2_even": torch.quantize_per_tensor(x[:4], 0.25, 0, torch.quint4x2),
        "quint2x4": torch.quantize_per_tensor(torch.tensor([0.0, 1.0, 2.0, 3.0, 1.0, 2.0]), 1.0, 0, torch.quint2x4),
    }


def view_values():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    big = torch.arange(1000, dtype=torch.int16)
    small = torch.tensor([1.0, 2.0, 3.0])
    cube = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)
    return {
        "base": base,
        "same_storage_reshaped": base.view(6, 4),
        "row_offset": base[2],
        "transposed": base.t(),
        "strided": base[::2, 1::2],
        "size_one_dim": base[:, None, :2],
        "scalar_in_storage": base[1, 2],
        "empty_at_end": base[4:],
        "slice_of_big_storage": big[500:503],
        "expanded": small.expand(4, 3),
        "expanded_scalar": torch.tensor(7).expand(3),
        "overlapping": torch.as_strided(torch.arange(6.0), (3, 3), (1, 1)),
        "permuted": cube.permute(2, 0, 1),
        "channels_last": torch.arange(16.0).reshape(1, 4, 2, 2).contiguous(memory_format=torch.channels_last),
        "zero_dim": torch.tensor(3.5),
        "empty": torch.empty(0, 3),
        "empty_int": torch.zeros(2, 0, dtype=torch.int32),
        "shared_again": [base, small],
    }


def parameter_values():
    torch.manual_seed(2)
    base = torch.arange(6.0)
    leaf = torch.ones(2, requires_grad=True)
    return {
        "weight": torch.nn.Parameter(torch.randn(2, 2)),
        "frozen": torch.nn.Parameter(torch.ones(3), requires_grad=False),
        "leaf_requires_grad": leaf,
        "base": base,
        "parameter_on_view": torch.nn.Parameter(base[2:]),
        "int_parameter": torch.nn.Parameter(torch.tensor([1, 2]), requires_grad=False),
    }


def sequential():
    torch.manual_seed(3)
    model = torch.nn.Sequential(collections.OrderedDict([
        ("fc", torch.nn.Linear(4, 3)),
        ("conv", torch.nn.Conv2d(1, 2, 3)),
        ("bn", torch.nn.BatchNorm2d(2)),
    ]))
    model.bn(torch.randn(4, 2, 3, 3))  # move the running statistics off their initial values
    return model


def state_dict_value():
    return sequential().state_dict()


def optimizer_value():
    torch.manual_seed(4)
    model = torch.nn.Linear(3, 2)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    adam = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    for opt in (sgd, adam):
        opt.zero_grad()
        model(torch.randn(5, 3)).pow(2).sum().backward()
        opt.step()
    return {"sgd": sgd.state_dict(), "adam": adam.state_dict()}


def lightning_value():
    torch.manual_seed(5)
    numpy.random.seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    opt.zero_grad()
    model(torch.randn(3, 4)).sum().backward()
    opt.step()
    sched.step()
    state = collections.OrderedDict(("model." + k, v) for k, v in model.state_dict().items())
    state._metadata = collections.OrderedDict(("model." + k if k else k, v)
                                              for k, v in model.state_dict()._metadata.items())
    best = torch.tensor(0.25)
    monitor = ("ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min', 'every_n_train_steps': 0, "
               "'every_n_epochs': 1, 'train_time_interval': None}")
    return {
        "epoch": 3,
        "global_step": 120,
        "pytorch-lightning_version": "1.9.5",
        "state_dict": state,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_loop.state_dict": {"_batches_that_stepped": 120},
                               "epoch_progress": {"total": {"ready": 4, "completed": 3},
                                                  "current": {"ready": 4, "completed": 3}}}},
        "callbacks": {
            monitor: {"monitor": "val_loss", "best_model_score": best, "best_model_path": "/ckpt/epoch=3.ckpt",
                      "current_score": torch.tensor(0.3), "dirpath": "/ckpt",
                      "best_k_models": {"/ckpt/epoch=3.ckpt": best}, "kth_best_model_path": "/ckpt/epoch=3.ckpt",
                      "kth_value": best, "last_model_path": ""},
            "EarlyStopping{'monitor': 'val_loss', 'mode': 'min'}": {"wait_count": 1, "stopped_epoch": 0,
                                                                   "best_score": best, "patience": 3},
        },
        "optimizer_states": [opt.state_dict()],
        "lr_schedulers": [sched.state_dict()],
        "hparams_name": "kwargs",
        "hyper_parameters": {"lr": 1e-3, "hidden": 8, "layers": [4, 8, 2], "activation": "relu", "dropout": 0.1,
                             "seed": numpy.int64(5), "betas": (0.9, 0.999)},
        "numpy_rng_state": numpy.random.get_state(),
        "metrics": {"val_loss": numpy.float32(0.25), "val_acc": numpy.float64(0.875),
                    "history": numpy.array([[0.5, 0.4], [0.3, 0.25]], dtype="<f8"),
                    "confusion": numpy.array([[5, 1], [0, 6]], dtype=numpy.int64)},
    }


def misc_value():
    shared = [1, 2]
    return {
        "namespace": argparse.Namespace(lr=0.1, layers=[2, 3], name="run", flag=True, nothing=None),
        "sizes": [torch.Size([2, 3, 4]), torch.Size([])],
        "devices": [torch.device("cpu"), torch.device("cuda", 1), torch.device("cuda")],
        "dtypes": [torch.float32, torch.bfloat16, torch.int64, torch.bool, torch.complex64, torch.quint8],
        "nested": {"a": [1, (2, {"b": [3.5, None]}), {"c": {"d": [[], {}, ()]}}],
                   "t": (torch.ones(1), [torch.zeros(1, dtype=torch.int8)])},
        "numbers": [0, -1, 2**70, -2**65, 1.5, float("nan"), -0.0, complex(1, -2), True, False, None],
        "strings": ["", "ascii", "caf\u00e9", "\u65e5\u672c", "\U0001f600"],
        "bytes": [b"", b"\x00\xffabc"],
        "bytearray": bytearray(b"ab\x00"),
        "sets": [{1, 2, 3}, frozenset({"x", "y"}), set()],
        "ordered": collections.OrderedDict([("z", 1), ("a", 2)]),
        "shared": [shared, shared],
        "numpy": {"f4": numpy.arange(6, dtype="<f4").reshape(2, 3),
                  "fortran_i2": numpy.asfortranarray(numpy.arange(6, dtype="<i2").reshape(2, 3)),
                  "bool": numpy.array([True, False]), "big_endian": numpy.array([1, 2], dtype=">i4"),
                  "object": numpy.array([1, "a", None], dtype=object),
                  "scalars": [numpy.float64(2.5), numpy.int32(-7), numpy.bool_(True), numpy.uint8(200)],
                  "dtype": numpy.dtype("<f2")},
    }


def quantized_value():
    x = torch.tensor([[0.5, 1.0, -1.0, 2.0], [2.0, 0.25, 3.0, -0.5], [0.0, -2.0, 1.5, 4.0]])
    per_tensor = torch.quantize_per_tensor(x, 0.05, 3, torch.quint8)
    return {
        "per_channel_qint8_axis0": torch.quantize_per_channel(
            x, torch.tensor([0.1, 0.2, 0.05], dtype=torch.float64), torch.tensor([0, 3, -2]), 0, torch.qint8),
        "per_channel_quint8_axis1": torch.quantize_per_channel(
            x, torch.tensor([0.1, 0.2, 0.05, 0.5], dtype=torch.float64), torch.tensor([0, 3, 2, 9]), 1, torch.quint8),
        # per_channel_affine_float_qparams: written with qscheme per_channel_affine (FORMAT.md 5.2).
        "float_qparams": torch.quantize_per_channel(
            x, torch.tensor([0.1, 0.2, 0.05]), torch.tensor([0.5, 1.5, -1.0]), 0, torch.quint8),
        "per_tensor": per_tensor,
        "per_tensor_view": per_tensor[1:, ::2],
        "qint32": torch.quantize_per_tensor(x, 0.01, 0, torch.qint32),
    }


def sparse_value():
    torch.manual_seed(6)
    dense = torch.tensor([[0.0, 1.5, 0.0], [2.0, 0.0, -3.0]])
    return {
        "coo_coalesced": dense.to_sparse(),
        "coo_uncoalesced": torch.sparse_coo_tensor([[0, 0, 1], [1, 1, 0]], [1.0, 2.0, 3.0], (2, 2)),
        "coo_hybrid": torch.sparse_coo_tensor([[0, 2]], torch.tensor([[1, 2], [3, 4]], dtype=torch.int32), (3, 2)),
        "coo_empty": torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.int64), torch.zeros(0), (4, 4)),
        "csr": dense.to_sparse_csr(),
        "csr_float64": torch.eye(3, dtype=torch.float64).to_sparse_csr(),
    }


def subclass_value():
    base = torch.arange(4.0)
    tagged = torch.tensor([1.0, 2.0])
    tagged.note = "hello"
    tagged.meta = {"n": 1}
    sub = torch.arange(3, dtype=torch.int32).as_subclass(MyTensor)
    sub.extra = [1, 2]
    return {"tagged": tagged, "subclass": sub, "plain_subclass": base.as_subclass(MyTensor), "base": base}


def storage_value():
    t = torch.arange(4.0)
    # Storages as values of their own (no tensor around them).
    return {"tensor": t, "storage_of_tensor": t.storage(),
            "lone_storage": torch.tensor([1, 2], dtype=torch.int16).storage()}


def model_value():
    torch.manual_seed(7)
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.BatchNorm1d(2))


def tiny_net():
    torch.manual_seed(8)
    return TinyNet()


def torch_save_fixtures():
    each_format("dtypes", dtype_values)
    each_format("subbyte_quantized", subbyte_values, protocols=(2,))
    each_format("views", view_values)
    each_format("state_dict", state_dict_value)
    each_format("misc", misc_value)
    each_format("parameters", parameter_values, protocols=(2, 4))
    each_format("optimizers", optimizer_value, protocols=(2,))
    each_format("lightning", lightning_value, protocols=(2, 4))
    each_format("quantized", quantized_value, protocols=(2, 5))
    each_format("sparse", sparse_value, protocols=(2, 4))
    each_format("tensor_attrs", subclass_value, protocols=(2, 4))
    each_format("storages", storage_value, protocols=(2,))
    # Whole nn.Module objects: opaque objects with their __dict__ as BUILD state. Legacy files add
    # ('module', cls, source_file, source) persistent ids (torch's own modules carry their source).
    each_format("module_sequential", model_value, protocols=(2,))
    each_format("module_custom", tiny_net, protocols=(2, 4))
    fixture("tensor_only_zip_p2", save_zip(torch.arange(5, dtype=torch.int64)))
    fixture("tensor_only_legacy_p2", save_legacy(torch.arange(5, dtype=torch.int64)))


# --- Archive names and layouts -------------------------------------------------------------------

def small_checkpoint():
    torch.manual_seed(9)
    return {"weight": torch.randn(2, 3), "bias": torch.zeros(2), "step": 3}


def prefix_fixtures():
    # torch.save to a path: the prefix is the file name without its extension.
    name = "prefix_from_path_zip_p2"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, name + ".pt")
        torch.save(small_checkpoint(), path)
        with open(path, "rb") as f:
            data = f.read()
    assert zip_records(data)[0][0].startswith(name + "/")
    fixture(name, data)
    # To a BytesIO: prefix "archive".
    data = save_zip(small_checkpoint())
    assert zip_records(data)[0][0].startswith("archive/")
    fixture("prefix_archive_zip_p2", data)
    # The same archive after someone renamed its folder (readers take the first entry's folder).
    fixture("prefix_renamed_zip_p2", rezip(data, lambda recs: recs, prefix="renamed-folder.v1"))
    # torch 1.6-1.8 layout: `version` first and storage keys that are C pointers.
    pointer_keys = {"0": "94229061405184", "1": "94229061405312"}

    def era_1_6(recs):
        out = []
        for rec, body in recs:
            if rec == "data.pkl":
                for k, v in pointer_keys.items():
                    old = b"X\x01\x00\x00\x00" + k.encode()
                    assert body.count(old) == 1
                    body = body.replace(old, b"X" + struct.pack("<I", len(v)) + v.encode())
            elif rec.startswith("data/"):
                rec = "data/" + pointer_keys[rec[5:]]
            out.append((rec, body))
        return [r for r in out if r[0] == "version"] + [r for r in out if r[0] != "version"]
    fixture("zip_torch16_layout_p2", rezip(data, era_1_6))
    # Re-zipped by an ordinary zip tool: deflated records, no alignment, real timestamps.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for rec, body in zip_records(data):
            info = zipfile.ZipInfo(rec, (2021, 6, 1, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, body)
    fixture("zip_deflated_p2", out.getvalue())


def cuda_fixtures():
    """Storages tagged cuda:0 and cuda:1 (torch 1.13 here cannot create CUDA tensors)."""
    for fmt in ("zip", "legacy"):
        torch.manual_seed(10)
        w = torch.randn(2, 3)
        b = torch.ones(3)
        value = {"w": w, "w_row": w[1], "b": b, "cpu": torch.arange(3), "p": torch.nn.Parameter(torch.zeros(2))}
        tags = {w.data_ptr(): "cuda:0", b.data_ptr(): "cuda:1", value["p"].data_ptr(): "cuda:0"}
        with location_tags(tags):
            data = save(fmt, value, 2)
        assert b"cuda:1" in data
        fixture("cuda_%s_p2" % fmt, data, options=CUDA_OPTIONS)


def torchscript_fixtures():
    """torch.jit.save archives. The module's source is served from linecache under a fixed file
    name, so its debug records (source ranges naming files) do not depend on where this script
    lives; those of torch's own modules name torch's install path (fixed on one machine). The
    debug records are not part of the canonical JSON, so another install gives other bytes but
    the same expectations."""
    source = (
        "import torch\n"
        "\n"
        "\n"
        "class Scaler(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = torch.nn.Linear(3, 2)\n"
        "        self.register_buffer('offset', torch.tensor([0.5, -1.0]))\n"
        "        self.keep = torch.nn.Parameter(torch.tensor([2.0, 3.0]))\n"
        "        self.tag = 'scaler'\n"
        "\n"
        "    def forward(self, x):\n"
        "        return self.fc(x) * self.keep + self.offset\n"
    )
    filename = "ptload_ts_fixture.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    mod = types.ModuleType("ptload_ts_fixture")
    mod.__file__ = filename
    sys.modules[mod.__name__] = mod
    exec(compile(source, filename, "exec"), mod.__dict__)
    torch.manual_seed(11)
    scripted = torch.jit.script(mod.Scaler())
    # Saved to a path: prefix from the file name; tensors in data.pkl, constants.pkl is ().
    name = "torchscript_scripted"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, name + ".pt")
        torch.jit.save(scripted, path)
        with open(path, "rb") as f:
            data = f.read()
    fixture(name, data)
    # Frozen: fc's parameters and the buffer become tensor constants (constants.pkl,
    # constants/<key>); the preserved parameter stays in data.pkl. Saved to a BytesIO.
    frozen = torch.jit.freeze(scripted.eval(), preserved_attrs=["keep"])
    buf = io.BytesIO()
    torch.jit.save(frozen, buf)
    fixture("torchscript_frozen", buf.getvalue())


def py2_fixtures():
    """Python-2-era legacy checkpoints: every str is a Python-2 8-bit string (BINSTRING family),
    loaded with torch's default utf-8, with latin1, with bytes and with ascii."""
    torch.manual_seed(12)
    state = collections.OrderedDict([("conv.weight", torch.randn(2, 1, 2, 2)), ("conv.bias", torch.zeros(2))])
    value = {"state_dict": state, "arch": "r\u00e9seau", "note": "\u65e5\u672c", "epoch": 9,
             "classes": ["caf\u00e9", "na\u00efve", "plain"]}
    fixture("py2_strings_legacy_p2", save_legacy(value, 2, py2_pickle), options=PY2_OPTIONS)
    # A numpy array pickled by Python 2 holds its raw data in a str: with bytes >= 0x80 that are
    # not UTF-8, torch's default utf-8 fails (the classic reason to pass encoding='latin1').
    value = {"mean": numpy.array([0.5, -1.25, 1e10], dtype="<f8"), "label": Py2Bytes(b"caf\xe9"),
             "weights": torch.tensor([1.0, 2.0])}
    fixture("py2_numpy_legacy_p2", save_legacy(value, 2, py2_pickle), options=PY2_OPTIONS)
    # Protocol 1 (Python 2's binary protocol before 2): no NEWOBJ/PROTO, BINSTRING everywhere.
    fixture("py2_strings_legacy_p1", save_legacy({"name": "caf\u00e9", "t": torch.arange(3.0)}, 1, py2_pickle),
            options=PY2_OPTIONS)


# --- What torch 1.13 cannot write ----------------------------------------------------------------

def v3_fixtures():
    """`_rebuild_tensor_v3` (torch >= 2.2) for dtypes 1.13 lacks: the storage is pickled as
    `GLOBAL torch.storage UntypedStorage` (numel = bytes) and the dtype as `GLOBAL torch <name>`.

    Written by torch.save with stand-ins lent to torch (torch_globals). torch 1.13 has no
    float8_e4m3fn/float8_e5m2/uint16, so the expectation comes from a twin file that names
    same-size dtypes 1.13 knows (uint8, int8, int16); the fixup renames them back. complex32
    exists in 1.13 (it only cannot be saved there) and is the same in both files.
    """
    raw = bytes(range(0x30, 0x30 + 24))

    def build(names):
        v3 = torch._utils._rebuild_tensor_v3
        od = collections.OrderedDict
        u8 = untyped(torch.tensor(list(raw), dtype=torch.uint8))
        shared = untyped(torch.tensor(list(range(0x80, 0x80 + 12)), dtype=torch.uint8))
        c32 = untyped(torch.tensor(list(range(16)), dtype=torch.uint8))
        return {
            "e4m3": Call(v3, shared, 0, (2, 3), (3, 1), False, od(), names["float8_e4m3fn"]),
            "e4m3_t_view": Call(v3, shared, 1, (3, 2), (1, 4), False, od(), names["float8_e4m3fn"]),
            "e5m2": Call(v3, u8, 4, (4,), (2,), False, od(), names["float8_e5m2"]),
            "uint16": Call(v3, u8, 2, (2, 3), (3, 1), False, od(), names["uint16"]),
            "complex32": Call(v3, c32, 0, (4,), (1,), True, od(), torch.complex32),
        }

    real = {n: _NamedGlobal(n) for n in ("float8_e4m3fn", "float8_e5m2", "uint16")}
    standin = {"float8_e4m3fn": torch.uint8, "float8_e5m2": torch.int8, "uint16": torch.int16}
    rename = {"uint8": "float8_e4m3fn", "int8": "float8_e5m2", "int16": "uint16"}

    def fixup(j):
        # Only tensor dtypes change; the storages stay "uint8" (they are UntypedStorage).
        for _, value in j["dict"]:
            t = value["tensor"]
            t["dtype"] = rename.get(t["dtype"], t["dtype"])
        return j

    reason = "_rebuild_tensor_v3 with float8_e4m3fn/float8_e5m2/uint16 (torch >= 2.2); torch 1.13 lacks these dtypes"
    for fmt in ("zip", "legacy"):
        with torch_globals(utils___rebuild_tensor_v3=function_stub("_rebuild_tensor_v3"), **real):
            data = save(fmt, build(real), 2)
        with torch_globals(utils___rebuild_tensor_v3=function_stub("_rebuild_tensor_v3")):
            twin = save(fmt, build(standin), 2)
        if fmt == "legacy":
            # torch 1.13's legacy loader asks the storage class for its dtype, which
            # UntypedStorage lacks; in the twin the same bytes are a ByteStorage (uint8, numel =
            # bytes, exactly what an UntypedStorage id means).
            untyped_global = b"ctorch.storage\nUntypedStorage\n"
            assert untyped_global in twin
            twin = twin.replace(untyped_global, b"ctorch\nByteStorage\n")
        assert b"float8_e4m3fn" in data and b"UntypedStorage" in data
        if fmt == "legacy":
            reason += ", and its legacy loader cannot read UntypedStorage persistent ids"
        fixture("v3_new_dtypes_%s_p2" % fmt, data, computed=(twin, "pt", fixup, reason))


def byteswap(data, size, complex_=False):
    if size == 1:
        return data
    if complex_:
        size //= 2
    return b"".join(data[i:i + size][::-1] for i in range(0, len(data), size))


def new_record_fixtures():
    """Records of torch 2.x archives (FORMAT.md 2.1), assembled around a torch 1.13 data.pkl."""
    value = {"f32": torch.tensor([1.0, -2.5, 3.25]), "i64": torch.tensor([1, -2, 2**40]),
             "f16": torch.tensor([0.5, -1.0], dtype=torch.float16), "c64": torch.tensor([1 - 2j]),
             "u8": torch.tensor([1, 2, 255], dtype=torch.uint8), "b": torch.tensor([True, False])}
    data = save_zip(value)
    _, recs = split_prefix(zip_records(data))
    pkl = dict(recs)["data.pkl"]
    storages = [(rec, body) for rec, body in recs if rec.startswith("data/")]
    # storage key -> (element size, complex?) from the persistent ids, in data.pkl order
    sizes = {"f32": (4, False), "i64": (8, False), "f16": (2, False), "c64": (8, True), "u8": (1, False),
             "b": (1, False)}
    key_size = {str(i): sizes[k] for i, k in enumerate(value)}
    names = sorted(rec for rec, _ in recs)
    serialization_id = "%020d%020d" % (zlib.crc32("".join(names).encode()), zlib.crc32(b"".join(b for _, b in recs)))

    # 2.7-era order and extra records: data.pkl, .format_version, .storage_alignment, byteorder,
    # data/*, version, .data/serialization_id. torch 1.13 ignores the records it does not know.
    def era_2_7(order):
        body = [(rec, byteswap(b, *key_size[rec[5:]]) if order == "big" else b) for rec, b in storages]
        return torch_zip([("archive/" + r, b) for r, b in
                          [("data.pkl", pkl), (".format_version", b"1"), (".storage_alignment", b"64"),
                           ("byteorder", order.encode())] + body +
                          [("version", b"3\n"), (".data/serialization_id", serialization_id.encode())]])
    fixture("records_torch27_little_zip_p2", era_2_7("little"))
    # byteorder=big: the same tensors written by a big-endian host; a reader byteswaps each
    # element (complex: each half). torch 1.13 ignores the record and would read swapped values,
    # so the expectation is the oracle's output for the little-endian original.
    fixture("records_byteorder_big_zip_p2", era_2_7("big"),
            computed=(data, "pt", lambda j: j, "byteorder=big (torch >= 2.1); torch 1.13 ignores the record"))
    # `byteorder` = little alone (2.1-2.6 archives).
    fixture("records_byteorder_little_zip_p2",
            torch_zip([("archive/" + r, b) for r, b in [("data.pkl", pkl), ("byteorder", b"little")] + storages +
                       [("version", b"3\n"), (".data/serialization_id", serialization_id.encode())]]))


def tar_fixtures():
    tar_fixture("tar_torch01", with_module_class=False)
    tar_fixture("tar_torch01_module_pid", with_module_class=True)


def tar_fixture(name, with_module_class):
    """The torch 0.1 tar format (FORMAT.md 4), written here member by member. torch 1.13's
    _legacy_load still reads it (its legacy_load tar branch), so the oracle is real torch.

    Members: sys_info; storages (count, then per storage a (key, location, storage type) pickle,
    an int64 element count and the raw data, then the list of storage views); tensors (count,
    then per tensor a (key, storage key, tensor type) pickle and the raw metadata: int32 ndim,
    4 ignored bytes, sizes, strides, storage offset); pickle (the object, tensors and storages
    as str persistent ids, module classes as (class, source_file, source) tuples).
    """
    f32 = torch.arange(6, dtype=torch.float32)
    i64 = torch.tensor([10, -20, 30, 40], dtype=torch.int64)

    def dump(*objs):
        b = io.BytesIO()
        for o in objs:
            pickle.dump(o, b, protocol=2)
        return b

    sys_info = dump({"protocol_version": 1000, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}).getvalue()
    st = dump(2)
    for key, tensor, stype in ((101, f32, torch.FloatStorage), (102, i64, torch.LongStorage)):
        pickle.dump((key, "cpu", stype), st, protocol=2)
        st.write(struct.pack("<q", tensor.numel()) + storage_bytes(tensor))
    # A view: storage 103 = elements 1..2 of storage 102.
    pickle.dump([(103, 102, 1, 2)], st, protocol=2)
    te = dump(4)

    def meta(size, stride, offset):
        return struct.pack("<i", len(size)) + b"\0\0\0\0" + struct.pack("<%dq" % len(size), *size) + \
            struct.pack("<%dq" % len(stride), *stride) + struct.pack("<q", offset)
    for key, skey, ttype, m in ((201, 101, torch.FloatTensor, meta((2, 3), (3, 1), 0)),
                                (202, 101, torch.FloatTensor, meta((3, 2), (1, 3), 0)),
                                (203, 102, torch.LongTensor, meta((2,), (2,), 1)),
                                (204, 103, torch.LongTensor, meta((2,), (1,), 0))):
        pickle.dump((key, skey, ttype), te, protocol=2)
        te.write(m)

    class Ref:
        def __init__(self, key):
            self.key = key
    refs = {"weight": Ref(201), "weight_t": Ref(202), "longs": Ref(203), "long_view": Ref(204),
            "storage": Ref(101), "lr": 0.5}
    if with_module_class:
        # A whole-module save referred to each module class by a (class, source_file, source) id.
        refs["module_class"] = Ref(torch.nn.Linear)
    pk = io.BytesIO()
    p = pickle.Pickler(pk, protocol=2)

    def persistent_id(obj):
        if isinstance(obj, Ref):
            return str(obj.key) if isinstance(obj.key, int) else (obj.key, None, None)
        return None
    p.persistent_id = persistent_id
    p.dump(refs)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member, body in (("sys_info", sys_info), ("pickle", pk.getvalue()), ("tensors", te.getvalue()),
                             ("storages", st.getvalue())):
            info = tarfile.TarInfo(member)
            info.size = len(body)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(body))
    fixture(name, out.getvalue(), ext="tar")


def legacy_view_fixture():
    """A torch <= 0.4 era legacy file: storage persistent ids with view metadata
    (view_key, offset, size) and the oldest `_rebuild_tensor(storage, offset, size, stride)`.
    Written by legacy_stream (torch 1.13 no longer writes views); torch 1.13 still reads them."""
    root = torch.arange(8, dtype=torch.float32)

    class StorageRef:
        def __init__(self, view):
            self.view = view

        def __reduce__(self):
            return (object, ())  # never used: persistent_id catches it first

    root_ref, view_ref = StorageRef(None), StorageRef(("140000000000002", 2, 4))

    def persistent_id(obj):
        if isinstance(obj, StorageRef):
            return ("storage", torch.FloatStorage, "140000000000001", "cpu", 8, obj.view)
        return None
    value = {"whole": Call(torch._utils._rebuild_tensor, root_ref, 0, (2, 4), (4, 1)),
             "view_tensor": Call(torch._utils._rebuild_tensor, view_ref, 1, (3,), (1,)),
             "view_again": Call(torch._utils._rebuild_tensor, view_ref, 0, (2,), (2,))}
    data = legacy_stream(value, persistent_id, {"140000000000001": (8, storage_bytes(root))})
    fixture("legacy_storage_views_p2", data)


def load_from_bytes_fixtures():
    """Tensors pickled with plain pickle.dumps (not torch.save): each storage becomes
    torch.storage._load_from_bytes(<a whole legacy torch stream>)."""
    for proto in (2, 4):
        base = torch.arange(6.0).reshape(2, 3)
        value = {"t": base, "view": base[1], "ints": torch.tensor([1, 2, 3], dtype=torch.int32),
                 "param": torch.nn.Parameter(torch.ones(2))}
        with fixed_legacy_keys():
            data = pickle.dumps(value, protocol=proto)
        assert b"_load_from_bytes" in data and b"100000000000001" in data
        fixture("load_from_bytes_p%d" % proto, data, ext="pkl")


def malformed_fixtures():
    """Broken files and the error each must give (the oracle checks what torch 1.13 would read
    past or silently accept, see tools/oracle/load.py and unpickler.py)."""
    good = save_zip({"w": torch.arange(6.0)})
    fixture("bad_missing_record_zip", rezip(good, lambda recs: [r for r in recs if r[0] != "data/0"]))
    fixture("bad_record_short_zip", rezip(good, lambda recs: [(r, b[:-4] if r == "data/0" else b) for r, b in recs]))
    fixture("bad_record_long_zip",
            rezip(good, lambda recs: [(r, b + b"\0" * 4 if r == "data/0" else b) for r, b in recs]))
    s = torch.arange(6.0).storage()
    od = collections.OrderedDict
    v2 = torch._utils._rebuild_tensor_v2
    fixture("bad_view_past_end_zip", save_zip({"w": Call(v2, s, 0, (3,), (3,), False, od())}))
    fixture("bad_offset_past_end_zip", save_zip({"w": Call(v2, s, 5, (2,), (1,), False, od())}))
    fixture("bad_negative_stride_zip", save_zip({"w": Call(v2, s, 5, (3,), (-1,), False, od())}))
    fixture("bad_negative_offset_zip", save_zip({"w": Call(v2, s, -1, (2,), (1,), False, od())}))
    fixture("bad_view_past_end_legacy", save_legacy({"w": Call(v2, s, 2, (2, 2), (3, 1), False, od())}))
    # Legacy: the storage block's element count disagrees with the persistent id.
    legacy = save_legacy({"w": torch.arange(4.0)})
    block = struct.pack("<q", 4) + storage_bytes(torch.arange(4.0))
    assert legacy.endswith(block)
    fixture("bad_storage_count_legacy", legacy[:-len(block)] + struct.pack("<q", 5) + block[8:] + b"\0" * 4)
    fixture("bad_truncated_legacy", legacy[:-6])


# --- Driver --------------------------------------------------------------------------------------

def options_slug(opts):
    text = manifest.options_text(opts)
    return re.sub(r"[^a-z0-9]+", "-", text.replace("--", "")).strip("-")


class TorchManifest(manifest.ManifestWriter):
    """ManifestWriter for results computed once here (several option sets share files)."""

    def add_result(self, input_rel, opts, expected_rel, kind, value, message=None):
        if kind == "json":
            manifest._write_if_changed(os.path.join(manifest.REPO_ROOT, expected_rel), value + "\n")
            self.written.add(os.path.normpath(expected_rel))
            expected = expected_rel
        else:
            expected = "error:" + value
            self.errors.append((input_rel, manifest.options_text(opts), message))
        self.lines.append("%s\t%s\t%s" % (input_rel, manifest.options_text(opts), expected))


# Saved location of each storage of the cuda_* fixtures, by canonical storage id (w/w_row, b, cpu, p).
CUDA_TAGS_BY_STORAGE_ID = {0: "cuda:0", 1: "cuda:1", 2: "cpu", 3: "cuda:0"}


def cuda_default_expectation(fx_):
    """The expectation without map_location for a cuda_* fixture (see its manifest comment)."""
    kind, value, message = manifest.run_oracle(fx_.rel, {"map_location": "cpu"})
    if kind != "json":
        raise RuntimeError("oracle failed on %s with map_location=cpu: %s" % (fx_.name, message))
    doc = json.loads(value)

    def retag(node):
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, dict):
                t = n.get("tensor")
                if isinstance(t, dict) and isinstance(t.get("storage"), dict):
                    t["device"] = CUDA_TAGS_BY_STORAGE_ID[t["storage"]["id"]]
                stack.extend(n.values())
            elif isinstance(n, list):
                stack.extend(n)
        return node

    return canonical.normalize(retag(doc))


def computed_expectation(fx_, opts):
    """The oracle's JSON for the twin file, passed through the fixture's fixup."""
    twin, ext, fixup, _ = fx_.computed
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "twin." + ext)
        with open(path, "wb") as f:
            f.write(twin)
        kind, value, message = manifest.run_oracle(path, opts)
    if kind != "json":
        raise RuntimeError("oracle failed on the twin of %s: %s" % (fx_.name, message))
    return canonical.normalize(fixup(json.loads(value)))


def write_if_changed(path, data):
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except FileNotFoundError:
        pass
    with open(path, "wb") as f:
        f.write(data)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    start = time.time()
    torch.set_num_threads(1)
    check_torch_zip()

    torch_save_fixtures()
    prefix_fixtures()
    cuda_fixtures()
    torchscript_fixtures()
    py2_fixtures()
    v3_fixtures()
    new_record_fixtures()
    tar_fixtures()
    legacy_view_fixture()
    load_from_bytes_fixtures()
    malformed_fixtures()

    root = manifest.REPO_ROOT
    folder = os.path.join(root, FIXTURE_DIR)
    os.makedirs(folder, exist_ok=True)
    written = set()
    for f in FIXTURES:
        write_if_changed(os.path.join(root, f.rel), f.data)
        written.add(os.path.basename(f.rel))
    for stale in set(os.listdir(folder)) - written:
        os.remove(os.path.join(folder, stale))

    header = [
        "torch fixtures (tests/fixtures/torch): input<TAB>options<TAB>expected (JSON file or error:<code>).",
        "Generated by tools/gen_torch_fixtures.py with tools/oracle (CPython %d.%d, torch %s, numpy %s)."
        % (sys.version_info[0], sys.version_info[1], torch.__version__, numpy.__version__),
        "Lines listed as 'computed:' hold expectations the generator derived from a twin file, because",
        "torch 1.13 cannot load the input correctly; the oracle is not rerun on them.",
    ]
    writer = TorchManifest(MANIFEST, EXPECTED_DIR, header)
    results = collections.Counter()
    computed = []
    for f in FIXTURES:
        seen = {}  # result -> expected path, so option sets with the same output share one file
        for opts in f.options:
            if f.name.startswith("cuda_") and not opts:
                kind, value, message = "json", cuda_default_expectation(f), None
                computed.append("computed: %s\t%s\t%s" % (
                    f.rel, manifest.options_text(opts),
                    "no map_location: torch without CUDA refuses; a CUDA build keeps each storage on its saved "
                    "device, and ptload keeps the bytes on the host reporting that tag: the --map-location cpu "
                    "result with each tensor's device set to its storage's saved tag"))
            elif f.computed:
                kind, value, message = "json", computed_expectation(f, opts), None
                live = manifest.run_oracle(f.rel, opts)
                computed.append("computed: %s\t%s\t%s (the oracle on the file itself: %s)" % (
                    f.rel, manifest.options_text(opts), f.computed[3],
                    "error:" + live[1] if live[0] == "error" else "different JSON" if live[1] != value else "same"))
            else:
                kind, value, message = manifest.run_oracle(f.rel, opts)
            key = (kind, value)
            if key in seen:
                target = seen[key]
            elif not seen:
                target = "%s/%s.json" % (EXPECTED_DIR, f.name)
            else:
                target = "%s/%s.%s.json" % (EXPECTED_DIR, f.name, options_slug(opts))
            seen.setdefault(key, target)
            writer.add_result(f.rel, opts, target, kind, value, message)
            results["json" if kind == "json" else "error:" + value] += 1
    writer.header = header + sorted(computed)
    lines = writer.finish()

    size = sum(len(f.data) for f in FIXTURES)
    print("%d fixtures (%d bytes), %d manifest lines: %s" % (
        len(FIXTURES), size, lines, ", ".join("%s %d" % kv for kv in sorted(results.items()))))
    for line in sorted(computed):
        print("  " + line)
    for input_rel, opts, message in writer.errors:
        print("  error for %s %s: %s" % (input_rel, opts, message))
    print("took %.1f s" % (time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(manifest.run_with_big_stack(main, sys.argv[1:]))
