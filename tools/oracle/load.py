"""Load any file ptload reads, with real torch/CPython, and turn failures into ptload error codes."""

import io
import pickle
import pickletools
import warnings

import torch
import torch.serialization

from . import canonical, records, unpickler

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C


class OracleError(Exception):
    """A load failure, already mapped to the error code ptload reports (include/ptload/error.hpp)."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code


# --- Detection --------------------------------------------------------------------------------------

def _first_pickle_is_magic(data):
    """Is the first pickle of `data` exactly the legacy magic number?

    Decided from the opcodes alone so a hostile file cannot run anything here.
    """
    value = None
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            if op.name in ("PROTO", "FRAME"):
                continue
            if op.name == "STOP":
                return value == MAGIC_NUMBER
            if value is None and op.name in ("LONG", "LONG1", "LONG4", "INT", "BININT", "BININT1", "BININT2"):
                value = arg
                continue
            return False
    except Exception:
        return False
    return False


def detect(data):
    """'zip', 'tar', 'legacy' or 'pickle' (FORMAT.md section 0, by content only)."""
    if data[:4] == b"PK\x03\x04":
        return "zip"
    if len(data) >= 262 and data[257:262] == b"ustar":
        return "tar"
    if _first_pickle_is_magic(data):
        return "legacy"
    return "pickle"


# --- Loading --------------------------------------------------------------------------------------------

class _RecordDir:
    """A PyTorchFileReader whose `data/<key>` lookups go to another folder.

    torch.serialization._load always reads storages from data/; TorchScript's constants.pkl keeps
    its own under constants/.
    """

    def __init__(self, reader, folder):
        self.reader = reader
        self.folder = folder

    def get_record(self, name):
        return self.reader.get_record(name)

    def get_storage_from_record(self, name, numel, cls):
        assert name.startswith("data/")
        return self.reader.get_storage_from_record(self.folder + name[len("data"):], numel, cls)

    def get_all_records(self):
        return self.reader.get_all_records()


class _CheckedRecords:
    """A PyTorchFileReader that refuses storage records torch 1.13 would misread.

    torch 1.13 wraps a record in a storage of the size the persistent id declares without
    comparing the two: a short record is read past its end, a long one silently cut. ptload
    reports both as bad_storage, and an absent record as missing_record.
    """

    def __init__(self, reader):
        self.reader = reader

    def get_record(self, name):
        return self.reader.get_record(name)

    def get_all_records(self):
        return self.reader.get_all_records()

    def get_storage_from_record(self, name, numel, cls):
        if not self.reader.has_record(name):
            raise unpickler.Malformed("missing_record", "the archive has no record %s" % name)
        # torch passes cls=UntypedStorage, so numel is the byte count
        size = len(self.reader.get_record(name))
        if size != numel:
            raise unpickler.Malformed("bad_storage",
                                      "record %s holds %d bytes, the storage needs %d" % (name, size, numel))
        return self.reader.get_storage_from_record(name, numel, cls)


def load_file(path, ctx):
    """The loaded value of the file at `path` (a records.TorchScript for TorchScript archives)."""
    with open(path, "rb") as f:
        data = f.read()
    kind = detect(data)
    module = ctx.pickle_module()
    args = ctx.pickle_args()
    if kind == "zip":
        with open(path, "rb") as f, torch.serialization._open_zipfile_reader(f) as reader:
            checked = _CheckedRecords(reader)
            if torch.serialization._is_torchscript_zip(reader):
                value = torch.serialization._load(checked, ctx.map_location, module, **args)
                consts = torch.serialization._load(_RecordDir(checked, "constants"), ctx.map_location, module,
                                                   pickle_file="constants.pkl", **args)
                value = records.TorchScript(value, consts)
            else:
                value = torch.serialization._load(checked, ctx.map_location, module, **args)
    elif kind in ("tar", "legacy"):
        # _legacy_load tries the tar format first when given a real file at offset 0.
        with open(path, "rb") as f:
            value = torch.serialization._legacy_load(f, ctx.map_location, module, **args)
    else:
        value = ctx.load_plain(io.BytesIO(data))
    unpickler.validate_sparse()
    return value


def parse_map_location(text):
    """--map-location: a device string, or 'from=to,from=to' for a dict remap."""
    if text is None:
        return None
    if "=" in text:
        remap = {}
        for item in text.split(","):
            src, _, dst = item.partition("=")
            remap[src.strip()] = dst.strip()
        return remap
    return text


# --- Errors ---------------------------------------------------------------------------------------------

# (exception type, message fragment, code). The message fragments are CPython 3.11's (_pickle.c).
_MESSAGE_CODES = (
    (pickle.UnpicklingError, "invalid load key", "unknown_opcode"),
    (ValueError, "unsupported pickle protocol", "unknown_opcode"),
    (pickle.UnpicklingError, "pickle data was truncated", "truncated"),
    (pickle.UnpicklingError, "Memo value not found", "memo_missing"),
    (pickle.UnpicklingError, "stack underflow", "stack_underflow"),
    (pickle.UnpicklingError, "could not find MARK", "mark_missing"),
    (pickle.UnpicklingError, "unexpected MARK found", "mark_missing"),
    (pickle.UnpicklingError, "odd number of items", "bad_operand"),
    (ValueError, "unregistered extension code", "ext_code"),
    (pickle.UnpicklingError, "out-of-band data but no *buffers*", "no_buffer"),
    (pickle.UnpicklingError, "not enough out-of-band buffers", "no_buffer"),
    # numpy's __setstate__ latin-1-encodes a Python-2 str holding the raw data: a str that
    # decoding made non-Latin-1 (errors=replace) is an encoding failure like any other.
    (ValueError, "Failed to encode latin1 string", "decode_error"),
    # torch 1.13's legacy storage reader (THPStorage_readFileRaw / the file reader).
    (RuntimeError, "storage has wrong byte size", "bad_storage"),
    (RuntimeError, "unexpected EOF, expected", "truncated"),
)


def error_code(exc):
    """The ptload error code for an exception raised while loading or converting."""
    if isinstance(exc, unpickler.DisallowedGlobal):
        return "disallowed_global"
    if isinstance(exc, unpickler.Malformed):
        return exc.code
    if isinstance(exc, (UnicodeDecodeError, UnicodeEncodeError)):
        return "decode_error"
    if isinstance(exc, EOFError):
        return "truncated"
    # CPython's C unpickler (the one torch.load uses) reports a memo miss as UnpicklingError
    # "Memo value not found", matched below; only the pure-Python one raises KeyError.
    for cls, fragment, code in _MESSAGE_CODES:
        if isinstance(exc, cls) and fragment in str(exc):
            return code
    return "other"


# --- The whole pipeline -------------------------------------------------------------------------------

def dump(path, encoding="utf-8", errors="strict", map_location=None):
    """Normalized canonical JSON of the file at `path`; raises OracleError on failure."""
    ctx = unpickler.LoadContext(encoding, errors, parse_map_location(map_location))
    try:
        with warnings.catch_warnings():
            # torch warns about module source changes and TypedStorage; none of it matters here.
            warnings.simplefilter("ignore")
            value = load_file(path, ctx)
            return canonical.normalize(canonical.to_canonical(value, ctx.names))
    except unpickler.Unsupported as e:
        raise OracleError("other", "oracle cannot express this: %s" % e) from e
    except Exception as e:  # any failure of the real loader is data for the test
        raise OracleError(error_code(e), "%s: %s" % (type(e).__name__, e)) from e
