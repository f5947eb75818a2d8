#!/usr/bin/env python3
"""Live differential check: real torch 1.13, the committed expectations and the ptload CLI.

  PTLOAD_CLI=build/gcc-cxx17/ptload /usr/bin/python3 tools/live_oracle_check.py [--all] [MANIFEST.tsv...]

Run by tools/test.sh when torch is importable. For a sample of manifest lines (by default every
line of tests/expected/torch.tsv and about 20 lines of tests/expected/corpus.tsv) it

  1. reruns the oracle (tools/oracle, i.e. torch.serialization's own loaders) on the input and
     compares with the committed expectation: a difference means the expectation drifted from
     what torch says (regenerate with the tools/gen_*.py that owns the manifest);
  2. runs `$PTLOAD_CLI dump --json OPTIONS FILE`, normalizes its output (json.loads, then
     canonical.normalize) and compares it with the same expectation; for an `error:<code>` line
     the CLI must fail with that code (the first word of its `ptload: FILE: <code> ...` message).

Then (3) `$PTLOAD_CLI convert` writes a few fixtures (several dtypes, views, shared storages, 0-d
and empty tensors, a legacy file, a deflated archive) to .npz and .safetensors in a temporary
folder; numpy.load reads the .npz (also one written with --zip64) and json/struct/numpy read the
.safetensors, and every array must equal torch.load's tensor of that name (dtype, shape, and the
bytes of tensor.contiguous().numpy(); bfloat16 as .view(torch.int16)). `--convert-only` runs
this step alone.

Lines listed in a manifest's `# computed:` comments (expectations a generator derived because
torch 1.13 cannot load the input correctly) skip step 1. Prints one line per mismatch and last
`live oracle: N passed, N failed`; exits 1 when anything failed, 2 when there is no CLI to run.
Takes a few seconds (the whole sample runs in-process; only ptload is a subprocess).
"""

import argparse
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))



from oracle import canonical, manifest  # noqa: E402

ROOT = manifest.REPO_ROOT
TORCH_TSV = "tests/expected/torch.tsv"
CORPUS_TSV = "tests/expected/corpus.tsv"
CORPUS_SAMPLE = 20
CLI_TIMEOUT = 60  # seconds for one ptload run
CLI_CANDIDATES = ("build/gcc-cxx17/ptload", "build/dev/ptload", "build/dev/tools/ptload")


def find_cli():
    cli = os.environ.get("PTLOAD_CLI")
    if cli:
        return cli
    for rel in CLI_CANDIDATES:
        path = os.path.join(ROOT, rel)
        if os.access(path, os.X_OK):
            return path
    return None


def manifest_lines(tsv):
    return [line.split("\t") for line in manifest.read_manifest(os.path.join(ROOT, tsv))]


def sample(lines, count):
    """`count` lines spread evenly over the (sorted) manifest: the same choice on every run."""
    if count >= len(lines):
        return lines
    step = len(lines) / count
    return [lines[int(i * step)] for i in range(count)]


def read_expected(expected):
    if expected.startswith("error:"):
        return expected
    with open(os.path.join(ROOT, expected), encoding="ascii") as f:
        return f.read().rstrip("\n")


def oracle_result(input_rel, opts):
    kind, value, _ = manifest.run_oracle(input_rel, opts)
    return "error:" + value if kind == "error" else value


def ptload_result(cli, input_rel, options_text):
    """Normalized JSON, `error:<code>`, or `failure: ...` when the CLI misbehaved."""
    args = [cli, "dump", "--json"]
    if options_text != "-":
        args += options_text.split(" ")
    args.append(os.path.join(ROOT, input_rel))
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "failure: timed out after %d s" % CLI_TIMEOUT
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        if proc.returncode < 0:
            try:
                name = signal.Signals(-proc.returncode).name
            except ValueError:
                name = "signal %d" % -proc.returncode
            return "failure: ptload crashed (%s) %s" % (name, message[:300])
        if not message.startswith("ptload: "):
            return "failure: exit status %d: %s" % (proc.returncode, message[:300])
        message = message[len("ptload: "):]
        path_prefix = args[-1] + ": "  # the CLI names the file first: "ptload: FILE: code at ..."
        if message.startswith(path_prefix):
            message = message[len(path_prefix):]
        return "error:" + message.split(" ", 1)[0].rstrip(":")
    try:
        return canonical.normalize(json.loads(proc.stdout.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, TypeError) as e:
        return "failure: output is not canonical JSON (%s)" % e


# Step 3: `ptload convert`, read back by numpy and by hand, against torch.load.
CONVERT_FIXTURES = (
    "examples/sample.pt",
    "tests/fixtures/torch/views_zip_p2.pt",  # views, shared storages, 0-d and empty tensors
    "tests/fixtures/torch/views_legacy_p2.pt",
    "tests/fixtures/torch/legacy_storage_views_p2.pt",
    "tests/fixtures/torch/dtypes_zip_p2.pt",  # every dtype torch 1.13 saves
    "tests/fixtures/torch/dtypes_legacy_p5.pt",
    "tests/fixtures/torch/zip_deflated_p2.pt",
    "tests/fixtures/torch/tensor_only_zip_p2.pt",  # a bare tensor, named ""
)
ZIP64_FIXTURE = "tests/fixtures/torch/views_zip_p2.pt"
SAFETENSORS_DTYPES = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64",
                      "float16": "F16", "bfloat16": "BF16", "float32": "F32", "float64": "F64"}
NPZ_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
              "complex64", "complex128")


def tensor_named(obj, parts):
    """The tensor at a `ptload ls` name (dotted keys and indices; a key may hold dots), or None."""
    import torch
    if not parts:
        return obj if torch.is_tensor(obj) else None
    if isinstance(obj, dict):
        for key, value in obj.items():
            key_parts = str(key).split(".")
            if parts[:len(key_parts)] == key_parts:
                found = tensor_named(value, parts[len(key_parts):])
                if found is not None:
                    return found
    elif isinstance(obj, (list, tuple)) and parts[0].isdigit() and int(parts[0]) < len(obj):
        return tensor_named(obj[int(parts[0])], parts[1:])
    return None


def read_safetensors(path):
    """{name: (dtype, shape, bytes)}, checking the layout: length, padding, packed offsets."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    if n % 8 or 8 + n > len(data):
        raise ValueError("header length %d" % n)
    header = json.loads(data[8:8 + n].decode("utf-8"))  # trailing padding spaces are JSON whitespace
    if header.pop("__metadata__", None) != {"format": "pt"}:
        raise ValueError("no __metadata__ {format: pt}")
    arrays, end = {}, 0
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"]):
        begin, stop = entry["data_offsets"]
        if begin != end:
            raise ValueError("%r starts at %d, not %d" % (name, begin, end))
        arrays[name] = (entry["dtype"], tuple(entry["shape"]), data[8 + n + begin:8 + n + stop])
        end = stop
    if 8 + n + end != len(data):
        raise ValueError("%d bytes after the last tensor" % (len(data) - 8 - n - end))
    return arrays


def convert_problems(cli, input_rel, fmt, tmp, zip64=False):
    """What is wrong with `ptload convert` of one fixture to one format ([] when nothing)."""
    import numpy
    import torch
    path = os.path.join(ROOT, input_rel)
    ls = subprocess.run([cli, "ls", "--json", path], stdout=subprocess.PIPE, timeout=CLI_TIMEOUT)
    rows = json.loads(ls.stdout.decode("utf-8"))
    wanted = [r["name"] for r in rows if r["dtype"] in (NPZ_DTYPES if fmt == "npz" else SAFETENSORS_DTYPES)]
    out = os.path.join(tmp, "out." + fmt)
    args = [cli, "convert"] + (["--zip64"] if zip64 else [])
    if len(wanted) < len(rows):
        args += ["--select", ",".join(wanted)]
    proc = subprocess.run(args + [path, out], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CLI_TIMEOUT)
    if proc.returncode != 0:
        return ["exit status %d: %s" % (proc.returncode, proc.stderr.decode("utf-8", "replace").strip()[:300])]
    try:
        if fmt == "npz":
            if zipfile.ZipFile(out).testzip() is not None:
                return ["zipfile.testzip finds a bad CRC"]
            with numpy.load(out) as z:
                got = {name: (z[name].dtype.str, z[name].shape, z[name].tobytes()) for name in z.files}
        else:
            got = read_safetensors(out)
    except Exception as e:  # any reader failure is a finding, not a crash of the check
        return ["the output does not read: %s: %s" % (type(e).__name__, e)]
    problems = []
    if sorted(got) != sorted(wanted):
        problems.append("names %s, expected %s" % (sorted(got), sorted(wanted)))
    obj = torch.load(path, map_location="cpu")
    for name in wanted:
        if name not in got:
            continue
        t = tensor_named(obj, name.split(".") if name else [])
        if t is None:
            problems.append("%r: no such tensor in torch.load's result" % name)
            continue
        t = t.resolve_conj().resolve_neg().contiguous()
        dtype_name = str(t.dtype).replace("torch.", "")
        if fmt == "npz":
            want = t.numpy()
            want = (want.dtype.str, want.shape, want.tobytes())
        else:
            raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy()
            want = (SAFETENSORS_DTYPES[dtype_name], tuple(t.shape), raw.astype(raw.dtype.newbyteorder("<")).tobytes())
        if got[name] != want:
            problems.append("%r: got %s %s, torch has %s %s%s" % (name, got[name][0], got[name][1], want[0], want[1],
                            "" if got[name][:2] != want[:2] else " (values differ)"))
    return problems


def convert_check(cli):
    """Step 3: (passed, failed) over fixture x format, printing each mismatch."""
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="ptload-convert-")
    try:
        plan = [(f, fmt, False) for f in CONVERT_FIXTURES for fmt in ("safetensors", "npz")]
        plan.append((ZIP64_FIXTURE, "npz", True))
        for input_rel, fmt, zip64 in plan:
            problems = convert_problems(cli, input_rel, fmt, tmp, zip64)
            for p in problems:
                print("MISMATCH %s [convert to %s%s]: %s" % (input_rel, fmt, " --zip64" if zip64 else "", p))
            if problems:
                failed += 1
            else:
                passed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return passed, failed


def describe(got, want):
    """A short account of how two results differ."""
    if got.startswith(("error:", "failure:")) or want.startswith("error:"):
        return "%s, expected %s" % (got[:300] if got.startswith(("error:", "failure:")) else "JSON",
                                    want if want.startswith("error:") else "JSON")
    i = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    lo = max(0, i - 60)
    return "JSON differs at character %d: got ...%s... expected ...%s..." % (i, got[lo:i + 60], want[lo:i + 60])


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="every line of the corpus manifest, not a sample")
    parser.add_argument("--convert-only", action="store_true", help="run the `ptload convert` step (3) alone")
    parser.add_argument("manifests", nargs="*", help="check every line of these manifests instead")
    args = parser.parse_args(argv)
    start = time.time()

    cli = find_cli()
    if not cli or not os.access(cli, os.X_OK):
        print("no ptload CLI to run: set PTLOAD_CLI to the built ptload binary (tried %s)"
              % (cli or ", ".join(CLI_CANDIDATES)))
        print("live oracle: 0 passed, 1 failed")
        return 2

    plan = []  # (tsv, fields)
    if args.convert_only:
        pass
    elif args.manifests:
        for tsv in args.manifests:
            plan += [(tsv, f) for f in manifest_lines(tsv)]
    else:
        if os.path.exists(os.path.join(ROOT, TORCH_TSV)):
            plan += [(TORCH_TSV, f) for f in manifest_lines(TORCH_TSV)]
        corpus = [f for f in manifest_lines(CORPUS_TSV) if os.path.exists(os.path.join(ROOT, f[0]))]
        plan += [(CORPUS_TSV, f) for f in (corpus if args.all else sample(corpus, CORPUS_SAMPLE))]

    computed = {}
    passed = failed = 0
    for tsv, (input_rel, options_text, expected) in plan:
        if tsv not in computed:
            computed[tsv] = manifest.computed_lines(os.path.join(ROOT, tsv))
        problems = []
        if not os.path.exists(os.path.join(ROOT, input_rel)):
            problems.append("input is missing")
        else:
            want = read_expected(expected)
            if (input_rel, options_text) not in computed[tsv]:
                live = oracle_result(input_rel, manifest.parse_options(options_text))
                if live != want:
                    problems.append("drift: the oracle now gives %s" % describe(live, want))
            got = ptload_result(cli, input_rel, options_text)
            if got != want:
                problems.append("ptload: %s" % describe(got, want))
        if problems:
            failed += 1
            for p in problems:
                print("MISMATCH %s [%s] %s: %s" % (input_rel, options_text, os.path.basename(tsv), p))
        else:
            passed += 1
    if args.convert_only or not args.manifests:
        convert_passed, convert_failed = convert_check(cli)
        passed += convert_passed
        failed += convert_failed
        print("(convert: %d conversions checked against torch and numpy)" % (convert_passed + convert_failed))
    print("(%d lines in %.1f s, CLI %s)" % (passed + failed, time.time() - start, cli))
    print("live oracle: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(manifest.run_with_big_stack(main, sys.argv[1:]))
