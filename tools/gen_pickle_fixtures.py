#!/usr/bin/env python3
"""Writes the plain-pickle fixture corpus and its expected canonical JSON.

  /usr/bin/python3 tools/gen_pickle_fixtures.py

Outputs (all deterministic; a rerun rewrites identical bytes):
  tests/fixtures/pickle/<name>.pkl                         the pickles
  tests/expected/pickle/<name>[.<encoding>-<errors>].json  oracle output (tools/oracle.py json)
  tests/expected/pickle.tsv                                manifest for the C++ harness

Most fixtures are written by CPython's own pickler at every protocol 0-5; the opcodes the
pickler never emits (Python-2 strings, INST/OBJ, DUP, EXT*, text GET/PUT variants, 8-byte
lengths, ...) are assembled by hand below. The script checks that every opcode except
PERSID/BINPERSID (torch-only) occurs in at least one fixture.
"""

import collections
import datetime
import math
import os
import pickle
import pickletools
import re
import struct
import sys
import time
import types

# Sets of strings are pickled in hash order; str hashes are randomised per process unless
# PYTHONHASHSEED is fixed, so rerun under a fixed seed to get identical fixture bytes.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))



import numpy  # noqa: E402
import torch  # noqa: E402

from oracle import manifest  # noqa: E402

FIXTURE_DIR = "tests/fixtures/pickle"
EXPECTED_DIR = "tests/expected/pickle"
MANIFEST = "tests/expected/pickle.tsv"

DEFAULT = [{}]
# Python-2 8-bit strings are checked under every decoding ptload offers.
ENCODINGS = [{"encoding": e, "errors": m} for e in ("utf-8", "latin1", "ascii", "bytes") for m in ("strict", "replace")]

FIXTURES = []  # (name, data, option sets)


def fixture(name, data, options=DEFAULT):
    assert re.fullmatch(r"[a-z0-9_]+", name), name
    assert name not in {f[0] for f in FIXTURES}, name
    FIXTURES.append((name, data, options))


def each_protocol(prefix, value, protocols=range(6)):
    for proto in protocols:
        fixture("%s_p%d" % (prefix, proto), pickle.dumps(value, protocol=proto))


# --- Classes the fixtures pickle ------------------------------------------------------------------
# They live in a module of their own so the pickles name `ptload_fixtures.X`, whatever this
# script is called as. The oracle never imports it: every one of them is opaque to ptload.

fx = types.ModuleType("ptload_fixtures")
sys.modules["ptload_fixtures"] = fx


def in_fx(cls):
    cls.__module__ = "ptload_fixtures"
    setattr(fx, cls.__name__, cls)
    return cls


@in_fx
class Plain:
    """Ordinary class: NEWOBJ + BUILD (proto >= 2) or copyreg._reconstructor (proto < 2)."""

    def __init__(self):
        self.name = "plain"
        self.values = [1, 2]


@in_fx
class WithReduce:
    """__reduce__ with arguments only: REDUCE."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __reduce__(self):
        return (WithReduce, (self.a, self.b))


@in_fx
class WithReduceState:
    """__reduce__ with arguments and a state: REDUCE + BUILD."""

    def __reduce__(self):
        return (WithReduceState, (1,), {"s": 2})


@in_fx
class WithKwargs:
    """__getnewargs_ex__: NEWOBJ_EX at proto >= 4, functools.partial (disallowed) at 2-3."""

    def __getnewargs_ex__(self):
        return ((1, "pos"), {"key": "word", "n": 3})


@in_fx
class MyList(list):
    """List subclass: its items arrive through APPENDS on an opaque object."""


@in_fx
class MyDict(dict):
    """Dict subclass: its items arrive through SETITEMS on an opaque object."""


@in_fx
class Slotted:
    """__slots__ only: BUILD with a (None, slots) state tuple."""

    __slots__ = ("a", "b")

    def __init__(self):
        self.a = 1
        self.b = "two"


@in_fx
class Outer:
    class Inner:
        """Nested class: STACK_GLOBAL 'Outer.Inner' at proto >= 4, builtins.getattr below."""


Outer.Inner.__module__ = "ptload_fixtures"
Outer.Inner.__qualname__ = "Outer.Inner"

Point = collections.namedtuple("Point", "x y", module="ptload_fixtures")
fx.Point = Point


@in_fx
class Evil:
    """What a malicious pickle does: REDUCE os.system. The oracle refuses it at find_class."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))


@in_fx
class EvalEvil:
    def __reduce__(self):
        return (eval, ("1+1",))


# --- Values written by CPython's pickler ----------------------------------------------------------

def broad_values():
    """A dict holding one of nearly everything plain Python pickles."""
    shared = [1, 2]
    return {
        "none": None, "true": True, "false": False,
        "ints": [0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**31, 2**63 - 1, -2**63, 2**64,
                 10**100, -10**100, 2**(8 * 300), -2**(8 * 300) + 12345],
        "floats": [0.0, -0.0, 0.1, 1.5, -2.25, float("inf"), float("-inf"), float("nan"), 1e-310, 1e308,
                   5e-324],
        "strings": ["", "ascii", "caf\u00e9", "\u65e5\u672c\u8a9e", "\U0001f600", "back\\slash", "new\nline",
                    "cr\rx", "eof\x1ax", "nul\x00x", "lone \ud800 surrogate", "quote'\"", "x" * 300],
        "bytes": [b"", b"abc", bytes(range(256))],
        "bytearrays": [bytearray(), bytearray(b"xyz\x00\xff")],
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((),)],
        "lists": [[], [[]], [1, "a", None]],
        "dicts": [{}, {"k": {"nested": [1]}}],
        "sets": [set(), {1, 2, 3}, frozenset(), frozenset({4, 5})],
        "complex": [complex(1.5, -2.0), complex(0.0, -0.0)],
        "slices": [slice(1, 10, 2), slice(None, 5, None), slice("a", 2.5, (1,))],
        "ranges": [range(0, 10, 3), range(5), range(10, -10, -4)],
        "shared": [shared, shared],
    }


def shared_and_cyclic():
    a = [1, 2]
    cyc = []
    cyc.append(cyc)
    d = {}
    d["self"] = d
    l1, l2 = [], []
    l1.append(l2)
    l2.append(l1)
    ba = bytearray(b"shared")
    return {"shared": {"x": a, "y": a, "z": [a, a]}, "cyclic_list": cyc, "cyclic_dict": d,
            "mutual": [l1, l2], "bytearray": [ba, ba], "set": [set([1]), ] * 2}


def recursive_tuple():
    # A tuple inside its own list: the pickler finds the tuple memoised while saving its items
    # and emits POP (proto 0) or POP_MARK (proto >= 1) to throw the copy away.
    t = ([],)
    t[0].append(t)
    return t


def deep(depth, make):
    v = "bottom"
    for _ in range(depth):
        v = make(v)
    return v


def memo_heavy():
    # More than 256 memoised values, so BINPUT/BINGET give way to LONG_BINPUT/LONG_BINGET.
    strings = ["s%03d" % i for i in range(300)]
    return [strings, list(strings), {s: s for s in strings[:20]}]


def sets():
    return [{1, 2, 3}, frozenset({(1, 2), "a", b"b"}), set(), frozenset(), {frozenset({1}), frozenset({2, 3})},
            ({"x", "y"},), {None, 1.5, -7, "z"}]


def dict_keys():
    return {2: "int", (1, "x"): "tuple", None: "none", 1.5: "float", False: "false", b"k": "bytes",
            frozenset({1}): "frozenset", -3: "negative", 10**30: "bigint", "": "empty"}


def objects():
    p = Plain()
    od = collections.OrderedDict([("a", 1), ("b", 2)])
    dd = collections.defaultdict(list)
    dd["x"].append(1)
    return {
        "plain": p, "plain_again": p,
        "reduce": WithReduce(1, "two"), "reduce_state": WithReduceState(),
        "mylist": MyList([1, 2, 3]), "mydict": MyDict(a=1, b=[2]),
        "namedtuple": Point(1, 2), "defaultdict": dd, "counter": collections.Counter({"a": 2, "b": 1}),
        "datetime": datetime.datetime(2020, 1, 2, 3, 4, 5, 6), "date": datetime.date(1999, 12, 31),
        "timedelta": datetime.timedelta(days=1, seconds=2, microseconds=3),
        "ordered": od, "class_ref": Plain, "key_object": {p: "object as key"},
    }


def ordered_dicts():
    state = collections.OrderedDict([("fc.weight", 1), ("fc.bias", 2)])
    state._metadata = collections.OrderedDict([("", {"version": 1}), ("fc", {"version": 1})])
    plain = collections.OrderedDict([(1, "one"), ((2, 3), "tuple key")])
    tagged = collections.OrderedDict(z=0)
    tagged.note = "attribute"
    tagged.more = [1]
    return [state, plain, tagged, collections.OrderedDict()]


def referenced_globals():
    # Globals that are only referenced, never called: they print as {"global": ...}.
    return [list, set, frozenset, int, str, range, bytes, ValueError, collections.OrderedDict,
            collections.defaultdict, math.sqrt, Plain, numpy.ndarray, torch.float32, torch.Size([2, 3]),
            torch.device("cpu"), torch.device("cuda", 1)]


def numpy_values():
    return {
        "f4": numpy.array([1.5, -2.0, 0.0], dtype="<f4"),
        "i8_big_endian": numpy.array([1, -2, 3], dtype=">i8"),
        "bool": numpy.array([True, False, True]),
        "c16": numpy.array([1 + 2j, -0.5j]),
        "unicode": numpy.array(["ab", "\u00e9\u65e5"], dtype="<U3"),
        "bytes": numpy.array([b"ab", b"\xff"], dtype="S2"),
        "object": numpy.array([[1, "a"], [None, [2, 3]]], dtype=object),
        "fortran": numpy.asfortranarray(numpy.arange(6, dtype="<i2").reshape(2, 3)),
        "zero_d": numpy.array(7.25),
        "empty": numpy.zeros((0, 3), dtype="<u1"),
        "scalars": [numpy.float64(2.5), numpy.int32(-7), numpy.bool_(True), numpy.complex64(1 - 1j),
                    numpy.uint8(200), numpy.float16(0.5)],
        "dtypes": [numpy.dtype("<f4"), numpy.dtype(">i2"), numpy.dtype("U5")],
    }


def torch_plain_pickle(value, protocol):
    """pickle.dumps of torch values: storages travel as embedded legacy torch streams
    (torch.storage._load_from_bytes). Their keys are C pointers, so pin them for determinism."""
    data = pickle.dumps(value, protocol=protocol)
    keys = set(re.findall(rb"(?<![0-9])[0-9]{9,20}(?![0-9])", data))
    for i, key in enumerate(sorted(keys)):
        fixed = (b"%d" % (i + 1)).rjust(len(key), b"1")
        assert data.count(key) >= 2, key
        data = data.replace(key, fixed)
    return data


def torch_values():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    return {
        "tensor": base,
        "view": base[1:, ::2],
        "int_vector": torch.tensor([1, -2, 3], dtype=torch.int64),
        "bool": torch.tensor([True, False]),
        "half": torch.tensor([1.5, -0.25], dtype=torch.float16),
        "parameter": torch.nn.Parameter(torch.ones(2)),
        "size": torch.Size([3, 4]),
        "dtype": torch.bfloat16,
    }


@in_fx
class MyTensor(torch.Tensor):
    """A tensor subclass; only its name is pickled."""


class Call:
    """Pickles as REDUCE func(*args): lets the fixtures call torch's rebuild functions directly."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


class torch_stub:
    """Context manager lending torch._utils a function 1.13 lacks, so pickle can name it.

    pickle writes a function as GLOBAL module.name after checking that the module really holds
    it; the rebuild functions of torch 2.x are not in 1.13, so a stand-in is put there while
    the fixture is pickled.
    """

    def __init__(self, *names):
        self.names = names

    def __enter__(self):
        stubs = []
        for name in self.names:
            assert not hasattr(torch._utils, name), name
            stub = types.FunctionType((lambda *a: None).__code__, {}, name)
            stub.__module__, stub.__qualname__ = "torch._utils", name
            setattr(torch._utils, name, stub)
            stubs.append(stub)
        return stubs

    def __exit__(self, *exc):
        for name in self.names:
            delattr(torch._utils, name)


def torch_rebuilds():
    """Every rebuild path of FORMAT.md 5.2 that torch 1.13 can be made to write, including the
    2.x ones (v3, parameter_with_state, nested, 4-tuple sparse COO, state on a plain tensor)."""
    u = torch._utils
    od = collections.OrderedDict
    shared = torch.tensor([1.0, 2.0, 3.0]).storage()
    qstorage = torch.quantize_per_tensor(torch.tensor([1.0, 2.0]), 1.0, 0, torch.qint8).storage()
    with torch_stub("_rebuild_tensor_v3", "_rebuild_parameter_with_state", "_rebuild_nested_tensor") as stubs:
        v3, param_with_state, nested = stubs
        value = {
            "oldest_rebuild_tensor": Call(u._rebuild_tensor, shared, 1, (2,), (1,)),
            # 2.x applies the state of a plain tensor as attributes (1.13 would drop it).
            "plain_with_attrs": Call(torch._tensor._rebuild_from_type_v2, u._rebuild_tensor_v2, torch.Tensor,
                                     (shared, 0, (3,), (1,), False, od()), {"note": "hello", "n": 1}),
            "subclass": Call(torch._tensor._rebuild_from_type_v2, u._rebuild_tensor_v2, MyTensor,
                             (shared, 0, (3,), (1,), False, od()), ({"a": 1}, {"slot": [2]})),
            "parameter_with_state": Call(param_with_state,
                                         Call(u._rebuild_tensor_v2, shared, 2, (1,), (1,), True, od()),
                                         True, od(), {"x": 1}),
            "v3_float32_on_bytes": Call(v3, torch.arange(8, dtype=torch.uint8).storage(), 0, (2,), (1,), False, od(),
                                        torch.float32),
            "coo_coalesced": Call(u._rebuild_sparse_tensor, torch.sparse_coo,
                                  (torch.tensor([[0, 1], [1, 0]]), torch.tensor([5.0, 6.0]), torch.Size([2, 2]), True)),
            "coo_old_3_tuple": Call(u._rebuild_sparse_tensor, torch.sparse_coo,
                                    (torch.tensor([[1]]), torch.tensor([7.0]), torch.Size([3]))),
            "nested": Call(nested, torch.arange(5.0), torch.tensor([[3], [2]]), torch.tensor([[1], [1]]),
                           torch.tensor([0, 3])),
            "meta": Call(u._rebuild_meta_tensor_no_storage, torch.float32, (2, 3), (3, 1), False),
            # Old files hold per-channel quantizer parameters as lists.
            "qtensor_lists": Call(u._rebuild_qtensor, qstorage, 0, (2,), (1,),
                                  (torch.per_channel_affine, [0.5, 0.25], [1, 2], 0), False, od()),
        }
        return torch_plain_pickle(value, 2)


def torch_rebuilds_more():
    """More of FORMAT.md 5.2: the 1.13 CSR name, device tensors rebuilt from numpy or from a CPU
    tensor, and the older _rebuild_from_type. Left out because the oracle cannot check them with
    torch 1.13: CSC/BSR/BSC (no validation in 1.13) and wrapper subclasses (torch needs the real
    class, which the recording unpickler never imports)."""
    u = torch._utils
    od = collections.OrderedDict
    shared = torch.tensor([1.0, 2.0, 3.0, 4.0]).storage()
    crow, col = torch.tensor([0, 1, 2]), torch.tensor([1, 0])
    with torch_stub("_rebuild_device_tensor_from_cpu_tensor") as stubs:
        (from_cpu,) = stubs
        value = {
            "csr_1_13_name": Call(u._rebuild_sparse_csr_tensor, torch.sparse_csr,
                                  (crow, col, torch.tensor([3.0, 4.0]), torch.Size([2, 2]))),
            "from_numpy": Call(u._rebuild_device_tensor_from_numpy, numpy.arange(6, dtype="<f4").reshape(2, 3),
                               torch.float32, "cpu", False),
            "from_cpu_tensor": Call(from_cpu, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float16), torch.float16, "cpu", True),
            "int_requires_grad": Call(from_cpu, torch.tensor([1, 2], dtype=torch.int16), torch.int16, "cpu", False),
            "old_from_type": Call(torch._tensor._rebuild_from_type, u._rebuild_tensor_v2, MyTensor,
                                  (shared, 1, (3,), (1,), False, od()), {"tag": "old"}),
        }
        return torch_plain_pickle(value, 2)


# --- Hand-assembled pickles ------------------------------------------------------------------------
# Small helpers named after the opcodes they write; arguments are encoded as FORMAT.md 1.2 says.

def u8(n):
    return struct.pack("<B", n)


def u16(n):
    return struct.pack("<H", n)


def i32(n):
    return struct.pack("<i", n)


def u32(n):
    return struct.pack("<I", n)


def u64(n):
    return struct.pack("<Q", n)


def PROTO(n):
    return b"\x80" + u8(n)


def GLOBAL(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def SHORT_BINSTRING(b):
    return b"U" + u8(len(b)) + b


def BINSTRING(b):
    return b"T" + i32(len(b)) + b


def SHORT_BINUNICODE(s):
    b = s.encode("utf-8", "surrogatepass")
    return b"\x8c" + u8(len(b)) + b


def SHORT_BINBYTES(b):
    return b"C" + bytes([len(b)]) + b


def BINUNICODE(s):
    b = s.encode("utf-8", "surrogatepass")
    return b"X" + u32(len(b)) + b


def BINFLOAT(x):
    return b"G" + struct.pack(">d", x)


MARK, STOP, POP, POP_MARK, DUP = b"(", b".", b"0", b"1", b"2"
EMPTY_LIST, EMPTY_DICT, EMPTY_TUPLE, EMPTY_SET = b"]", b"}", b")", b"\x8f"
APPEND, APPENDS, SETITEM, SETITEMS, ADDITEMS = b"a", b"e", b"s", b"u", b"\x90"
TUPLE, TUPLE1, TUPLE2, TUPLE3, REDUCE, BUILD = b"t", b"\x85", b"\x86", b"\x87", b"R", b"b"
NEWTRUE, NEWFALSE, NONE = b"\x88", b"\x89", b"N"


def BININT1(n):
    return b"K" + u8(n)


def BINPUT(n):
    return b"q" + u8(n)


def py2_numpy_array():
    """numpy.array([1.0, 2.0]) as Python 2's cPickle wrote it (protocol 2): every string,
    the raw data included, is a Python-2 str that the encoding option decodes."""
    raw = struct.pack("<2d", 1.0, 2.0)
    return (PROTO(2) + GLOBAL("numpy.core.multiarray", "_reconstruct") + BINPUT(1) + GLOBAL("numpy", "ndarray")
            + BINPUT(2) + BININT1(0) + TUPLE1 + SHORT_BINSTRING(b"b") + TUPLE3 + REDUCE + BINPUT(3)
            + MARK + BININT1(1) + BININT1(2) + TUPLE1
            + GLOBAL("numpy", "dtype") + BINPUT(4) + SHORT_BINSTRING(b"f8") + BININT1(0) + BININT1(1) + TUPLE3
            + REDUCE + BINPUT(5)
            + MARK + BININT1(3) + SHORT_BINSTRING(b"<") + NONE + NONE + NONE + b"J" + i32(-1) + b"J" + i32(-1)
            + BININT1(0) + TUPLE + BUILD
            + NEWFALSE + SHORT_BINSTRING(raw) + TUPLE + BUILD + STOP)


def py2_fixtures():
    """Python-2 8-bit strings (STRING, BINSTRING, SHORT_BINSTRING) under every decoding."""
    fixture("py2_str_ascii", b"(lp0\nS'hello'\np1\naS\"it's\"\np2\nag1\na.", ENCODINGS)
    fixture("py2_str_latin1",
            PROTO(2) + EMPTY_LIST + BINPUT(0) + MARK + SHORT_BINSTRING(b"caf\xe9") + BINSTRING(b"na\xefve")
            + APPENDS + STOP, ENCODINGS)
    fixture("py2_str_utf8",
            EMPTY_LIST + BINPUT(0) + MARK + SHORT_BINSTRING("\u00fc\u65e5\u672c".encode()) + SHORT_BINSTRING(b"ok")
            + APPENDS + STOP, ENCODINGS)
    # STRING text with the escapes Python 2's repr() wrote: \xHH, \n, \\, \', and octal.
    fixture("py2_str_escapes", b"(lp0\nS'a\\x00b\\nc\\xff\\\\d\\'e\\101\\t'\np1\naS\"q\\\"\"\np2\na.", ENCODINGS)
    fixture("py2_str_long", PROTO(2) + BINSTRING(bytes(range(256)) + b"tail" * 11) + STOP, ENCODINGS)
    fixture("py2_dict",
            PROTO(2) + EMPTY_DICT + BINPUT(0) + MARK + SHORT_BINSTRING(b"name") + BINUNICODE("bob")
            + SHORT_BINSTRING(b"score") + BININT1(7) + SHORT_BINSTRING(b"raw") + SHORT_BINSTRING(b"\xff\xfe")
            + SETITEMS + STOP, ENCODINGS)
    # datetime(2020, 1, 2, 3, 4, 5, 6) from Python 2: the state is a 10-byte str.
    fixture("py2_datetime",
            PROTO(2) + GLOBAL("datetime", "datetime") + BINPUT(0)
            + SHORT_BINSTRING(b"\x07\xe4\x01\x02\x03\x04\x05\x00\x00\x06") + TUPLE1 + REDUCE + BINPUT(1) + STOP,
            ENCODINGS)
    fixture("py2_numpy_array", py2_numpy_array(), ENCODINGS)
    # Old-style class instances: INST (protocol 0) and OBJ (protocol 1), state with str keys.
    fixture("py2_inst", b"(lp0\n(i__main__\nOld\np1\n(dp2\nS'a'\np3\nI1\nsba(I7\nS'x'\np4\ni__main__\nOld\np5\na.",
            ENCODINGS)
    fixture("py2_obj",
            EMPTY_LIST + BINPUT(0) + MARK + MARK + GLOBAL("__main__", "Old") + BINPUT(1) + b"o" + BINPUT(2)
            + EMPTY_DICT + SHORT_BINSTRING(b"a") + BININT1(2) + SETITEM + BUILD
            + MARK + b"h\x01" + BININT1(1) + SHORT_BINSTRING(b"y") + b"o" + APPENDS + STOP, ENCODINGS)
    # UNICODE (raw-unicode-escape, Latin-1 bytes taken as code points) is not a Python-2 str:
    # no option changes it; the STRING next to it does change.
    fixture("py2_str_vs_unicode", b"(lp0\nVcaf\xe9\np1\naS'caf\\xe9'\np2\na.", ENCODINGS)


def opcode_fixtures():
    """Opcodes and argument forms CPython's pickler never writes."""
    fixture("op_dup", PROTO(2) + MARK + BININT1(1) + DUP + TUPLE + EMPTY_LIST + DUP + TUPLE2 + TUPLE2 + STOP)
    fixture("op_pop", PROTO(2) + BININT1(1) + BININT1(2) + POP + STOP)
    # POP with a MARK on top discards the mark (FORMAT.md 1.2).
    fixture("op_pop_discards_mark", PROTO(2) + BININT1(1) + MARK + POP + STOP)
    fixture("op_pop_mark", PROTO(2) + BININT1(1) + MARK + BININT1(2) + BININT1(3) + POP_MARK + STOP)
    fixture("op_get_put_text", b"(lp0\nS'x'\np1\nag1\nag0\na.")
    fixture("op_float_text", b"(lp0\nF0.1\naF-0.0\naFinf\naF-inf\naFnan\naF1e-310\naF1.5\naF1e+300\na.")
    # INT carries bools as 00/01 and, from 64-bit Python 2, values past 2^31; LONG may end in L.
    fixture("op_int_long_text",
            b"(lp0\nI00\naI01\naI42\naI-7\naI4294967296\naI-9223372036854775808\naL123L\naL0\n"
            b"aL-99999999999999999999999L\naL18446744073709551616\na.")
    fixture("op_unicode_escapes", b"Vback\\u005cslash \\u000a \\ud800 \\U0001f600 caf\xe9 \\u65e5\n.")
    fixture("op_long1_long4",
            PROTO(2) + MARK + b"\x8a\x00" + b"\x8a\x01\xff" + b"\x8a\x02\xff\x00" + b"\x8a\x02\x00\xff"
            + b"\x8b" + i32(3) + b"\x01\x00\x80" + b"\x8b" + i32(0) + TUPLE + STOP)
    fixture("op_binunicode8_binbytes8",
            PROTO(4) + MARK + b"\x8d" + u64(5) + "\u00e9t\u00e9".encode() + b"\x8e" + u64(3) + b"\x00\x01\x02"
            + TUPLE + STOP)
    fixture("op_binstring_empty_unicode", PROTO(2) + MARK + BINUNICODE("") + SHORT_BINUNICODE("") + TUPLE + STOP)
    fixture("op_ext1", PROTO(2) + b"\x82\x01" + STOP)
    fixture("op_ext2", PROTO(2) + b"\x83" + u16(0x1234) + STOP)
    fixture("op_ext4", PROTO(2) + b"\x84" + i32(0x12345678) + STOP)
    # Out-of-band buffers: none are ever supplied, so NEXT_BUFFER fails.
    fixture("op_next_buffer", pickle.dumps(pickle.PickleBuffer(b"abc"), protocol=5, buffer_callback=lambda b: None))
    # READONLY_BUFFER on an in-band bytes object leaves it as it is.
    fixture("op_readonly_buffer_inband", PROTO(5) + b"C\x03abc" + b"\x98" + STOP)
    # Protocol 3 does not rename Python-2 names: __builtin__.set is an unknown global here.
    fixture("op_py2_name_at_proto3",
            PROTO(3) + GLOBAL("__builtin__", "set") + EMPTY_LIST + BININT1(1) + APPEND + TUPLE1 + REDUCE + STOP)
    # Dict keys that compare equal: the first key object stays, the last value wins.
    fixture("dict_key_collision",
            PROTO(2) + EMPTY_DICT + MARK + BININT1(1) + SHORT_BINUNICODE("int") + NEWTRUE
            + SHORT_BINUNICODE("bool") + SETITEMS + STOP)
    fixture("dict_key_collision_float",
            PROTO(2) + EMPTY_DICT + MARK + NEWTRUE + SHORT_BINUNICODE("bool") + BINFLOAT(1.0)
            + SHORT_BINUNICODE("float") + BININT1(1) + SHORT_BINUNICODE("int") + BINFLOAT(0.0)
            + SHORT_BINUNICODE("zero") + NEWFALSE + SHORT_BINUNICODE("false") + SETITEMS + STOP)
    fixture("set_collision", PROTO(4) + EMPTY_SET + MARK + BININT1(1) + NEWTRUE + BINFLOAT(1.0) + ADDITEMS + STOP)
    # Big containers (ptload merges their repeated keys after the fact): repeats spread over
    # several SETITEMS/ADDITEMS batches, numbers that compare equal across types, a repeat of a
    # repeat, and str keys whose bytes equal a bytes key's (not equal in Python).
    items = b""
    for i in range(40):
        items += SHORT_BINUNICODE("k%d" % (i % 25)) + BININT1(i)
    numeric = BININT1(7) + SHORT_BINUNICODE("int 7") + NEWTRUE + SHORT_BINUNICODE("True") \
        + BINFLOAT(7.0) + SHORT_BINUNICODE("float 7") + BINFLOAT(1.0) + SHORT_BINUNICODE("float 1") \
        + SHORT_BINBYTES(b"k3") + SHORT_BINUNICODE("bytes k3")
    fixture("dict_big_repeats",
            PROTO(4) + EMPTY_DICT + MARK + items + SETITEMS + MARK + numeric + SETITEMS
            + MARK + SHORT_BINUNICODE("k0") + SHORT_BINUNICODE("last k0") + SETITEMS + STOP)
    # A memo index far beyond the others, then enough PUTs that the memo's dense part grows
    # past it: the far entry must still be found (CPython's memo is one dict).
    long_put = lambda i: b"r" + u32(i)  # LONG_BINPUT
    fixture("memo_far_then_dense",
            PROTO(4) + EMPTY_LIST + SHORT_BINUNICODE("far") + long_put(10000) + APPEND
            + b"".join(long_put(i) for i in range(3000)) + SHORT_BINUNICODE("near") + long_put(10001) + APPEND
            + b"j" + u32(10000) + APPEND + STOP)  # LONG_BINGET
    members = b"".join(BININT1(i % 13) for i in range(30)) + NEWTRUE + BINFLOAT(2.0) + SHORT_BINUNICODE("x")
    fixture("set_big_repeats", PROTO(4) + EMPTY_SET + MARK + members + ADDITEMS + MARK + members + ADDITEMS + STOP)
    # A big dict whose few keys repeat thousands of times, 1 == 1.0 == True among them: each
    # repeat merges into the key's first entry at once (a walk back over the earlier repeats
    # made this quadratic, and a hostile file of 200,000 repeats took over a minute).
    distinct = b"".join(SHORT_BINUNICODE(f"k{i}") + BININT1(i) + SETITEM for i in range(10))
    repeated = [SHORT_BINUNICODE("a"), BININT1(1), BINFLOAT(1.0), NEWTRUE, SHORT_BINUNICODE("b")]
    repeats = b"".join(repeated[i % 5] + b"J" + i32(i) + SETITEM for i in range(3000))
    fixture("dict_big_many_repeats", PROTO(4) + EMPTY_DICT + distinct + repeats + STOP)
    # NaN keys in a big dict: each NaN object is a key of its own (NaN != NaN), the same object
    # twice is one key (identity first), as CPython's dict decides. ptload hashes them by
    # identity as CPython 3.10+ does: by their bits, 100,000 of them made the merge quadratic.
    nan = BINFLOAT(float("nan"))
    nans = b"".join(nan + BININT1(i) + SETITEM for i in range(20))
    again = nan + BINPUT(1) + BININT1(100) + SETITEM + b"h\x01" + BININT1(101) + SETITEM  # BINGET 1
    fixture("dict_big_nan_keys", PROTO(4) + EMPTY_DICT + distinct + nans + again + STOP)
    # A complex with no imaginary part is the same key as its real part (1 + 0j == 1.0 == 1),
    # in a small dict (compared entry by entry) and a big one (merged at STOP by hashes).
    def cplx(re, im):
        return GLOBAL("builtins", "complex") + BINFLOAT(re) + BINFLOAT(im) + TUPLE2 + REDUCE
    mixed = (BININT1(1) + SHORT_BINUNICODE("a") + SETITEM + cplx(1.0, 0.0) + SHORT_BINUNICODE("b") + SETITEM
             + BINFLOAT(2.5) + SHORT_BINUNICODE("c") + SETITEM + cplx(2.5, -0.0) + SHORT_BINUNICODE("d") + SETITEM
             + cplx(0.0, 3.0) + SHORT_BINUNICODE("e") + SETITEM + cplx(0.0, 3.0) + SHORT_BINUNICODE("f") + SETITEM
             + cplx(0.0, 0.0) + SHORT_BINUNICODE("g") + SETITEM + NEWFALSE + SHORT_BINUNICODE("h") + SETITEM)
    fixture("dict_complex_keys", PROTO(2) + EMPTY_DICT + mixed + STOP)
    fixture("dict_big_complex_keys", PROTO(2) + EMPTY_DICT + distinct + mixed + STOP)


def malformed_fixtures():
    good = pickle.dumps(["truncated inside this string", 1], protocol=2)
    fixture("bad_truncated", good[:12])
    fixture("bad_empty", b"")
    fixture("bad_no_stop", PROTO(2) + NONE)
    fixture("bad_unknown_opcode", PROTO(2) + b"\xff" + STOP)
    fixture("bad_proto6", PROTO(6) + NONE + STOP)
    fixture("bad_stack_underflow", PROTO(2) + BININT1(1) + TUPLE2 + STOP)
    fixture("bad_stop_on_empty_stack", PROTO(2) + STOP)
    fixture("bad_memo_missing", PROTO(2) + b"h\x05" + STOP)
    fixture("bad_memo_missing_text", b"g5\n.")
    fixture("bad_pop_mark_without_mark", PROTO(2) + BININT1(1) + POP_MARK + STOP)
    fixture("bad_tuple_without_mark", PROTO(2) + BININT1(1) + TUPLE + STOP)


def evil_fixtures():
    """Dangerous globals fail with disallowed_global; nothing is ever called."""
    fixture("evil_os_system_p0", pickle.dumps(Evil(), protocol=0))
    fixture("evil_os_system_p2", pickle.dumps(Evil(), protocol=2))
    fixture("evil_os_system_p4", pickle.dumps(Evil(), protocol=4))
    fixture("evil_eval_p2", pickle.dumps(EvalEvil(), protocol=2))
    fixture("evil_functools_reduce_p2", pickle.dumps(functools_reduce(), protocol=2))


def functools_reduce():
    import functools
    return [functools.reduce]


def pickled_fixtures():
    each_protocol("values", broad_values())
    each_protocol("shared_cyclic", shared_and_cyclic(), (0, 2, 4))
    each_protocol("recursive_tuple", recursive_tuple(), (0, 1, 2, 4))
    fixture("deep_list_p2", pickle.dumps(deep(300, lambda v: [v]), protocol=2))
    fixture("deep_dict_p4", pickle.dumps(deep(300, lambda v: {"k": v}), protocol=4))
    fixture("deep_tuple_p0", pickle.dumps(deep(100, lambda v: (v, 1)), protocol=0))
    each_protocol("memo_heavy", memo_heavy(), (1, 2, 4))
    each_protocol("sets", sets(), (0, 2, 4))
    each_protocol("dict_keys", dict_keys(), (0, 2, 4))
    each_protocol("objects", objects())
    each_protocol("slotted", Slotted(), (2, 3, 4, 5))
    each_protocol("kwargs_object", WithKwargs())
    each_protocol("nested_class", Outer.Inner())
    each_protocol("ordered_dict", ordered_dicts(), (0, 2, 4))
    each_protocol("globals_ref", referenced_globals(), (0, 2, 4))
    each_protocol("numpy", numpy_values(), (0, 2, 4))
    fixture("torch_values_p2", torch_plain_pickle(torch_values(), 2))
    fixture("torch_values_p4", torch_plain_pickle(torch_values(), 4))
    fixture("torch_rebuilds_p2", torch_rebuilds())
    fixture("torch_rebuilds_more_p2", torch_rebuilds_more())


# --- Driver ------------------------------------------------------------------------------------------

ALL_OPCODES = {op.name for op in pickletools.opcodes}
TORCH_ONLY = {"PERSID", "BINPERSID"}


def opcodes_used(data):
    used = set()
    try:
        for op, _, _ in pickletools.genops(data):
            used.add(op.name)
    except Exception:  # malformed fixtures: count what decodes
        pass
    return used


def main():
    start = time.time()
    pickled_fixtures()
    py2_fixtures()
    opcode_fixtures()
    malformed_fixtures()
    evil_fixtures()

    used = set()
    for _, data, _ in FIXTURES:
        used |= opcodes_used(data)
    missing = ALL_OPCODES - TORCH_ONLY - used
    if missing:
        raise SystemExit("opcodes missing from the fixtures: %s" % ", ".join(sorted(missing)))

    root = manifest.REPO_ROOT
    os.makedirs(os.path.join(root, FIXTURE_DIR), exist_ok=True)
    written = set()
    for name, data, _ in FIXTURES:
        path = os.path.join(root, FIXTURE_DIR, name + ".pkl")
        with open(path, "wb") as f:
            f.write(data)
        written.add(name + ".pkl")
    for stale in set(os.listdir(os.path.join(root, FIXTURE_DIR))) - written:
        if stale.endswith(".pkl"):
            os.remove(os.path.join(root, FIXTURE_DIR, stale))

    writer = manifest.ManifestWriter(MANIFEST, EXPECTED_DIR, [
        "Plain-pickle fixtures: input<TAB>options<TAB>expected (JSON file or error:<code>).",
        "Generated by tools/gen_pickle_fixtures.py with tools/oracle (CPython %d.%d, numpy %s, torch %s)."
        % (sys.version_info[0], sys.version_info[1], numpy.__version__, torch.__version__),
    ])
    results = collections.Counter()
    for name, _, option_sets in FIXTURES:
        for opts in option_sets:
            suffix = ".%s-%s" % (opts["encoding"], opts["errors"]) if opts else ""
            kind, value = writer.add("%s/%s.pkl" % (FIXTURE_DIR, name), opts,
                                     "%s/%s%s.json" % (EXPECTED_DIR, name, suffix))
            results["json" if kind == "json" else "error:" + value] += 1
    lines = writer.finish()

    size = sum(len(d) for _, d, _ in FIXTURES)
    print("%d fixtures (%d bytes), %d manifest lines: %s" % (
        len(FIXTURES), size, lines, ", ".join("%s %d" % kv for kv in sorted(results.items()))))
    print("opcodes covered: %d of %d (%s only in torch files)" % (len(used & ALL_OPCODES), len(ALL_OPCODES),
                                                                  "/".join(sorted(TORCH_ONLY))))
    for input_rel, opts, message in writer.errors:
        if message.startswith("other"):
            print("  error:other %s %s: %s" % (input_rel, opts, message))
    print("took %.1f s" % (time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(manifest.run_with_big_stack(main))
