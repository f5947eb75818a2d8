"""Inert records for values that ptload keeps as data instead of building real objects.

The oracle must print what ptload prints, and ptload never runs code: a global it does not model
becomes an opaque object that only remembers how the pickle tried to build it. These classes do
the same on the Python side, so the real Unpickler can drive them without importing anything.
"""


class Opaque:
    """An instance of a global that ptload does not model natively.

    The Unpickler reaches these hooks directly: REDUCE/INST/OBJ call the class, NEWOBJ(_EX)
    calls `__new__`, BUILD calls `__setstate__`, APPEND(S) call `extend`/`append` and
    SETITEM(S) call `__setitem__`. Each hook only records its arguments.
    """

    # Slots (not a __dict__) so nothing the pickle does can collide with the recorded fields,
    # and names with a prefix so no pickle protocol lookup (items, keys, ...) ever finds them.
    __slots__ = ("_pt_args", "_pt_kwargs", "_pt_state", "_pt_has_state", "_pt_items", "_pt_dict_items")

    # "module.qualname" of the global; set on each recorder class.
    _pt_global = "?"

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self._pt_args = args
        # NEWOBJ_EX with an empty kwargs dict cannot be told apart from NEWOBJ here, so an
        # empty kwargs is treated as absent (documented in CANONICAL-JSON.md decisions).
        self._pt_kwargs = dict(kwargs) if kwargs else None
        self._pt_state = None
        self._pt_has_state = False
        self._pt_items = None
        self._pt_dict_items = None
        return self

    def __init__(self, *args, **kwargs):
        # REDUCE calls the class, which would run __init__ after __new__; the arguments were
        # already recorded by __new__.
        pass

    def __setstate__(self, state):
        # A second BUILD replaces the first: the canonical form has room for one state.
        self._pt_state = state
        self._pt_has_state = True

    def append(self, item):
        if self._pt_items is None:
            self._pt_items = []
        self._pt_items.append(item)

    def extend(self, items):
        for item in items:
            self.append(item)

    def __setitem__(self, key, value):
        if self._pt_dict_items is None:
            self._pt_dict_items = []
        self._pt_dict_items.append((key, value))

    def __repr__(self):
        return "<opaque %s>" % self._pt_global


def make_recorder(module, name):
    """A fresh Opaque subclass standing for the global `module.name`.

    It must be a real type: the Unpickler refuses NEWOBJ on anything that is not one.
    """
    full = "%s.%s" % (module, name)
    # type() rejects NUL in names and the true name is kept in _pt_global anyway.
    type_name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name.rpartition(".")[2]) or "_"
    return type(type_name, (Opaque,), {"__slots__": (), "__module__": "ptload_oracle.opaque", "_pt_global": full})


def is_recorder_class(obj):
    return isinstance(obj, type) and issubclass(obj, Opaque) and obj is not Opaque


class SparseTensor:
    """A sparse tensor as pickled: its component tensors, never converted to a real sparse tensor.

    torch would copy or coalesce; ptload reports the pickled components and their storages.
    """

    def __init__(self, layout, size, fields, coalesced):
        self.layout = layout          # "sparse_coo", "sparse_csr", ...
        self.size = size              # list of ints
        self.fields = fields          # [(json name, tensor), ...] in canonical order
        self.coalesced = coalesced    # bool for COO, None otherwise


class NestedTensor:
    """A nested tensor as pickled by `_rebuild_nested_tensor`."""

    def __init__(self, buffer, sizes, strides, offsets):
        self.buffer = buffer
        self.sizes = sizes
        self.strides = strides
        self.offsets = offsets


class TorchScript:
    """The two pickles of a TorchScript archive, walked data first."""

    def __init__(self, data, constants):
        self.data = data
        self.constants = constants
