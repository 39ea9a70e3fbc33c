#!/usr/bin/env bash
# Athena / CloudTrail Lake speed benchmark (issue 13): a documented harness, not a test (no
# timed assertions).
#
#   bash benches/athena_scale.sh [NS="200"] [RUNS=3] [VERIFY_JOBS=3]
#
# For each N, generates (or reuses) .lab/jobs-N, the correlation benchmark's corpus
# (examples/gen_jobs_corpus.rs, 4 pages and 20 noise records per job record, as
# benches/audit_scale.sh), starts a private lab (tests/lab), seeds it (scenario row1: the trail
# bucket, the Glue CloudTrail table with partition projection, the workgroup, the event data
# store) and delivers the corpus's log files to the trail bucket through the lab's own delivery
# path (POST /_lab/deliver-logs: the Athena table reads them, the event data store holds their
# records, the table's account projection lists the corpus's account). Then, on the same
# records, with the same live flags (the lab answers Textract, S3 and KMS; the corpus's jobs
# are unknown there, so both sides judge from CloudTrail alone):
#   - audit (discovery over 2026-11-20) and verify --job-id for VERIFY_JOBS jobs, each through
#     --trail-dir DIR, --athena and --cloudtrail-lake;
#   - the reports are compared job by job (verdict and every rule's status): a difference
#     stops the benchmark with exit 1;
#   - per job: the queries, SQL bytes and rows the lab's engine ran and returned
#     (GET /_lab/queries), and the bytes scanned the reports' provenance names;
#   - RUNS interleaved rounds (trail, athena, lake, trail, athena, lake, ...) of each command:
#     the median wall time of each and the median of the per-round ratios to --trail-dir.
# The lab's engine is sqlglot + DuckDB in one Python process on this machine, not Athena: the
# ratios say what the tool's query path costs against scanning the files itself, not what
# Athena's latency would be. The machine is shared: compare figures from the same run only.
set -euo pipefail
cd "$(dirname "$0")/.."
ns=${1:-"200"}
runs=${2:-3}
verify_jobs=${3:-3}
python=${LAB_PYTHON:-target/tmp/textract-audit/lab-venv/bin/python}
[ -x "$python" ] || { echo "needs the lab's Python ($python): run the lab tests once, or set LAB_PYTHON" >&2; exit 1; }

cargo build --release --example gen_jobs_corpus --bin textract-audit >&2
bin=target/release
state=.lab/athena-bench
endpoint=$(LAB_PYTHON=$python tests/lab/start.sh "$state")
trap 'tests/lab/stop.sh "$state" >/dev/null 2>&1 || true' EXIT
export AWS_ACCESS_KEY_ID=AKIALABTESTER0000000 AWS_SECRET_ACCESS_KEY=lab-secret
ctl() { curl -sf -X "$1" "$endpoint/_lab/$2" -d "${3:-{\}}"; }
out=$(mktemp -d)
trap 'tests/lab/stop.sh "$state" >/dev/null 2>&1 || true; rm -rf "$out"' EXIT

live=(--region us-east-1 --endpoint-url "$endpoint" --format json --quiet)
window=(--from 2026-11-20T00:00:00Z --until 2026-11-21T00:00:00Z)
modes="trail athena lake"
flags() { # MODE DIR
  case $1 in
    trail) echo "--trail-dir $2" ;;
    athena) echo "--athena lab_audit.cloudtrail_logs --athena-workgroup lab-audit" ;;
    lake) echo "--cloudtrail-lake 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d" ;;
  esac
}
# One run: MODE DIR NAME ARGS...; the report in $out/NAME.MODE.json, the wall seconds on stdout.
run() {
  local mode=$1 dir=$2 name=$3
  shift 3
  local t0 t1
  t0=$(date +%s.%N)
  # shellcheck disable=SC2046
  "$bin/textract-audit" "$@" "${live[@]}" "${window[@]}" $(flags "$mode" "$dir") \
    > "$out/$name.$mode.json" 2> "$out/$name.$mode.err" || true
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

printf '%-6s %-8s %-6s %9s %9s %10s %9s %14s %9s %8s\n' \
  N command source queries/job SQL_B/job rows/job scanned_MB wall_s ratio status
for n in $ns; do
  dir=.lab/jobs-$n
  [ -s "$dir/jobs.txt" ] || "$bin/examples/gen_jobs_corpus" --out "$dir" --jobs "$n" --pages 4 --noise 20 >&2
  ctl POST reset > /dev/null
  ctl POST seed '{"scenario": "row1"}' > /dev/null
  ctl POST deliver-logs "{\"dir\": \"$PWD/$dir\", \"bucket\": \"lab-trail\", \"prefix\": \"ct\",
    \"table\": {\"database\": \"lab_audit\", \"table\": \"cloudtrail_logs\"}}" > /dev/null
  verify=(verify)
  while read -r job; do verify+=(--job-id "$job"); done < <(head -n "$verify_jobs" "$dir/jobs.txt")
  for command in audit verify; do
    if [ "$command" = audit ]; then args=(audit); jobs=$n; else args=("${verify[@]}"); jobs=$verify_jobs; fi
    # First run of each source: the report to compare and what the engine ran.
    for mode in $modes; do
      before=$(ctl GET queries | "$python" -c 'import json,sys; print(len(json.load(sys.stdin)["queries"]))')
      run "$mode" "$dir" "$command" "${args[@]}" > /dev/null
      ctl GET queries | "$python" -c '
import json, sys
q = json.load(sys.stdin)["queries"][int(sys.argv[1]):]
print(len(q), sum(len(x["Sql"].encode()) for x in q), sum(x["Rows"] for x in q))' "$before" \
        > "$out/$command.$mode.engine"
    done
    "$python" - "$out" "$command" <<'EOF' || { echo "REPORTS DIFFER ($command, N=$n): see above" >&2; exit 1; }
import json, sys
out, command = sys.argv[1], sys.argv[2]
def judged(mode):
    with open(f"{out}/{command}.{mode}.json") as f:
        report = json.load(f)
    return {j["job_id"]: (j["verdict"], sorted((x["rule_id"], x["status"]) for x in j["findings"]))
            for j in report["jobs"]}
base = judged("trail")
bad = False
for mode in ("athena", "lake"):
    other = judged(mode)
    if not base or other != base:
        bad = True
        diff = sorted(k for k in set(base) | set(other) if base.get(k) != other.get(k))
        print(f"{command}: --{mode} and --trail-dir judge {len(diff)} of {len(base)} job(s) "
              f"differently, e.g. {diff[:3]}", file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
    # Interleaved timing.
    for r in $(seq "$runs"); do
      for mode in $modes; do
        echo "$mode $(run "$mode" "$dir" "$command.time" "${args[@]}")" >> "$out/$command.times"
      done
    done
    for mode in $modes; do
      scanned=$("$python" - "$out/$command.$mode.json" <<'EOF'
import json, re, sys
sources = json.load(open(sys.argv[1]))["evidence"]["sources"]
print(sum(int(m) for s in sources for m in re.findall(r"(\d+) bytes scanned", s)) / 1e6)
EOF
)
      read -r queries sql rows < "$out/$command.$mode.engine"
      "$python" - "$out/$command.times" "$mode" "$n" "$command" "$jobs" "$queries" "$sql" "$rows" "$scanned" <<'EOF'
import statistics, sys
times, mode, n, command, jobs, queries, sql, rows, scanned = sys.argv[1:]
runs = {}
for line in open(times):
    m, t = line.split()
    runs.setdefault(m, []).append(float(t))
mine, base = runs[mode], runs["trail"]
ratio = statistics.median(a / b for a, b in zip(mine, base))
jobs = int(jobs)
per = lambda v: f"{int(v) / jobs:.3g}" if mode != "trail" else "-"
print(f"{n:<6} {command:<8} {mode:<6} {per(queries):>9} {per(sql):>9} {per(rows):>10} "
      f"{float(scanned) if mode != 'trail' else 0:>9.1f} {statistics.median(mine):>14.2f} "
      f"{ratio:>8.2f}x  same verdicts")
EOF
    done
    rm -f "$out/$command.times"
  done
done
