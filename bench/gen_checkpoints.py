#!/usr/bin/python3
"""bench/gen_checkpoints.py: the inputs of bench/checkpoints.sh, written by torch itself.

    /usr/bin/python3 bench/gen_checkpoints.py OUT_DIR          # full size (~2.1 GiB on disk)
    /usr/bin/python3 bench/gen_checkpoints.py OUT_DIR --only ckpt_100k_zip.pt   # one input
    SCALE=0.01 /usr/bin/python3 bench/gen_checkpoints.py OUT_DIR   # quick trial (~25 MiB)

Run it with an interpreter that has torch (Debian's /usr/bin/python3: torch 1.13, numpy).
Files that already exist are kept; each is written under a temporary name and renamed when
complete, so an interrupted run never leaves a truncated input behind. The values come from
torch.manual_seed(0).

    ckpt_1g_zip.pt      state_dict of 64 float32 tensors [2048, 2048] (16 MiB each, 1 GiB in
                        all), torch.save's default zip format
    ckpt_1g_legacy.pt   the same tensors, _use_new_zipfile_serialization=False
    ckpt_100k_zip.pt    dict of 100,000 float32 tensors of 16 elements each, zip format
    ckpt_5g_sparse.pt   5 float32 tensors [2**28] (1 GiB each, 5 GiB in all): a zip checkpoint
                        over 4 GiB (zip64 offsets and sizes) that takes almost no disk

SCALE (default 1) multiplies the sizes: the 1 GiB files keep 64 tensors of [2048, 2048*SCALE],
the 100k file holds 100000*SCALE tensors, and the sparse file keeps 5 tensors of 2**28*SCALE
elements (SPARSE_GIB, if set, gives the sparse file's total GiB directly; 0 skips it).

How ckpt_5g_sparse.pt is made. torch.save would write all 5 GiB, so the file is assembled
here instead, from torch's own serializer and a hand-written zip:
  1. The 5 tensors are torch.empty(2**28): the allocator maps 5 GiB of address space, but no
     page is touched, so nothing is resident.
  2. torch.serialization._save (the body of torch.save in torch 1.13) pickles the state_dict
     into a stand-in for torch._C.PyTorchFileWriter that only records what it is given:
     data.pkl's bytes (exactly what torch.save would store) and, for each storage, its record
     name and byte count. The storages' bytes are never read.
  3. The zip is written as torch's writer lays it out: records "<stem>/data.pkl",
     "<stem>/data/<key>" and "<stem>/version" ("3\\n"), all stored (method 0), each record's
     data 64-byte aligned by an "FB" padding extra field. Every record carries zip64 extra
     fields and the archive ends with a zip64 end record and locator (always, so that the
     small SCALE trial reads the same structures as the full file).
  4. A storage record's data is not written: the file offset is moved past it (seek), leaving
     a hole, and the final size is set with truncate. A hole reads as zeros, so the record's
     CRC-32 is that of nbytes zero bytes (computed once per size) and the tensors load as
     zeros. At full size the file is 5 GiB long, with data records at offsets past 4 GiB, yet
     only a few KiB of it are allocated on disk.
At a small SCALE the script checks the result with torch.load (each tensor must be all zeros,
with the right shape); at full size it checks it with Python's zipfile (names, sizes, offsets
past 4 GiB) since torch.load would need 5 GiB of memory.
"""
import argparse
import io
import os
import pickle
import struct
import sys
import zipfile
import zlib

import torch

SCALE = float(os.environ.get("SCALE", "1"))
MiB = 1 << 20
GiB = 1 << 30


def log(msg):
    print(f"gen_checkpoints: {msg}", file=sys.stderr, flush=True)


def write_atomic(path, write):
    """write(tmp_path) then rename to path; nothing is left behind on failure."""
    tmp = path + ".tmp"
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def big_state_dict():
    cols = max(1, round(2048 * SCALE))
    torch.manual_seed(0)
    return {f"layers.{i}.weight": torch.randn(2048, cols) for i in range(64)}


def many_small():
    n = max(1, round(100_000 * SCALE))
    torch.manual_seed(0)
    return {f"t{i:06d}": torch.randn(16) for i in range(n)}


# ---- the sparse zip64 checkpoint ---------------------------------------------------------

class RecordingWriter:
    """Stands in for torch._C.PyTorchFileWriter inside torch.serialization._save."""

    def __init__(self):
        self.records = []  # (name, bytes or None, nbytes)

    def write_record(self, name, data, nbytes):
        if isinstance(data, (bytes, bytearray)):
            self.records.append((name, bytes(data), nbytes))
        else:  # a storage's data_ptr: only its size is used
            self.records.append((name, None, nbytes))


def zero_crc(nbytes, _cache={}):
    if nbytes not in _cache:
        chunk = bytes(64 * MiB)
        crc, left = 0, nbytes
        while left:
            k = min(left, len(chunk))
            crc = zlib.crc32(memoryview(chunk)[:k], crc)
            left -= k
        _cache[nbytes] = crc
    return _cache[nbytes]


ALIGN = 64  # torch's kFieldAlignment
DOS_TIME, DOS_DATE = 0, 0  # "1980-00-00 00:00", as torch writes
FLAGS = 0x0800  # names are UTF-8 (no data descriptor: sizes are in the local header)
VERSION = 45  # zip64


def write_zip64(path, stem, records):
    """records: (name, bytes or None, nbytes); None data is left as a hole of zeros."""
    central = []
    with open(path, "wb") as f:
        for name, data, nbytes in records:
            full = f"{stem}/{name}".encode()
            crc = zlib.crc32(data) if data is not None else zero_crc(nbytes)
            offset = f.tell()
            zip64 = struct.pack("<HHQQ", 0x0001, 16, nbytes, nbytes)
            start = offset + 30 + len(full) + len(zip64)
            pad = (-(start + 4)) % ALIGN  # the FB field's own 4-byte header comes first
            fb = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # "FB" little-endian, as torch
            extra = zip64 + fb
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, VERSION, FLAGS, 0, DOS_TIME, DOS_DATE, crc,
                                0xFFFFFFFF, 0xFFFFFFFF, len(full), len(extra)))
            f.write(full)
            f.write(extra)
            assert f.tell() % ALIGN == 0
            if data is not None:
                f.write(data)
            else:
                f.seek(nbytes, io.SEEK_CUR)  # the hole
            central.append((full, crc, nbytes, offset))
        cd_start = f.tell()
        for full, crc, nbytes, offset in central:
            zip64 = struct.pack("<HHQQQ", 0x0001, 24, nbytes, nbytes, offset)
            f.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, VERSION, VERSION, FLAGS, 0, DOS_TIME, DOS_DATE,
                                crc, 0xFFFFFFFF, 0xFFFFFFFF, len(full), len(zip64), 0, 0, 0, 0, 0xFFFFFFFF))
            f.write(full)
            f.write(zip64)
        cd_end = f.tell()
        n = len(central)
        f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, VERSION, VERSION, 0, 0, n, n, cd_end - cd_start,
                            cd_start))
        f.write(struct.pack("<IIQI", 0x07064B50, 0, cd_end, 1))
        # the classic end record: real values where they fit, else the "see zip64" markers
        n16 = n if n < 0xFFFF else 0xFFFF
        size32 = min(cd_end - cd_start, 0xFFFFFFFF)
        start32 = min(cd_start, 0xFFFFFFFF)
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n16, n16, size32, start32, 0))
        f.truncate()  # a no-op unless the archive ends in a hole; it never does (the directory follows)


def sparse_checkpoint(path):
    if "SPARSE_GIB" in os.environ:
        numel = int(float(os.environ["SPARSE_GIB"]) * GiB / 4 / 5)
    else:
        numel = max(1, round((1 << 28) * SCALE))
    if numel <= 0:
        log("SPARSE_GIB=0: no sparse checkpoint")
        return
    state = {f"block.{i}.weight": torch.empty(numel) for i in range(5)}  # untouched: not resident
    w = RecordingWriter()
    torch.serialization._save(state, w, pickle, torch.serialization.DEFAULT_PROTOCOL)
    del state
    records = w.records + [("version", b"3\n", 2)]
    stem = os.path.splitext(os.path.basename(path))[0]
    write_atomic(path, lambda tmp: write_zip64(tmp, stem, records))
    st = os.stat(path)
    log(f"{path}: {st.st_size} bytes, {st.st_blocks * 512} allocated")
    # the check
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        names = [i.filename for i in infos]
        assert names == [f"{stem}/{r[0]}" for r in records], names
        for i, r in zip(infos, records):
            assert i.file_size == r[2] and i.compress_type == 0
        if st.st_size > 4 * GiB:
            assert infos[-2].header_offset > 4 * GiB, infos[-2].header_offset
    if 5 * numel * 4 <= 256 * MiB:
        back = torch.load(path, map_location="cpu")
        assert sorted(back) == [f"block.{i}.weight" for i in range(5)]
        for t in back.values():
            assert t.dtype == torch.float32 and t.shape == (numel,) and not t.any()
        log(f"{path}: torch.load reads it back (5 zero tensors of {numel} elements)")


def main():
    parser = argparse.ArgumentParser(description="Writes the inputs of bench/checkpoints.sh (see the module doc).")
    parser.add_argument("out_dir", help="folder for the inputs (created if missing)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="write only this input (ckpt_1g_zip.pt, ...; may be repeated)")
    args = parser.parse_args()
    out = args.out_dir
    os.makedirs(out, exist_ok=True)
    jobs = [
        ("ckpt_1g_zip.pt", lambda p: write_atomic(p, lambda t: torch.save(big_state_dict(), t))),
        ("ckpt_1g_legacy.pt",
         lambda p: write_atomic(p, lambda t: torch.save(big_state_dict(), t, _use_new_zipfile_serialization=False))),
        ("ckpt_100k_zip.pt", lambda p: write_atomic(p, lambda t: torch.save(many_small(), t))),
        ("ckpt_5g_sparse.pt", sparse_checkpoint),
    ]
    unknown = set(args.only or []) - {name for name, _ in jobs}
    if unknown:
        parser.error(f"no input named {', '.join(sorted(unknown))}")
    for name, make in jobs:
        if args.only and name not in args.only:
            continue
        path = os.path.join(out, name)
        if os.path.exists(path):
            log(f"{path}: present, kept")
            continue
        log(f"writing {path} (SCALE={SCALE:g})")
        make(path)


if __name__ == "__main__":
    main()
