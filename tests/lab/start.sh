#!/usr/bin/env bash
# Start the lab in the background: tests/lab/start.sh STATE_DIR [PYTHON]
# With LAB_EXIT_WHEN_UNUSED=1 it stops by itself once no process holds STATE_DIR/users.lock
# (the shared lab of the Rust tests, tests/common/mod.rs).
# Waits until the endpoint answers (prints it on stdout); fails with the log after 30 s.
set -euo pipefail
state_dir=${1:?usage: start.sh STATE_DIR [PYTHON]}
here=$(cd "$(dirname "$0")" && pwd)
python=${2:-${LAB_PYTHON:-$here/../../.venv/bin/python}}
mkdir -p "$state_dir"
log="$state_dir/lab.log"
rm -f "$state_dir/endpoint" "$state_dir/pid"
extra=()
[[ -n ${LAB_EXIT_WHEN_UNUSED:-} ]] && extra+=(--exit-when-unused)
nohup "$python" "$here/lab.py" serve --port 0 --state-dir "$state_dir" "${extra[@]}" >"$log" 2>&1 </dev/null &
launcher=$!
for _ in $(seq 1 300); do
  if [[ -s "$state_dir/endpoint" ]]; then
    endpoint=$(cat "$state_dir/endpoint")
    if curl -fsS --max-time 2 "$endpoint/_lab/health" >/dev/null 2>&1; then
      echo "$endpoint"
      exit 0
    fi
  fi
  if ! kill -0 "$launcher" 2>/dev/null; then
    echo "lab: server exited before it was ready; log follows" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "lab: not ready after 30 s; stopping it; log follows" >&2
kill "$launcher" 2>/dev/null || true
cat "$log" >&2
exit 1
