#!/usr/bin/env python3
"""Reference output for ptload's differential tests, produced with real CPython/torch/numpy.

  /usr/bin/python3 tools/oracle.py json [--encoding utf-8|latin1|ascii|bytes] [--errors strict|replace]
                                        [--map-location LOC] FILE
      Print FILE's canonical JSON (docs/CANONICAL-JSON.md), normalized, on one line. On failure
      print `error:<code>` (ptload's error code names) and exit 3.

  /usr/bin/python3 tools/oracle.py check MANIFEST.tsv...
      Rerun every manifest line and report the ones whose expectation no longer holds.

LOC is a device string (`cpu`) or a remap `cuda:0=cpu,cuda:1=cpu`. Needs Debian's python3 with
python3-torch and python3-numpy; the first python3 on PATH may not have them.
"""

import argparse
import os
import sys

# The oracle package sits next to this script as tools/oracle/; keep the repository free of
# __pycache__ folders.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))



from oracle import load, manifest  # noqa: E402  (path set up above)


def cmd_json(args):
    try:
        text = load.dump(args.file, args.encoding, args.errors, args.map_location)
    except load.OracleError as e:
        print("error:" + e.code)
        print(str(e), file=sys.stderr)
        return 3
    sys.stdout.write(text + "\n")
    return 0


def cmd_check(args):
    bad = 0
    total = 0
    skipped = 0
    for tsv in args.manifests:
        computed = manifest.computed_lines(tsv)
        for line in manifest.read_manifest(tsv):
            if tuple(line.split("\t")[:2]) in computed:
                skipped += 1
                continue
            total += 1
            problem = manifest.check_line(line)
            if problem:
                bad += 1
                print("%s: %s" % (tsv, problem))
    print("%d of %d lines differ%s" % (bad, total, " (%d computed lines not rerun)" % skipped if skipped else ""),
          file=sys.stderr)
    return 1 if bad else 0


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("json", help="print the canonical JSON of a file")
    p.add_argument("--encoding", default="utf-8", choices=["utf-8", "latin1", "ascii", "bytes"])
    p.add_argument("--errors", default="strict", choices=["strict", "replace"])
    p.add_argument("--map-location", default=None)
    p.add_argument("file")
    p.set_defaults(func=cmd_json)
    p = sub.add_parser("check", help="verify manifest lines against the oracle")
    p.add_argument("manifests", nargs="+")
    p.set_defaults(func=cmd_check)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(manifest.run_with_big_stack(main, sys.argv[1:]))
