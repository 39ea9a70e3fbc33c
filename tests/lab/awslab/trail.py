"""CloudTrail as the lab plays it: event recording, LookupEvents and log file delivery.

Every record is a CloudTrail record exactly as trail log files hold it. ``LookupEvents``
serves management events only (event history); log files are delivered to the buckets of
the trails created in moto, filtered by each trail's (basic or advanced) event selectors.
"""

from __future__ import annotations

import base64
import gzip
import json
import secrets
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from moto.cloudtrail.models import cloudtrail_backends

from .common import ACCOUNT_ID, Actor, Reply, aws_json_error, ct_time, json_reply, new_id, utcnow

#: ``deliver(bucket, key, gzip_body, trail_kms_key)``: writes one log file (not itself logged).
Deliver = Callable[[str, str, bytes, str | None], None]

LOOKUP_PAGE_MAX = 50
LOOKUP_KEYS = {
    "EventId": lambda r: [r["eventID"]],
    "EventName": lambda r: [r["eventName"]],
    "ReadOnly": lambda r: [str(r["readOnly"]).lower()],
    "Username": lambda r: [_username(r)],
    "ResourceType": lambda r: [res.get("type", "") for res in r.get("resources", [])],
    "ResourceName": lambda r: [res.get("ARN", "") for res in r.get("resources", [])],
    "EventSource": lambda r: [r["eventSource"]],
    "AccessKeyId": lambda r: [r["userIdentity"].get("accessKeyId", "")],
}


def _username(record: dict[str, Any]) -> str:
    identity = record["userIdentity"]
    return identity.get("userName") or identity.get("sessionContext", {}).get(
        "sessionIssuer", {}
    ).get("userName", "")


def make_record(
    actor: Actor,
    source: str,
    name: str,
    *,
    read_only: bool,
    request: dict[str, Any] | None,
    response: dict[str, Any] | None,
    resources: list[dict[str, Any]] | None = None,
    additional: dict[str, Any] | None = None,
    data_event: bool = False,
    error: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Build one CloudTrail record (``eventVersion`` 1.11 field order and names)."""
    record: dict[str, Any] = {
        "eventVersion": "1.11",
        "userIdentity": actor.user_identity(),
        "eventTime": ct_time(utcnow()),
        "eventSource": source,
        "eventName": name,
        "awsRegion": actor.region,
        "sourceIPAddress": actor.source,
        "userAgent": actor.agent,
    }
    if error:
        record["errorCode"], record["errorMessage"] = error
    record["requestParameters"] = request
    record["responseElements"] = response
    if additional is not None:
        record["additionalEventData"] = additional
    record.update(
        {
            "requestID": new_id(),
            "eventID": new_id(),
            "readOnly": read_only,
        }
    )
    if resources:
        record["resources"] = resources
    record.update(
        {
            "eventType": "AwsApiCall",
            "managementEvent": not data_event,
            "recipientAccountId": ACCOUNT_ID,
            "eventCategory": "Data" if data_event else "Management",
        }
    )
    return record


class Recorder:
    """Holds every record the lab made, and what has been delivered to each trail."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._delivered: dict[str, int] = {}

    def add(self, record: dict[str, Any]) -> None:
        """Record one event."""
        with self._lock:
            self._records.append(record)

    def all(self) -> list[dict[str, Any]]:
        """Every record, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget every record (lab reset)."""
        with self._lock:
            self._records.clear()
            self._delivered.clear()

    def take_pending(self, trail_arn: str) -> list[dict[str, Any]]:
        """Records not yet considered for ``trail_arn``; marks them as considered."""
        with self._lock:
            start = self._delivered.get(trail_arn, 0)
            self._delivered[trail_arn] = len(self._records)
            return self._records[start:]

    # -- LookupEvents ------------------------------------------------------------------

    def lookup_events(self, params: dict[str, Any], region: str) -> Reply:
        """Answer ``LookupEvents`` like CloudTrail event history (management events only)."""
        attributes = params.get("LookupAttributes") or []
        if len(attributes) > 1:
            return aws_json_error(
                "InvalidLookupAttributesException", "You can only specify one lookup attribute."
            )
        max_results = params.get("MaxResults", LOOKUP_PAGE_MAX)
        if not 1 <= int(max_results) <= LOOKUP_PAGE_MAX:
            return aws_json_error(
                "InvalidMaxResultsException", "MaxResults must be between 1 and 50."
            )
        if params.get("EventCategory") not in (None, "insight"):
            return aws_json_error("InvalidEventCategoryException", "Unsupported EventCategory.")
        if any(a.get("AttributeKey") not in LOOKUP_KEYS for a in attributes):
            return aws_json_error("InvalidLookupAttributesException", "Unknown AttributeKey.")
        start = _epoch(params.get("StartTime"))
        end = _epoch(params.get("EndTime"))
        if start is not None and end is not None and start > end:
            return aws_json_error(
                "InvalidTimeRangeException", "Start time must be before end time."
            )
        matches = [
            r
            for r in self.all()
            if r["eventCategory"] == "Management"
            and params.get("EventCategory") is None
            and r["awsRegion"] == region
            and _in_window(r, start, end)
            and all(
                a["AttributeValue"] in LOOKUP_KEYS[a["AttributeKey"]](r)
                for a in attributes
            )
        ]
        # Newest first; records of the same second keep reverse insertion order.
        matches.reverse()
        matches.sort(key=lambda r: r["eventTime"], reverse=True)
        offset = _decode_token(params.get("NextToken"))
        if offset is None:
            return aws_json_error("InvalidNextTokenException", "Invalid NextToken.")
        page = matches[offset : offset + int(max_results)]
        body: dict[str, Any] = {"Events": [_lookup_event(r) for r in page]}
        if offset + len(page) < len(matches):
            body["NextToken"] = base64.b64encode(f"lab:{offset + len(page)}".encode()).decode()
        return json_reply(body, content_type="application/x-amz-json-1.1")

    # -- log file delivery ---------------------------------------------------------------

    def flush(self, deliver: Deliver, exclude_kms: bool) -> list[dict[str, Any]]:
        """Deliver pending records of every logging trail as ``.json.gz`` log files.

        Returns one entry per file written: trail ARN, bucket, key and record count.
        """
        written: list[dict[str, Any]] = []
        now = datetime.now(timezone.utc)
        for trail in _trails():
            pending = self.take_pending(trail.arn)
            if not trail.status.is_logging:
                continue
            by_region: dict[str, list[dict[str, Any]]] = {}
            for record in pending:
                if record["awsRegion"] != trail.region_name and not trail.is_multi_region:
                    continue
                if exclude_kms and record["eventSource"] == "kms.amazonaws.com":
                    continue
                if selects(trail.event_selectors, trail.advanced_event_selectors, record):
                    by_region.setdefault(record["awsRegion"], []).append(record)
            for region, records in sorted(by_region.items()):
                key = log_file_key(trail.s3_key_prefix, region, now)
                body = gzip.compress(json.dumps({"Records": records}).encode())
                deliver(trail.bucket_name, key, body, trail.kms_key_id)
                written.append(
                    {"trail": trail.arn, "bucket": trail.bucket_name, "key": key,
                     "records": len(records)}
                )
        return written


def log_file_key(prefix: str | None, region: str, moment: datetime) -> str:
    """The S3 key CloudTrail gives a log file delivered at ``moment``."""
    stamp = moment.strftime("%Y%m%dT%H%MZ")
    unique = secrets.token_hex(8)
    path = (
        f"AWSLogs/{ACCOUNT_ID}/CloudTrail/{region}/{moment:%Y/%m/%d}/"
        f"{ACCOUNT_ID}_CloudTrail_{region}_{stamp}_{unique}.json.gz"
    )
    return f"{prefix.strip('/')}/{path}" if prefix else path


def _trails() -> Iterable[Any]:
    """Every trail created in moto for the lab account, in any Region."""
    for backend in list(cloudtrail_backends[ACCOUNT_ID].values()):
        yield from list(backend.trails.values())


# -- event selectors -------------------------------------------------------------------


def selects(
    basic: list[dict[str, Any]], advanced: list[dict[str, Any]], record: dict[str, Any]
) -> bool:
    """True if a trail with these selectors logs ``record``.

    No selectors at all is CloudTrail's default: all management events, no data events.
    """
    if advanced:
        return any(_advanced_matches(s, record) for s in advanced)
    if not basic:
        return record["eventCategory"] == "Management"
    return any(_basic_matches(s, record) for s in basic)


def _read_write_ok(read_write: str, record: dict[str, Any]) -> bool:
    if read_write == "ReadOnly":
        return bool(record["readOnly"])
    if read_write == "WriteOnly":
        return not record["readOnly"]
    return True


def _basic_matches(selector: dict[str, Any], record: dict[str, Any]) -> bool:
    if not _read_write_ok(selector.get("ReadWriteType", "All"), record):
        return False
    if record["eventCategory"] == "Management":
        excluded = selector.get("ExcludeManagementEventSources") or []
        return selector.get("IncludeManagementEvents", True) and (
            record["eventSource"] not in excluded
        )
    for data_resource in selector.get("DataResources") or []:
        for resource in record.get("resources", []):
            if resource.get("type") != data_resource.get("Type"):
                continue
            if any(resource["ARN"].startswith(v) for v in data_resource.get("Values") or []):
                return True
    return False


def _field_values(record: dict[str, Any], name: str) -> list[str]:
    data_resources = [
        r for r in record.get("resources", []) if r.get("type") != "AWS::S3::Bucket"
    ]
    if name == "resources.type":
        return [r["type"] for r in data_resources]
    if name == "resources.ARN":
        return [r["ARN"] for r in data_resources]
    if name == "readOnly":
        return [str(record["readOnly"]).lower()]
    if name == "userIdentity.arn":
        return [record["userIdentity"].get("arn", "")]
    value = record.get(name)
    return [] if value is None else [str(value)]


def _field_matches(field: dict[str, Any], values: list[str]) -> bool:
    checks = {
        "Equals": lambda v, x: v == x,
        "StartsWith": lambda v, x: v.startswith(x),
        "EndsWith": lambda v, x: v.endswith(x),
    }
    for operator, test in checks.items():
        wanted = field.get(operator)
        if wanted and not any(test(v, x) for v in values for x in wanted):
            return False
        unwanted = field.get("Not" + operator)
        if unwanted and any(test(v, x) for v in values for x in unwanted):
            return False
    return True


def _advanced_matches(selector: dict[str, Any], record: dict[str, Any]) -> bool:
    return all(
        _field_matches(f, _field_values(record, f["Field"]))
        for f in selector.get("FieldSelectors") or []
    )


# -- helpers -----------------------------------------------------------------------------


def _epoch(value: Any) -> float | None:
    """A JSON-protocol timestamp (epoch seconds, or an ISO string) as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _record_epoch(record: dict[str, Any]) -> float:
    return datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc
    ).timestamp()


def _in_window(record: dict[str, Any], start: float | None, end: float | None) -> bool:
    moment = _record_epoch(record)
    return (start is None or moment >= start) and (end is None or moment <= end)


def _decode_token(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        prefix, offset = base64.b64decode(token).decode().split(":")
        return int(offset) if prefix == "lab" else None
    except ValueError:
        return None


def _lookup_event(record: dict[str, Any]) -> dict[str, Any]:
    """One ``Event`` of a ``LookupEvents`` answer."""
    event: dict[str, Any] = {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": str(record["readOnly"]).lower(),
        "EventTime": _record_epoch(record),
        "EventSource": record["eventSource"],
        "Username": _username(record),
        "Resources": [
            {"ResourceType": r.get("type"), "ResourceName": r.get("ARN")}
            for r in record.get("resources", [])
        ],
        "CloudTrailEvent": json.dumps(record),
    }
    access_key = record["userIdentity"].get("accessKeyId")
    if access_key:
        event["AccessKeyId"] = access_key
    return event
