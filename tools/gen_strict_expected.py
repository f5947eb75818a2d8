#!/usr/bin/env python3
"""Writes tests/expected/strict.tsv: what strict mode (ptload::strict) must do with each file.

  /usr/bin/python3 tools/gen_strict_expected.py [--corpus ../shared/corpus]

Strict mode is torch.load(weights_only=True). For every line of tests/expected/torch.tsv and
tests/expected/corpus.tsv, and every file of the corpus's malicious/ folder, this runs real
torch 1.13's torch.load(f, weights_only=True) and records whether it loads the file. Where it
refuses, a second oracle decides whether strict mode deliberately accepts the file anyway:

  * torch 1.13's weights_only unpickler lacks pure-data opcodes that later torch versions accept
    (protocol 0/1 text opcodes, BINFLOAT, SHORT_BINUNICODE, FRAME, MEMOIZE, ...). ptload's strict
    mode decides by globals alone, so such a file loads when every global it names is allowed:
    reason `opcode:NAME` (NAME is the opcode torch 1.13 stopped at; the C++ test checks the file
    really holds it).
  * numpy's non-object arrays, scalars and dtypes are allowed by design: reason `numpy` (the test
    checks the file's JSON holds an ndarray).
  * TorchScript archives: torch 1.13 hands them to torch.jit.load, ignoring weights_only (later
    torch refuses them); strict mode refuses them: reason `torchscript`. torch is never run on them.

The second oracle is tools/oracle's loader (pickle's full opcode set) with find_class limited to
the globals torch 1.13's weights_only unpickler accepts plus numpy's array globals, and object
arrays refused. It never runs on malicious/ files (their pickles run their payloads under real
pickle); for those, the globals are read statically with pickletools instead.

Columns: input, options, strict (`loads` or `refuses`), expected (the JSON that strict mode must
produce, as in the other manifests; `-` for none or `default` for malicious/ files, which must
give the same JSON as the default mode), reason (`-`, `opcode:NAME`, `numpy`, `torchscript`,
`default:CODE` where the default mode refuses the file with that error code),
and torch 1.13's own message where it refuses. Lines starting with `allow` list torch 1.13's
weights_only allowlist itself.
"""

import argparse
import io
import os
import pickle
import pickletools
import sys
import warnings
import zipfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from oracle import canonical, load, manifest, unpickler  # noqa: E402

import torch  # noqa: E402
from torch import _weights_only_unpickler as weights_only_unpickler  # noqa: E402
from torch._weights_only_unpickler import _get_allowed_globals  # noqa: E402

OUT = "tests/expected/strict.tsv"
MANIFESTS = ("tests/expected/torch.tsv", "tests/expected/corpus.tsv")
NUMPY_GLOBALS = {
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
}

# Belt and braces while torch reads hostile files: nothing may start a program or connect.
_BLOCKED_EVENTS = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen", "socket.connect",
                   "socket.getaddrinfo", "webbrowser.open", "ctypes.dlopen", "os.startfile")


def _audit(event, args):
    if event in _BLOCKED_EVENTS:
        raise RuntimeError("blocked by gen_strict_expected: %s" % event)


def allowed_globals():
    return set(_get_allowed_globals().keys())


def torch_weights_only(path, opts):
    """None when torch 1.13 loads the file under weights_only, else its message."""
    kwargs = {"weights_only": True}
    if opts.get("map_location"):
        kwargs["map_location"] = load.parse_map_location(opts["map_location"])
    if opts.get("encoding"):
        kwargs["encoding"] = opts["encoding"]
    with open(path, "rb") as f:
        data = f.read()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if load.detect(data) == "pickle":
                # a plain pickle: torch.load would only say "Invalid magic number"; what strict
                # mode mirrors is pickle.load with the weights_only unpickler
                weights_only_unpickler.load(io.BytesIO(data), encoding=opts.get("encoding", "utf-8"))
            else:
                torch.load(path, **kwargs)
    except Exception as e:  # any refusal is the data we record
        msg = str(e)
        if "WeightsUnpickler error: " in msg:  # torch's wrapper around the unpickler's own error
            msg = msg.split("WeightsUnpickler error: ", 1)[1]
        else:
            msg = "%s: %s" % (type(e).__name__, msg)
        return " ".join(msg.split())[:160]
    return None


def is_torchscript(path):
    with open(path, "rb") as f:
        data = f.read()
    if load.detect(data) != "zip":
        return False
    with open(path, "rb") as f, torch.serialization._open_zipfile_reader(f) as reader:
        return torch.serialization._is_torchscript_zip(reader)


class GlobalsOnlyContext(unpickler.LoadContext):
    """The oracle's loader with weights_only's global allowlist (plus numpy arrays)."""

    allowed = None

    def find_class(self, module, name, proto):
        m, n = unpickler.py2_rename(module, name, proto)
        if "%s.%s" % (m, n) not in self.allowed:
            raise unpickler.DisallowedGlobal("not allowed: %s.%s" % (m, n))
        return super().find_class(module, name, proto)


def globals_only_json(path, opts, allowed):
    """(True, json) when the globals-only oracle loads the file, else (False, message)."""
    GlobalsOnlyContext.allowed = allowed
    ctx = GlobalsOnlyContext(opts.get("encoding", "utf-8"), opts.get("errors", "strict"),
                             load.parse_map_location(opts.get("map_location")))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = load.load_file(path, ctx)
            text = canonical.normalize(canonical.to_canonical(value, ctx.names))
    except Exception as e:  # a refusal
        return False, "%s: %s" % (type(e).__name__, e)
    if '"dtype":"|O"' in text:
        return False, "object ndarray"
    return True, text


def pickles_of(path):
    """(bytes, pickle count) of a file's pickle streams, for static reading: a zip's *.pkl
    records, a legacy stream's five pickles, or a plain pickle."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(path) as z:
                return [(z.read(n), 1) for n in z.namelist() if n.endswith(".pkl")]
        except Exception:
            return []
    return [(data, 1 if load.detect(data) == "pickle" else 5)]


def static_globals(data, count):
    """Globals named by the first `count` pickles in data (None when one cannot be read)."""
    names, pos = [], 0
    for _ in range(count):
        if pos >= len(data):
            break
        strs = []
        f = io.BytesIO(data[pos:])
        try:
            for op, arg, at in pickletools.genops(f):
                if op.name in ("GLOBAL", "INST"):
                    names.append(arg.replace(" ", "."))
                elif op.name == "STACK_GLOBAL":
                    if len(strs) < 2 or strs[-1] is None or strs[-2] is None:
                        return None
                    names.append("%s.%s" % (strs[-2], strs[-1]))
                elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
                    strs.append(arg)
                elif op.name in ("MEMOIZE", "BINPUT", "LONG_BINPUT", "PUT"):
                    pass
                else:
                    strs.append(None)
        except Exception:
            if not names and pos == 0:
                return None
            break
        pos += f.tell()
    return names


def decide(torch_msg, torchscript, g_ok, g_text, numpy_file):
    """(strict, reason) from torch's verdict and the globals-only oracle's."""
    if torchscript:
        return "refuses", "torchscript"
    if torch_msg is None:
        return "loads", "-"
    if "Unsupported operand" in torch_msg and g_ok:
        code = int(torch_msg.rsplit(" ", 1)[1])
        return "loads", "opcode:" + pickletools.code2op[chr(code)].name
    if g_ok and numpy_file:
        return "loads", "numpy"
    if g_ok:
        raise SystemExit("strict would accept what torch 1.13 refuses for no listed reason: %s" % torch_msg)
    return "refuses", "-"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=os.path.join(manifest.REPO_ROOT, "..", "shared", "corpus"))
    args = parser.parse_args(argv)
    sys.addaudithook(_audit)
    allowed_torch = allowed_globals()
    allowed = allowed_torch | NUMPY_GLOBALS
    rows = []
    for tsv in MANIFESTS:
        # expectations a generator computed because torch 1.13 misreads the input: the oracles
        # here cannot confirm them either
        computed = manifest.computed_lines(os.path.join(manifest.REPO_ROOT, tsv))
        for line in manifest.read_manifest(os.path.join(manifest.REPO_ROOT, tsv)):
            input_rel, opts_text, expected = line.split("\t")
            path = os.path.join(manifest.REPO_ROOT, input_rel)
            opts = manifest.parse_options(opts_text)
            if (input_rel, opts_text) in computed and not opts.get("map_location"):
                # CUDA storages without map_location: this torch has no CUDA, which says nothing
                # about weights_only; ask both oracles with the storages on the CPU instead
                opts["map_location"] = "cpu"
            ts = is_torchscript(path)
            torch_msg = None if ts else torch_weights_only(path, opts)
            g_ok, g_text = (False, "torchscript") if ts else globals_only_json(path, opts, allowed)
            numpy_file = torch_msg is not None and "Unsupported class numpy." in torch_msg
            strict, reason = decide(torch_msg, ts, g_ok, g_text, numpy_file)
            if expected.startswith("error:"):
                # strict mode never loads what the default mode refuses (torch 1.13 may: it does
                # not check record sizes, for one)
                strict, reason = "refuses", "default:" + expected[len("error:"):]
            if strict == "loads" and g_ok and (input_rel, opts_text) not in computed:
                with open(os.path.join(manifest.REPO_ROOT, expected), encoding="ascii") as f:
                    if f.read().rstrip("\n") != g_text:
                        raise SystemExit("%s: the globals-only oracle disagrees with %s" % (input_rel, expected))
            rows.append((input_rel, opts_text, strict, expected if strict == "loads" else "-", reason,
                         torch_msg or "-"))
    mal = os.path.normpath(os.path.join(os.path.abspath(args.corpus), "malicious"))
    for folder in sorted(os.listdir(mal)):
        if not os.path.isdir(os.path.join(mal, folder)):
            continue
        for name in sorted(os.listdir(os.path.join(mal, folder))):
            path = os.path.join(mal, folder, name)
            input_rel = os.path.relpath(path, manifest.REPO_ROOT)
            ts = False
            try:
                ts = is_torchscript(path)
            except Exception:
                pass
            torch_msg = None if ts else torch_weights_only(path, {})
            names = []
            for data, count in pickles_of(path):
                found = static_globals(data, count)
                names = None if found is None or names is None else names + found
            g_ok = names is not None and all(n in allowed for n in names)
            opcode_only = torch_msg is not None and "Unsupported operand" in torch_msg
            strict, reason = decide(torch_msg, ts, g_ok and opcode_only, None, False)
            rows.append((input_rel, "-", strict, "default" if strict == "loads" else "-", reason, torch_msg or "-"))
    rows.sort()
    header = [
        "# Strict mode (torch.load weights_only=True) over every torch fixture, corpus file and malicious sample:",
        "# input<TAB>options<TAB>strict (loads|refuses)<TAB>expected JSON<TAB>reason<TAB>torch 1.13 weights_only message.",
        "# Generated by tools/gen_strict_expected.py (CPython %s, torch %s): reason opcode:NAME = torch 1.13's"
        % (sys.version.split()[0], torch.__version__),
        "# weights_only unpickler lacks that pure-data opcode and strict mode accepts the file; numpy = numpy",
        "# arrays, allowed by design; torchscript = refused (torch 1.13 would run torch.jit.load); default:CODE =",
        "# the default mode already refuses the file with that error code, so strict mode does too.",
    ]
    lines = header + ["\t".join(r) for r in rows] + ["allow\t" + g for g in sorted(allowed_torch)]
    with open(os.path.join(manifest.REPO_ROOT, OUT), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    counts = {}
    for r in rows:
        counts[(r[2], r[4].split(":")[0])] = counts.get((r[2], r[4].split(":")[0]), 0) + 1
    print("%s: %d files; %s" % (OUT, len(rows), ", ".join("%s/%s %d" % (k[0], k[1], v) for k, v in sorted(counts.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(manifest.run_with_big_stack(main, sys.argv[1:]))
