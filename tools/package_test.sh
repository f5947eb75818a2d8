#!/usr/bin/env bash
# tools/package_test.sh: every way of consuming ptload, each one building tests/package/main.cpp
# (which loads examples/sample.pt and checks a tensor and the version) and running it.
#
#   install  a top-level configure with defaults and no doctest turns the tests off and installs
#            headers and package without building anything (no CLI built: none installed);
#            -DPTLOAD_BUILD_TESTS=ON without doctest fails
#   a        cmake --install (tests off) to a fresh prefix, then find_package(ptload X.Y.Z EXACT
#            CONFIG), found in that prefix and nowhere else
#   b        add_subdirectory(ptload)            c  FetchContent from this tree (no network)
#   d        the installed ptload.pc, straight to the compiler
#   e        single_include/ptload.hpp alone: only single_include/ on the include path
#   f        the CLI alone: cmake --install --component cli (and the headers alone: --component dev)
#   g        meson: install + consumer through pkg-config; ptload as a meson subproject
#
# Everything is built under build/package/ (prefixes and consumers afresh each run; the installed
# build, build/package/lib, is kept between runs). Stops at the first failure, non-zero.
# Environment: PTLOAD_JOBS (default 2), PTLOAD_GENERATOR (default Ninja when installed, else Unix
# Makefiles), PTLOAD_LAUNCHER (compiler launcher; default ccache when installed; empty: none),
# CXX (default g++). Needs cmake, pkg-config, meson, python3 and a C++17 compiler.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
me=tools/package_test.sh
start_all=$SECONDS

say() { printf '%s: %s\n' "$me" "$*"; }
run() { printf '+ %s\n' "$*" >&2; "$@"; }
have() { command -v "$1" >/dev/null 2>&1; }
fail() { say "FAILED: $*"; say "took $((SECONDS - start_all)) s"; exit 1; }
step() { printf '\n---- %s (%s s so far)\n' "$*" "$((SECONDS - start_all))"; }

jobs=${PTLOAD_JOBS:-2}
if [ -n "${PTLOAD_GENERATOR:-}" ]; then
  generator=$PTLOAD_GENERATOR
elif have ninja; then
  generator=Ninja
else
  generator="Unix Makefiles"
fi
if [ -z "${PTLOAD_LAUNCHER+set}" ]; then
  PTLOAD_LAUNCHER=
  have ccache && PTLOAD_LAUNCHER=ccache
fi
launcher=()     # for cmake
cxx_launch=()   # for the compiler run by hand
if [ -n "$PTLOAD_LAUNCHER" ]; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$PTLOAD_LAUNCHER")
  cxx_launch=("$PTLOAD_LAUNCHER")
fi
if [ -z "${CXX:-}" ]; then
  CXX=g++
  have g++ || CXX=c++
fi
export CXX
# meson takes the launcher in CXX (it adds ccache itself only when CXX is unset).
meson_cxx=("${cxx_launch[@]}" "$CXX")
for tool in cmake pkg-config meson python3 "$CXX"; do
  have "$tool" || fail "$tool is not installed"
done

version=$(sed -n 's/^#define PTLOAD_VERSION_\(MAJOR\|MINOR\|PATCH\) \{1,\}\([0-9]\{1,\}\).*/\2/p' \
  include/ptload/config.hpp | paste -sd. -)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "no version in include/ptload/config.hpp"
sample=$root/examples/sample.pt
expect_run='model\.fc1\.weight float32 \[8, 4\], 32 values: ok'
say "ptload $version; generator $generator; -j$jobs; CXX $CXX${PTLOAD_LAUNCHER:+; launcher $PTLOAD_LAUNCHER}"

base=build/package
mkdir -p "$base" || fail "cannot create $base"
# Fresh prefixes and consumers every run; build/package/lib (the installed build) is kept.
for dir in "$base"/*; do
  [ "$dir" = "$base/lib" ] || [ ! -e "$dir" ] || rm -rf "$dir"
done
if [ -f "$base/lib/CMakeCache.txt" ] && ! grep -qx "CMAKE_GENERATOR:INTERNAL=$generator" "$base/lib/CMakeCache.txt"; then
  rm -rf "${base:?}/lib"
fi

# consumer_cmake NAME [cmake args...]: configure tests/package, build, run it through ctest.
consumer_cmake() {
  local dir=$base/$1
  shift
  run cmake -S tests/package -B "$dir" -G "$generator" "${launcher[@]}" -DPTLOAD_SAMPLE="$sample" \
    -DPTLOAD_EXPECT_VERSION="$version" "$@" &&
    run cmake --build "$dir" -j "$jobs" &&
    (cd "$dir" && run ctest --output-on-failure --no-tests=error)
}
# run_consumer EXE: runs a consumer built by hand and checks what it says.
run_consumer() {
  local out
  printf '+ %s %s\n' "$1" "$sample" >&2
  out=$("$1" "$sample") || { printf '%s\n' "$out"; return 1; }
  printf '%s\n' "$out"
  grep -Eq "$expect_run" <<<"$out"
}
# has_dev_files PREFIX: the headers, the CMake package and the pkg-config file are all there.
has_dev_files() {
  local f
  for f in include/ptload/ptload.hpp include/ptload/config.hpp share/cmake/ptload/ptloadConfig.cmake \
    share/cmake/ptload/ptloadConfigVersion.cmake share/cmake/ptload/ptloadTargets.cmake share/pkgconfig/ptload.pc; do
    [ -f "$1/$f" ] || { say "$1 lacks $f"; return 1; }
  done
}

# ------------------------------------------------------------------------------------------------
step "install: a plain top-level configure without doctest, nothing built, then cmake --install"
out=$(run cmake -S . -B "$base/unbuilt" -G "$generator" -DCMAKE_DISABLE_FIND_PACKAGE_doctest=ON 2>&1)
status=$?
printf '%s\n' "$out" | grep -v '^-- \(Detecting\|Check for\)'
[ "$status" = 0 ] || fail "a top-level configure without doctest failed"
grep -q 'doctest not found, so the tests are off' <<<"$out" || fail "the configure did not say that the tests are off"
grep -qx 'PTLOAD_BUILD_TESTS:BOOL=OFF' "$base/unbuilt/CMakeCache.txt" || fail "PTLOAD_BUILD_TESTS is not OFF without doctest"
grep -qx 'PTLOAD_BUILD_CLI:BOOL=ON' "$base/unbuilt/CMakeCache.txt" || fail "the CLI is not on by default at the top level"
run cmake --install "$base/unbuilt" --prefix "$root/$base/unbuilt-prefix" >/dev/null || fail "cmake --install of an unbuilt tree"
has_dev_files "$base/unbuilt-prefix" || fail "the unbuilt install lacks files"
[ ! -e "$base/unbuilt-prefix/bin/ptload" ] || fail "an unbuilt CLI was installed"

step "install: -DPTLOAD_BUILD_TESTS=ON without doctest must fail"
out=$(run cmake -S . -B "$base/tests-required" -G "$generator" -DPTLOAD_BUILD_TESTS=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_doctest=ON 2>&1)
status=$?
[ "$status" != 0 ] || { printf '%s\n' "$out"; fail "-DPTLOAD_BUILD_TESTS=ON configured without doctest"; }
grep -q 'doctest' <<<"$out" || { printf '%s\n' "$out"; fail "the configure failed, but not for doctest"; }
say "failed as it should: $(grep -m1 -A1 'CMake Error' <<<"$out" | tr '\n' ' ')"

# ------------------------------------------------------------------------------------------------
step "(a) build with tests off, cmake --install to a fresh prefix, find_package(ptload $version EXACT CONFIG)"
prefix=$root/$base/prefix
run cmake -S . -B "$base/lib" -G "$generator" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Debug -DPTLOAD_BUILD_TESTS=OFF &&
  run cmake --build "$base/lib" -j "$jobs" &&
  run cmake --install "$base/lib" --prefix "$prefix" >/dev/null || fail "build and install"
has_dev_files "$prefix" || fail "the install lacks files"
[ -x "$prefix/bin/ptload" ] || fail "the install has no bin/ptload"
consumer_cmake find-package -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF ||
  fail "find_package consumer"
# Nothing but the fresh prefix may satisfy find_package.
grep -qx "ptload_DIR:PATH=$prefix/share/cmake/ptload" "$base/find-package/CMakeCache.txt" ||
  fail "find_package found ptload outside $prefix: $(grep '^ptload_DIR' "$base/find-package/CMakeCache.txt")"

step "(f) the CLI alone: cmake --install --component cli; the headers alone: --component dev"
run cmake --install "$base/lib" --component cli --prefix "$root/$base/cli-prefix" || fail "install --component cli"
installed=$(cd "$base/cli-prefix" && find . -type f | sort)
[ "$installed" = "./bin/ptload" ] || fail "--component cli installed more or less than bin/ptload: $installed"
out=$(run "$base/cli-prefix/bin/ptload" ls "$sample") || fail "the installed CLI"
printf '%s\n' "$out" | head -3
grep -Eq 'model\.fc1\.weight +float32 +\[8, 4\]' <<<"$out" || fail "the installed CLI lists no model.fc1.weight"
run cmake --install "$base/lib" --component dev --prefix "$root/$base/dev-prefix" >/dev/null || fail "install --component dev"
has_dev_files "$base/dev-prefix" || fail "--component dev lacks files"
[ ! -e "$base/dev-prefix/bin/ptload" ] || fail "--component dev installed the CLI"

step "(b) add_subdirectory(ptload)"
consumer_cmake add-subdirectory -DPTLOAD_ROOT="$root" -DPTLOAD_CONSUME=add_subdirectory || fail "add_subdirectory consumer"

step "(c) FetchContent from this tree"
consumer_cmake fetchcontent -DPTLOAD_ROOT="$root" -DPTLOAD_CONSUME=fetchcontent || fail "FetchContent consumer"

step "(d) the installed ptload.pc, straight to the compiler"
export PKG_CONFIG_PATH="$prefix/share/pkgconfig"
pc_version=$(run pkg-config --modversion ptload) || fail "pkg-config finds no ptload in $PKG_CONFIG_PATH"
[ "$pc_version" = "$version" ] || fail "pkg-config --modversion ptload is '$pc_version', not $version"
pc_cflags=$(run pkg-config --cflags ptload) || fail "pkg-config --cflags ptload"
read -r -a cflags <<<"$pc_cflags"
# One -I, the installed include/ (the .pc file finds its prefix from where it lies).
[ "${#cflags[@]}" = 1 ] && [ "$(cd "${cflags[0]#-I}" 2>/dev/null && pwd -P)" = "$(cd "$prefix/include" && pwd -P)" ] ||
  fail "pkg-config --cflags ptload is '$pc_cflags', not -I$prefix/include"
# Compile and link apart: ccache caches compiles only.
run "${cxx_launch[@]}" "$CXX" -std=c++17 -Wall -Wextra -Wpedantic -Werror "${cflags[@]}" -c tests/package/main.cpp \
  -o "$base/pkg-config-consumer.o" && run "$CXX" "$base/pkg-config-consumer.o" -o "$base/pkg-config-consumer" ||
  fail "compile with pkg-config's flags"
run_consumer "$base/pkg-config-consumer" || fail "the pkg-config consumer"
unset PKG_CONFIG_PATH

step "(e) single_include/ptload.hpp alone"
run "${cxx_launch[@]}" "$CXX" -std=c++17 -Wall -Wextra -Wpedantic -Werror -DPTLOAD_CONSUMER_SINGLE_HEADER \
  -Isingle_include -MD -MF "$base/single-header.d" -c tests/package/main.cpp -o "$base/single-header-consumer.o" &&
  run "$CXX" "$base/single-header-consumer.o" -o "$base/single-header-consumer" || fail "compile with the single header"
# The single header reached nothing of include/ptload/ (nor an installed ptload).
if grep -q 'ptload/' "$base/single-header.d"; then
  fail "the single-header build included $(grep -o '[^ ]*ptload/[^ ]*' "$base/single-header.d" | head -1)"
fi
grep -q 'single_include/ptload\.hpp' "$base/single-header.d" || fail "the single-header build did not use single_include/ptload.hpp"
run_consumer "$base/single-header-consumer" || fail "the single-header consumer"

# ------------------------------------------------------------------------------------------------
step "(g) meson: install (tags devel), consumer through pkg-config"
mprefix=$root/$base/meson-prefix
run env CXX="${meson_cxx[*]}" meson setup "$base/meson" --prefix="$mprefix" -Dtests=disabled -Dcli=false >"$base/meson-setup.log" ||
  { cat "$base/meson-setup.log"; fail "meson setup"; }
grep -x "Project version: $version" "$base/meson-setup.log" || fail "meson's project version is not $version"
run meson install -C "$base/meson" --tags devel --quiet || fail "meson install --tags devel"
[ -f "$mprefix/include/ptload/ptload.hpp" ] || fail "meson installed no headers"
mpc=$(find "$mprefix" -name ptload.pc | head -1)
[ -n "$mpc" ] || fail "meson installed no ptload.pc"
run env PKG_CONFIG_PATH="$(dirname "$mpc")" CXX="${meson_cxx[*]}" meson setup "$base/meson-consumer" tests/package -Dwrap_mode=nofallback \
  -Dptload_version="$version" -Dsample="$sample" &&
  run meson compile -C "$base/meson-consumer" -j "$jobs" &&
  run meson test -C "$base/meson-consumer" --print-errorlogs || fail "meson consumer through pkg-config"

step "(g) meson: ptload as a subproject (subprojects/ptload -> this tree)"
sub=$base/meson-subproject
mkdir -p "$sub/src/subprojects" &&
  cp tests/package/meson.build tests/package/meson_options.txt tests/package/main.cpp "$sub/src/" &&
  ln -s "$root" "$sub/src/subprojects/ptload" || fail "laying out $sub"
run env CXX="${meson_cxx[*]}" meson setup "$sub/build" "$sub/src" --force-fallback-for=ptload -Dptload_version="$version" -Dsample="$sample" ||
  fail "meson setup with the subproject"
sub_version=$(meson introspect --projectinfo "$sub/build" |
  python3 -c 'import json, sys; print(*[p["version"] for p in json.load(sys.stdin)["subprojects"] if p["name"] == "ptload"])')
[ "$sub_version" = "$version" ] || fail "the ptload subproject's version is '$sub_version', not $version"
say "subproject ptload $sub_version"
run meson compile -C "$sub/build" -j "$jobs" &&
  run meson test -C "$sub/build" --print-errorlogs || fail "meson subproject consumer"

printf '\n'
say "all ways of consuming ptload $version work ($((SECONDS - start_all)) s)"
