#!/usr/bin/env python3
"""Times CPython's C unpickler on the benchmark pickle (bench/run.sh), as bench_pickle does ptload.

    /usr/bin/python3 bench/bench_cpython.py [PATH] [--repeat N] [--once file|bytes] [--no-gc]

Modes (each timed run is checked: a dict of the expected size whose spot entries hold what
gen_dict_pickle.py wrote):
  file   pickle.load(open(PATH, "rb")): open, read and parse each run (ptload's file_source)
  bytes  pickle.loads(data) on bytes read once outside the clock (ptload's memory_source)
The clock covers the load only; dropping the result is timed separately ("teardown").
--once loads a single time and prints ru_maxrss; run it in a fresh process for peak memory.
--no-gc disables the cyclic garbage collector around each load (the default keeps it on, as
users get it; the 1M tuples it allocates trigger collections while loading).
"""
import argparse
import gc
import pickle
import resource
import statistics
import sys
import time


def fail(msg):
    print(f"bench_cpython: {msg}", file=sys.stderr)
    sys.exit(1)


def check_entry(d, keys, i):
    k = f"key_{i:07d}"
    if keys[i] != k:
        fail(f"entry {i}: wrong key {keys[i]!r}")
    v = d[k]
    want = (i, i * 0.5, f"v{i % 1000}")
    if type(v) is not tuple or v != want or type(v[1]) is not float:
        fail(f"entry {i}: {v!r} != {want!r}")


def check_quick(d, entries):
    if type(d) is not dict:
        fail(f"root is {type(d).__name__}, not dict")
    if len(d) != entries:
        fail(f"dict has {len(d)} entries, want {entries}")
    # keys in order are not indexable without a list; spot-check through iteration of a few
    it = iter(d)
    first = next(it)
    if first != "key_0000000":
        fail(f"first key {first!r}")
    for i in (0, 1, entries // 2, entries - 1):
        k = f"key_{i:07d}"
        if d.get(k) != (i, i * 0.5, f"v{i % 1000}"):
            fail(f"entry {i}: {d.get(k)!r}")


def check_full(d, entries):
    keys = list(d)
    for i in range(entries):
        check_entry(d, keys, i)


def load(mode, path, data):
    if mode == "bytes":
        return pickle.loads(data)
    with open(path, "rb") as f:
        return pickle.load(f)


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def maxrss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default="build/bench/dict1m.pkl")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--only", choices=("file", "bytes"))
    ap.add_argument("--once", choices=("file", "bytes"))
    ap.add_argument("--no-gc", action="store_true")
    args = ap.parse_args()

    if pickle.Unpickler.__module__ != "_pickle" or pickle.load.__module__ != "_pickle":
        fail("pickle.Unpickler is not the C unpickler (_pickle); refusing to time the Python one")
    gc_label = "nogc" if args.no_gc else "gc"

    if args.once:
        data = None
        if args.once == "bytes":
            with open(args.path, "rb") as f:
                data = f.read()
        before = maxrss_kb()
        if args.no_gc:
            gc.disable()
        t0 = time.perf_counter()
        d = load(args.once, args.path, data)
        t = time.perf_counter() - t0
        peak = maxrss_kb()
        check_quick(d, len(d))
        print(f"ONCE cpython-{args.once}-{gc_label} seconds={t:.4f} entries={len(d)} maxrss_before_kb={before} "
              f"maxrss_kb={peak}")
        return

    with open(args.path, "rb") as f:
        data = f.read()
    d = pickle.loads(data)  # warm-up, and the full check
    entries = len(d)
    check_quick(d, entries)
    check_full(d, entries)
    del d
    gc.collect()
    print(f"INFO python={sys.version.split()[0]} unpickler={pickle.Unpickler.__module__}.Unpickler "
          f"bytes={len(data)} entries={entries} gc={'off' if args.no_gc else 'on'}")

    for mode in ("bytes", "file"):
        if args.only and args.only != mode:
            continue
        load_s, free_s, user_s, sys_s = [], [], [], []
        for _ in range(args.repeat):
            gc.collect()
            if args.no_gc:
                gc.disable()
            u0, s0 = cpu_seconds()
            t0 = time.perf_counter()
            d = load(mode, args.path, data)
            load_s.append(time.perf_counter() - t0)
            u1, s1 = cpu_seconds()
            user_s.append(u1 - u0)
            sys_s.append(s1 - s0)
            check_quick(d, entries)
            t1 = time.perf_counter()
            del d
            free_s.append(time.perf_counter() - t1)
            if args.no_gc:
                gc.enable()
        print(f"RESULT cpython-{mode}-{gc_label} median={statistics.median(load_s):.4f} min={min(load_s):.4f} "
              f"max={max(load_s):.4f} n={args.repeat} user_median={statistics.median(user_s):.4f} "
              f"sys_median={statistics.median(sys_s):.4f} teardown_median={statistics.median(free_s):.4f}")
        print(f"SAMPLES cpython-{mode}-{gc_label} " + " ".join(f"{t:.4f}" for t in load_s), flush=True)


if __name__ == "__main__":
    main()
