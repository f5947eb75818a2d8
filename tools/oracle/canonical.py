"""Canonical JSON (docs/CANONICAL-JSON.md, version 1) from loaded Python values.

to_canonical() turns a value into plain JSON-able Python (dicts, lists, str, int, bool, None);
normalize() turns that into the one-line string the expected files hold.

Both walks run on an explicit stack of generators instead of Python recursion: a pickle can nest
far deeper than the interpreter's recursion limit, and the C++ side must cope with the same
inputs. Each generator yields the child values it needs converted and receives their results.
"""

import collections
import ctypes
import hashlib
import json
import struct
import types

import numpy
import torch

from . import records
from .unpickler import TENSOR_INFO, Unsupported


def _drive(visit, root):
    """Run the generator-based visitor `visit` over `root` without recursion."""
    stack = [visit(root)]
    value = None
    while stack:
        try:
            child = stack[-1].send(value)
        except StopIteration as done:
            stack.pop()
            value = done.value
            continue
        stack.append(visit(child))
        value = None
    return value


def float_bits(x):
    return struct.pack(">d", x).hex()


# --- to_canonical ---------------------------------------------------------------------------------

_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                   types.BuiltinMethodType, type)


class _Walker:
    """One depth-first, in-order walk of a document.

    same_as numbers and storage ids are handed out in the order values are first met, so the
    order in which each visit_* method yields its children is part of the contract.
    """

    def __init__(self, names):
        self.names = names
        self.identity = {}   # id(obj) -> same_as number
        self.storages = {}   # storage impl address -> storage id
        # Everything whose id() is a key above stays alive until the walk ends.
        self.keep = []

    def global_name(self, obj):
        if records.is_recorder_class(obj):
            return obj._pt_global
        name = self.names.get(id(obj))
        if name is not None:
            return name
        return "%s.%s" % (getattr(obj, "__module__", "?"), getattr(obj, "__qualname__", repr(obj)))

    def visit(self, obj):
        t = type(obj)
        # Exact type tests first: numpy scalars subclass float/int and torch.Size subclasses tuple.
        if obj is None or t is bool or t is int or t is str:
            return obj
        if t is float:
            return {"float": float_bits(obj)}
        if t is bytes:
            return {"bytes": obj.hex()}
        if t is complex:
            return {"complex": [float_bits(obj.real), float_bits(obj.imag)]}
        # Values with identity: the second and later meetings are references. Every container
        # counts, immutable ones too (a tuple of two references to the previous tuple, repeated,
        # would otherwise be written 2^depth times); only the empty tuple, frozenset and
        # torch.Size are never numbered, since CPython hands out one shared empty tuple.
        if (t in (list, dict, collections.OrderedDict, set, bytearray, slice, range)
                or (t in (tuple, frozenset, torch.Size) and len(obj))
                or isinstance(obj, (numpy.ndarray, records.Opaque))):
            seen = self.identity.get(id(obj))
            if seen is not None:
                return {"same_as": seen}
            self.identity[id(obj)] = len(self.identity)
            self.keep.append(obj)
            return (yield from self.visit_identity(obj, t))
        if t is tuple:
            return {"tuple": []}
        if t is frozenset:
            return {"frozenset": []}
        if t is torch.Size:
            return {"torch_size": []}

        if isinstance(obj, torch.Tensor):
            return (yield from self.visit_tensor(obj))
        if isinstance(obj, records.SparseTensor):
            return (yield from self.visit_sparse(obj))
        if isinstance(obj, records.NestedTensor):
            out = {}
            for key in ("buffer", "sizes", "strides", "offsets"):
                out[key] = yield getattr(obj, key)
            return {"nested_tensor": out}
        if isinstance(obj, records.TorchScript):
            data = yield obj.data
            constants = yield obj.constants
            return {"torchscript": {"data": data, "constants": constants}}
        if isinstance(obj, torch.dtype):
            return {"dtype": str(obj).replace("torch.", "", 1)}
        if isinstance(obj, torch.device):
            return {"device": str(obj)}
        if isinstance(obj, torch.layout):
            return {"layout": str(obj).replace("torch.", "", 1)}
        if isinstance(obj, torch.qscheme):
            return {"qscheme": str(obj).replace("torch.", "", 1)}
        if isinstance(obj, (torch.storage.TypedStorage, torch.UntypedStorage)):
            return self.visit_storage(obj)
        if type(obj).__name__ == "StorageType" and hasattr(obj, "dtype"):
            # torch.serialization's stand-in for a storage class named in the pickle.
            return {"global": "torch." + torch.storage._dtype_to_storage_type_map()[obj.dtype]}

        if isinstance(obj, numpy.generic):
            value = yield obj.item()
            return {"numpy_scalar": {"dtype": obj.dtype.str, "value": value}}
        if isinstance(obj, numpy.dtype):
            return {"numpy_dtype": obj.str}

        if records.is_recorder_class(obj) or isinstance(obj, _FUNCTION_TYPES) or callable(obj):
            return {"global": self.global_name(obj)}
        raise Unsupported("no canonical form for %s" % type(obj).__qualname__)

    def visit_identity(self, obj, t):
        if t is list:
            items = []
            for x in obj:
                items.append((yield x))
            return items
        if t is tuple or t is frozenset:
            items = []
            for x in obj:
                items.append((yield x))
            return {"tuple" if t is tuple else "frozenset": items}
        if t is torch.Size:
            return {"torch_size": [int(d) for d in obj]}
        if t is slice:
            return {"slice": [(yield obj.start), (yield obj.stop), (yield obj.step)]}
        if t is range:
            return {"range": [obj.start, obj.stop, obj.step]}
        if isinstance(obj, numpy.ndarray):
            return (yield from self.visit_ndarray(obj))
        if t is dict:
            return {"dict": (yield from self.visit_pairs(obj.items()))}
        if t is collections.OrderedDict:
            out = {"ordered_dict": (yield from self.visit_pairs(obj.items()))}
            attrs = getattr(obj, "__dict__", None)
            if attrs:
                # BUILD copied the state into the instance dict; attrs is that dict's content
                # and is not itself a value with identity.
                out["attrs"] = {"dict": (yield from self.visit_pairs(attrs.items()))}
            return out
        if t is set:
            items = []
            for x in obj:
                items.append((yield x))
            return {"set": items}
        if t is bytearray:
            return {"bytearray": bytes(obj).hex()}
        return (yield from self.visit_object(obj))

    def visit_pairs(self, pairs):
        out = []
        for k, v in list(pairs):
            key = yield k
            value = yield v
            out.append([key, value])
        return out

    def visit_object(self, obj):
        out = {"class": obj._pt_global}
        args = []
        for x in obj._pt_args:
            args.append((yield x))
        out["args"] = args
        if obj._pt_kwargs is not None:
            # The kwargs dict of NEWOBJ_EX is a pickled dict, so it takes a same_as number.
            out["kwargs"] = yield obj._pt_kwargs
        if obj._pt_has_state:
            out["state"] = yield obj._pt_state
        if obj._pt_items is not None:
            items = []
            for x in obj._pt_items:
                items.append((yield x))
            out["items"] = items
        if obj._pt_dict_items is not None:
            out["dict_items"] = yield from self.visit_pairs(obj._pt_dict_items)
        return {"object": out}

    # torch -------------------------------------------------------------------------------------

    def storage_id(self, key, obj):
        sid = self.storages.get(key)
        if sid is None:
            sid = self.storages[key] = len(self.storages)
            self.keep.append(obj)
        return sid

    def visit_tensor(self, t):
        info = getattr(t, TENSOR_INFO, None) or {}
        if t.layout != torch.strided:
            raise Unsupported("tensor with layout %s outside a sparse rebuild" % t.layout)
        out = {
            "dtype": str(t.dtype).replace("torch.", "", 1),
            "shape": [int(d) for d in t.shape],
            "stride": [int(d) for d in t.stride()],
            "offset": int(t.storage_offset()),
            "device": str(t.device),
            "requires_grad": bool(t.requires_grad),
            "parameter": isinstance(t, torch.nn.Parameter),
        }
        if t.device.type == "meta":
            # _rebuild_meta_tensor_no_storage: nothing was pickled for the data.
            out["storage"] = None
            out["sha256"] = None
        else:
            storage = t.storage()
            out["storage"] = {
                "id": self.storage_id(storage._cdata, storage),
                "dtype": info.get("storage_dtype", out["dtype"]),
                "nbytes": int(storage.nbytes()),
            }
            out["sha256"] = tensor_sha256(t)
        if "quant" in info:
            quant = {}
            for key, value in info["quant"]:
                quant[key] = yield value
            out["quant"] = quant
        elif t.is_quantized:
            raise Unsupported("quantized tensor without its pickled quantizer parameters")
        if info.get("attrs"):
            out["attrs"] = {"dict": (yield from self.visit_pairs(info["attrs"].items()))}
        cls = info.get("class")
        if cls is None and type(t) not in (torch.Tensor, torch.nn.Parameter):
            cls = self.global_name(type(t))
        if cls is not None:
            out["class"] = cls
        return {"tensor": out}

    def visit_sparse(self, rec):
        out = {"layout": rec.layout, "size": list(rec.size)}
        if rec.coalesced is not None:
            out["coalesced"] = rec.coalesced
        for key, value in rec.fields:
            out[key] = yield value
        return {"sparse_tensor": out}

    def visit_storage(self, s):
        # A storage that is a value of its own (not behind a tensor). CANONICAL-JSON.md has no
        # row for it; this form is the oracle's proposal (see the decisions list).
        untyped = s._storage if isinstance(s, torch.storage.TypedStorage) else s
        dtype = s.dtype if isinstance(s, torch.storage.TypedStorage) else torch.uint8
        data = b""
        if untyped.device.type == "cpu" and untyped.nbytes():
            data = ctypes.string_at(untyped.data_ptr(), untyped.nbytes())
        return {"storage": {
            "id": self.storage_id(untyped._cdata, untyped),
            "dtype": str(dtype).replace("torch.", "", 1),
            "nbytes": int(untyped.nbytes()),
            "device": str(untyped.device),
            "sha256": hashlib.sha256(data).hexdigest() if untyped.device.type != "meta" else None,
        }}

    def visit_ndarray(self, a):
        if a.dtype.hasobject:
            if a.dtype.kind != "O":
                raise Unsupported("structured numpy dtype holding objects")
            items = []
            for x in a.reshape(-1, order="C"):
                items.append((yield x))
            return {"ndarray": {"dtype": a.dtype.str, "shape": list(a.shape), "items": items}}
        data = numpy.ascontiguousarray(a).tobytes()
        return {"ndarray": {"dtype": a.dtype.str, "shape": list(a.shape),
                            "sha256": hashlib.sha256(data).hexdigest()}}


def tensor_sha256(t):
    """SHA-256 of a tensor's logical elements, row-major, little-endian (CANONICAL-JSON.md)."""
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.is_quantized:
        packed = {torch.quint4x2: 2, torch.quint2x4: 4}.get(t.dtype)
        rep = t.int_repr().contiguous()
        if packed:
            # int_repr() keeps sub-byte types packed (low bits first); the canonical form wants
            # one byte per element.
            raw = ctypes.string_at(rep.data_ptr(), rep.numel()) if rep.numel() else b""
            bits = 8 // packed
            mask = (1 << bits) - 1
            data = bytes((raw[i // packed] >> (bits * (i % packed))) & mask for i in range(t.numel()))
            return hashlib.sha256(data).hexdigest()
        t = rep
    else:
        t = t.resolve_conj().resolve_neg()
    t = t.contiguous()
    n = t.numel() * t.element_size()
    data = ctypes.string_at(t.data_ptr(), n) if n else b""
    return hashlib.sha256(data).hexdigest()


def to_canonical(obj, names=None):
    """The canonical JSON structure of a loaded value.

    names maps id() of natively modelled globals to the name the pickle used for them (the
    loader's LoadContext.names), so a referenced-only native global prints as that name.
    """
    return _drive(_Walker(names or {}).visit, obj)


# --- normalize -----------------------------------------------------------------------------------

class _Encoder:
    """Generator visitor writing normalized JSON text into one growing list of pieces.

    Writing into a single buffer keeps the work linear in the output size even for values
    nested 10^5 deep; only set members get buffers of their own, because they are sorted by
    their text.
    """

    def __init__(self):
        self.out = []

    def visit(self, j):
        if isinstance(j, list):
            self.out.append("[")
            for i, e in enumerate(j):
                if i:
                    self.out.append(",")
                yield e
            self.out.append("]")
            return
        if isinstance(j, dict):
            self.out.append("{")
            for i, key in enumerate(sorted(j)):
                if i:
                    self.out.append(",")
                self.out.append(json.dumps(key, ensure_ascii=True) + ":")
                value = j[key]
                if key in ("set", "frozenset") and isinstance(value, list):
                    # Set members have no order: sort them by their own normalized text.
                    outer = self.out
                    members = []
                    for e in value:
                        self.out = []
                        yield e
                        members.append("".join(self.out))
                    self.out = outer
                    self.out.append("[" + ",".join(sorted(members)) + "]")
                else:
                    yield value
            self.out.append("}")
            return
        if isinstance(j, float):
            raise TypeError("canonical JSON never holds JSON floats")
        self.out.append(json.dumps(j, ensure_ascii=True))
        # A generator function even for scalars, so _drive can run every value alike.
        return
        yield


def normalize(j):
    """One line of normalized canonical JSON.

    Equal to json.dumps(j, sort_keys=True, separators=(',', ':'), ensure_ascii=True) after
    sorting the members of every "set"/"frozenset" by their normalized text.
    """
    encoder = _Encoder()
    _drive(encoder.visit, j)
    return "".join(encoder.out)
