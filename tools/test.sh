#!/usr/bin/env bash
# tools/test.sh: ptload's whole test matrix. Each leg builds in its own folder under build/ and
# runs the tests; the first failing leg stops the run.
#
#   tools/test.sh            all legs, then the live oracle check when torch is importable
#   tools/test.sh --quick    leg 1 only (gcc, C++17, -Werror)
#   tools/test.sh --only 4,6 just those legs
#   tools/test.sh --clean    remove build/ first
#
# Legs: 1 gcc C++17 -Werror, every header alone, the examples
#       2 armhf: 32-bit ARM, -fno-exceptions -fno-rtti, run under qemu-arm
#       3 clang C++20 -Werror with LLVM's libc++, ASan+UBSan; then each fuzz target for 15 s
#         (tools/fuzz.sh --ci)
#       4 s390x: big-endian, run under qemu-s390x
#       5 mingw-w64: Windows, built from single_include/ptload.hpp, run under wine
#       6 meson                          7 packaging (tools/package_test.sh)
# Legs 1-6 compile the loaders once (PTLOAD_SEPARATE_COMPILATION; the packaging leg's consumers
# build header-only, as most users do); legs 2, 4 and 5 are tools/cross_test.sh.
#
# Run as root on a machine that lacks a tool, it installs the Debian packages first.
# PTLOAD_JOBS overrides the parallelism (default 2: the machines this runs on have 2 cores).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
me=tools/test.sh
jobs=${PTLOAD_JOBS:-2}

leg_names=(
  ""
  "gcc C++17 -Werror"
  "armhf (32-bit) -fno-exceptions -fno-rtti, qemu"
  "clang C++20 -Werror, libc++, ASan+UBSan, fuzz targets"
  "s390x (big-endian), qemu"
  "mingw-w64 from the single header, wine"
  "meson"
  "packaging: tools/package_test.sh"
)
all_legs=(1 2 3 4 5 6 7)

legs=("${all_legs[@]}")
quick=0
clean=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; legs=(1) ;;
    --only) shift; IFS=, read -r -a legs <<<"${1:-}" ;;
    --only=*) IFS=, read -r -a legs <<<"${1#--only=}" ;;
    --clean) clean=1 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$me: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
for leg in "${legs[@]}"; do
  case $leg in [1-7]) ;; *) echo "$me: no leg '$leg' (legs are 1-7)" >&2; exit 2 ;; esac
done
run_oracle=0
[ "$quick" = 0 ] && [ "${#legs[@]}" = 7 ] && run_oracle=1

say() { printf '%s: %s\n' "$me" "$*"; }
# run CMD...: echo it, run it, and say how long it took when that was 10 s or more (where a
# leg's time goes: configuring, building, testing, fuzzing).
run() {
  local start=$SECONDS status=0
  printf '+ %s\n' "$*"
  "$@" || status=$?
  [ $((SECONDS - start)) -lt 10 ] || say "$((SECONDS - start))s: $*"
  return $status
}
have() { command -v "$1" >/dev/null 2>&1; }

# ------------------------------------------------------------------------------------------------
# Tools. Each leg needs a few; as root, install whatever is missing (one apt-get update at most).
wants() { local leg; for leg in "${legs[@]}"; do [ "$leg" = "$1" ] && return 0; done; return 1; }

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ] || ! have apt-get; then
    return 1
  fi
  if [ "$apt_updated" = 0 ]; then
    run env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
    apt_updated=1
  fi
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

missing=()
have g++ || missing+=(g++)
have cmake || missing+=(cmake)
have python3 || missing+=(python3)
[ -f /usr/include/doctest/doctest.h ] || [ -f /usr/local/include/doctest/doctest.h ] || missing+=(doctest-dev)
have ninja || missing+=(ninja-build)
if wants 3; then have clang++ || missing+=(clang); fi
if wants 3; then [ -f /usr/include/c++/v1/vector ] || [ -f /usr/lib/llvm-14/include/c++/v1/vector ] || missing+=(libc++-dev libc++abi-dev); fi
if wants 2; then have arm-linux-gnueabihf-g++ || missing+=(g++-arm-linux-gnueabihf); fi
if wants 4; then have s390x-linux-gnu-g++ || missing+=(g++-s390x-linux-gnu); fi
if wants 2 || wants 4; then have qemu-arm && have qemu-s390x || missing+=(qemu-user); fi
if wants 5; then have x86_64-w64-mingw32-g++ || missing+=(mingw-w64); have wine || missing+=(wine); fi
if wants 6 || wants 7; then have meson || missing+=(meson); fi
if wants 7; then have pkg-config || missing+=(pkg-config); fi
if [ "${#missing[@]}" -gt 0 ]; then
  say "missing packages: ${missing[*]}"
  apt_install "${missing[@]}" || say "could not install them (run as root, or install them yourself)"
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ptload-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
printf 'int main() { return 0; }\n' >"$scratch/probe.cpp"
# Does this compiler build and run a program with these sanitizers (the runtime is installed)?
sanitizer_works() {
  "$1" -fsanitize="$2" "$scratch/probe.cpp" -o "$scratch/probe" >/dev/null 2>&1 &&
    ASAN_OPTIONS=detect_leaks=0 "$scratch/probe" >/dev/null 2>&1
}

sanitize_cxx=g++
if wants 3 && have clang++; then
  if ! sanitizer_works clang++ address,undefined; then
    clang_major=$(clang++ -dumpversion 2>/dev/null | cut -d. -f1)
    [ -n "$clang_major" ] && apt_install "libclang-rt-$clang_major-dev" >/dev/null 2>&1
  fi
  sanitizer_works clang++ address,undefined && sanitize_cxx=clang++
fi

generator="Unix Makefiles"
have ninja && generator=Ninja
launcher=()
have ccache && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

version=$(sed -n 's/^#define PTLOAD_VERSION_\(MAJOR\|MINOR\|PATCH\) \{1,\}\([0-9]\{1,\}\).*/\2/p' \
  include/ptload/config.hpp | paste -sd. -)

if [ "$clean" = 1 ]; then
  run rm -rf build
fi
mkdir -p build

# ------------------------------------------------------------------------------------------------
# Building blocks

# cmake_build DIR [cmake args...]: configure (a fresh folder when the generator changed), build.
cmake_build() {
  local dir=$1
  shift
  if [ -f "$dir/CMakeCache.txt" ] && ! grep -qx "CMAKE_GENERATOR:INTERNAL=$generator" "$dir/CMakeCache.txt"; then
    rm -rf "$dir"
  fi
  run cmake -S . -B "$dir" -G "$generator" "${launcher[@]}" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "$@" &&
    run cmake --build "$dir" -j "$jobs"
}

run_ctest() {
  # In parallel: ptload_tests runs as several parts (tests/parts.txt) that ctest spreads out.
  (cd "$1" && run ctest --output-on-failure --no-tests=error -j "$jobs")
}

# cmake_leg NAME [cmake args...]: the usual leg: configure, build, ctest.
cmake_leg() {
  local dir=build/$1
  shift
  cmake_build "$dir" "$@" && run_ctest "$dir"
}

leg_1() {
  # The loaders at -O1 (PTLOAD_OPTIMIZE_LOADERS), which the stress tests then share instead of
  # compiling their own at -O2; the test files at -O0. -Werror then also sees the warnings gcc
  # gives only when it optimises.
  cmake_leg gcc-cxx17 -DCMAKE_CXX_COMPILER=g++ -DCMAKE_CXX_STANDARD=17 -DCMAKE_BUILD_TYPE=Debug \
    -DPTLOAD_WARNINGS_AS_ERRORS=ON -DPTLOAD_BUILD_EXAMPLES=ON -DPTLOAD_SEPARATE_COMPILATION=ON \
    -DPTLOAD_OPTIMIZE_LOADERS=ON
}

leg_2() {
  # The firmware shape: 32-bit, no exceptions, no RTTI (headers are compiled one by one in leg 1).
  run env PTLOAD_JOBS="$jobs" tools/cross_test.sh --armhf --no-exceptions
}

leg_3() {
  local leaks=1 libcxx=()
  # LeakSanitizer cannot run everywhere (under ptrace, in some containers): probe it first.
  if ! { "$sanitize_cxx" -fsanitize=address "$scratch/probe.cpp" -o "$scratch/lsan" >/dev/null 2>&1 &&
         ASAN_OPTIONS=detect_leaks=1 "$scratch/lsan" >/dev/null 2>&1; }; then
    leaks=0
    say "LeakSanitizer does not work here; running with detect_leaks=0"
  fi
  # clang builds against LLVM's libc++, as on Apple and Android (whose libc++ has no
  # std::from_chars for double before version 20); C++20 and -Werror, with the sanitizers.
  # The loaders, where the tests spend their time, at -O1 (PTLOAD_OPTIMIZE_LOADERS); the rest at
  # -O0, which compiles three times faster with the sanitizers (the suite runs 25 s longer).
  if [ "$sanitize_cxx" = clang++ ]; then
    libcxx=(-DCMAKE_CXX_FLAGS="-O0 -stdlib=libc++" -DCMAKE_EXE_LINKER_FLAGS=-stdlib=libc++)
  else
    libcxx=(-DCMAKE_CXX_FLAGS=-O0)
  fi
  say "sanitizer compiler: $sanitize_cxx"
  export ASAN_OPTIONS="detect_leaks=$leaks:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  say "ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS"
  # Debug keeps assert() on. Separate compilation, as in legs 1-5: each policy set's loaders are
  # compiled once, not in every test file.
  cmake_leg "sanitize-$sanitize_cxx" -DCMAKE_CXX_COMPILER="$sanitize_cxx" -DCMAKE_CXX_STANDARD=20 \
    -DCMAKE_BUILD_TYPE=Debug "${libcxx[@]}" -DPTLOAD_OPTIMIZE_LOADERS=ON \
    -DPTLOAD_SANITIZE=address,undefined -DPTLOAD_WARNINGS_AS_ERRORS=ON \
    -DPTLOAD_BUILD_HEADER_CHECK=OFF -DPTLOAD_SEPARATE_COMPILATION=ON
  local status=$?
  unset ASAN_OPTIONS UBSAN_OPTIONS
  [ "$status" = 0 ] || return $status
  # The fuzz targets for 15 s each (libFuzzer comes with clang's sanitizer runtime); longer
  # runs: PTLOAD_FUZZ_SECONDS, or tools/fuzz.sh --campaign.
  if [ "$sanitize_cxx" = clang++ ]; then
    run env PTLOAD_FUZZ_SECONDS="${PTLOAD_FUZZ_SECONDS:-15}" tools/fuzz.sh --ci
  else
    say "no clang with sanitizers: skipping tools/fuzz.sh --ci"
  fi
}

leg_4() {
  # Big-endian: files of both byte orders must load to the same values as on a little-endian host.
  run env PTLOAD_JOBS="$jobs" tools/cross_test.sh --s390x
}

leg_5() {
  # Windows, and the single header as a project that copies it in uses it.
  run python3 tools/amalgamate.py --check &&
    run env PTLOAD_JOBS="$jobs" tools/cross_test.sh --mingw --single-include
}

leg_6() {
  local dir=build/meson setup=(meson setup)
  [ -f "$dir/build.ninja" ] && setup+=(--reconfigure)  # --reconfigure also picks up new tests/*.cpp
  # Separate compilation and -O1 loaders, as leg 1 (the package leg's consumers build header-only).
  run "${setup[@]}" "$dir" --buildtype=debug -Dwerror=true -Dtests=enabled -Dseparate_compilation=true \
    -Doptimize_loaders=true &&
    run meson compile -C "$dir" -j "$jobs" &&
    run meson test -C "$dir" --print-errorlogs
}

leg_7() {
  # Every way of consuming ptload: install + find_package, add_subdirectory, FetchContent,
  # pkg-config, the single header, the CLI component, meson (pkg-config and subproject).
  run env PTLOAD_JOBS="$jobs" PTLOAD_GENERATOR="$generator" \
    PTLOAD_LAUNCHER="${launcher[*]#-DCMAKE_CXX_COMPILER_LAUNCHER=}" tools/package_test.sh
}

# ------------------------------------------------------------------------------------------------
# Run the legs, fail fast.
passed=0
failed=0
report=()
say "ptload $version; legs ${legs[*]}; -j$jobs; generator $generator${launcher:+; ccache}"
for leg in "${legs[@]}"; do
  name="[$leg/7] ${leg_names[$leg]}"
  printf '\n==================== %s ====================\n' "$name"
  start=$SECONDS
  "leg_$leg"
  status=$?
  took=$((SECONDS - start))
  if [ "$status" = 0 ]; then
    passed=$((passed + 1))
    report+=("passed  ${took}s  $name")
    printf -- '-------------------- %s: PASSED (%ss) --------------------\n' "$name" "$took"
  else
    failed=$((failed + 1))
    report+=("FAILED  ${took}s  $name")
    printf '!!!!!!!!!!!!!!!!!!!! %s: FAILED (%ss) !!!!!!!!!!!!!!!!!!!!\n' "$name" "$took"
    say "stopping at the first failing leg; rerun it alone with: $me --only $leg"
    break
  fi
done

# The live oracle compares ptload with torch itself, where torch can be imported.
if [ "$run_oracle" = 1 ] && [ "$failed" = 0 ]; then
  name="live oracle (tools/live_oracle_check.py)"
  printf '\n==================== %s ====================\n' "$name"
  if ! torch_error=$(/usr/bin/python3 -c 'import torch' 2>&1); then
    report+=("skipped     $name: /usr/bin/python3 cannot import torch (${torch_error##*$'\n'})")
    say "live oracle skipped: /usr/bin/python3 cannot import torch: ${torch_error##*$'\n'}"
  elif [ ! -f tools/live_oracle_check.py ]; then
    report+=("skipped     $name: tools/live_oracle_check.py does not exist")
    say "live oracle skipped: tools/live_oracle_check.py does not exist"
  else
    start=$SECONDS
    # The script finds the CLI and the build through these, when it wants them.
    if run env PTLOAD_CLI="$root/build/gcc-cxx17/ptload" PTLOAD_BUILD_DIR="$root/build/gcc-cxx17" \
        /usr/bin/python3 tools/live_oracle_check.py; then
      passed=$((passed + 1))
      report+=("passed  $((SECONDS - start))s  $name")
    else
      failed=$((failed + 1))
      report+=("FAILED  $((SECONDS - start))s  $name")
      printf '!!!!!!!!!!!!!!!!!!!! %s: FAILED !!!!!!!!!!!!!!!!!!!!\n' "$name"
    fi
  fi
fi

printf '\n'
for line in "${report[@]}"; do say "$line"; done
printf '%s: %d passed, %d failed\n' "$me" "$passed" "$failed"
[ "$failed" = 0 ]
