"""CloudTrail log file integrity as the lab plays it: digest files and ``ListPublicKeys``.

moto has neither. On every ``POST /_lab/flush-trail``, each logging trail with log file
validation on (``EnableLogFileValidation``) gets, per Region it logs, one digest file in
CloudTrail's format (docs/integrity.md) covering the time since its previous digest (CloudTrail
delivers one per hour; the lab one per flush, so that tests need not wait), listing the log
files that flush delivered, with an empty ``logFiles`` when there were none, chained to the
previous digest and signed (RSA PKCS#1 v1.5, SHA-256) by the lab's key. The signature goes
into the object's user metadata (``signature``, ``signature-algorithm``) as CloudTrail puts
it. ``ListPublicKeys`` answers the lab's key: DER PKCS#1 (a blob: base64 on the wire),
fingerprint the MD5 of the DER.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .common import ACCOUNT_ID, Reply, aws_json_error, json_reply
from .trail import _trails

#: ``put(bucket, key, gzip_body, user_metadata)``: writes one digest object.
PutDigest = Callable[[str, str, bytes, dict[str, str]], None]

SIGNATURE_ALGORITHM = "SHA256withRSA"
KEY_VALIDITY = timedelta(days=30)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Digests:
    """The lab's digest chains and signing key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
        self.fingerprint = hashlib.md5(self.public_der).hexdigest()
        self.valid_from = datetime.now(timezone.utc) - timedelta(hours=1)
        self.reset()

    def reset(self) -> None:
        """Forget every chain (the key stays: it is the lab's Regional key)."""
        with self._lock:
            # (trail ARN, Region) -> (digest key, SHA-256 hex, signature hex, end time)
            self._last: dict[tuple[str, str], tuple[str, str, str, datetime]] = {}
            self._started: dict[tuple[str, str], datetime] = {}
            self._logs: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def note_log(self, trail_arn: str, region: str, bucket: str, key: str, body: bytes) -> None:
        """Remember a delivered log file for the trail's next digest, if it validates (a
        log file delivered while validation is off is in no digest, as in CloudTrail)."""
        if not any(t.arn == trail_arn and t.log_validation for t in _trails()):
            return
        content = gzip.decompress(body)
        times = sorted(r["eventTime"] for r in json.loads(content)["Records"])
        entry = {
            "s3Bucket": bucket,
            "s3Object": key,
            "hashValue": hashlib.sha256(content).hexdigest(),
            "hashAlgorithm": "SHA-256",
            "newestEventTime": times[-1] if times else None,
            "oldestEventTime": times[0] if times else None,
        }
        with self._lock:
            self._logs.setdefault((trail_arn, region), []).append(entry)

    def deliver(self, put: PutDigest) -> list[dict[str, Any]]:
        """Write one digest per validating trail and Region; returns what was written."""
        now = datetime.now(timezone.utc).replace(microsecond=0)
        written = []
        for trail in _trails():
            if not (trail.status.is_logging and trail.log_validation):
                continue
            with self._lock:
                regions = {r for (arn, r) in [*self._logs, *self._last] if arn == trail.arn}
            for region in sorted(regions | {trail.region_name}):
                written.append(self._deliver_one(trail, region, now, put))
        return written

    def _deliver_one(self, trail: Any, region: str, now: datetime, put: PutDigest) -> dict[str, Any]:
        chain = (trail.arn, region)
        with self._lock:
            last = self._last.get(chain)
            logs = self._logs.pop(chain, [])
            start = last[3] if last else self._started.setdefault(chain, now - timedelta(seconds=1))
        end = max(now, start + timedelta(seconds=1))  # one digest per second at most
        prefix = f"{trail.s3_key_prefix.strip('/')}/" if trail.s3_key_prefix else ""
        key = (
            f"{prefix}AWSLogs/{ACCOUNT_ID}/CloudTrail-Digest/{region}/{end:%Y/%m/%d}/"
            f"{ACCOUNT_ID}_CloudTrail-Digest_{region}_{trail.trail_name}_{trail.region_name}_"
            f"{end:%Y%m%dT%H%M%SZ}.json.gz"
        )
        events = [t for log in logs for t in (log["oldestEventTime"], log["newestEventTime"]) if t]
        document = {
            "awsAccountId": ACCOUNT_ID,
            "digestStartTime": _stamp(start),
            "digestEndTime": _stamp(end),
            "digestS3Bucket": trail.bucket_name,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": self.fingerprint,
            "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
            "newestEventTime": max(events) if events else None,
            "oldestEventTime": min(events) if events else None,
            "previousDigestS3Bucket": trail.bucket_name if last else None,
            "previousDigestS3Object": last[0] if last else None,
            "previousDigestHashValue": last[1] if last else None,
            "previousDigestHashAlgorithm": "SHA-256" if last else None,
            "previousDigestSignature": last[2] if last else None,
            "logFiles": logs,
        }
        content = json.dumps(document).encode()
        previous_signature = last[2] if last else "null"
        to_sign = (
            f"{document['digestEndTime']}\n{trail.bucket_name}/{key}\n"
            f"{hashlib.sha256(content).hexdigest()}\n{previous_signature}"
        )
        signature = self._key.sign(to_sign.encode(), padding.PKCS1v15(), hashes.SHA256()).hex()
        put(trail.bucket_name, key, gzip.compress(content),
            {"signature": signature, "signature-algorithm": SIGNATURE_ALGORITHM})
        with self._lock:
            self._last[chain] = (key, hashlib.sha256(content).hexdigest(), signature, end)
        return {"trail": trail.arn, "bucket": trail.bucket_name, "key": key, "logFiles": len(logs)}

    def list_public_keys(self, params: dict[str, Any]) -> Reply:
        """``cloudtrail:ListPublicKeys``: the lab key when its validity overlaps the range."""
        valid_until = self.valid_from + KEY_VALIDITY
        now = datetime.now(timezone.utc).timestamp()
        start = params.get("StartTime", now)
        end = params.get("EndTime", now)
        if not all(isinstance(t, (int, float)) for t in (start, end)):
            return aws_json_error("InvalidTimeRangeException", "StartTime and EndTime must be timestamps")
        if start > end:
            return aws_json_error("InvalidTimeRangeException", "StartTime is after EndTime")
        keys = []
        if start <= valid_until.timestamp() and end >= self.valid_from.timestamp():
            keys.append({
                "Value": base64.b64encode(self.public_der).decode(),
                "ValidityStartTime": self.valid_from.timestamp(),
                "ValidityEndTime": valid_until.timestamp(),
                "Fingerprint": self.fingerprint,
            })
        return json_reply({"PublicKeyList": keys}, content_type="application/x-amz-json-1.1")
