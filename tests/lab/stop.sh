#!/usr/bin/env bash
# Stop a lab started with start.sh: tests/lab/stop.sh STATE_DIR (waits up to 10 s).
set -euo pipefail
state_dir=${1:?usage: stop.sh STATE_DIR}
pid_file="$state_dir/pid"
[[ -s "$pid_file" ]] || { echo "lab: no pid file in $state_dir (not running?)" >&2; exit 0; }
pid=$(cat "$pid_file")
kill -TERM "$pid" 2>/dev/null || { rm -f "$pid_file" "$state_dir/endpoint"; exit 0; }
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || exit 0
  sleep 0.1
done
echo "lab: pid $pid did not stop after SIGTERM; sending SIGKILL" >&2
kill -KILL "$pid" 2>/dev/null || true
rm -f "$pid_file" "$state_dir/endpoint"
