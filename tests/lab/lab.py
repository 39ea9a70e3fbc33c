#!/usr/bin/env python3
"""Local AWS lab for textract-audit: moto 5.2.5 plus a front that makes it behave like AWS.

    lab.py serve --port 0 --state-dir DIR     run on 127.0.0.1; writes DIR/endpoint, DIR/pid
        [--exit-when-unused]                  stop once no process holds DIR/users.lock
    lab.py seed --endpoint URL --scenario S   create a scenario's resources (JSON on stdout)
    lab.py scenarios                          list the scenarios

See tests/lab/README.md for the control API and the fault names.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from awslab.seed import SCENARIOS, seed  # noqa: E402


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)


# How long the lab waits, unused, before it stops: long enough for `cargo test` to go from one
# test binary to the next, short enough not to linger.
UNUSED_GRACE_SECONDS = 5.0


def _stop_when_unused(state_dir: Path, endpoint_file: Path, server: object) -> None:
    """The shared test lab's lifetime (tests/common/mod.rs): every test process that uses the
    lab holds a shared flock on users.lock for its whole life (the kernel drops it when the
    process ends, however it ends); joining and stopping both happen under control.lock. Once
    nobody has held users.lock for UNUSED_GRACE_SECONDS, the lab withdraws its endpoint file
    and stops, keeping control.lock until it has exited."""
    import fcntl
    import time

    unused_since = None
    while True:
        time.sleep(0.5)
        control = open(state_dir / "control.lock", "a")  # noqa: SIM115 (held past the loop)
        try:
            fcntl.flock(control, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            control.close()
            unused_since = None
            continue
        with open(state_dir / "users.lock", "a") as users:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
                used = False
            except BlockingIOError:
                used = True
        now = time.monotonic()
        if used:
            unused_since = None
        elif unused_since is None:
            unused_since = now
        if unused_since is None or now - unused_since < UNUSED_GRACE_SECONDS:
            control.close()
            continue
        endpoint_file.unlink(missing_ok=True)
        print("lab: no test process uses the lab any more, stopping", file=sys.stderr, flush=True)
        _HELD.append(control)  # released when the process exits
        server.shutdown()
        return


_HELD: list[object] = []


def serve(port: int, state_dir: Path, verbose: bool, exit_when_unused: bool = False) -> int:
    """Run the lab until SIGTERM/SIGINT (or, shared by tests, until unused); the state files
    exist exactly while it serves."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from awslab.front import LabApp

    logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.WARNING)
    app = LabApp(DomainDispatcherApplication(create_backend_app), seeder=seed)
    server = make_server("127.0.0.1", port, app, threaded=True,
                         request_handler=MotoRequestHandler)
    app.endpoint = f"http://127.0.0.1:{server.server_port}"
    state_dir.mkdir(parents=True, exist_ok=True)
    endpoint_file, pid_file = state_dir / "endpoint", state_dir / "pid"

    def stop(signum: int, _frame: object) -> None:
        print(f"lab: signal {signum}, stopping", file=sys.stderr, flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _write_atomically(pid_file, f"{os.getpid()}\n")
    _write_atomically(endpoint_file, app.endpoint + "\n")
    print(f"lab: serving on {app.endpoint}", file=sys.stderr, flush=True)
    if exit_when_unused:
        threading.Thread(target=_stop_when_unused, args=(state_dir, endpoint_file, server),
                         daemon=True).start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
        for path in (endpoint_file, pid_file):
            path.unlink(missing_ok=True)
    print("lab: stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the lab")
    serve_cmd.add_argument("--port", type=int, default=0, help="0: let the OS choose")
    serve_cmd.add_argument("--state-dir", type=Path, required=True)
    serve_cmd.add_argument("--verbose", action="store_true", help="log every request")
    serve_cmd.add_argument("--exit-when-unused", action="store_true",
                           help="stop once no process holds STATE_DIR/users.lock (shared test lab)")
    seed_cmd = commands.add_parser("seed", help="create a scenario's resources")
    seed_cmd.add_argument("--endpoint", required=True)
    seed_cmd.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    seed_cmd.add_argument("--run-job", action="store_true",
                          help="also start the scenario's Textract job")
    seed_cmd.add_argument("--keep", action="store_true", help="do not reset the lab first")
    commands.add_parser("scenarios", help="list scenarios")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.port, args.state_dir, args.verbose, args.exit_when_unused)
    if args.command == "seed":
        result = seed(args.endpoint.rstrip("/"), args.scenario, args.run_job,
                      reset=not args.keep)
        print(json.dumps(result, indent=2))
        return 0
    for scenario in SCENARIOS.values():
        print(f"{scenario.name:26} {scenario.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
