#!/usr/bin/env bash
# tools/cross_test.sh: the test suite on other platforms, each leg a cross-compiled (or other
# standard library) build of tests/*.cpp that runs under an emulator.
#
#   tools/cross_test.sh --s390x    big-endian 64-bit Linux (s390x-linux-gnu-g++, qemu-s390x)
#   tools/cross_test.sh --armhf    32-bit Linux (arm-linux-gnueabihf-g++, qemu-arm)
#   tools/cross_test.sh --mingw    Windows (x86_64-w64-mingw32-g++, wine)
#   tools/cross_test.sh --libcxx   clang++ with LLVM's libc++ (no std::from_chars for double)
#   tools/cross_test.sh --all      every leg above, one after the other
#   tools/cross_test.sh --s390x -- -tc='*numpy*'    arguments after -- go to doctest
#   (without them the tests run as the parts of tests/parts.txt, PTLOAD_JOBS at a time)
#
#   --no-exceptions    build with -fno-exceptions -fno-rtti (doctest's asserts without exceptions)
#   --single-include   tests include single_include/ptload.hpp (as <ptload/ptload.hpp> and
#                      <ptload/all.hpp>) in place of the headers under include/
#
# The loaders are compiled once (PTLOAD_SEPARATE_COMPILATION; tests/implementation.cpp).
# The qemu legs define PTLOAD_EMULATED_BUILD: the random-change robustness test runs fewer trials.
# Debian packages: g++-s390x-linux-gnu g++-arm-linux-gnueabihf qemu-user mingw-w64 wine
# libc++-dev libc++abi-dev. Builds go to build/cross-<leg>; PTLOAD_JOBS sets the parallelism
# (default 2), PTLOAD_CROSS_CXXFLAGS adds compiler flags (e.g. -fno-exceptions -fno-rtti).
# Each leg prints its build and run time; the script stops at the first failing leg.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
me=tools/cross_test.sh
jobs=${PTLOAD_JOBS:-2}

legs=()
test_args=()
no_exceptions=0
single_include=0
while [ $# -gt 0 ]; do
  case $1 in
    --s390x|--armhf|--mingw|--libcxx) legs+=("${1#--}") ;;
    --all) legs=(s390x armhf mingw libcxx) ;;
    --no-exceptions) no_exceptions=1 ;;
    --single-include) single_include=1 ;;
    --) shift; test_args=("$@"); break ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "$me: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ "${#legs[@]}" = 0 ]; then
  echo "$me: name a leg (--s390x, --armhf, --mingw, --libcxx or --all)" >&2
  exit 2
fi

have() { command -v "$1" >/dev/null 2>&1; }
launcher=()
have ccache && launcher=(ccache)
[ -f /usr/include/doctest/doctest.h ] || { echo "$me: doctest is missing (Debian: doctest-dev)" >&2; exit 2; }

# Runs the test executable once per part of tests/parts.txt, $jobs at a time (qemu runs one
# thread each), then prints each part's output in order; fails when any part failed or matched
# no test case. Under wine one at a time: two first starts could race to create its prefix.
run_parts() {
  local name filter i=0 failed=0 names=() at_once=$jobs
  [ "${runner[0]:-}" = env ] && at_once=1
  while IFS=$'\t' read -r name filter; do
    case $name in ''|'#'*) continue ;; esac
    while [ "$(jobs -rp | wc -l)" -ge "$at_once" ]; do wait -n; done
    { "${runner[@]}" "$dir/$exe" "$filter" >"$dir/part-$i.log" 2>&1; echo $? >"$dir/part-$i.rc"; } &
    names+=("$name")
    i=$((i + 1))
  done <tests/parts.txt
  wait
  # wine's server can exit between two parts just as the next one connects to it ("wine client
  # error: ... Connection reset by peer"): that part never ran, so it runs once more.
  if [ "${runner[0]:-}" = env ]; then
    for i in "${!names[@]}"; do
      if [ "$(cat "$dir/part-$i.rc")" != 0 ] && grep -q '^wine client error' "$dir/part-$i.log"; then
        echo "$me: part ${names[$i]}: wine's server went away ($(grep -m1 '^wine client error' "$dir/part-$i.log")); running it again"
        filter=$(awk -F'\t' -v n="${names[$i]}" '$1 == n { print $2 }' tests/parts.txt)
        "${runner[@]}" "$dir/$exe" "$filter" >"$dir/part-$i.log" 2>&1
        echo $? >"$dir/part-$i.rc"
      fi
    done
  fi
  for i in "${!names[@]}"; do
    printf -- '-- part %s\n' "${names[$i]}"
    cat "$dir/part-$i.log"
    [ "$(cat "$dir/part-$i.rc")" = 0 ] || failed=1
    if grep -q 'test cases: *0 |' "$dir/part-$i.log"; then
      echo "$me: part ${names[$i]} matched no test case (tests/parts.txt)" >&2
      failed=1
    fi
  done
  return $failed
}

# One leg: compiler, extra flags, how to run the result, and the packages that provide them.
setup_leg() {
  exe=ptload_tests
  runner=()
  flags=()
  link_flags=()
  case $1 in
    s390x)
      cxx=s390x-linux-gnu-g++; flags=(-DPTLOAD_EMULATED_BUILD=1); runner=(qemu-s390x -L /usr/s390x-linux-gnu)
      pkgs="g++-s390x-linux-gnu qemu-user"
      ;;
    armhf)  # -Wno-psabi: GCC's notes that an ABI detail changed in GCC 7.1 are not findings;
      # 64-bit off_t, as 32-bit programs that handle large files build: the tests then write and
      # read a sparse checkpoint over 4 GiB here too (ptload itself uses the *64 calls anyway)
      cxx=arm-linux-gnueabihf-g++; flags=(-Wno-psabi -D_FILE_OFFSET_BITS=64 -DPTLOAD_EMULATED_BUILD=1); runner=(qemu-arm -L /usr/arm-linux-gnueabihf)
      pkgs="g++-arm-linux-gnueabihf qemu-user"
      ;;
    mingw)
      cxx=x86_64-w64-mingw32-g++-posix
      have "$cxx" || cxx=x86_64-w64-mingw32-g++
      exe=ptload_tests.exe
      link_flags=(-static)  # no libstdc++/winpthread DLLs to find at run time
      runner=(env WINEDEBUG=-all WINEPREFIX="${WINEPREFIX:-$HOME/.wine-ptload}" wine)
      pkgs="mingw-w64 wine"
      ;;
    libcxx) cxx=clang++; flags=(-stdlib=libc++); link_flags=(-stdlib=libc++); pkgs="clang libc++-dev libc++abi-dev" ;;
  esac
}

total_start=$(date +%s)
for leg in "${legs[@]}"; do
  setup_leg "$leg"
  if ! have "$cxx" || ! have "${runner[0]:-true}"; then
    echo "$me: leg $leg needs $cxx${runner:+ and ${runner[0]}} (Debian: $pkgs)" >&2
    exit 2
  fi
  [ "${runner[0]:-}" = env ] && ! have wine && { echo "$me: leg $leg needs wine (Debian: $pkgs)" >&2; exit 2; }
  dir=build/cross-$leg
  mkdir -p "$dir/obj" "$dir/include"
  # doctest is header-only; expose only its folder, never the host's whole /usr/include.
  ln -sfn /usr/include/doctest "$dir/include/doctest"
  includes=(-Iinclude)
  if [ "$single_include" = 1 ]; then
    # The single header under both names the tests include, ahead of include/ (which still
    # serves the few internal headers a test names; their include guards make them no-ops).
    mkdir -p "$dir/single/ptload"
    cp single_include/ptload.hpp "$dir/single/ptload/ptload.hpp"
    cp single_include/ptload.hpp "$dir/single/ptload/all.hpp"
    includes=(-I"$dir/single" -Iinclude -DPTLOAD_USING_SINGLE_INCLUDE=1)
  fi
  if [ "$no_exceptions" = 1 ]; then
    flags+=(-fno-exceptions -fno-rtti -DDOCTEST_CONFIG_NO_EXCEPTIONS_BUT_WITH_ALL_ASSERTS)
  fi
  # shellcheck disable=SC2206
  cxxflags=(-std=c++17 -O1 -Wall -Wextra -Wpedantic -Werror "${includes[@]}" -I"$dir/include"
            -DPTLOAD_SEPARATE_COMPILATION=1 "-DPTLOAD_SOURCE_DIR=\"$root\"" "${flags[@]}" ${PTLOAD_CROSS_CXXFLAGS:-})
  variant=""
  [ "$no_exceptions" = 1 ] && variant+=", -fno-exceptions -fno-rtti"
  [ "$single_include" = 1 ] && variant+=", single header"
  printf '== %s: %s%s\n' "$leg" "$("$cxx" --version | head -n 1)" "$variant"
  start=$(date +%s)
  rm -f "$dir"/obj/*.o "$dir/obj/failed" "$dir/$exe" "$dir"/part-*
  ok=1
  # The test files in batches of seven per translation unit, as the CMake build compiles them
  # (PTLOAD_UNITY_TESTS); the doctest main, the loaders and the replacement of operator new on
  # their own.
  rm -rf "$dir/unity"
  mkdir -p "$dir/unity"
  sources=(tests/main.cpp tests/implementation.cpp tests/alloc_counter.cpp)
  batch=0
  count=0
  for src in tests/*.cpp; do
    case $src in tests/main.cpp|tests/implementation.cpp|tests/alloc_counter.cpp) continue ;; esac
    [ "$count" = 0 ] && sources+=("$dir/unity/tests_$batch.cpp")
    printf '#include "%s/%s"\n' "$root" "$src" >>"$dir/unity/tests_$batch.cpp"
    count=$((count + 1))
    [ "$count" = 7 ] && { count=0; batch=$((batch + 1)); }
  done
  for src in "${sources[@]}"; do
    obj="$dir/obj/$(basename "$src" .cpp).o"
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    { nice -n 10 "${launcher[@]}" "$cxx" "${cxxflags[@]}" -c "$src" -o "$obj" || touch "$dir/obj/failed"; } &
  done
  wait
  [ -e "$dir/obj/failed" ] && ok=0
  if [ "$ok" = 1 ]; then
    nice -n 10 "$cxx" "${link_flags[@]}" "$dir"/obj/*.o -o "$dir/$exe" || ok=0
  fi
  built=$(date +%s)
  printf '== %s: build %ss\n' "$leg" $((built - start))
  [ "$ok" = 1 ] || { echo "$me: leg $leg failed to build" >&2; exit 1; }
  if [ "${#test_args[@]}" -gt 0 ]; then
    "${runner[@]}" "$dir/$exe" "${test_args[@]}"
    rc=$?
  else
    run_parts
    rc=$?
  fi
  ran=$(date +%s)
  printf '== %s: run %ss (exit %s)\n' "$leg" $((ran - built)) "$rc"
  [ "$rc" = 0 ] || { echo "$me: leg $leg failed its tests" >&2; exit 1; }
done
printf '== all legs passed in %ss\n' $(($(date +%s) - total_start))
