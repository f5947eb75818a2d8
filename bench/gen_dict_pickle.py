#!/usr/bin/env python3
"""Writes the benchmark pickle: a 1M-entry dict, pickle protocol 4 (stdlib only, deterministic).

    python3 bench/gen_dict_pickle.py [PATH] [--entries N]

Keys are str ("key_0000000" ...); values are tuples (int, float, str) such as
(i, i * 0.5, "v{i % 1000}"). Value strings repeat, but pickle does not share equal strings
that are separate objects, so every entry carries its own SHORT_BINUNICODE; the file is
therefore the same bytes for the same N on every run and every CPython 3.x with protocol 4.
Default PATH: build/bench/dict1m.pkl (never committed).
"""
import argparse
import hashlib
import os
import pickle
import sys


def make(n):
    return {f"key_{i:07d}": (i, i * 0.5, f"v{i % 1000}") for i in range(n)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default=os.path.join("build", "bench", "dict1m.pkl"))
    ap.add_argument("--entries", type=int, default=1_000_000)
    args = ap.parse_args()
    data = pickle.dumps(make(args.entries), protocol=4)
    os.makedirs(os.path.dirname(os.path.abspath(args.path)), exist_ok=True)
    tmp = args.path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.path)
    print(f"{args.path}: {args.entries} entries, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
