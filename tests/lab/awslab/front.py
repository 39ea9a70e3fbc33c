"""The lab's public WSGI application: routes each request to the lab or to moto.

* ``/_lab/...``                       control API (JSON), see ``tests/lab/README.md``
* Textract (SigV4 scope ``textract``)  answered by :mod:`awslab.textract`
* CloudTrail ``LookupEvents``          answered from the lab's records
* CloudTrail ``ListPublicKeys``        answered by :mod:`awslab.digest` (digest signing key)
* S3 (SigV4 scope ``s3``)              :mod:`awslab.s3` (moto + fixes + data events)
* KMS ``GetKeyPolicy``                 ``PolicyName`` defaults to ``default`` (moto needs it)
* Athena queries, CloudTrail Lake       :mod:`awslab.athena` (sqlglot -> DuckDB; Glue is moto's)
* IAM Access Analyzer policy checks     :mod:`awslab.analyzer` (the lab's small stand-in)
* anything else                        moto unchanged
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import traceback
from pathlib import Path
from urllib.parse import parse_qs
from typing import Any, Callable

from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.test import EnvironBuilder
from werkzeug.wsgi import get_input_stream

from .common import (
    ACCOUNT_ID,
    DEFAULT_REGION,
    KNOWN_FAULTS,
    Actor,
    FaultError,
    Faults,
    Reply,
    aws_json_error,
    json_reply,
    parse_credential_scope,
)
from . import analyzer, readers, wire
from .athena import Engines
from .digest import Digests
from .s3 import SSE, SSE_KEY, MotoBridge, S3Front, classify
from .textract import Textract
from .trail import Recorder

#: Who writes trail log files and digests (CloudTrail's delivery; not itself logged).
_DELIVERY = Actor("AKIACLOUDTRAILDELIVER", DEFAULT_REGION, "cloudtrail.amazonaws.com",
                  "cloudtrail.amazonaws.com")

#: ``seed(endpoint, scenario, run_job)`` -> description of what was created.
Seeder = Callable[[str, str, bool], dict[str, Any]]


class LabApp:
    """WSGI application in front of moto."""

    def __init__(self, moto_app: Any, seeder: Seeder) -> None:
        self.faults = Faults()
        self.recorder = Recorder()
        self.bridge = MotoBridge(moto_app)
        self.s3 = S3Front(self.bridge, self.recorder, self.faults)
        self.textract = Textract(self.s3, self.recorder, self.faults)
        self.seeder = seeder
        self.endpoint = ""
        self.digests = Digests()
        #: every delivered trail log file: ``(bucket, key, gzip size, records)``
        self.delivered_logs: list[tuple[str, str, int, list[dict[str, Any]]]] = []
        #: the records of log files delivered from outside (``POST /_lab/deliver-logs``):
        #: events the lab did not make, in the event data store too
        self.imported: list[dict[str, Any]] = []
        self.engines = Engines(lambda: list(self.delivered_logs),
                               lambda: self.recorder.all() + self.imported,
                               _glue_table, _workgroup_output, self.faults)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        try:
            reply = self.wired(environ)
        except wire.Dropped:
            raise  # the server drops the connection without an answer
        except Exception as exc:  # a lab bug must surface as a 500, with the trace logged
            traceback.print_exc(file=sys.stderr)
            reply = aws_json_error("InternalFailure", f"lab error: {exc!r}", 500)
        status = f"{reply.status} {HTTP_STATUS_CODES.get(reply.status, 'Unknown')}"
        headers = reply.headers
        if reply.header(wire.CUT_HEADER):  # a cut answer keeps the length it promises
            headers = [(k, v) for k, v in headers if k.lower() != wire.CUT_HEADER.lower()]
        elif environ["REQUEST_METHOD"] != "HEAD":  # HEAD keeps the object's Content-Length
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(reply.body))))
        start_response(status, headers)
        return [reply.body]

    def wired(self, environ: dict[str, Any]) -> Reply:
        """Route one request through the wire fault that takes it, if any."""
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_lab/"):
            return self.dispatch(environ)
        operation, s3 = request_operation(environ)
        rule = self.faults.take_wire(operation)
        if rule is None:
            return self.dispatch(environ)
        reply = wire.apply(rule, environ, s3, lambda: self.dispatch(environ))
        return self.dispatch(environ) if reply is None else reply

    def dispatch(self, environ: dict[str, Any]) -> Reply:
        """Route one request."""
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_lab/"):
            return self.control(environ["REQUEST_METHOD"], path[len("/_lab/"):], environ)
        scope = parse_credential_scope(environ.get("HTTP_AUTHORIZATION"))
        access_key, region, service = scope or ("", DEFAULT_REGION, "")
        actor = Actor(access_key, region, environ.get("REMOTE_ADDR", "127.0.0.1"),
                      environ.get("HTTP_USER_AGENT", "unknown"), user_name=readers.user_for(access_key))
        if service == "s3":
            return self.s3.handle(environ, actor, session=access_key)
        if service == "account" and path == "/listRegions":
            return list_regions(_json(_read_body(environ)))
        if service == "access-analyzer" and path in analyzer.PATHS:
            operation = analyzer.PATHS[path]
            if self.faults.denies(operation, None):
                return analyzer.error("AccessDeniedException",
                                      f"User is not authorized to perform: access-analyzer:{operation}", 403)
            return analyzer.handle(operation, _json(_read_body(environ)))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target:
            return self.bridge.call(environ)
        operation = target.rsplit(".", 1)[-1]
        if self.faults.denies(operation, None):
            return aws_json_error("AccessDeniedException", f"User is not authorized to {operation}")
        body = _read_body(environ)
        if target.startswith("AmazonAthena.") and operation in ATHENA_OPERATIONS:
            return self.engines.athena(operation, _json(body), region)
        if "CloudTrail" in target and operation in LAKE_OPERATIONS:
            return self.engines.lake(operation, _json(body), region)
        if target.startswith("Textract."):
            return self.textract.handle(operation, _json(body), actor)
        if "CloudTrail" in target and operation == "LookupEvents":
            if self.faults.get("no_event_history"):
                return json_reply({"Events": []}, content_type="application/x-amz-json-1.1")
            return self.recorder.lookup_events(_json(body), region)
        if "CloudTrail" in target and operation == "ListPublicKeys":
            return self.digests.list_public_keys(_json(body))
        if target == "TrentService.GetKeyPolicy":
            params = _json(body)
            params.setdefault("PolicyName", "default")
            _replace_body(environ, json.dumps(params).encode())
        if target in readers.KMS_TARGETS:
            return readers.kms(target, region, lambda: self.bridge.call(environ))
        return self.bridge.call(environ)

    # -- control API -----------------------------------------------------------------

    def control(self, method: str, name: str, environ: dict[str, Any]) -> Reply:
        """Serve ``/_lab/{name}``."""
        try:
            document = _json(_read_body(environ)) if method == "POST" else {}
        except ValueError as exc:
            return json_reply({"error": f"bad JSON body: {exc}"}, 400)
        routes: dict[tuple[str, str], Callable[[], Any]] = {
            ("GET", "health"): lambda: {"ok": True, "endpoint": self.endpoint},
            ("POST", "reset"): self.reset,
            ("GET", "faults"): lambda: {"faults": self.faults.snapshot(), "known": KNOWN_FAULTS},
            ("POST", "faults"): lambda: {"faults": self.faults.update(document)},
            ("DELETE", "faults"): lambda: self.faults.clear() or {"faults": {}},
            ("POST", "flush-trail"): self.flush_trail,
            ("POST", "deliver-logs"): lambda: self.deliver_logs(document),
            ("GET", "events"): lambda: {"Records": self.recorder.all()},
            ("GET", "jobs"): self.jobs,
            ("GET", "queries"): lambda: {"queries": self.engines.history()},
            ("POST", "complete-jobs"): lambda: {"completed": self.textract.complete_pending()},
            ("POST", "seed"): lambda: self.seeder(
                self.endpoint, document.get("scenario", ""), bool(document.get("run_job"))
            ),
        }
        handler = routes.get((method, name))
        if handler is None:
            return json_reply({"error": f"no control route {method} /_lab/{name}"}, 404)
        try:
            return json_reply(handler())
        except (FaultError, KeyError, ValueError) as exc:
            return json_reply({"error": str(exc)}, 400)

    def reset(self) -> dict[str, Any]:
        """Empty moto and every piece of lab state."""
        self.bridge.call(EnvironBuilder(path="/moto-api/reset", method="POST").get_environ())
        self.faults.clear()
        self.recorder.clear()
        self.textract.reset()
        self.s3.reset()
        self.digests.reset()
        self.delivered_logs.clear()
        self.imported.clear()
        self.engines.reset()
        readers.reset()
        return {"reset": True}

    def deliver_log(self, bucket: str, key: str, body: bytes, kms_key: str | None) -> None:
        """Write one gzip log file to ``bucket`` as CloudTrail's delivery does (not itself
        logged); the Athena engine reads it from there."""
        headers = {SSE: "aws:kms", SSE_KEY: kms_key} if kms_key else {}
        reply = self.s3.put_object(bucket, key, body, headers, _DELIVERY, "cloudtrail",
                                   record=False)
        if not reply.ok:
            raise ValueError(f"log delivery to s3://{bucket}/{key} failed: {reply.body!r}")
        records = json.loads(gzip.decompress(body))["Records"]
        self.delivered_logs.append((bucket, key, len(body), records))

    def flush_trail(self) -> dict[str, Any]:
        """Deliver pending records to every logging trail's bucket."""

        bodies: dict[str, bytes] = {}

        def deliver(bucket: str, key: str, body: bytes, kms_key: str | None) -> None:
            self.deliver_log(bucket, key, body, kms_key)
            bodies[key] = body

        def put_digest(bucket: str, key: str, body: bytes, metadata: dict[str, str]) -> None:
            headers = {f"x-amz-meta-{k}": v for k, v in metadata.items()}
            reply = self.s3.put_object(bucket, key, body, headers, _DELIVERY, "cloudtrail",
                                       record=False)
            if not reply.ok:
                raise ValueError(f"digest delivery to s3://{bucket}/{key} failed: {reply.body!r}")

        written = self.recorder.flush(deliver, bool(self.faults.get("exclude_kms_events")))
        for log in written:
            region = log["key"].split("/CloudTrail/", 1)[1].split("/", 1)[0]
            self.digests.note_log(log["trail"], region, log["bucket"], log["key"], bodies[log["key"]])
        return {"delivered": written, "digests": self.digests.deliver(put_digest)}

    def deliver_logs(self, document: dict[str, Any]) -> dict[str, Any]:
        """``POST /_lab/deliver-logs {"dir", "bucket", "prefix", "table"}``: the trail log
        files under a local directory (an ``AWSLogs/...`` tree, e.g. a generated corpus),
        delivered to ``s3://bucket/prefix/`` at their relative paths as the lab's own are
        (:meth:`deliver_log`), their records put in the event data store too. With
        ``table`` (``{"database", "table"}``), the accounts of those files are added to the
        Glue table's account projection, as an organization table lists its accounts."""
        root = Path(str(document["dir"]))
        bucket = str(document["bucket"])
        prefix = str(document.get("prefix") or "").strip("/")
        files = sorted(p for p in root.rglob("*.json.gz") if "AWSLogs" in p.parts)
        accounts: set[str] = set()
        records = 0
        for path in files:
            relative = path.relative_to(root).as_posix()
            key = f"{prefix}/{relative}" if prefix else relative
            self.deliver_log(bucket, key, path.read_bytes(), None)
            added = self.delivered_logs[-1][3]
            self.imported.extend(added)
            records += len(added)
            parts = path.relative_to(root).parts
            accounts.add(parts[parts.index("AWSLogs") + 1])
        table = document.get("table")
        if table:
            _add_projected_accounts(str(table["database"]), str(table["table"]), sorted(accounts))
        return {"files": len(files), "records": records, "accounts": sorted(accounts)}

    def jobs(self) -> dict[str, Any]:
        """A summary of every Textract job (for test assertions)."""
        return {"jobs": [
            {"JobId": j.job_id, "Api": j.api.start, "JobStatus": j.status, "Pages": j.pages,
             "OutputBucket": j.output_bucket, "OutputFolder": j.folder() if j.output_bucket
             else None, "KMSKeyArn": j.kms_arn}
            for j in list(self.textract.jobs.values())
        ]}


def request_operation(environ: dict[str, Any]) -> tuple[str, bool]:
    """The operation a client request calls (``""`` when none is named) and whether it is
    S3's (REST-XML errors)."""
    scope = parse_credential_scope(environ.get("HTTP_AUTHORIZATION"))
    service = scope[2] if scope else ""
    if service == "s3":
        method = environ["REQUEST_METHOD"]
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        copy = {"x-amz-copy-source": environ.get("HTTP_X_AMZ_COPY_SOURCE")}
        return classify(method, environ.get("PATH_INFO", "/"), query, copy).operation, True
    if service == "account" and environ.get("PATH_INFO") == "/listRegions":
        return "ListRegions", False
    if service == "access-analyzer":
        return analyzer.PATHS.get(environ.get("PATH_INFO", ""), ""), False
    return environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1], False


#: Athena operations the lab's engine answers (the rest, workgroups &c., are moto's).
ATHENA_OPERATIONS = ("StartQueryExecution", "GetQueryExecution", "GetQueryResults",
                     "StopQueryExecution")
#: CloudTrail Lake operations the lab's engine answers.
LAKE_OPERATIONS = ("StartQuery", "DescribeQuery", "GetQueryResults", "CancelQuery")


def _glue_table(database: str, name: str, region: str) -> dict[str, Any] | None:
    """The current version of a table in moto's Glue Data Catalog, or ``None``."""
    from moto.glue.models import glue_backends

    backend = glue_backends[ACCOUNT_ID][region]
    try:
        table = backend.get_table(database, name)
    except Exception:  # moto raises its own not-found errors
        return None
    return table.versions[str(table._current_version)]


def _add_projected_accounts(database: str, name: str, accounts: list[str]) -> None:
    """Adds ``accounts`` to the enum projection of the table's ``account`` partition key."""
    table = _glue_table(database, name, DEFAULT_REGION)
    if table is None:
        raise ValueError(f"no Glue table {database}.{name}")
    parameters = table.setdefault("Parameters", {})
    known = [a for a in parameters.get("projection.account.values", "").split(",") if a]
    parameters["projection.account.values"] = ",".join(known + [a for a in accounts
                                                                 if a not in known])


def _workgroup_output(name: str, region: str) -> str | None:
    """A workgroup's result location in moto's Athena ('' when it has none)."""
    from moto.athena.models import athena_backends

    workgroup = athena_backends[ACCOUNT_ID][region].work_groups.get(name)
    if workgroup is None:
        return None
    return (workgroup.configuration.get("ResultConfiguration") or {}).get("OutputLocation", "")


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back so moto can read it again."""
    body = get_input_stream(environ).read()
    _replace_body(environ, body)
    return body


def _replace_body(environ: dict[str, Any], body: bytes) -> None:
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)


def _json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


# The lab account's Regions and their opt-in status (moto has no Account Management API):
# two enabled by default, one opted in, one not.
LAB_REGIONS = {
    "us-east-1": "ENABLED_BY_DEFAULT",
    "us-west-2": "ENABLED_BY_DEFAULT",
    "eu-south-1": "ENABLED",
    "ap-east-1": "DISABLED",
}


def list_regions(params: dict[str, Any]) -> Reply:
    """``account:ListRegions`` (REST-JSON ``POST /listRegions``), filtered by
    ``RegionOptStatusContains`` as AWS documents it; one page."""
    wanted = params.get("RegionOptStatusContains") or list(set(LAB_REGIONS.values()))
    regions = [
        {"RegionName": name, "RegionOptStatus": status}
        for name, status in sorted(LAB_REGIONS.items())
        if status in wanted
    ]
    return json_reply({"Regions": regions})
