#!/usr/bin/python3
"""bench/bench_torch.py: time torch.load on one checkpoint, for comparison with bench_checkpoint.

    /usr/bin/python3 bench/bench_torch.py FILE [--repeat N] [--no-warmup]

Each run times torch.load(FILE, map_location='cpu') in this process (time.perf_counter around
the call only) and prints `torch.load FILE SECONDS checksum=... tensors=... bytes=...`, the
format of bench_checkpoint. One untimed load comes first (--no-warmup skips it: for a peak-RSS
measurement of a single load in a fresh process). The checksum, taken after the clock, sums one
byte per 4096 of every tensor's data, as bench_checkpoint does.
"""
import argparse
import time

import torch


def tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from tensors(v)


def checksum(obj):
    total = count = nbytes = 0
    for t in tensors(obj):
        b = t.contiguous().view(-1).view(torch.uint8)
        total += int(b[::4096].sum())
        count += 1
        nbytes += b.numel()
    return total, count, nbytes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-warmup", action="store_true")
    args = ap.parse_args()
    if not args.no_warmup:
        torch.load(args.file, map_location="cpu")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        obj = torch.load(args.file, map_location="cpu")
        dt = time.perf_counter() - t0
        s, n, nb = checksum(obj)
        print(f"torch.load {args.file} {dt:.6f} checksum={s} tensors={n} bytes={nb}", flush=True)
        del obj


if __name__ == "__main__":
    main()
