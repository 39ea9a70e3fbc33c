#!/usr/bin/env bash
# Correlation scale benchmark (issue 9): a documented harness, not a test (no timed
# assertions).
#
#   bash benches/audit_scale.sh [NS="1000 2000 5000"] [TIMEOUT=600] [PAGES=4] [NOISE=20]
#
# For each N, generates (or reuses) .lab/jobs-N: one day (2026-11-20) of CloudTrail log
# files (AWSLogs/.../us-east-1/2026/11/20/, gzip, one file per five minutes) with N complete
# jobs, each a StartDocumentAnalysis, PAGES result PutObjects with S3's GenerateDataKey for
# each, and a GetDocumentAnalysis poll, among NOISE unrelated records per job record
# (examples/gen_jobs_corpus.rs). Then, in the same run:
#   - zcat of every file to /dev/null (the yardstick: what reading the day costs),
#   - the audit exactly as users run it:
#       textract-audit audit --offline --quiet --trail-dir DIR
#                            --from 2026-11-20T00:00:00Z --until 2026-11-21T00:00:00Z --format json
#     under `timeout TIMEOUT`, so a run that grows quadratically is reported as such, not
#     waited on.
# It prints wall time, CPU (user + system), peak RSS (GNU time), the ratio to zcat, and the
# growth exponent fitted between successive N and over all N that finished.
# Then the rendering case: one job of 10,000 pages (no noise) verified from its trail files
# and rendered as a table (`verify --offline --trail-dir DIR --job-id ID`, the default format).
# The machine is shared: compare figures from the same run, never across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ns=${1:-"1000 2000 5000"}
limit=${2:-600}
pages=${3:-4}
noise=${4:-20}
gnu_time=/usr/bin/time
[ -x "$gnu_time" ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 1; }

cargo build --release --example gen_jobs_corpus --bin textract-audit >&2
bin=target/release
gen() { # DIR JOBS PAGES NOISE
  [ -s "$1/jobs.txt" ] || "$bin/examples/gen_jobs_corpus" --out "$1" --jobs "$2" --pages "$3" --noise "$4" >&2
}
# One timed run under the time limit: prints "wall_s cpu_s max_rss_kb exit".
timed() {
  # GNU time writes its figures to a file of their own (-o): the command's output and
  # stderr go to /dev/null, and a non-zero exit (3 and 4 are verdicts) is not an error here.
  local out
  out=$(mktemp)
  "$gnu_time" -o "$out" -f '@@ %e %U %S %M %x' timeout "$limit" "$@" > /dev/null 2>&1 || true
  grep '^@@' "$out" | awk '{printf "%s %.2f %s %s\n", $2, $3 + $4, $5, $6}'
  rm -f "$out"
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
printf '%-7s %9s %9s %9s %8s %9s %11s %s\n' N records zcat_s audit_s cpu_s ratio rss_MB status
for n in $ns; do
  dir=.lab/jobs-$n
  gen "$dir" "$n" "$pages" "$noise"
  find "$dir" -name '*.json.gz' -exec cat {} + > /dev/null   # warm the page cache
  records=$(( n * (2 * pages + 2) * (noise + 1) ))
  read -r zs _ _ _ < <(timed sh -c "find '$dir' -name '*.json.gz' -print0 | xargs -0 zcat")
  read -r as ac ar ax < <(timed "$bin/textract-audit" audit --offline --quiet --trail-dir "$dir" \
    --from 2026-11-20T00:00:00Z --until 2026-11-21T00:00:00Z --format json)
  status=done
  # timeout exits 124 when it stopped the run; 0, 3 and 4 are verdicts.
  if [ "$ax" = 124 ]; then status="TIMEOUT (> ${limit} s)"; elif ! [[ "$ax" =~ ^[034]$ ]]; then status="exit $ax"; fi
  echo "$n $as $status" >> "$results"
  awk -v n="$n" -v r="$records" -v zs="$zs" -v as="$as" -v ac="$ac" -v ar="$ar" -v st="$status" \
    'BEGIN {printf "%-7d %9d %9.2f %9.2f %8.2f %8.1fx %11.0f %s\n", n, r, zs, as, ac, as / zs, ar / 1024, st}'
done
# Growth exponent: slope of log(time) against log(N); a timed-out run gives a lower bound.
awk '{n[NR] = $1; t[NR] = $2; done[NR] = ($3 == "done")} END {
  for (i = 2; i <= NR; i++)
    printf "exponent %d -> %d: %s%.2f\n", n[i-1], n[i], done[i] ? "" : ">= ", log(t[i] / t[i-1]) / log(n[i] / n[i-1])
  k = 0; sx = sy = sxx = sxy = 0
  for (i = 1; i <= NR; i++) if (done[i]) { x = log(n[i]); y = log(t[i]); k++; sx += x; sy += y; sxx += x * x; sxy += x * y }
  if (k >= 2) printf "fitted exponent over the %d finished N: %.2f (target <= 1.1)\n", k, (k * sxy - sx * sy) / (k * sxx - sx * sx)
}' "$results"

# Rendering one job of 10,000 pages as a table.
dir=.lab/jobs-1x10000
gen "$dir" 1 10000 0
job=$(head -n 1 "$dir/jobs.txt")
read -r rs rc rr rx < <(timed "$bin/textract-audit" verify --offline --quiet --trail-dir "$dir" --job-id "$job")
status=done
if [ "$rx" = 124 ]; then status="TIMEOUT (> ${limit} s)"; elif ! [[ "$rx" =~ ^[034]$ ]]; then status="exit $rx"; fi
printf 'table of one 10,000-page job: %.2f s wall, %.2f s CPU, %.0f MB peak RSS, %s (target < 2 s)\n' \
  "$rs" "$rc" "$(( rr / 1024 ))" "$status"
