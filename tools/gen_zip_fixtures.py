#!/usr/bin/python3
"""Writes the zip and deflate fixtures of tests/test_zip.cpp into tests/fixtures/zip/.

    /usr/bin/python3 tools/gen_zip_fixtures.py

Standard library only and deterministic: the same Python/zlib gives the same bytes. (Another
zlib may deflate differently; the tests compare inflated bytes, never compressed ones, so
regenerated fixtures stay valid.)

zip/*.zip     small archives laid out the way torch's miniz writer does it (FORMAT.md 2.3), and
              one variant per malformation that read_zip / read_entry must reject.
inflate/*.deflate
              raw DEFLATE streams (wbits=-15) of generated data; test_zip.cpp regenerates the
              same data with the same splitmix64 generator and compares.
"""

import os
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "zip")

LOCAL_SIG = 0x04034B50
CENTRAL_SIG = 0x02014B50
EOCD_SIG = 0x06054B50
Z64_EOCD_SIG = 0x06064B50
Z64_LOCATOR_SIG = 0x07064B50
DESCRIPTOR_SIG = 0x08074B50
M32 = 0xFFFFFFFF
M16 = 0xFFFF

# --------------------------------------------------------------------------------------------
# Generated data, mirrored by test_zip.cpp.

MASK64 = (1 << 64) - 1
WORDS = [b"tensor", b"weight", b"bias", b"the", b"layer", b"\x00\x00\x80\x3f", b"conv", b"0.125",
         b"running_mean", b"state_dict", b"\n", b"optimizer"]


def splitmix64(seed):
    state = seed & MASK64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        yield z ^ (z >> 31)


def make_data(kind, size, seed):
    """random: uniform bytes; text: words from WORDS; zeros; skewed: byte = count of trailing
    zero bits, so rare bytes get Huffman codes longer than the decoder's fast table."""
    rng = splitmix64(seed)
    if kind == "random":
        return bytes(next(rng) & 0xFF for _ in range(size))
    if kind == "zeros":
        return bytes(size)
    if kind == "text":
        out = bytearray()
        while len(out) < size:
            out += WORDS[next(rng) % len(WORDS)] + b" "
        return bytes(out[:size])
    if kind == "skewed":
        out = bytearray()
        for _ in range(size):
            z = next(rng)
            n = 0
            while n < 63 and not (z >> n) & 1:
                n += 1
            out.append(n)
        return bytes(out)
    raise ValueError(kind)


def raw_deflate(data, level=6, strategy=zlib.Z_DEFAULT_STRATEGY, flush_every=0):
    co = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
    if not flush_every:
        return co.compress(data) + co.flush()
    out = b""
    for i in range(0, len(data), flush_every):
        out += co.compress(data[i:i + flush_every]) + co.flush(zlib.Z_FULL_FLUSH)
    return out + co.flush()


# (file, kind, size, seed, how): test_zip.cpp holds the same table.
INFLATE_CASES = [
    ("empty_l0", "zeros", 0, 0, dict(level=0)),
    ("empty_l6", "zeros", 0, 0, dict(level=6)),
    ("random_l0", "random", 3000, 1, dict(level=0)),
    ("random_l1", "random", 3000, 1, dict(level=1)),
    ("random_l6", "random", 3000, 1, dict(level=6)),
    ("random_l9", "random", 3000, 1, dict(level=9)),
    ("text_l0", "text", 12000, 2, dict(level=0)),
    ("text_l1", "text", 12000, 2, dict(level=1)),
    ("text_l6", "text", 12000, 2, dict(level=6)),
    ("text_l9", "text", 12000, 2, dict(level=9)),
    ("text_fixed", "text", 12000, 2, dict(level=6, strategy=zlib.Z_FIXED)),
    ("text_huffman_only", "text", 12000, 2, dict(level=6, strategy=zlib.Z_HUFFMAN_ONLY)),
    ("text_flushes_l0", "text", 4000, 3, dict(level=0, flush_every=700)),
    ("text_flushes_l6", "text", 12000, 3, dict(level=6, flush_every=1000)),
    ("zeros_l1", "zeros", 100000, 0, dict(level=1)),
    ("zeros_l9", "zeros", 100000, 0, dict(level=9)),
    ("skewed_l6", "skewed", 30000, 4, dict(level=6)),
    ("skewed_l9", "skewed", 30000, 4, dict(level=9)),
]

# --------------------------------------------------------------------------------------------
# A zip writer whose every field can be bent.


class Entry:
    def __init__(self, name, data, method=0, descriptor=True, **kw):
        self.name = name
        self.data = data
        self.method = method
        self.descriptor = descriptor
        self.crc = zlib.crc32(data)
        self.payload = raw_deflate(data) if method == 8 else data
        self.kw = kw  # field overrides, see build()


def build(entries, zip64_eocd=True, align=64, comment=b"", cd_zip64=False, junk_before=b"",
          junk_after_entry=None, eocd_over=None, z64_over=None, locator_over=None, tail=b""):
    """Returns (bytes, offsets). Entry overrides (Entry.kw): local_name, local_method,
    local_flags, local_crc, local_csize, local_usize, cd_name, cd_method, cd_flags, cd_crc,
    cd_csize, cd_usize, cd_offset, cd_extra, descriptor_bytes."""
    out = bytearray(junk_before)
    locals_ = []
    for i, e in enumerate(entries):
        kw = e.kw
        header = len(out)
        locals_.append(header)
        flags = kw.get("local_flags", 0x0808 if e.descriptor else 0x0800)
        name = kw.get("local_name", e.name)
        if e.descriptor:
            crc, csize, usize = 0, 0, 0  # torch: placeholders, real values in the descriptor
        else:
            crc, csize, usize = e.crc, len(e.payload), len(e.data)
        crc = kw.get("local_crc", crc)
        csize = kw.get("local_csize", csize)
        usize = kw.get("local_usize", usize)
        extra = kw.get("local_extra", b"")
        if align:
            start = header + 30 + len(name) + len(extra) + 4
            pad = (-start) % align
            extra += struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # miniz's "FB" alignment field
        out += struct.pack("<IHHHHHIIIHH", LOCAL_SIG, 0, flags, kw.get("local_method", e.method), 0, 0,
                           crc, csize, usize, len(name), len(extra))
        out += name + extra + e.payload
        if e.descriptor:
            # By default the descriptor repeats what the central directory says.
            out += kw.get("descriptor_bytes",
                          struct.pack("<IIII", DESCRIPTOR_SIG, kw.get("cd_crc", e.crc),
                                      kw.get("cd_csize", len(e.payload)), kw.get("cd_usize", len(e.data))))
        if junk_after_entry is not None and junk_after_entry[0] == i:
            out += junk_after_entry[1]
    cd_offset = len(out)
    centrals = []
    for e, header in zip(entries, locals_):
        kw = e.kw
        centrals.append(len(out))
        name = kw.get("cd_name", e.name)
        csize, usize, offset = len(e.payload), len(e.data), kw.get("cd_offset", header)
        extra = b""
        if cd_zip64:
            extra = struct.pack("<HHQQQ", 1, 24, usize, csize, offset)
            csize = usize = offset = M32
        extra = kw.get("cd_extra", extra)
        flags = kw.get("cd_flags", 0x0808 if e.descriptor else 0x0800)
        out += struct.pack("<IHHHHHHIIIHHHHHII", CENTRAL_SIG, 0x031E, 0x2D if cd_zip64 else 20, flags,
                           kw.get("cd_method", e.method), 0, 0, kw.get("cd_crc", e.crc),
                           kw.get("cd_csize", csize), kw.get("cd_usize", usize), len(name), len(extra), 0,
                           kw.get("cd_disk", 0), 0, 0, offset)
        out += name + extra
    cd_size = len(out) - cd_offset
    count = len(entries)
    z64 = len(out)
    if zip64_eocd:
        f = dict(size=44, disk=0, cd_disk=0, count_disk=count, count=count, cd_size=cd_size, cd_offset=cd_offset)
        f.update(z64_over or {})
        out += struct.pack("<IQHHIIQQQQ", Z64_EOCD_SIG, f["size"], 0x031E, 0x2D, f["disk"], f["cd_disk"],
                           f["count_disk"], f["count"], f["cd_size"], f["cd_offset"])
        f = dict(disk=0, offset=z64, disks=1)
        f.update(locator_over or {})
        out += struct.pack("<IIQI", Z64_LOCATOR_SIG, f["disk"], f["offset"], f["disks"])
    eocd = len(out)
    f = dict(disk=0, cd_disk=0, count_disk=min(count, M16), count=min(count, M16), cd_size=min(cd_size, M32),
             cd_offset=min(cd_offset, M32), comment_len=len(comment))
    if cd_zip64:
        f.update(count_disk=M16, count=M16, cd_size=M32, cd_offset=M32)
    f.update(eocd_over or {})
    out += struct.pack("<IHHHHIIH", EOCD_SIG, f["disk"], f["cd_disk"], f["count_disk"], f["count"],
                       f["cd_size"], f["cd_offset"], f["comment_len"]) + comment + tail
    return bytes(out), dict(locals=locals_, centrals=centrals, cd_offset=cd_offset, cd_size=cd_size,
                            z64=z64, eocd=eocd)


PKL = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s."  # {'a': 1}
DATA0 = bytes(range(64))


def torch_like(**kw):
    return [Entry(b"archive/data.pkl", PKL, **kw), Entry(b"archive/data/0", DATA0, **kw),
            Entry(b"archive/version", b"3\n", **kw)]


def patched(data, offset, fmt, *values):
    b = bytearray(data)
    struct.pack_into(fmt, b, offset, *values)
    return bytes(b)


def fixtures():
    f = {}
    good, at = build(torch_like())
    f["good_torch.zip"] = good
    # Classic layout of other tools: no zip64 records, no descriptors, no padding, a comment.
    f["good_plain.zip"], _ = build(torch_like(descriptor=False), zip64_eocd=False, align=0,
                                   comment=b"PK\x05\x06 is not the record: its comment length is wrong")
    text = make_data("text", 5000, 7)
    f["good_deflate.zip"], _ = build([Entry(b"archive/stored", text), Entry(b"archive/deflated", text, method=8),
                                      Entry(b"archive/empty", b"", method=8)])
    # Every 32-bit field in the central directory replaced by its zip64 value.
    f["good_zip64.zip"], _ = build(
        [Entry(b"archive/data.pkl", PKL, descriptor_bytes=struct.pack("<IIQQ", DESCRIPTOR_SIG, zlib.crc32(PKL),
                                                                       len(PKL), len(PKL))),
         Entry(b"archive/data/0", DATA0, descriptor_bytes=struct.pack("<IQQ", zlib.crc32(DATA0), 64, 64))],
        cd_zip64=True)
    f["good_zero_crc.zip"], _ = build([Entry(b"archive/data.pkl", PKL, cd_crc=0)])
    f["good_empty.zip"], _ = build([], zip64_eocd=False)

    # --- end of central directory and zip64 records ---
    f["bad_eocd_missing.zip"] = patched(good, at["eocd"], "<I", 0x06054B51)
    f["bad_eocd_truncated.zip"] = good[:-7]
    f["bad_comment_length.zip"], _ = build(torch_like(), eocd_over=dict(comment_len=9), comment=b"short")
    f["bad_trailing_bytes.zip"], _ = build(torch_like(), tail=b"junk")
    plain, pat = build(torch_like(descriptor=False), zip64_eocd=False, align=0)
    f["bad_cd_offset.zip"] = patched(plain, pat["eocd"] + 16, "<I", 0x7FFFFFF0)
    f["bad_cd_size.zip"] = patched(plain, pat["eocd"] + 12, "<I", pat["cd_size"] + 1000)
    # The directory loses its last record (46 + 15 bytes), which stays in the file unaccounted for.
    f["bad_cd_gap.zip"] = patched(patched(plain, pat["eocd"] + 12, "<I", pat["cd_size"] - 46 - 15),
                                  pat["eocd"] + 8, "<HH", 2, 2)
    f["bad_count_too_large.zip"] = patched(plain, pat["eocd"] + 8, "<HH", 1000, 1000)
    f["bad_count_too_small.zip"] = patched(plain, pat["eocd"] + 8, "<HH", 2, 2)
    f["bad_multi_disk.zip"] = patched(plain, pat["eocd"] + 4, "<H", 1)
    f["bad_placeholder_no_zip64.zip"] = patched(plain, pat["eocd"] + 16, "<I", M32)
    f["bad_z64_offset.zip"], _ = build(torch_like(), locator_over=dict(offset=1 << 40))
    f["bad_z64_signature.zip"] = patched(good, at["z64"], "<I", 0x06064B51)
    f["bad_z64_disagrees.zip"], _ = build(torch_like(), eocd_over=dict(count=2, count_disk=2))
    f["bad_z64_cd_offset.zip"], _ = build(torch_like(), z64_over=dict(cd_offset=1 << 50),
                                          eocd_over=dict(cd_offset=M32))

    # --- central directory records ---
    f["bad_cd_signature.zip"] = patched(good, at["centrals"][1], "<I", 0x02014B51)
    f["bad_method.zip"], _ = build([Entry(b"archive/data.pkl", PKL, cd_method=12, local_method=12)])
    f["bad_flag_0x1.zip"], _ = build([Entry(b"archive/data.pkl", PKL, cd_flags=0x0809, local_flags=0x0809)])
    f["bad_flag_0x20.zip"], _ = build([Entry(b"archive/data.pkl", PKL, cd_flags=0x0828, local_flags=0x0828)])
    f["bad_flag_0x40.zip"], _ = build([Entry(b"archive/data.pkl", PKL, cd_flags=0x0848, local_flags=0x0848)])
    f["bad_local_flag_0x1.zip"], _ = build([Entry(b"archive/data.pkl", PKL, local_flags=0x0809)])
    f["bad_zip64_extra_short.zip"], _ = build(
        [Entry(b"archive/data.pkl", PKL, cd_extra=struct.pack("<HHQ", 1, 8, len(PKL)))], cd_zip64=True)
    f["good_local_zip64.zip"], _ = build([Entry(b"archive/data.pkl", PKL, descriptor=False, local_csize=M32,
                                                local_usize=M32,
                                                local_extra=struct.pack("<HHQQ", 1, 16, len(PKL), len(PKL)))])
    f["bad_local_zip64_short.zip"], _ = build([Entry(b"archive/data.pkl", PKL, descriptor=False, local_csize=M32,
                                                     local_usize=M32, local_extra=struct.pack("<HHQ", 1, 8, len(PKL)))])
    f["bad_zip64_extra_missing.zip"], _ = build([Entry(b"archive/data.pkl", PKL, cd_csize=M32)])
    f["bad_zip64_extra_overrun.zip"], _ = build(
        [Entry(b"archive/data.pkl", PKL, cd_csize=M32, cd_extra=struct.pack("<HHQ", 1, 40, len(PKL)))])
    f["bad_stored_sizes.zip"], _ = build([Entry(b"archive/data.pkl", PKL, cd_usize=len(PKL) + 1)])
    f["bad_duplicate.zip"], _ = build([Entry(b"archive/data.pkl", PKL), Entry(b"archive/data/0", DATA0),
                                       Entry(b"archive/data.pkl", b"other")])
    f["bad_nul_name.zip"], _ = build([Entry(b"archive/data.pkl\x00.txt", PKL)])
    f["bad_crc.zip"], _ = build([Entry(b"archive/data.pkl", PKL, cd_crc=0x12345678)])

    # --- local headers ---
    f["bad_local_signature.zip"] = patched(good, at["locals"][1], "<I", 0x04034B51)
    f["bad_local_name.zip"], _ = build([Entry(b"archive/data.pkl", PKL), Entry(b"archive/data/0", DATA0,
                                                                             local_name=b"archive/data/1")])
    f["bad_local_method.zip"], _ = build([Entry(b"archive/data.pkl", PKL, local_method=8)])
    f["bad_local_sizes.zip"], _ = build([Entry(b"archive/data.pkl", PKL, descriptor=False,
                                               local_csize=len(PKL) - 1, local_usize=len(PKL) - 1)])
    f["bad_local_crc.zip"], _ = build([Entry(b"archive/data.pkl", PKL, descriptor=False, local_crc=1)])
    f["bad_local_offset.zip"], _ = build([Entry(b"archive/data.pkl", PKL, cd_offset=0x7FFFFFF0)])

    # --- layout ---
    # "inner" is a whole local header + data hidden inside the data of "outer".
    inner, _ = build([Entry(b"archive/inner", b"hidden", descriptor=False)], align=0)
    inner_local = inner[:30 + len(b"archive/inner") + len(b"hidden")]
    outer = Entry(b"archive/outer", inner_local, descriptor=False)
    hidden = Entry(b"archive/inner", b"hidden", descriptor=False, cd_offset=30 + len(b"archive/outer"))
    f["bad_overlap.zip"], _ = build([outer, hidden], align=0, zip64_eocd=False)
    # Bit 3 set, so the local header's zero sizes are placeholders and only the directory's count.
    f["bad_overlap_cd.zip"], _ = build([Entry(b"archive/data/0", DATA0, cd_csize=200, cd_usize=200)], align=0)
    f["bad_data_past_eof.zip"], _ = build([Entry(b"archive/data/0", DATA0, cd_csize=100000, cd_usize=100000)])
    # The second entry's local header hides in the archive comment. Two passes: the first finds
    # where the EOCD lands (record sizes do not depend on the offsets written into them).
    hidden_local = struct.pack("<IHHHHHIIIHH", LOCAL_SIG, 0, 0x0800, 0, 0, 0, zlib.crc32(b"hidden"), 6, 6,
                               len(b"archive/hidden"), 0) + b"archive/hidden" + b"hidden"

    def in_comment(offset):
        return build([Entry(b"archive/data.pkl", PKL, descriptor=False),
                      Entry(b"archive/hidden", b"hidden", descriptor=False, cd_offset=offset)],
                     align=0, zip64_eocd=False, comment=hidden_local)

    _, first = in_comment(0)
    f["bad_entry_in_comment.zip"], _ = in_comment(first["eocd"] + 22)
    # The second entry's local header offset points into the central directory itself.
    def in_directory(offset):
        return build([Entry(b"archive/data.pkl", PKL, descriptor=False),
                      Entry(b"archive/hidden", b"hidden", descriptor=False, cd_offset=offset)],
                     align=0, zip64_eocd=False)

    _, first = in_directory(0)
    f["bad_entry_in_directory.zip"], _ = in_directory(first["cd_offset"] + 4)
    f["bad_gap.zip"], _ = build(torch_like(), junk_after_entry=(0, b"hidden bytes"))
    f["bad_prefix_junk.zip"], _ = build(torch_like(), junk_before=b"\x80\x02}q\x00.")
    f["bad_descriptor.zip"], _ = build([Entry(b"archive/data.pkl", PKL,
                                              descriptor_bytes=struct.pack("<IIII", DESCRIPTOR_SIG, 0, 1, 1))])

    # --- deflate ---
    zeros = bytes(2_000_000)
    f["bad_deflate_bomb.zip"], _ = build([Entry(b"archive/data/0", zeros, method=8)])
    bad_stream = Entry(b"archive/data.pkl", PKL, method=8)
    bad_stream.payload = b"\x07" + bad_stream.payload[1:]  # BFINAL=1, BTYPE=3
    f["bad_deflate_stream.zip"], _ = build([bad_stream])
    f["bad_deflate_short.zip"], _ = build([Entry(b"archive/data.pkl", PKL, method=8, cd_usize=len(PKL) + 1)])
    f["bad_deflate_long.zip"], _ = build([Entry(b"archive/data.pkl", PKL, method=8, cd_usize=len(PKL) - 1)])
    trailing = Entry(b"archive/data.pkl", PKL, method=8)
    trailing.payload += b"\x00\x00"
    f["bad_deflate_trailing.zip"], _ = build([trailing])

    # --- prefix (valid zips, but not one torch top-level folder) ---
    f["prefix_two_folders.zip"], _ = build([Entry(b"a/data.pkl", PKL), Entry(b"b/data/0", DATA0)])
    f["prefix_no_slash.zip"], _ = build([Entry(b"a/data.pkl", PKL), Entry(b"version", b"3\n")])
    f["prefix_first_no_slash.zip"], _ = build([Entry(b"data.pkl", PKL)])
    return f


def main():
    os.makedirs(os.path.join(OUT, "inflate"), exist_ok=True)
    written = 0
    for name, data in sorted(fixtures().items()):
        with open(os.path.join(OUT, name), "wb") as fh:
            fh.write(data)
        written += len(data)
    for name, kind, size, seed, how in INFLATE_CASES:
        data = make_data(kind, size, seed)
        stream = raw_deflate(data, **how)
        assert zlib.decompress(stream, -15) == data
        with open(os.path.join(OUT, "inflate", name + ".deflate"), "wb") as fh:
            fh.write(stream)
        written += len(stream)
    print(f"wrote {written} bytes of fixtures under {os.path.relpath(OUT, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
