#!/usr/bin/env bash
# Trail scanner benchmark: a documented harness, not a test (no timed assertions).
#
#   bash benches/trail_scan.sh [CORPUS_DIR] [MB] [RUNS]
#
# Generates (or reuses) a synthetic corpus of MB megabytes uncompressed (default 1024) in
# CloudTrail's AWSLogs/... layout with three hidden target jobs, warms the page cache, then
# in one run measures, RUNS times each (default 3, medians reported):
#   1. zcat of every file to /dev/null (single-threaded gzip 1.x: the everyday baseline),
#   2. inflate only, with the scanner's backend and threads (examples/inflate_only.rs),
#   3. the real scan for the target job ids and their output bucket: through
#      `textract-audit verify --offline --trail-dir` once the CLI has it, else through
#      examples/scan_trail.rs, which calls the same library code.
# and prints uncompressed MB/s, ratios and peak RSS (GNU time's maximum resident set).
# The machine is shared: compare figures from the same run, never across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-.lab/corpus-1g}
mb=${2:-1024}
runs=${3:-3}
gnu_time=/usr/bin/time
[ -x "$gnu_time" ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 1; }

cargo build --release --examples --bin textract-audit >&2
bin=target/release
if [ ! -s "$corpus/targets.txt" ]; then
  "$bin/examples/gen_trail_corpus" --out "$corpus" --mb "$mb" --seed 1 >&2
fi
mapfile -t ids < "$corpus/targets.txt"
files=$(find "$corpus" -name '*.json.gz' | wc -l)
find "$corpus" -name '*.json.gz' -exec cat {} + > /dev/null   # warm the page cache

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Runs a command RUNS times; prints "median_seconds max_rss_kb".
measure() {
  local secs=() rss=0 out
  for _ in $(seq "$runs"); do
    out=$({ "$gnu_time" -f '@@ %e %M' "$@" > /dev/null; } 2>&1 | grep '^@@')
    secs+=("$(echo "$out" | awk '{print $2}')")
    rss=$(echo "$out" | awk -v r="$rss" '{print ($3 > r ? $3 : r)}')
  done
  echo "$(printf '%s\n' "${secs[@]}" | median) $rss"
}

bytes=$("$bin/examples/inflate_only" "$corpus" 2 | sed 's/.*"bytes_uncompressed":\([0-9]*\).*/\1/')
job_args=()
for id in "${ids[@]}"; do job_args+=(--job-id "$id"); done
if "$bin/textract-audit" verify --help 2>/dev/null | grep -q -- '--trail-dir'; then
  scan=("$bin/textract-audit" verify --offline --trail-dir "$corpus" "${job_args[@]}" --format json)
  via=cli
else
  scan=("$bin/examples/scan_trail" --trail-dir "$corpus" "${job_args[@]}" --bucket acme-textract-results)
  via=example
fi
echo "scan result: $("${scan[@]}")" >&2

read -r zcat_s zcat_rss < <(measure sh -c "find '$corpus' -name '*.json.gz' -print0 | xargs -0 zcat")
read -r infl_s infl_rss < <(measure "$bin/examples/inflate_only" "$corpus" 2)
read -r scan_s scan_rss < <(measure "${scan[@]}")

awk -v b="$bytes" -v f="$files" -v r="$runs" -v via="$via" \
    -v zs="$zcat_s" -v is="$infl_s" -v ss="$scan_s" -v ir="$infl_rss" -v sr="$scan_rss" 'BEGIN {
  mb = b / 1e6
  printf "corpus: %d files, %.0f MB uncompressed; %d runs each, medians; scan via %s\n", f, mb, r, via
  printf "%-28s %8s %10s %12s\n", "method", "s", "MB/s", "peak RSS MB"
  printf "%-28s %8.2f %10.0f %12s\n", "zcat", zs, mb / zs, "-"
  printf "%-28s %8.2f %10.0f %12.0f\n", "inflate only (2 threads)", is, mb / is, ir / 1024
  printf "%-28s %8.2f %10.0f %12.0f\n", "scan (2 threads)", ss, mb / ss, sr / 1024
  printf "scan vs zcat: %.1fx faster (target >= 7x); scan / inflate-only time: %.2fx (target <= 1.5x)\n", zs / ss, ss / is
  printf "scan: %.2f GB/s (target >= 1.5); peak RSS %.0f MB (target < 200)\n", mb / ss / 1000, sr / 1024
}'
