"""Runs the AWS CLI's own `aws cloudtrail validate-logs` logic offline, over files on disk.

The CLI's command (awscli.customizations.cloudtrail.validation.CloudTrailValidateLogs) is
used unchanged; only the clients it is given are local: an S3 client that lists and reads a
folder standing for the trail bucket (a digest's user metadata comes from its sidecar
`NAME.json.gz.metadata.json`, docs/integrity.md), and a CloudTrail client whose
ListPublicKeys answers a `list-public-keys` JSON file. Nothing goes to the network.

    python awscli_validate.py BUCKET_DIR BUCKET KEYS_JSON TRAIL_ARN REGION START END

prints one JSON object: the CLI's counters and the messages it wrote.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any, Iterator

from awscli.customizations.cloudtrail.validation import (
    CloudTrailValidateLogs,
    normalize_date,
    parse_date,
)
from botocore.exceptions import ClientError  # the botocore the CLI itself uses

SIDECAR = ".metadata.json"


class LocalBucket:
    """The two S3 calls the validator makes, answered from a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _keys(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.endswith(SIDECAR)
        )

    def get_paginator(self, name: str) -> "LocalBucket":
        assert name == "list_objects", name
        return self

    def paginate(self, Bucket: str, Marker: str, Prefix: str) -> "Listing":  # noqa: N803
        return Listing([k for k in self._keys() if k.startswith(Prefix) and k > Marker])

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        path = self.root / Key
        if not path.is_file():
            raise ClientError(
                {"Error": {"Code": "NoSuchKey", "Message": "The specified key does not exist."}},
                "GetObject",
            )
        sidecar = path.with_name(path.name + SIDECAR)
        metadata = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
        return {"Body": io.BytesIO(path.read_bytes()), "Metadata": metadata}


class Listing:
    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def search(self, expression: str) -> Iterator[str]:
        assert expression == "Contents[*].Key", expression
        return iter(self.keys)


class Buckets:
    """S3ClientProvider stand-in: one local bucket."""

    def __init__(self, name: str, root: Path) -> None:
        self.name, self.bucket = name, LocalBucket(root)

    def get_client(self, bucket_name: str) -> LocalBucket:
        assert bucket_name == self.name, bucket_name
        return self.bucket


class KeysFile:
    """ListPublicKeys from a `list-public-keys` JSON file. The CLI leaves blobs as the wire's
    base64 text (`blob_parser=identity` in awscli/customizations/scalarparse.py), which is
    what the file holds and what the validator base64-decodes."""

    def __init__(self, path: Path) -> None:
        self.keys = json.loads(path.read_text())["PublicKeyList"]

    def list_public_keys(self, StartTime: Any, EndTime: Any) -> dict[str, Any]:  # noqa: N803
        return {"PublicKeyList": self.keys}


def main(root: str, bucket: str, keys: str, trail_arn: str, region: str, start: str, end: str) -> None:
    cmd = CloudTrailValidateLogs(None)
    cmd.trail_arn = trail_arn
    cmd.is_verbose = True
    cmd.s3_bucket, cmd.s3_prefix, cmd.account_id = bucket, None, trail_arn.split(":")[4]
    cmd.start_time = normalize_date(parse_date(start))
    cmd.end_time = normalize_date(parse_date(end))
    cmd._source_region = region
    cmd.s3_client_provider = Buckets(bucket, Path(root))
    cmd.cloudtrail_client = KeysFile(Path(keys))
    cmd.organization_client = None
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        cmd._call()
    print(json.dumps({
        "valid_digests": cmd._valid_digests,
        "invalid_digests": cmd._invalid_digests,
        "valid_backfill_digests": cmd._valid_backfill_digests,
        "invalid_backfill_digests": cmd._invalid_backfill_digests,
        "valid_logs": cmd._valid_logs,
        "invalid_logs": cmd._invalid_logs,
        "errors": [line for line in err.getvalue().splitlines() if line.strip()],
    }))


if __name__ == "__main__":
    main(*sys.argv[1:])
