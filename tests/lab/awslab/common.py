"""Shared pieces of the lab: account settings, caller identities, faults, HTTP helpers."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

#: The IAM user name the lab attributes test requests to.
DEFAULT_USER = "lab-user"
#: Access key and user name of the principal of the ``overwrite_after_completion`` fault.
INTRUDER_ACCESS_KEY = "AKIALABINTRUDER00000"
INTRUDER_USER = "lab-intruder"


def utcnow() -> datetime:
    """Current time in UTC with second precision (CloudTrail records whole seconds)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def ct_time(moment: datetime) -> str:
    """Format a time the way CloudTrail records write ``eventTime``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    """A random UUID string (CloudTrail ``eventID`` / ``requestID``)."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Actor:
    """Who made a request, as CloudTrail's ``userIdentity`` would describe it.

    ``invoked_by`` is set when an AWS service acted for the principal (forward access
    sessions); ``source`` is the ``sourceIPAddress`` and ``agent`` the ``userAgent``.
    """

    access_key: str
    region: str
    source: str = "127.0.0.1"
    agent: str = "unknown"
    invoked_by: str | None = None
    user_name: str = DEFAULT_USER

    def user_identity(self) -> dict[str, Any]:
        """The ``userIdentity`` block of a CloudTrail record (an IAM user)."""
        principal = "AIDA" + hashlib.sha256(self.user_name.encode()).hexdigest()[:16].upper()
        identity: dict[str, Any] = {
            "type": "IAMUser",
            "principalId": principal,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/{self.user_name}",
            "accountId": ACCOUNT_ID,
            "accessKeyId": self.access_key,
            "userName": self.user_name,
        }
        if self.invoked_by:
            identity["invokedBy"] = self.invoked_by
        return identity

    def on_behalf(self, service: str, region: str | None = None) -> "Actor":
        """The same principal, with ``service`` acting for it (``invokedBy``), optionally
        in another Region (KMS calls happen in the key's Region)."""
        return Actor(
            self.access_key, region or self.region, service, service, service, self.user_name
        )


def parse_credential_scope(authorization: str | None) -> tuple[str, str, str] | None:
    """Return ``(access_key, region, service)`` from a SigV4 ``Authorization`` header."""
    if not authorization or "Credential=" not in authorization:
        return None
    credential = authorization.split("Credential=", 1)[1].split(",", 1)[0].strip()
    parts = credential.split("/")
    if len(parts) != 5:
        return None
    return parts[0], parts[2], parts[3]


KNOWN_FAULTS = {
    "wrong_key": "KMS key (any form) Textract uses instead of the requested KMSKeyId",
    "sse_s3_instead_of_kms": "row 4 outputs are written with SSE-S3 (AES256) instead of the CMK",
    "use_aws_s3_key": "outputs are written with aws:kms and no key id: the AWS managed aws/s3 key",
    "overwrite_after_completion": "{'key_suffix': S}: another principal overwrites matching outputs",
    "drop_data_events": "S3 data events are not recorded at all",
    "exclude_kms_events": "KMS events are left out of delivered trail log files",
    "job_status": "'FAILED' or 'IN_PROGRESS' for jobs started while set",
    "warnings": "list of Textract Warnings ({'ErrorCode','Pages'}) added to new jobs",
    "throttle": "{'operation': Op, 'count': N}: the next N calls of Op are throttled",
    "access_denied": "{'operation': Op, 'key_suffix': S}: calls of Op (on keys ending in S) are denied",
    "query_state": "{'state': S, 'reason': R}: Athena/Lake queries that would succeed end in "
                   "S (FAILED, CANCELLED, TIMED_OUT) or stay RUNNING",
    "forget_jobs": "Textract Get* answers InvalidJobIdException for every job (as after 7 days)",
    "no_event_history": "LookupEvents returns no record (the jobs are older than the window read)",
}


class FaultError(ValueError):
    """A fault document the lab does not understand."""


@dataclass
class Faults:
    """Fault injection switches, set with ``POST /_lab/faults``. Thread-safe."""

    values: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, document: dict[str, Any]) -> dict[str, Any]:
        """Merge ``document`` in; a ``null`` value clears that fault. Returns the new set."""
        unknown = sorted(set(document) - set(KNOWN_FAULTS))
        if unknown:
            raise FaultError(f"unknown fault(s) {unknown}; known: {sorted(KNOWN_FAULTS)}")
        status = document.get("job_status")
        if status not in (None, "FAILED", "IN_PROGRESS"):
            raise FaultError("job_status must be FAILED or IN_PROGRESS")
        for name in ("throttle", "access_denied", "overwrite_after_completion", "query_state"):
            value = document.get(name)
            if value is not None and not isinstance(value, dict):
                raise FaultError(f"{name} must be an object")
        with self.lock:
            for name, value in document.items():
                if value is None or value is False:
                    self.values.pop(name, None)
                else:
                    self.values[name] = value
            return dict(self.values)

    def clear(self) -> None:
        """Remove every fault."""
        with self.lock:
            self.values.clear()

    def get(self, name: str) -> Any:
        """Current value of one fault, or ``None``."""
        with self.lock:
            return self.values.get(name)

    def snapshot(self) -> dict[str, Any]:
        """A copy of all current faults."""
        with self.lock:
            return dict(self.values)

    def take_throttle(self, operation: str) -> bool:
        """True if ``operation`` must be throttled now (consumes one from the count)."""
        with self.lock:
            throttle = self.values.get("throttle")
            if not throttle or throttle.get("operation") != operation:
                return False
            remaining = int(throttle.get("count", 1))
            if remaining <= 1:
                self.values.pop("throttle")
            else:
                throttle["count"] = remaining - 1
            return True

    def denies(self, operation: str, key: str | None) -> bool:
        """True if the ``access_denied`` fault covers this call."""
        with self.lock:
            rule = self.values.get("access_denied")
        if not rule or rule.get("operation") != operation:
            return False
        suffix = rule.get("key_suffix")
        return suffix is None or (key is not None and key.endswith(suffix))


@dataclass
class Reply:
    """A complete HTTP response: status, headers and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """First value of header ``name`` (case-insensitive)."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300


def json_reply(payload: Any, status: int = 200, content_type: str = "application/json") -> Reply:
    """A JSON response."""
    body = json.dumps(payload, default=str).encode()
    return Reply(status, [("Content-Type", content_type), ("x-amzn-RequestId", new_id())], body)


def aws_json_error(code: str, message: str, status: int = 400) -> Reply:
    """An error in the AWS JSON 1.1 protocol shape (``__type`` + ``message``)."""
    return json_reply({"__type": code, "message": message}, status, "application/x-amz-json-1.1")


def s3_error(code: str, message: str, status: int, resource: str = "", head: bool = False) -> Reply:
    """An error in S3's REST-XML shape. HEAD responses carry no body, like S3's."""
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Resource>{resource}</Resource><RequestId>{request_id}</RequestId>"
        f"<HostId>{uuid.uuid4().hex}</HostId></Error>"
    ).encode()
    headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    return Reply(status, headers, b"" if head else body)
