#!/usr/bin/env bash
# tools/fuzz.sh: build and run ptload's libFuzzer targets (tests/fuzz/fuzz_*.cpp).
#
#   tools/fuzz.sh --build               build the targets into build/fuzz only
#   tools/fuzz.sh --ci                  each target for PTLOAD_FUZZ_SECONDS (default 60) s, PTLOAD_JOBS
#                                       (default 2) side by side; fails on any crash, leak,
#                                       timeout, out-of-memory or failed check
#   tools/fuzz.sh --campaign SECONDS    a long run: each target for SECONDS, crashes saved and
#                                       fuzzing continued; prints executions, coverage and crashes
#                                       (one process restarts after a crash; PTLOAD_FUZZ_JOBS > 1
#                                       uses libFuzzer's -fork mode)
#   tools/fuzz.sh ... --targets load,zip   only these targets (default: every fuzz_*.cpp)
#
# Targets (tests/fuzz/drive.hpp says what each does): load (torch.load of any format, then every
# walk of the document), pickle, zip (read_zip and every entry), inflate and scan.
#
# Seeds are collected into build/fuzz/corpus/<target> from tests/fixtures and, when present,
# ../shared/corpus (or PTLOAD_FUZZ_SEEDS, a folder); what the fuzzer finds is kept there between
# runs. Crashes go to build/fuzz/artifacts/<target>/; a fixed one is committed under
# tests/fuzz/regressions/<target>/ with a name that says what it was, and ptload_tests replays it.
#
# The targets are built with clang -fsanitize=fuzzer,address,undefined and exceptions on: an
# exception escaping ptload (std::bad_alloc or std::length_error from a hostile size) terminates
# the process and libFuzzer reports it as a crash, which is what a -fno-exceptions build would do
# too. -rss_limit_mb also caps single allocations (libFuzzer's -malloc_limit_mb defaults to it),
# so an allocation sized by the file rather than by its bytes shows up as an out-of-memory crash.
# PTLOAD_FUZZ_JOBS sets the processes of a campaign (default 1); the fuzzers run under nice.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
me=tools/fuzz.sh
out=build/fuzz
cxx=${PTLOAD_FUZZ_CXX:-clang++}
ci_seconds=${PTLOAD_FUZZ_SECONDS:-60}
jobs=${PTLOAD_FUZZ_JOBS:-1}
seeds_extra=${PTLOAD_FUZZ_SEEDS:-$root/../shared/corpus}
max_len=262144  # larger seeds are left out: mutating megabytes is slow and finds the same paths

say() { printf '%s: %s\n' "$me" "$*"; }
die() { say "$*" >&2; exit 2; }

mode=""
campaign_seconds=0
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --build) mode=build ;;
    --ci) mode=ci ;;
    --campaign) mode=campaign; shift; campaign_seconds=${1:-}
      case $campaign_seconds in ''|*[!0-9]*) die "--campaign needs a number of seconds" ;; esac ;;
    --targets) shift; IFS=, read -r -a targets <<<"${1:-}" ;;
    --targets=*) IFS=, read -r -a targets <<<"${1#--targets=}" ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done
[ -n "$mode" ] || die "say --build, --ci or --campaign SECONDS (try --help)"
command -v "$cxx" >/dev/null 2>&1 || die "$cxx not found (libFuzzer needs clang)"

if [ "${#targets[@]}" -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cpp; do
    t=${f#tests/fuzz/fuzz_}
    targets+=("${t%.cpp}")
  done
fi
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/fuzz_$t.cpp" ] || die "no target '$t' (tests/fuzz/fuzz_$t.cpp)"
done

# ------------------------------------------------------------------------------------------------
# Build: one executable per target, rebuilt when a header or the target changed.
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(ccache)
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=all -Wall -Wextra -Wpedantic -Iinclude)
mkdir -p "$out"
# The default loaders are compiled once, into loaders.o, and every target links them
# (PTLOAD_SEPARATE_COMPILATION): each target then compiles only its own driver. The loaders and
# the drivers compile side by side, PTLOAD_JOBS at a time (default 2, as tools/test.sh builds);
# each object is rebuilt when a header or its source changed, each target when an object did.
loaders=$out/loaders.o
stale() {  # stale OBJECT PATH...: the object is missing or older than a file under the paths
  [ ! -f "$1" ] || [ -n "$(find "${@:2}" -name '*.[ch]pp' -newer "$1" -print -quit)" ]
}
compile() {  # compile OBJECT SOURCE [extra flags...]
  say "building $1"
  nice -n 10 "${launcher[@]}" "$cxx" "${flags[@]}" "${@:3}" -c "$2" -o "$1"
}
build_jobs=${PTLOAD_JOBS:-2}
rm -f "$out"/failed-*
queue() {  # queue NAME COMMAND...: runs it in the background once fewer than build_jobs run
  while [ "$(jobs -rp | wc -l)" -ge "$build_jobs" ]; do wait -n; done
  { "${@:2}" || touch "$out/failed-$1"; } &
}
stale "$loaders" include tests/implementation.cpp && queue loaders compile "$loaders" tests/implementation.cpp
for t in "${targets[@]}"; do
  obj=$out/fuzz_$t.o
  stale "$obj" include tests/fuzz/drive.hpp "tests/fuzz/fuzz_$t.cpp" && queue "$t" compile "$obj" "tests/fuzz/fuzz_$t.cpp" -DPTLOAD_SEPARATE_COMPILATION=1
done
wait
if compgen -G "$out/failed-*" >/dev/null; then
  die "building $(cd "$out" && echo failed-* | sed 's/failed-//g') failed (is libclang-rt-dev for $cxx installed?)"
fi
link() {  # link TARGET
  say "linking $out/fuzz_$1"
  "$cxx" "${flags[@]}" "$out/fuzz_$1.o" "$loaders" -o "$out/fuzz_$1"
}
for t in "${targets[@]}"; do
  exe=$out/fuzz_$t
  if [ ! -x "$exe" ] || [ "$out/fuzz_$t.o" -nt "$exe" ] || [ "$loaders" -nt "$exe" ]; then
    queue "$t" link "$t"
  fi
done
wait
if compgen -G "$out/failed-*" >/dev/null; then
  die "linking $(cd "$out" && echo failed-* | sed 's/failed-//g') failed"
fi
[ "$mode" = build ] && exit 0

# ------------------------------------------------------------------------------------------------
# Seeds. Copied (never linked: libFuzzer writes into the folder) under content hashes, so a
# rerun adds nothing twice.
add_seeds() {  # add_seeds DIR FILE...
  local dir=$1 f
  shift
  for f in "$@"; do
    [ -f "$f" ] || continue
    [ "$(stat -c %s "$f")" -le "$max_len" ] || continue
    cp "$f" "$dir/seed-$(sha1sum "$f" | cut -c1-16)"
  done
}
extra_files() {  # files of the extra seed folder matching a find expression
  [ -d "$seeds_extra" ] || return 0
  find "$seeds_extra" -type f ! -name '*.md' "$@" -print
}
collect_seeds() {
  local t=$1 dir=$out/corpus/$1
  mkdir -p "$dir"
  case $t in
    load|scan)
      add_seeds "$dir" tests/fixtures/torch/* tests/fixtures/pickle/* tests/fixtures/zip/*.zip
      mapfile -t extra < <(extra_files)
      add_seeds "$dir" "${extra[@]}" ;;
    pickle)
      add_seeds "$dir" tests/fixtures/pickle/* tests/fixtures/torch/*legacy* tests/fixtures/torch/*.pkl
      mapfile -t extra < <(extra_files -path '*malicious*')
      add_seeds "$dir" "${extra[@]}"
      # the data.pkl records of zip checkpoints
      python3 - "$dir" tests/fixtures/torch/*zip*.pt <<'EOF'
import hashlib, sys, zipfile
for path in sys.argv[2:]:
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.endswith('.pkl'):
                    data = z.read(name)
                    open(f"{sys.argv[1]}/seed-{hashlib.sha1(data).hexdigest()[:16]}", 'wb').write(data)
    except Exception:
        pass
EOF
      ;;
    zip)
      add_seeds "$dir" tests/fixtures/zip/*.zip tests/fixtures/torch/*zip*.pt tests/fixtures/torch/torchscript_*.pt ;;
    inflate)
      # two little-endian bytes of output size, then the raw DEFLATE stream (see drive_inflate)
      python3 - "$dir" tests/fixtures/zip/inflate/*.deflate tests/fixtures/pickle/values_p2.pkl <<'EOF'
import hashlib, sys, zlib
def emit(raw, size):
    if size > 0xFFFF:
        return
    data = bytes([size & 0xFF, size >> 8]) + raw
    open(f"{sys.argv[1]}/seed-{hashlib.sha1(data).hexdigest()[:16]}", 'wb').write(data)
for path in sys.argv[2:]:
    blob = open(path, 'rb').read()
    if path.endswith('.deflate'):
        try:
            plain = zlib.decompressobj(-15).decompress(blob)
        except zlib.error:
            continue
        emit(blob, len(plain))
    else:
        for level in (0, 1, 6, 9):
            for strategy in (zlib.Z_DEFAULT_STRATEGY, zlib.Z_FIXED, zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE):
                c = zlib.compressobj(level, zlib.DEFLATED, -15, 9, strategy)
                emit(c.compress(blob) + c.flush(), len(blob))
EOF
      ;;
    *)
      add_seeds "$dir" tests/fixtures/torch/* tests/fixtures/pickle/* ;;
  esac
}

# ------------------------------------------------------------------------------------------------
# Runs
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
common=(-rss_limit_mb=2048 -timeout=10 -max_len=$max_len -dict=tests/fuzz/ptload.dict -print_final_stats=1)

# prepare TARGET: its seeds collected; sets art (its artifact folder) and log.
prepare() {
  collect_seeds "$1"
  art=$out/artifacts/$1
  mkdir -p "$art"
  log=$out/fuzz_$1.log
}

failed=()
summary=()
if [ "$mode" = ci ]; then
  # One process per target, PTLOAD_JOBS (build_jobs) of them side by side; then the summary.
  for t in "${targets[@]}"; do
    prepare "$t"
    say "fuzz_$t for ${ci_seconds}s (log: $log)"
    while [ "$(jobs -rp | wc -l)" -ge "$build_jobs" ]; do wait -n; done
    { nice -n 10 "$out/fuzz_$t" "${common[@]}" -max_total_time="$ci_seconds" -artifact_prefix="$art/" \
        "$out/corpus/$t" >"$log" 2>&1
      echo $? >"$log.status"; } &
  done
  wait
  for t in "${targets[@]}"; do
    log=$out/fuzz_$t.log
    status=$(cat "$log.status")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
    summary+=("fuzz_$t: ${execs:-?} executions, ${cov:-no coverage line}, exit $status")
    if [ "$status" != 0 ]; then
      failed+=("$t")
      grep -E 'ERROR|SUMMARY|runtime error|check failed|Test unit written' "$log" | head -20 >&2
      say "fuzz_$t failed; replay with: $out/fuzz_$t <artifact> (full log: $log)" >&2
    fi
  done
fi
# A campaign: one target after another, each with PTLOAD_FUZZ_JOBS processes.
if [ "$mode" = campaign ]; then
  for t in "${targets[@]}"; do
    prepare "$t"
    say "campaign: fuzz_$t for ${campaign_seconds}s, $jobs process(es) (log: $log)"
    before=$(find "$art" -type f | wc -l)
    if [ "$jobs" -gt 1 ]; then
      # fork mode: crashes are saved and the jobs go on.
      nice -n 10 "$out/fuzz_$t" "${common[@]}" -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 \
        -ignore_ooms=1 -max_total_time="$campaign_seconds" -artifact_prefix="$art/" "$out/corpus/$t" >"$log" 2>&1
      status=$?
      # status lines: "#EXECS: cov: C ft: F corp: N exec/s E oom/timeout/crash: a/b/c ..."
      last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
      execs=$(printf '%s' "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
      cov=$(printf '%s' "$last" | grep -o 'cov: [0-9]* ft: [0-9]*')
    else
      # One process is several times faster without fork mode's job restarts; a crash ends a
      # run, so the time left goes to a new one (the corpus carries over).
      left=$campaign_seconds
      execs=0
      : >"$log"
      while [ "$left" -gt 0 ]; do
        started=$(date +%s)
        nice -n 10 "$out/fuzz_$t" "${common[@]}" -max_total_time="$left" -artifact_prefix="$art/" \
          "$out/corpus/$t" >"$log.run" 2>&1
        status=$?
        cat "$log.run" >>"$log"
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log.run" | tail -1)
        execs=$((execs + ${n:-0}))
        spent=$(($(date +%s) - started))
        left=$((left - (spent > 0 ? spent : 1)))
        [ "$status" = 0 ] && break
      done
      rm -f "$log.run"
      cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
    fi
    after=$(find "$art" -type f | wc -l)
    summary+=("fuzz_$t: ${execs:-?} executions, ${cov:-no coverage line}, $((after - before)) new crash/leak/timeout/oom inputs in $art/")
    [ "$after" -gt "$before" ] && failed+=("$t")
  done
fi

say "summary"
for line in "${summary[@]}"; do printf '  %s\n' "$line"; done
if [ "${#failed[@]}" -gt 0 ]; then
  say "crashes in: ${failed[*]}"
  exit 1
fi
exit 0
