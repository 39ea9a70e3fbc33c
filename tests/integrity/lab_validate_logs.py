#!/usr/bin/env python3
"""The AWS CLI's `aws cloudtrail validate-logs`, online against the lab's digest files.

Seeds the lab, turns log file validation on, delivers three digests (two listing a log file each,
one empty) and runs the real CLI with its S3 and CloudTrail endpoints pointed at the lab:
every digest and log file must be valid. Then overwrites the delivered log file and runs it
again: the CLI must report it INVALID and exit 1. Prints ``N passed, N failed`` last.

    LAB_PYTHON tests/integrity/lab_validate_logs.py ENDPOINT AWS_CLI_PYTHON
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

from awslab.seed import OUTPUT_BUCKET, TRAIL_BUCKET, clients, control, seed  # noqa: E402

TRAIL_ARN = "arn:aws:cloudtrail:us-east-1:123456789012:trail/lab-trail"


def validate_logs(endpoint: str, python: str, start: datetime) -> subprocess.CompletedProcess:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIALABTEST", AWS_SECRET_ACCESS_KEY="lab",
               AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL_S3=endpoint,
               AWS_ENDPOINT_URL_CLOUDTRAIL=endpoint, AWS_CONFIG_FILE=os.devnull,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    return subprocess.run(
        [python, "-m", "awscli", "cloudtrail", "validate-logs", "--trail-arn", TRAIL_ARN,
         "--start-time", start.strftime("%Y-%m-%dT%H:%M:%SZ"), "--verbose"],
        env=env, capture_output=True, text=True, timeout=120,
    )


def main(endpoint: str, python: str) -> int:
    passed = failed = 0

    def check(name: str, ok: bool, detail: object) -> None:
        nonlocal passed, failed
        passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
        if not ok:
            print(f"FAIL {name}: {detail}")

    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    seed(endpoint, "row4", run_job=True)
    aws = clients(endpoint)
    aws["cloudtrail"].update_trail(Name="lab-trail", EnableLogFileValidation=True)
    logs = control(endpoint, "flush-trail", {})["delivered"]  # the job's records
    aws["s3"].put_object(Bucket=OUTPUT_BUCKET, Key="textract-results/extra", Body=b"x")
    logs += control(endpoint, "flush-trail", {})["delivered"]  # its data event
    control(endpoint, "flush-trail", {})  # nothing: an empty digest
    good = validate_logs(endpoint, python, start)
    check("validate-logs exits 0", good.returncode == 0, good.stdout + good.stderr)
    check("3/3 digest files valid", "3/3 digest files valid" in good.stdout, good.stdout)
    check("2/2 log files valid", len(logs) == 2 and "2/2 log files valid" in good.stdout, good.stdout)

    log = logs[-1]
    body = json.loads(gzip.decompress(aws["s3"].get_object(Bucket=TRAIL_BUCKET, Key=log["key"])["Body"].read()))
    body["Records"] = []
    aws["s3"].put_object(Bucket=TRAIL_BUCKET, Key=log["key"], Body=gzip.compress(json.dumps(body).encode()))
    bad = validate_logs(endpoint, python, start)
    check("validate-logs exits 1 on a changed log file", bad.returncode == 1, bad.stdout + bad.stderr)
    check("the changed log file is INVALID", f"{log['key']}\tINVALID: hash value doesn't match" in bad.stderr,
          bad.stderr)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
