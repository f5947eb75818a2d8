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

Lines listed in a manifest's `# computed:` comments (expectations a generator derived because
torch 1.13 cannot load the input correctly) skip step 1. Prints one line per mismatch and last
`live oracle: N passed, N failed`; exits 1 when anything failed, 2 when there is no CLI to run.
Takes a few seconds (the whole sample runs in-process; only ptload is a subprocess).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

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
    if args.manifests:
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
    print("(%d lines in %.1f s, CLI %s)" % (passed + failed, time.time() - start, cli))
    print("live oracle: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(manifest.run_with_big_stack(main, sys.argv[1:]))
