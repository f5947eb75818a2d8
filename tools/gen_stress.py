#!/usr/bin/env python3
"""Writes ptload's stress files: small inputs that ask for huge work or memory.

    python3 tools/gen_stress.py OUT_DIR

Each file is built byte by byte (pickle opcodes, zip records), since what matters is the exact
shape of the attack, not what a pickler would write. OUT_DIR/MANIFEST.tsv lists every file with
what ptload must do with it under the default limits:

    ok            loads, and every walk (canonical JSON, tree print, tensor listing) succeeds
    load:CODE     the load fails with error code CODE
    walk:CODE     the load succeeds and the canonical JSON fails with CODE

tests/test_stress.cpp runs this script and checks every line; tools/measure_stress.sh times each
file through the CLI and reports peak memory (docs/SECURITY.md lists the figures). Standard
library only. One file is sparse: legacy_4g.pt is 4 GiB long but holds a few hundred bytes.
"""
import os
import struct
import sys
import zipfile
import zlib

# ---------------------------------------------------------------------------------------------
# pickle building blocks


def proto(p):
    return bytes([0x80, p])


def binint1(v):
    return b"K" + bytes([v])


def binint(v):
    return b"J" + struct.pack("<i", v)


def put(i):
    return b"r" + struct.pack("<I", i)


def get(i):
    return b"j" + struct.pack("<I", i)


def global_(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def unicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def binbytes(b):
    return b"B" + struct.pack("<I", len(b)) + b


MARK, STOP, POP, TUPLE, TUPLE1, TUPLE2, TUPLE3 = b"(", b".", b"0", b"t", b"\x85", b"\x86", b"\x87"
EMPTY_LIST, EMPTY_DICT, EMPTY_TUPLE, APPEND, SETITEM, SETITEMS, REDUCE = b"]", b"}", b")", b"a", b"s", b"u", b"R"
NEWFALSE = b"\x89"
LEVELS = 30  # billion laughs: 2^30 paths from a few hundred bytes


def laughs(base, level, protocol=2):
    """memo 0 = base; memo k = level(memo k-1); the result is the last level."""
    out = proto(protocol) + base + put(0) + POP
    for k in range(1, LEVELS + 1):
        out += level(get(k - 1)) + put(k) + POP
    return out + get(LEVELS) + STOP


def meta_tensor():
    # torch._utils._rebuild_meta_tensor_no_storage(torch.float32, (2,), (1,), False)
    return (global_("torch._utils", "_rebuild_meta_tensor_no_storage") + MARK + global_("torch", "float32") +
            binint1(2) + TUPLE1 + binint1(1) + TUPLE1 + NEWFALSE + TUPLE + REDUCE)


def nest_from_type(levels):
    """_rebuild_from_type_v2 whose function is _rebuild_from_type_v2, `levels` deep."""
    out = proto(2) + global_("torch._tensor", "_rebuild_from_type_v2") + put(0) + POP
    out += global_("torch", "Tensor") + put(1) + POP
    out += MARK + global_("torch._utils", "_rebuild_tensor_v2") + get(1) + EMPTY_TUPLE + EMPTY_DICT + TUPLE + put(2) + POP
    parts = [out]
    for k in range(levels):
        parts.append(MARK + get(0) + get(1) + get(2 + k) + EMPTY_DICT + TUPLE + put(3 + k) + POP)
    parts.append(get(0) + get(2 + levels) + REDUCE + STOP)
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------
# torch containers

LEGACY_MAGIC = b"\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # LONG1 0x1950a86a20f9469cfc6c


def legacy_stream(main_pickle, keys=(), storages=b""):
    """torch's legacy format: magic, protocol 1001, sys_info, main object, keys, raw storages."""
    magic = proto(2) + LEGACY_MAGIC + STOP
    version = proto(2) + b"M" + struct.pack("<H", 1001) + STOP
    sys_info = proto(2) + EMPTY_DICT + STOP
    key_list = proto(2) + EMPTY_LIST + (MARK + b"".join(unicode(k) for k in keys) + b"e" if keys else b"") + STOP
    return magic + version + sys_info + main_pickle + key_list + storages


def storage_pid(key, numel, cls="FloatStorage"):
    """('storage', torch.FloatStorage, key, 'cpu', numel) as a BINPERSID operand."""
    return (MARK + unicode("storage") + global_("torch", cls) + unicode(key) + unicode("cpu") +
            b"\x8a\x08" + struct.pack("<q", numel) + TUPLE + b"Q")


def torch_zip(path, data_pkl, records, compress=()):
    """A zip checkpoint as torch writes it (stored records under archive/); names in compress
    are deflated instead."""
    with zipfile.ZipFile(path, "w") as z:
        def add(name, data):
            method = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            z.writestr(zipfile.ZipInfo("archive/" + name), data, compress_type=method)
        add("data.pkl", data_pkl)
        for name, data in records:
            add(name, data)
        add("version", b"3\n")


def rebuild_v2(pid, offset, shape, stride):
    ints = lambda xs: MARK + b"".join(b"\x8a\x08" + struct.pack("<q", x) for x in xs) + TUPLE
    return (global_("torch._utils", "_rebuild_tensor_v2") + MARK + pid + binint(offset) + ints(shape) + ints(stride) +
            NEWFALSE + global_("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + TUPLE + REDUCE)


# ---------------------------------------------------------------------------------------------
# the files


def files():
    """(name, expectation, bytes or a function that writes the file at a path)."""
    f = []

    # billion laughs: every container kind, 30 levels of two references to the level below
    one = binint1(1)
    f.append(("laughs_list.pkl", "ok", laughs(EMPTY_LIST + one + APPEND, lambda p: MARK + p + p + b"l")))
    f.append(("laughs_tuple.pkl", "ok", laughs(one + TUPLE1, lambda p: p + p + TUPLE2)))
    f.append(("laughs_dict.pkl", "ok", laughs(EMPTY_DICT, lambda p: EMPTY_DICT + MARK + binint1(0) + p + binint1(1) + p + SETITEMS)))
    f.append(("laughs_ordered_dict.pkl", "ok",
              laughs(EMPTY_DICT, lambda p: global_("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE +
                     MARK + binint1(0) + p + binint1(1) + p + SETITEMS)))
    f.append(("laughs_frozenset.pkl", "ok",  # frozenset({(p, 0), (p, 1)})
              laughs(EMPTY_TUPLE, lambda p: MARK + p + binint1(0) + TUPLE2 + p + binint1(1) + TUPLE2 + b"\x91", 4)))
    f.append(("laughs_object.pkl", "ok", laughs(one, lambda p: global_("__main__", "Thing") + p + p + TUPLE2 + REDUCE)))
    f.append(("laughs_slice.pkl", "ok", laughs(one, lambda p: global_("builtins", "slice") + p + p + TUPLE2 + REDUCE)))
    f.append(("laughs_tensor.pkl", "ok", laughs(meta_tensor(), lambda p: p + p + TUPLE2)))
    f.append(("laughs_keys.pkl", "ok",
              laughs(one + TUPLE1, lambda p: p + p + TUPLE2)[:-len(get(LEVELS) + STOP)] +
              EMPTY_DICT + get(LEVELS) + one + SETITEM + STOP))
    # a 1 MiB str fetched from the memo 20,000 times: only the output bound stops the dump
    big = unicode("x" * (1 << 20)) + put(0)
    f.append(("repeat_string.pkl", "walk:limit_output",
              proto(2) + big + POP + EMPTY_LIST + b"".join(MARK + get(0) * 1000 + b"e" for _ in range(20)) + STOP))

    # memo: PUT indices that double, and a flood of far indices
    memo = proto(2) + binint1(7)
    index = 4095
    while index < 0xFFFFFFFF:
        memo += put(index)
        index = min(index * 2 + 4097, 0xFFFFFFFF)
    f.append(("memo_doubling.pkl", "ok", memo + put(0xFFFFFFFF) + STOP))
    f.append(("memo_far_flood.pkl", "load:limit_memo",
              proto(2) + binint1(7) + b"".join(put(0x80000000 + 1931 * i) for i in range(1100000)) + STOP))

    # nesting, 10^6 deep, of every kind
    n = 1000000
    f.append(("nest_marks.pkl", "load:limit_depth", proto(2) + MARK * n + STOP))
    f.append(("nest_lists.pkl", "ok", proto(2) + EMPTY_LIST * n + APPEND * (n - 1) + STOP))
    f.append(("nest_tuples.pkl", "ok", proto(2) + one + TUPLE1 * n + STOP))
    f.append(("nest_dicts.pkl", "ok", proto(2) + EMPTY_DICT + put(0) + POP +
              b"".join(EMPTY_DICT + binint1(0) + get(k) + SETITEM + put(k + 1) + POP for k in range(n - 1)) + get(n - 1) + STOP))
    f.append(("nest_objects.pkl", "ok", proto(2) + global_("__main__", "Box") + put(0) + get(0) * (n - 1) + one +
              (TUPLE1 + REDUCE) * n + STOP))
    f.append(("nest_key.pkl", "ok", proto(2) + EMPTY_DICT + one + TUPLE1 * n + one + SETITEM + STOP))
    f.append(("nest_rebuild_from_type.pkl", "load:limit_depth", nest_from_type(n)))
    stream = legacy_stream(proto(2) + EMPTY_LIST + STOP)
    for _ in range(100):  # torch.storage._load_from_bytes inside itself
        stream = legacy_stream(proto(2) + global_("torch.storage", "_load_from_bytes") + binbytes(stream) + TUPLE1 + REDUCE + STOP)
    f.append(("nest_streams.pt", "load:limit_depth", stream))

    # lengths that do not fit
    f.append(("len_binbytes8_2p63.pkl", "load:truncated", proto(4) + b"\x8e" + struct.pack("<Q", 1 << 63) + b"abc" + STOP))
    f.append(("len_binunicode8_2p64.pkl", "load:truncated", proto(4) + b"\x8d" + struct.pack("<Q", (1 << 64) - 1) + b"abc" + STOP))
    f.append(("len_frame_2p64.pkl", "load:truncated", proto(4) + b"\x95" + struct.pack("<Q", (1 << 64) - 1) + b"N." ))
    f.append(("len_long4_2p31.pkl", "load:truncated", proto(2) + b"\x8b" + struct.pack("<I", 0x7FFFFFFF) + b"\x01" + STOP))
    f.append(("len_binstring_negative.pkl", "load:bad_operand", proto(1) + b"T" + struct.pack("<i", -1) + b"x" + STOP))
    f.append(("int_digits_1e6.pkl", "load:limit_integer", b"I" + b"7" * 1000000 + b"\n."))

    # a broadcast view naming 2^62 elements over one stored float
    def view(path):
        pkl = proto(2) + rebuild_v2(storage_pid("0", 1), 0, [1 << 31, 1 << 31], [0, 0]) + STOP
        torch_zip(path, pkl, [("data/0", b"\0\0\x80\x3f")])
    f.append(("view_2p62.pt", "walk:limit_view", view))

    # zip: two directory entries for one record; deflate bombs in the pickle and in a record
    def overlap(path):
        pkl = proto(2) + EMPTY_DICT + STOP
        torch_zip(path, pkl, [("data/0", b"\0" * 64)])
        data = bytearray(open(path, "rb").read())
        # point the second central entry (archive/data/0) at the first local header
        cd = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x01\x02"))  # the second-to-last entry
        struct.pack_into("<I", data, cd + 42, 0)
        open(path, "wb").write(bytes(data))
    f.append(("zip_overlap.pt", "load:bad_zip", overlap))

    def bomb_pickle(path):
        pkl = proto(2) + binbytes(b"\0" * (16 << 20)) + STOP
        torch_zip(path, pkl, [], compress={"data.pkl"})
    f.append(("zip_bomb_pickle.pt", "load:limit_inflate", bomb_pickle))

    def bomb_record(path):
        pkl = proto(2) + rebuild_v2(storage_pid("0", 4 << 20), 0, [4 << 20], [1]) + STOP
        torch_zip(path, pkl, [("data/0", b"\0" * (16 << 20))], compress={"data/0"})
    f.append(("zip_bomb_record.pt", "load:limit_inflate", bomb_record))

    # legacy: a storage of 2^60 bytes declared in a small file; a 4 GiB file (sparse)
    big_storage = legacy_stream(proto(2) + rebuild_v2(storage_pid("0", 1 << 58), 0, [1 << 58], [1]) + STOP,
                                keys=["0"], storages=struct.pack("<q", 1 << 58) + b"\0" * 64)
    f.append(("legacy_2p60.pt", "load:truncated", big_storage))

    def legacy_4g(path):
        small = legacy_stream(proto(2) + rebuild_v2(storage_pid("0", 2), 0, [2], [1]) + STOP,
                              keys=["0"], storages=struct.pack("<q", 2) + struct.pack("<2f", 1.0, 2.0))
        with open(path, "wb") as out:
            out.write(small)
            out.truncate(4 << 30)
    f.append(("legacy_4g.pt", "ok", legacy_4g))

    # cost per container: 50,000 dicts of 8 keys, two 50,000-item frozensets as equal keys
    d8 = EMPTY_DICT + MARK + b"".join(binint1(k) + binint1(k) for k in range(8)) + SETITEMS
    f.append(("many_dicts_8.pkl", "ok", proto(2) + EMPTY_LIST + b"".join(MARK + d8 * 1000 + b"e" for _ in range(50)) + STOP))
    fs = MARK + b"".join(binint(k) for k in range(50000)) + b"\x91"
    f.append(("frozenset_keys.pkl", "ok", proto(4) + EMPTY_DICT + fs + one + SETITEM + fs + one + SETITEM + STOP))
    return f


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    lines = []
    for name, expect, content in files():
        path = os.path.join(out, name)
        if callable(content):
            content(path)
        else:
            with open(path, "wb") as fh:
                fh.write(content)
        lines.append(name + "\t" + expect + "\n")
    with open(os.path.join(out, "MANIFEST.tsv"), "w") as fh:
        fh.writelines(lines)


if __name__ == "__main__":
    main()
