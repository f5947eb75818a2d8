#!/usr/bin/python3
"""Static oracle for `ptload scan` over the malicious corpus: nothing is unpickled.

For each sample, lists the globals CPython's unpickler would import from every stream some
reader pickle.loads (the file from byte 0; each zip member named *.pkl, read the way torch reads
it: central-directory sizes from the local header's data offset, flag bits ignored; the object
payload of a .npy), using pickletools.genops and pickletools' own stack effects (stack_before /
stack_after) to follow STACK_GLOBAL operands through the memo. A stream "runs code" when one of
those globals is outside a small allowlist of data constructors and an opcode that calls or
mutates (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST, BUILD) follows it before the stream ends or breaks.
Output: TSV  file <tab> runs_code <tab> globals (space-separated module.name, as written).
"""
import io, os, pickletools, struct, sys, zipfile

ALLOWED = {
    "collections.OrderedDict", "_codecs.encode", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_parameter", "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.ndarray", "numpy.dtype", "torch.FloatStorage", "torch.LongStorage",
}
CALLS = {"REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ", "INST", "BUILD"}
MARK = pickletools.markobject

def walk(data):
    """(globals, runs_code) of the pickle at data[0:]."""
    stack, memo, names, runs, armed = [], {}, [], False, False
    try:
        for op, arg, pos in pickletools.genops(io.BytesIO(data)):
            nm = op.name
            if nm in ("GLOBAL", "INST"):
                g = arg.replace(" ", ".")
                names.append(g)
                armed = armed or g not in ALLOWED
            if nm == "STACK_GLOBAL":
                name, module = stack[-1], stack[-2]
                if isinstance(name, str) and isinstance(module, str):
                    g = module + "." + name
                else:
                    g = "?.?"
                names.append(g)
                armed = armed or g not in ALLOWED
            if nm in CALLS and armed:
                runs = True
            # stack effects from pickletools' own table
            if nm in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1]; continue
            if nm == "MEMOIZE":
                memo[len(memo)] = stack[-1]; continue
            if nm in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[arg]); continue
            if nm == "DUP":
                stack.append(stack[-1]); continue
            before = op.stack_before
            if MARK in before:
                while stack and stack[-1] is not MARK: stack.pop()
                if stack: stack.pop()
                rest = before[: before.index(MARK)]
                for _ in rest: stack.pop()
            else:
                for _ in before: stack.pop()
            value = arg if nm in ("STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE",
                                  "SHORT_BINUNICODE", "BINUNICODE8") else object()
            for item in op.stack_after:
                stack.append(MARK if item is MARK else value)
            if nm == "STOP": break
    except Exception:
        pass
    return names, runs

def streams(path):
    d = open(path, "rb").read()
    out = [d]
    if d[:6] == b"\x93NUMPY":
        hl = struct.unpack("<H", d[8:10])[0]
        if b"'|O'" in d[10:10 + hl]: out = [d[10 + hl:]]
    try:
        z = zipfile.ZipFile(path)
        for i in z.infolist():
            if not i.filename.endswith(".pkl"): continue
            h = d[i.header_offset:i.header_offset + 30]
            n, e = struct.unpack("<HH", h[26:30])
            start = i.header_offset + 30 + n + e
            out.append(d[start:start + i.compress_size])
    except zipfile.BadZipFile:
        pass
    return out

for path in sorted(sys.argv[1:]):
    names, runs = [], False
    for s in streams(path):
        n, r = walk(s)
        names += n
        runs = runs or r
    print("%s\t%d\t%s" % (os.path.basename(path), runs, " ".join(names)))
