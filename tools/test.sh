#!/usr/bin/env bash
# tools/test.sh: ptload's whole test matrix. Each leg builds in its own folder under build/ and
# runs the tests; the first failing leg stops the run.
#
#   tools/test.sh            all legs, then the live oracle check when torch is importable
#   tools/test.sh --quick    leg 1 only (gcc, C++17, -Werror)
#   tools/test.sh --only 4,6 just those legs
#   tools/test.sh --clean    remove build/ first
#
# Legs: 1 gcc C++17 -Werror          2 clang C++20 -Werror      3 gcc -fno-exceptions -fno-rtti
#       4 ASan+UBSan (clang, else gcc), then each fuzz target for 30 s (tools/fuzz.sh --ci)
#       5 single_include                 6 meson
#       7 packaging (install + find_package, add_subdirectory, pkg-config)
# Leg 6 also installs with meson and builds tests/package through pkg-config and as a subproject.
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
  "clang C++20 -Werror"
  "gcc C++17 -fno-exceptions -fno-rtti (Release)"
  "ASan+UBSan, fuzz targets"
  "single_include"
  "meson"
  "packaging: install, find_package, add_subdirectory, pkg-config"
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
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
run() { printf '+ %s\n' "$*"; "$@"; }
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
if wants 2 || wants 4; then have clang++ || missing+=(clang); fi
if wants 6; then have meson || missing+=(meson); fi
if wants 6 || wants 7; then have pkg-config || missing+=(pkg-config); fi
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
if wants 4 && have clang++; then
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
  (cd "$1" && run ctest --output-on-failure --no-tests=error)
}

# cmake_leg NAME [cmake args...]: the usual leg: configure, build, ctest.
cmake_leg() {
  local dir=build/$1
  shift
  cmake_build "$dir" "$@" && run_ctest "$dir"
}

leg_1() {
  cmake_leg gcc-cxx17 -DCMAKE_CXX_COMPILER=g++ -DCMAKE_CXX_STANDARD=17 -DCMAKE_BUILD_TYPE=Debug \
    -DPTLOAD_WARNINGS_AS_ERRORS=ON -DPTLOAD_BUILD_EXAMPLES=ON
}

leg_2() {
  # Separate compilation in every leg but 1 and 6 (header-only, as most users build): each
  # test file then compiles only the policy sets it adds, the defaults once.
  cmake_leg clang-cxx20 -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_STANDARD=20 -DCMAKE_BUILD_TYPE=Debug \
    -DPTLOAD_WARNINGS_AS_ERRORS=ON -DPTLOAD_SEPARATE_COMPILATION=ON
}

leg_3() {
  # Headers are compiled one by one in legs 1 and 2 already.
  cmake_leg gcc-noexcept -DCMAKE_CXX_COMPILER=g++ -DCMAKE_CXX_STANDARD=17 -DCMAKE_BUILD_TYPE=Release \
    -DPTLOAD_NO_EXCEPTIONS=ON -DPTLOAD_BUILD_HEADER_CHECK=OFF -DPTLOAD_SEPARATE_COMPILATION=ON
}

leg_4() {
  local leaks=1
  # LeakSanitizer cannot run everywhere (under ptrace, in some containers): probe it first.
  if ! { "$sanitize_cxx" -fsanitize=address "$scratch/probe.cpp" -o "$scratch/lsan" >/dev/null 2>&1 &&
         ASAN_OPTIONS=detect_leaks=1 "$scratch/lsan" >/dev/null 2>&1; }; then
    leaks=0
    say "LeakSanitizer does not work here; running with detect_leaks=0"
  fi
  say "sanitizer compiler: $sanitize_cxx"
  export ASAN_OPTIONS="detect_leaks=$leaks:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
  say "ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS"
  # -O1 keeps the instrumented tests quick; Debug keeps assert() on.
  cmake_leg "sanitize-$sanitize_cxx" -DCMAKE_CXX_COMPILER="$sanitize_cxx" -DCMAKE_CXX_STANDARD=17 \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 -DPTLOAD_SANITIZE=address,undefined \
    -DPTLOAD_BUILD_HEADER_CHECK=OFF -DPTLOAD_SEPARATE_COMPILATION=ON
  local status=$?
  unset ASAN_OPTIONS UBSAN_OPTIONS
  [ "$status" = 0 ] || return $status
  # The fuzz targets for 30 s each (libFuzzer comes with clang's sanitizer runtime); longer
  # runs: PTLOAD_FUZZ_SECONDS, or tools/fuzz.sh --campaign.
  if [ "$sanitize_cxx" = clang++ ]; then
    run env PTLOAD_FUZZ_SECONDS="${PTLOAD_FUZZ_SECONDS:-30}" tools/fuzz.sh --ci
  else
    say "no clang with sanitizers: skipping tools/fuzz.sh --ci"
  fi
}

leg_5() {
  run python3 tools/amalgamate.py --check &&
    cmake_leg single-include -DCMAKE_CXX_COMPILER=g++ -DCMAKE_CXX_STANDARD=17 -DCMAKE_BUILD_TYPE=Debug \
      -DPTLOAD_WARNINGS_AS_ERRORS=ON -DPTLOAD_USE_SINGLE_INCLUDE=ON -DPTLOAD_BUILD_HEADER_CHECK=OFF \
      -DPTLOAD_SEPARATE_COMPILATION=ON
}

leg_6() {
  local dir=build/meson prefix=$root/build/meson-prefix setup=(meson setup)
  [ -f "$dir/build.ninja" ] && setup+=(--reconfigure)  # --reconfigure also picks up new tests/*.cpp
  run "${setup[@]}" "$dir" --buildtype=debug -Dwerror=true --prefix="$prefix" &&
    run meson compile -C "$dir" -j "$jobs" &&
    run meson test -C "$dir" --print-errorlogs || return 1
  # The meson install (headers and pkg-config file) used by a meson consumer through pkg-config.
  rm -rf "$prefix" build/meson-consumer build/meson-subproject
  run meson install -C "$dir" --quiet &&
    run env PKG_CONFIG_PATH="$prefix/share/pkgconfig" \
      meson setup build/meson-consumer tests/package -Dwrap_mode=nofallback &&
    run meson compile -C build/meson-consumer -j "$jobs" &&
    run meson test -C build/meson-consumer --print-errorlogs || return 1
  # The same consumer with ptload as a meson subproject (subprojects/ptload -> this tree).
  local sub=build/meson-subproject
  mkdir -p "$sub/src/subprojects" &&
    cp tests/package/meson.build tests/package/main.cpp "$sub/src/" &&
    ln -s "$root" "$sub/src/subprojects/ptload" &&
    run meson setup "$sub/build" "$sub/src" --force-fallback-for=ptload &&
    run meson compile -C "$sub/build" -j "$jobs" &&
    run meson test -C "$sub/build" --print-errorlogs
}

leg_7() {
  local base=build/package prefix=$root/build/package/prefix
  rm -rf "$prefix"
  # Install (tests off, as a packager would) to a fresh prefix.
  cmake_build "$base/lib" -DCMAKE_INSTALL_PREFIX="$prefix" -DPTLOAD_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug &&
    run cmake --install "$base/lib" || return 1
  [ -x "$prefix/bin/ptload" ] || { say "the install has no bin/ptload"; return 1; }

  # find_package(ptload <version> EXACT CONFIG), and nothing but the fresh prefix may satisfy it.
  run cmake -S tests/package -B "$base/find-package" -G "$generator" -DCMAKE_PREFIX_PATH="$prefix" \
    -DPTLOAD_EXPECT_VERSION="$version" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF &&
    run cmake --build "$base/find-package" -j "$jobs" || return 1
  grep -qx "ptload_DIR:PATH=$prefix/share/cmake/ptload" "$base/find-package/CMakeCache.txt" || {
    say "find_package found ptload outside $prefix: $(grep '^ptload_DIR' "$base/find-package/CMakeCache.txt")"
    return 1
  }
  run_ctest "$base/find-package" || return 1

  # add_subdirectory(ptload) from the source tree.
  run cmake -S tests/package -B "$base/add-subdirectory" -G "$generator" -DPTLOAD_ROOT="$root" &&
    run cmake --build "$base/add-subdirectory" -j "$jobs" &&
    run_ctest "$base/add-subdirectory" || return 1

  # The installed pkg-config file, straight to the compiler.
  local pc_cflags cflags
  pc_cflags=$(PKG_CONFIG_PATH="$prefix/share/pkgconfig" pkg-config --cflags ptload) || return 1
  read -r -a cflags <<<"$pc_cflags"
  [ "$(PKG_CONFIG_PATH="$prefix/share/pkgconfig" pkg-config --modversion ptload)" = "$version" ] || {
    say "pkg-config --modversion ptload is not $version"
    return 1
  }
  run g++ -std=c++17 -Wall -Wextra -Werror "${cflags[@]}" tests/package/main.cpp -o "$base/pkg-config-consumer" &&
    run "$base/pkg-config-consumer"
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
