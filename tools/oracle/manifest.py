"""Expected files and manifests shared with the C++ test harness.

A manifest line is `<input>\t<options>\t<expected>`: input relative to the repository root,
options exactly as `ptload dump --json` takes them (`-` for none), expected either the path of a
file holding the normalized canonical JSON (one line, trailing newline) or `error:<code>`.
Lines starting with `#` are comments. Lines are sorted so reruns give identical files.
"""

import os
import sys
import threading

from . import load

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

OPTION_FLAGS = (("encoding", "--encoding"), ("errors", "--errors"), ("map_location", "--map-location"))


def options_text(opts):
    """`--encoding latin1 --errors replace --map-location cpu` in that fixed order, or `-`."""
    words = []
    for key, flag in OPTION_FLAGS:
        if opts.get(key) is not None:
            words += [flag, opts[key]]
    return " ".join(words) or "-"


def parse_options(text):
    opts = {}
    if text == "-":
        return opts
    words = text.split(" ")
    flags = {flag: key for key, flag in OPTION_FLAGS}
    if len(words) % 2:
        raise ValueError("options must be flag/value pairs: %r" % text)
    for flag, value in zip(words[::2], words[1::2]):
        opts[flags[flag]] = value
    return opts


def run_oracle(input_rel, opts):
    """('json', text) or ('error', code) for one input and option set."""
    path = os.path.join(REPO_ROOT, input_rel)
    try:
        text = load.dump(path, opts.get("encoding", "utf-8"), opts.get("errors", "strict"), opts.get("map_location"))
    except load.OracleError as e:
        return "error", e.code, str(e)
    return "json", text, None


def _write_if_changed(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, "r", encoding="ascii") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(text)


class ManifestWriter:
    """Collects cases, writes their expected files and the sorted manifest.

    finish() also deletes expected .json files under `expected_dir` that no case produced, so a
    rerun after removing a fixture leaves no stale expectations behind.
    """

    def __init__(self, tsv_rel, expected_dir_rel, header):
        self.tsv_rel = tsv_rel
        self.expected_dir_rel = expected_dir_rel
        self.header = header
        self.lines = []
        self.written = set()
        self.errors = []  # (input, options, message) of cases that ended in an error

    def add(self, input_rel, opts, expected_rel, allow_other=True):
        """Run the oracle on one case; returns ('json'|'error', text-or-code)."""
        kind, value, message = run_oracle(input_rel, opts)
        if kind == "json":
            _write_if_changed(os.path.join(REPO_ROOT, expected_rel), value + "\n")
            self.written.add(os.path.normpath(expected_rel))
            expected = expected_rel
        else:
            expected = "error:" + value
            self.errors.append((input_rel, options_text(opts), message))
            if value == "other" and not allow_other:
                raise RuntimeError("oracle failed on %s %s: %s" % (input_rel, options_text(opts), message))
        self.lines.append("%s\t%s\t%s" % (input_rel, options_text(opts), expected))
        return kind, value

    def finish(self):
        lines = sorted(set(self.lines))
        text = "".join("# %s\n" % h for h in self.header) + "".join(line + "\n" for line in lines)
        _write_if_changed(os.path.join(REPO_ROOT, self.tsv_rel), text)
        root = os.path.join(REPO_ROOT, self.expected_dir_rel)
        for folder, _, files in os.walk(root):
            for name in files:
                rel = os.path.normpath(os.path.relpath(os.path.join(folder, name), REPO_ROOT))
                if name.endswith(".json") and rel not in self.written:
                    os.remove(os.path.join(folder, name))
        return len(lines)


def read_manifest(tsv):
    with open(tsv, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line and not line.startswith("#"):
                yield line


COMPUTED = "# computed: "


def computed_lines(tsv):
    """(input, options) of the lines whose expectation a generator computed instead of taking it
    from the oracle (torch 1.13 cannot load those inputs correctly). Each is named in a comment
    `# computed: <input><TAB><options><TAB><reason>`; rerunning the oracle on them proves nothing."""
    found = set()
    with open(tsv, encoding="utf-8") as f:
        for line in f:
            if line.startswith(COMPUTED):
                fields = line[len(COMPUTED):].rstrip("\n").split("\t")
                found.add((fields[0], fields[1]))
    return found


def check_line(line):
    """None when the oracle still agrees with a manifest line, else a description."""
    input_rel, opts_text, expected = line.split("\t")
    kind, value, message = run_oracle(input_rel, parse_options(opts_text))
    if expected.startswith("error:"):
        if kind == "error" and value == expected[len("error:"):]:
            return None
        return "%s %s: expected %s, oracle gives %s" % (input_rel, opts_text, expected,
                                                        "error:" + value if kind == "error" else "JSON")
    if kind == "error":
        return "%s %s: expected %s, oracle fails: %s" % (input_rel, opts_text, expected, message)
    with open(os.path.join(REPO_ROOT, expected), encoding="ascii") as f:
        if f.read() != value + "\n":
            return "%s %s: output differs from %s" % (input_rel, opts_text, expected)
    return None


def run_with_big_stack(fn, *args):
    """Run fn(*args) in a thread with a large C stack and recursion limit.

    The walks are iterative, but CPython's pickler and unpickler helpers and torch may still
    recurse on deeply nested values.
    """
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(512 * 1024 * 1024)
    result = {}

    def target():
        try:
            result["rc"] = fn(*args)
        except BaseException as e:  # re-raised in the caller's thread
            result["exc"] = e

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "exc" in result:
        raise result["exc"]
    return result.get("rc", 0)
