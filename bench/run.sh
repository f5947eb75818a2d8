#!/usr/bin/env bash
# bench/run.sh: the numbers in docs/BENCHMARKS.md. Builds bench/bench_pickle.cpp (-O2), writes
# the 1M-entry dict pickle, times ptload and CPython's C unpickler on it in the same run, measures
# each one's peak RSS in fresh processes, and prints a markdown report on stdout.
#
#     bench/run.sh                       # defaults below
#     REPEAT=9 ROUNDS=3 bench/run.sh     # more samples on a noisy machine
#
# Environment: CXX (g++), CXXFLAGS (-O2 -DNDEBUG), PYTHON (/usr/bin/python3), REPEAT (loads per
# process, 7), ROUNDS (ptload/CPython rounds, alternated so both see the same machine, 3),
# RSS_RUNS (fresh processes per peak-RSS figure, 3), BUILD (build/bench).
set -euo pipefail
cd "$(dirname "$0")/.."

CXX=${CXX:-g++}
CXXFLAGS=${CXXFLAGS:-"-O2 -DNDEBUG"}
PYTHON=${PYTHON:-/usr/bin/python3}
REPEAT=${REPEAT:-7}
ROUNDS=${ROUNDS:-3}
RSS_RUNS=${RSS_RUNS:-3}
BUILD=${BUILD:-build/bench}
PKL=$BUILD/dict1m.pkl
BIN=$BUILD/bench_pickle
LOG=$BUILD/run.log

if [[ ! -x /usr/bin/time ]]; then
  echo "bench/run.sh: /usr/bin/time is missing (Debian: apt-get install time)" >&2
  exit 1
fi
mkdir -p "$BUILD"
: >"$LOG"
note() { echo "$*" >&2; }

note "building $BIN ($CXX -std=c++17 $CXXFLAGS)"
# shellcheck disable=SC2086
"$CXX" -std=c++17 $CXXFLAGS -Wall -Wextra -Wpedantic -Iinclude bench/bench_pickle.cpp -o "$BIN"

note "writing $PKL"
"$PYTHON" bench/gen_dict_pickle.py "$PKL" 2>>"$LOG"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# Timing: ROUNDS alternations of one ptload process and one CPython process (gc on and off).
for ((r = 1; r <= ROUNDS; r++)); do
  note "round $r/$ROUNDS: ptload"
  "$BIN" "$PKL" --repeat "$REPEAT" | tee -a "$LOG" >&2
  note "round $r/$ROUNDS: CPython"
  "$PYTHON" bench/bench_cpython.py "$PKL" --repeat "$REPEAT" | tee -a "$LOG" >&2
  "$PYTHON" bench/bench_cpython.py "$PKL" --repeat "$REPEAT" --no-gc | tee -a "$LOG" >&2
done

# Peak RSS: one load in a fresh process, as /usr/bin/time reports it (kilobytes).
peak() {  # label command...
  local label=$1
  shift
  for ((i = 1; i <= RSS_RUNS; i++)); do
    /usr/bin/time -f "%M" -o "$BUILD/time.out" "$@" >>"$LOG"
    echo "PEAK $label $(tail -n 1 "$BUILD/time.out")" >>"$LOG"
  done
}
note "peak RSS"
peak ptload-memory "$BIN" "$PKL" --once memory
peak ptload-file "$BIN" "$PKL" --once file
peak cpython-bytes-gc "$PYTHON" bench/bench_cpython.py "$PKL" --once bytes
peak cpython-file-gc "$PYTHON" bench/bench_cpython.py "$PKL" --once file
peak cpython-file-nogc "$PYTHON" bench/bench_cpython.py "$PKL" --once file --no-gc
# What a process holds before loading anything (the interpreter, or the C++ runtime).
/usr/bin/time -f "%M" -o "$BUILD/time.out" "$BIN" --help >/dev/null
echo "BASELINE ptload $(tail -n 1 "$BUILD/time.out")" >>"$LOG"
/usr/bin/time -f "%M" -o "$BUILD/time.out" "$PYTHON" -c "import pickle"
echo "BASELINE cpython $(tail -n 1 "$BUILD/time.out")" >>"$LOG"

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The report.
BENCH_CXX_VERSION=$("$CXX" --version | head -n 1)
BENCH_CXXFLAGS="-std=c++17 $CXXFLAGS"
BENCH_PY_VERSION="$("$PYTHON" -c 'import sys; print(sys.version.split()[0])') ($PYTHON)"
BENCH_CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
BENCH_NPROC=$(nproc)
BENCH_KERNEL=$(uname -sr)
BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
BENCH_LOAD="$load_before -> $load_after"
BENCH_PKL_BYTES=$(stat -c %s "$PKL")
export BENCH_CXX_VERSION BENCH_CXXFLAGS BENCH_PY_VERSION BENCH_CPU BENCH_NPROC BENCH_KERNEL BENCH_DATE BENCH_LOAD \
  BENCH_PKL_BYTES
export BENCH_REPEAT="$REPEAT" BENCH_ROUNDS="$ROUNDS" BENCH_RSS_RUNS="$RSS_RUNS"
"$PYTHON" - "$LOG" <<'PY'
import os, re, statistics, sys

samples, cpu, peaks, base = {}, {}, {}, {}
for line in open(sys.argv[1]):
    w = line.split()
    if not w:
        continue
    if w[0] == "SAMPLES":
        samples.setdefault(w[1], []).extend(float(x) for x in w[2:])
    elif w[0] == "RESULT":
        kv = dict(x.split("=", 1) for x in w[2:])
        c = cpu.setdefault(w[1], {"user": [], "sys": []})
        c["user"].append(float(kv["user_median"]))
        c["sys"].append(float(kv["sys_median"]))
    elif w[0] == "PEAK":
        peaks.setdefault(w[1], []).append(int(w[2]))
    elif w[0] == "BASELINE":
        base[w[1]] = int(w[2])

e = os.environ
rows = [
    ("ptload-memory", "ptload, `memory_source` (file read once, outside the clock)", "ptload-memory"),
    ("ptload-file", "ptload, `file_source` (open + read + parse)", "ptload-file"),
    ("cpython-bytes-gc", "CPython `pickle.loads(bytes)`", "cpython-bytes-gc"),
    ("cpython-file-gc", "CPython `pickle.load(f)`", "cpython-file-gc"),
    ("cpython-bytes-nogc", "CPython `pickle.loads(bytes)`, gc disabled", None),
    ("cpython-file-nogc", "CPython `pickle.load(f)`, gc disabled", "cpython-file-nogc"),
]
mb = lambda kb: kb / 1024
print(f"- Machine: {e['BENCH_NPROC']} CPUs, {e['BENCH_CPU']}; {e['BENCH_KERNEL']}")
print(f"- Compiler: {e['BENCH_CXX_VERSION']}, `{e['BENCH_CXXFLAGS']}`; Python {e['BENCH_PY_VERSION']}, C `_pickle`")
print(f"- Date: {e['BENCH_DATE']}; load average (1/5/15 min) before -> after: {e['BENCH_LOAD']}")
print(f"- Input: {e['BENCH_PKL_BYTES']} bytes, 1,000,000-entry dict, protocol 4; "
      f"{e['BENCH_ROUNDS']} rounds x {e['BENCH_REPEAT']} loads per row; peak RSS = median of "
      f"{e['BENCH_RSS_RUNS']} fresh processes (`/usr/bin/time -f %M`)")
print()
print("| what | median s | min s | CPU user s | CPU sys s | peak RSS MiB |")
print("|---|---:|---:|---:|---:|---:|")
for key, label, peak_key in rows:
    t = samples.get(key)
    if not t:
        continue
    c = cpu[key]
    p = f"{mb(statistics.median(peaks[peak_key])):.0f}" if peak_key in peaks else "-"
    print(f"| {label} | {statistics.median(t):.3f} | {min(t):.3f} | {statistics.median(c['user']):.3f} | "
          f"{statistics.median(c['sys']):.3f} | {p} |")
print()
print(f"Baseline RSS before any load: ptload process {mb(base.get('ptload', 0)):.1f} MiB, "
      f"CPython interpreter {mb(base.get('cpython', 0)):.1f} MiB.")
med = lambda k: statistics.median(samples[k])
pk = lambda k: statistics.median(peaks[k])
print()
print(f"Speed-up, median: memory_source vs pickle.loads {med('cpython-bytes-gc') / med('ptload-memory'):.2f}x; "
      f"file_source vs pickle.load {med('cpython-file-gc') / med('ptload-file'):.2f}x "
      f"(vs gc disabled: {med('cpython-file-nogc') / med('ptload-file'):.2f}x). Target: at least 4x.")
print()
print(f"Peak RSS: ptload file_source {mb(pk('ptload-file')):.0f} MiB vs pickle.load {mb(pk('cpython-file-gc')):.0f} MiB "
      f"({pk('ptload-file') / pk('cpython-file-gc'):.2f}x); memory_source {mb(pk('ptload-memory')):.0f} MiB vs "
      f"pickle.loads {mb(pk('cpython-bytes-gc')):.0f} MiB ({pk('ptload-memory') / pk('cpython-bytes-gc'):.2f}x). "
      f"Target: at most 0.6x.")
PY
