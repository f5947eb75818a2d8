#!/usr/bin/env bash
# bench/checkpoints.sh: ptload loading torch checkpoints, against reading the file and against
# torch.load. Builds bench/bench_checkpoint.cpp, writes the inputs once (bench/gen_checkpoints.py),
# times every mode on every input with a warm page cache, measures each mode's peak RSS in a
# fresh process, and prints a markdown report on stdout (progress goes to stderr).
#
#     bench/checkpoints.sh                         # full size: ~2.1 GiB of inputs + a 5 GiB sparse file
#     SCALE=0.01 REPEAT=1 bench/checkpoints.sh     # a quick trial (~25 MiB of inputs)
#
# Inputs (build/bench-ckpt/scale-$SCALE/, kept between runs; delete the folder to rewrite them):
#   ckpt_1g_zip.pt, ckpt_1g_legacy.pt   64 float32 tensors, 1 GiB, zip and legacy format
#   ckpt_100k_zip.pt                    100,000 tensors of 16 float32, zip format
#   ckpt_5g_sparse.pt                   5 x 1 GiB float32 in a zip64 archive over 4 GiB whose data
#                                       are holes (see gen_checkpoints.py); only lazy-list and
#                                       mapped are run on it
# Modes: floor, floor-huge, eager, lazy-list, lazy-touch, mapped (bench_checkpoint.cpp says what
# each does and what its clock covers), torch.load (bench/bench_torch.py) and libtorch (LibTorch's
# torch::pickle_load, bench/bench_libtorch.cpp; built and run where libtorch-dev is installed).
#
# Timing: before each input the file is read once (cat > /dev/null) so the page cache holds it;
# then in each of REPEAT rounds every mode runs one process, which makes one untimed warm-up load
# and RUNS timed ones (rounds rather than one mode after another, so that a slow spell of the
# host falls on every mode alike); the report gives the median and minimum over all REPEAT x
# RUNS samples. Peak RSS: RSS_RUNS
# fresh processes making a single load (no warm-up), /usr/bin/time -f %M, median; the time of
# that single load is reported too ("fresh s").
#
# Warm medians vs fresh s: within one process glibc malloc raises its mmap threshold after the
# warm-up load frees its big blocks, and may then hand the same, already faulted-in memory to the
# next load. The medians of eager and torch.load then leave out most page-fault cost; "fresh s"
# pays all of it, as a program loading a checkpoint once does. MALLOC_MMAP_THRESHOLD_=131072 in
# the environment pins the threshold (for both ptload and torch), so every timed load pays too.
#
# Environment: SCALE (1, passed to the generator), RUNS (2), REPEAT (3), RSS_RUNS (1), CXX (g++),
# CXXFLAGS (-O2 -DNDEBUG), PYTHON (/usr/bin/python3, needs torch), OUT (build/bench-ckpt).
set -euo pipefail
cd "$(dirname "$0")/.."

CXX=${CXX:-g++}
CXXFLAGS=${CXXFLAGS:-"-O2 -DNDEBUG"}
PYTHON=${PYTHON:-/usr/bin/python3}
SCALE=${SCALE:-1}
RUNS=${RUNS:-2}
REPEAT=${REPEAT:-3}
RSS_RUNS=${RSS_RUNS:-1}
OUT=${OUT:-build/bench-ckpt}
DATA=$OUT/scale-$SCALE
BIN=$OUT/bench_checkpoint
LOG=$OUT/checkpoints-scale-$SCALE.log
TIME_OUT=$OUT/time.out

note() { echo "checkpoints.sh: $*" >&2; }
if [[ ! -x /usr/bin/time ]]; then
  note "/usr/bin/time is missing (Debian: apt-get install time)"
  exit 1
fi
mkdir -p "$OUT"
: >"$LOG"

# Build (skipped when the binary is newer than its source and every header).
if [[ ! -x $BIN ]] || [[ -n $(find bench/bench_checkpoint.cpp include -newer "$BIN" -print -quit) ]]; then
  note "building $BIN ($CXX -std=c++17 $CXXFLAGS -Iinclude)"
  # shellcheck disable=SC2086
  "$CXX" -std=c++17 $CXXFLAGS -Wall -Wextra -Iinclude bench/bench_checkpoint.cpp -o "$BIN"
fi

# LibTorch's torch::pickle_load, where Debian's libtorch-dev is installed.
LT_BIN=$OUT/bench_libtorch
LT_INCLUDE=/usr/include/torch/csrc/api/include
if [[ -f $LT_INCLUDE/torch/serialize.h ]]; then
  if [[ ! -x $LT_BIN ]] || [[ bench/bench_libtorch.cpp -nt $LT_BIN ]]; then
    note "building $LT_BIN (LibTorch)"
    # shellcheck disable=SC2086
    "$CXX" -std=c++17 $CXXFLAGS -I"$LT_INCLUDE" bench/bench_libtorch.cpp -o "$LT_BIN" -ltorch -ltorch_cpu -lc10
  fi
else
  note "no LibTorch headers ($LT_INCLUDE): the libtorch rows are skipped (Debian: apt-get install libtorch-dev)"
  LT_BIN=
fi

# Inputs (the generator keeps files already there).
need_kib=$(awk -v s="$SCALE" 'BEGIN { printf "%d", (2.2 * s * 1048576) + 65536 }')
have_kib=$(df -Pk "$OUT" | awk 'NR == 2 { print $4 }')
missing=0
for f in ckpt_1g_zip.pt ckpt_1g_legacy.pt ckpt_100k_zip.pt ckpt_5g_sparse.pt; do
  [[ -e $DATA/$f ]] || missing=1
done
if ((missing)); then
  if ((have_kib < need_kib)); then
    note "not enough disk under $OUT: $have_kib KiB free, want $need_kib KiB for SCALE=$SCALE"
    exit 1
  fi
  note "writing the inputs into $DATA (SCALE=$SCALE)"
  SCALE=$SCALE "$PYTHON" bench/gen_checkpoints.py "$DATA"
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

modes_for() {  # input file -> the modes run on it
  case $(basename "$1") in
  *sparse*) echo "lazy-list mapped" ;;
  *) echo "floor floor-huge eager lazy-list lazy-touch mapped torch.load${LT_BIN:+ libtorch}" ;;
  esac
}
cmd_for() {  # mode file -> the command of one process (more arguments follow)
  case $1 in
  torch.load) echo "$PYTHON bench/bench_torch.py $2" ;;
  libtorch) echo "$LT_BIN $2" ;;
  *) echo "$BIN $1 $2" ;;
  esac
}

for name in ckpt_1g_zip.pt ckpt_1g_legacy.pt ckpt_100k_zip.pt ckpt_5g_sparse.pt; do
  file=$DATA/$name
  [[ -e $file ]] || { note "no $file: skipped"; continue; }
  echo "INPUT $file $(stat -c '%s %b' "$file")" >>"$LOG"
  note "$file: into the page cache"
  cat "$file" >/dev/null
  modes=()
  for mode in $(modes_for "$file"); do
    read -r -a cmd <<<"$(cmd_for "$mode" "$file")"
    if [[ $mode == libtorch ]] && ! "${cmd[@]}" >/dev/null 2>"$OUT/libtorch.err"; then
      echo "UNREADABLE $mode $file $(head -n 1 "$OUT/libtorch.err")" >>"$LOG"
      note "$file: LibTorch does not read it: $(head -n 1 "$OUT/libtorch.err")"
      continue
    fi
    modes+=("$mode")
  done
  # Round by round, every mode once per round: the host's slow spells then fall on all modes
  # alike rather than on whichever ran during one.
  for ((r = 1; r <= REPEAT; r++)); do
    for mode in "${modes[@]}"; do
      read -r -a cmd <<<"$(cmd_for "$mode" "$file")"
      note "$file: $mode, round $r/$REPEAT"
      if [[ $mode == torch.load ]]; then
        "${cmd[@]}" --repeat "$RUNS" | sed 's/^/SAMPLE /' | tee -a "$LOG" >&2
      else
        "${cmd[@]}" --warmup 1 --repeat "$RUNS" | sed 's/^/SAMPLE /' | tee -a "$LOG" >&2
      fi
    done
  done
  for mode in "${modes[@]}"; do
    read -r -a cmd <<<"$(cmd_for "$mode" "$file")"
    for ((i = 1; i <= RSS_RUNS; i++)); do
      extra=()
      [[ $mode == torch.load ]] && extra=(--no-warmup)
      /usr/bin/time -f "%M" -o "$TIME_OUT" "${cmd[@]}" "${extra[@]}" | sed 's/^/FRESH /' >>"$LOG"
      echo "PEAK $mode $file $(tail -n 1 "$TIME_OUT")" >>"$LOG"
    done
  done
done

# What a process holds before it loads anything.
/usr/bin/time -f "%M" -o "$TIME_OUT" "$BIN" --help >/dev/null
echo "BASELINE bench_checkpoint $(tail -n 1 "$TIME_OUT")" >>"$LOG"
/usr/bin/time -f "%M" -o "$TIME_OUT" "$PYTHON" -c "import torch"
echo "BASELINE python+torch $(tail -n 1 "$TIME_OUT")" >>"$LOG"
if [[ -n $LT_BIN ]]; then
  /usr/bin/time -f "%M" -o "$TIME_OUT" "$LT_BIN" --help >/dev/null
  echo "BASELINE bench_libtorch $(tail -n 1 "$TIME_OUT")" >>"$LOG"
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

BENCH_CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
BENCH_NPROC=$(nproc)
BENCH_KERNEL=$(uname -r)
BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
BENCH_LOAD="$load_before -> $load_after"
BENCH_CXX="$("$CXX" --version | head -n 1), -std=c++17 $CXXFLAGS"
BENCH_TORCH=$("$PYTHON" -c 'import sys, torch; print(f"torch {torch.__version__}, Python {sys.version.split()[0]}")')
BENCH_MEM=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
BENCH_FS=$(df -PT "$DATA" | awk 'NR == 2 { print $2 }')
export BENCH_CPU BENCH_NPROC BENCH_KERNEL BENCH_DATE BENCH_LOAD BENCH_CXX BENCH_TORCH BENCH_MEM BENCH_FS
export BENCH_SCALE=$SCALE BENCH_RUNS=$RUNS BENCH_REPEAT=$REPEAT BENCH_RSS_RUNS=$RSS_RUNS
"$PYTHON" - "$LOG" <<'PY'
import os, statistics, sys

inputs, samples, fresh, peaks, base, info, unreadable = [], {}, {}, {}, {}, {}, []
for line in open(sys.argv[1]):
    w = line.split()
    if not w:
        continue
    if w[0] == "INPUT":
        inputs.append(w[1])
        info[w[1]] = (int(w[2]), int(w[3]) * 512)
    elif w[0] in ("SAMPLE", "FRESH"):
        mode, path, sec, rest = w[1], w[2], float(w[3]), w[4:]
        kv = dict(x.split("=", 1) for x in rest)
        (samples if w[0] == "SAMPLE" else fresh).setdefault((path, mode), []).append((sec, kv))
    elif w[0] == "PEAK":
        peaks.setdefault((w[2], w[1]), []).append(int(w[3]))
    elif w[0] == "UNREADABLE":
        unreadable.append((w[1], w[2], " ".join(w[3:])))
    elif w[0] == "BASELINE":
        base[w[1]] = int(w[2])

e = os.environ
print(f"- Machine: {e['BENCH_NPROC']} CPUs, {e['BENCH_CPU']}; {e['BENCH_MEM']} RAM; Linux {e['BENCH_KERNEL']}; "
      f"inputs on {e['BENCH_FS']}")
print(f"- {e['BENCH_CXX']}; {e['BENCH_TORCH']}")
print(f"- Date: {e['BENCH_DATE']}; load average (1/5/15 min) before -> after: {e['BENCH_LOAD']}")
print(f"- SCALE={e['BENCH_SCALE']}; page cache warm (each file read once before its runs); "
      f"{e['BENCH_REPEAT']} round(s), each running every mode once, x {e['BENCH_RUNS']} timed loads per process after one untimed warm-up load; "
      f"peak RSS and fresh s: a single load in a fresh process (`/usr/bin/time -f %M`), "
      f"median of {e['BENCH_RSS_RUNS']}")
print()
print("| input | mode | median s | min s | fresh s | peak RSS MiB | notes |")
print("|---|---|---:|---:|---:|---:|---|")
problems = []
for path in inputs:
    name = os.path.basename(path)
    sums = {}
    order = ["floor", "floor-huge", "eager", "lazy-list", "lazy-touch", "mapped", "torch.load", "libtorch"]
    for mode in order:
        runs = samples.get((path, mode))
        if not runs:
            continue
        t = [s for s, _ in runs]
        fr = fresh.get((path, mode), [])
        fs = f"{statistics.median([s for s, _ in fr]):.4f}" if fr else "-"
        pk = peaks.get((path, mode))
        pm = f"{statistics.median(pk) / 1024:.0f}" if pk else "-"
        kv = runs[0][1]
        notes = []
        if mode == "mapped" and "mapped" in kv:
            notes.append(f"{kv['mapped']}/{kv['tensors']} tensors in place")
        if mode not in ("floor", "floor-huge", "lazy-list"):
            for _, k in runs + fr:
                sums.setdefault(k["checksum"], set()).add(mode)
        print(f"| {name} | {mode} | {statistics.median(t):.4f} | {min(t):.4f} | {fs} | {pm} | {'; '.join(notes)} |")
    if len(sums) > 1:
        problems.append(f"{name}: data checksums differ between modes: {sums}")
print()
for path in inputs:
    size, alloc = info[path]
    print(f"- {os.path.basename(path)}: {size:,} bytes ({size / 2**30:.2f} GiB), {alloc / 2**20:.1f} MiB allocated on disk")
for mode, path, why in unreadable:
    print(f"- {mode} does not read {os.path.basename(path)}: {why}")
print(f"- Baseline RSS before any load: bench_checkpoint {base.get('bench_checkpoint', 0) / 1024:.1f} MiB, "
      f"python + import torch {base.get('python+torch', 0) / 1024:.1f} MiB"
      + (f", bench_libtorch {base['bench_libtorch'] / 1024:.1f} MiB" if "bench_libtorch" in base else ""))
print("- median s / min s are loads 2..N of one process: glibc malloc may reuse the memory the previous load "
      "freed, already faulted in, so eager and torch.load can skip most page-fault cost there; fresh s is one load "
      "in a new process and pays for every page (see the header of bench/checkpoints.sh)")
print("- Peak RSS counts file pages mapped and touched (mapped mode) as well as heap")
compared = "eager, lazy-touch, mapped, torch.load" + (" and libtorch" if any(m == "libtorch" for (_, m) in samples) else "")
print(f"- Data checksums (one byte per 4096 of every tensor) agree between {compared}"
      if not problems else "- CHECKSUM MISMATCH: " + "; ".join(problems))
PY
