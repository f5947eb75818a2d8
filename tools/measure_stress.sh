#!/usr/bin/env bash
# tools/measure_stress.sh: time and peak memory of `ptload dump --json` on every stress file of
# tools/gen_stress.py, under the default limits, with an optimised CLI. Prints a Markdown table
# (docs/SECURITY.md keeps the last one) and fails if any file takes 2 s or more, or 256 MiB or
# more of peak RSS, or ends differently from its manifest line.
#
#   tools/measure_stress.sh [CLI]     CLI defaults to build/stress-release/ptload (built here)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

cli=${1:-}
if [ -z "$cli" ]; then
  cli=build/stress-release/ptload
  cmake -S . -B build/stress-release -DCMAKE_BUILD_TYPE=Release -DPTLOAD_BUILD_TESTS=OFF >/dev/null
  cmake --build build/stress-release -j "${PTLOAD_JOBS:-2}" --target ptload_cli >/dev/null
fi
[ -x /usr/bin/time ] || { echo "$0: needs /usr/bin/time (Debian package 'time')" >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/ptload-stress.XXXXXX")
trap 'rm -rf "$dir"' EXIT
python3 tools/gen_stress.py "$dir"

bad=0
printf '| file | bytes | expected | result | seconds | peak RSS (MiB) |\n|---|---:|---|---|---:|---:|\n'
while IFS=$'\t' read -r name expect; do
  file=$dir/$name
  bytes=$(stat -c %s "$file")
  set +e
  /usr/bin/time -f '%e %M' -o "$dir/time.txt" "$cli" dump --json "$file" >/dev/null 2>"$dir/err.txt"
  status=$?
  set -e
  read -r seconds kib < <(tail -n 1 "$dir/time.txt")  # after "Command exited with non-zero status"
  if [ "$status" = 0 ]; then
    result=ok
  else
    # "ptload: FILE: code at byte ...", or without the file for some messages
    code=$(sed -n -e "s|^ptload: $file: \([a-z_]*\)[ :].*|\1|p" -e 't' -e 's/^ptload: \([a-z_]*\)[ :].*/\1/p' \
      "$dir/err.txt" | tail -n 1)
    result=$code
  fi
  want=${expect#*:}
  [ "$expect" = ok ] && want=ok
  mib=$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')
  flag=""
  if [ "$result" != "$want" ] || awk -v s="$seconds" -v m="$mib" 'BEGIN { exit !(s >= 2 || m >= 256) }'; then
    flag=" **over**"
    bad=$((bad + 1))
  fi
  printf '| %s | %s | %s | %s%s | %s | %s |\n' "$name" "$bytes" "$expect" "$result" "$flag" "$seconds" "$mib"
done <"$dir/MANIFEST.tsv"
[ "$bad" = 0 ]
