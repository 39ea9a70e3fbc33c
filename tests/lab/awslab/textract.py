"""Textract's asynchronous APIs as AWS documents them, answered by the lab (not moto).

``Start*`` validates the input object in (moto) S3, resolves ``KMSKeyId`` through (moto)
KMS, honours ``ClientRequestToken`` and, when ``OutputConfig`` is given, writes
``.s3_access_check`` and result pages ``1``, ``2``, … under ``{S3Prefix}/{JobId}/`` with the
encryption of the documented table. Jobs finish synchronously unless the ``job_status``
fault says otherwise. ``Get*`` answers the documented shape with paging.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from .common import (
    ACCOUNT_ID,
    INTRUDER_ACCESS_KEY,
    INTRUDER_USER,
    Actor,
    Faults,
    Reply,
    aws_json_error,
    json_reply,
)
from .kms import UnknownKey, resolve_key
from .s3 import SSE, SSE_KEY, S3Front, bucket_region, object_body, object_exists
from .trail import Recorder, make_record

DEFAULT_PREFIX = "textract_output"
ACCESS_CHECK = ".s3_access_check"
MAX_RESULTS = 1000
SOURCE = "textract.amazonaws.com"
JSON11 = "application/x-amz-json-1.1"


@dataclass(frozen=True)
class Api:
    """One asynchronous Textract API family: its Get operation and result members."""

    start: str
    get: str
    items: str
    model_version: str


APIS = [
    Api("StartDocumentAnalysis", "GetDocumentAnalysis", "Blocks", "AnalyzeDocumentModelVersion"),
    Api("StartDocumentTextDetection", "GetDocumentTextDetection", "Blocks",
        "DetectDocumentTextModelVersion"),
    Api("StartExpenseAnalysis", "GetExpenseAnalysis", "ExpenseDocuments",
        "AnalyzeExpenseModelVersion"),
    Api("StartLendingAnalysis", "GetLendingAnalysis", "Results", "AnalyzeLendingModelVersion"),
]
BY_START = {a.start: a for a in APIS}
BY_GET = {a.get: a for a in APIS}


@dataclass
class Job:
    """One asynchronous Textract job."""

    job_id: str
    api: Api
    actor: Actor
    pages: int
    output_bucket: str | None
    output_prefix: str
    kms_arn: str | None
    status: str = "IN_PROGRESS"
    status_message: str | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False

    def folder(self) -> str:
        """The job's folder in the output bucket."""
        return f"{self.output_prefix}/{self.job_id}"

    def items(self) -> list[dict[str, Any]]:
        """All result items (``Blocks``, ``ExpenseDocuments`` or ``Results``) in page order."""
        return [item for page in range(1, self.pages + 1) for item in self.page_items(page)]

    def page_items(self, page: int) -> list[dict[str, Any]]:
        """The result items of one document page."""
        blocks = _page_blocks(self.job_id, page)
        if self.api.items == "Blocks":
            return blocks
        if self.api.items == "ExpenseDocuments":
            return [{"ExpenseIndex": page, "SummaryFields": [], "LineItemGroups": [],
                     "Blocks": blocks}]
        return [{
            "Page": page,
            "PageClassification": {
                "PageType": [{"Value": "UNCLASSIFIED", "Confidence": 99.0}],
                "PageNumber": [{"Value": str(page), "Confidence": 99.0}],
            },
            "Extractions": [],
        }]

    def result_document(self, page: int) -> dict[str, Any]:
        """The JSON of result object ``page`` (the shape of a Get* answer for that page)."""
        document: dict[str, Any] = {
            "DocumentMetadata": {"Pages": self.pages},
            "JobStatus": self.status,
            self.api.items: self.page_items(page),
            self.api.model_version: "1.0",
        }
        if self.warnings:
            document["Warnings"] = self.warnings
        return document


class Textract:
    """The lab's Textract: jobs, idempotency tokens and their CloudTrail records."""

    def __init__(self, s3: S3Front, recorder: Recorder, faults: Faults) -> None:
        self.s3 = s3
        self.recorder = recorder
        self.faults = faults
        self.jobs: dict[str, Job] = {}
        self.tokens: dict[str, tuple[str, str]] = {}
        self._lock = threading.RLock()

    def reset(self) -> None:
        """Forget every job and token."""
        with self._lock:
            self.jobs.clear()
            self.tokens.clear()

    def handle(self, operation: str, params: dict[str, Any], actor: Actor) -> Reply:
        """Serve one Textract JSON 1.1 call."""
        if operation in BY_START:
            reply, job = self._start(BY_START[operation], params, actor)
            response = json.loads(reply.body) if reply.ok else None
            self._record(operation, params, response, reply, actor, read_only=False)
            if job is not None and self.faults.get("job_status") != "IN_PROGRESS":
                self.complete(job)
        elif operation in BY_GET:
            reply = self._get(BY_GET[operation], params)
            self._record(operation, params, None, reply, actor, read_only=True)
        else:
            reply = aws_json_error(
                "UnknownOperationException", f"The lab does not model Textract {operation}"
            )
        return reply

    # -- Start* --------------------------------------------------------------------------

    def _start(self, api: Api, params: dict[str, Any], actor: Actor) -> tuple[Reply, Job | None]:
        """Validate and register a job; returns the answer and the new job (if one was
        created) so that the Start record precedes the job's own records."""
        s3_object = (params.get("DocumentLocation") or {}).get("S3Object") or {}
        bucket, name = s3_object.get("Bucket"), s3_object.get("Name")
        if not bucket or not name:
            return _error("InvalidParameterException", "DocumentLocation.S3Object is required."), None
        if not object_exists(bucket, name, s3_object.get("Version")):
            return _error(
                "InvalidS3ObjectException",
                "Unable to get object metadata from S3. Check object key, region and/or "
                "access permissions.",
            ), None
        output = params.get("OutputConfig")
        if output is not None and bucket_region(output.get("S3Bucket", "")) is None:
            return _error("InvalidS3ObjectException", "Unable to access the output S3 bucket."), None
        kms_arn = None
        if params.get("KMSKeyId"):
            try:
                key = resolve_key(params["KMSKeyId"], actor.region)
            except UnknownKey:
                return _error("InvalidKMSKeyException", "Unable to access the KMS key."), None
            if key.key_state != "Enabled":
                return _error("InvalidKMSKeyException", "The KMS key is not enabled."), None
            kms_arn = key.arn
        with self._lock:
            token = params.get("ClientRequestToken")
            fingerprint = json.dumps(params, sort_keys=True)
            if token and token in self.tokens:
                earlier, job_id = self.tokens[token]
                if earlier != fingerprint:
                    return _error(
                        "IdempotentParameterMismatchException",
                        "The ClientRequestToken was already used with different parameters.",
                    ), None
                return json_reply({"JobId": job_id}, content_type=JSON11), None
            job = Job(
                job_id=secrets.token_hex(32),
                api=api,
                actor=actor,
                pages=_page_count(object_body(bucket, name)),
                output_bucket=output["S3Bucket"] if output else None,
                output_prefix=((output or {}).get("S3Prefix") or DEFAULT_PREFIX).rstrip("/"),
                kms_arn=kms_arn,
                warnings=list(self.faults.get("warnings") or []),
                fail=self.faults.get("job_status") == "FAILED",
            )
            self.jobs[job.job_id] = job
            if token:
                self.tokens[token] = (fingerprint, job.job_id)
        return json_reply({"JobId": job.job_id}, content_type=JSON11), job

    def complete_pending(self) -> list[str]:
        """Finish every job still ``IN_PROGRESS`` (control API ``complete-jobs``)."""
        with self._lock:
            pending = [j for j in self.jobs.values() if j.status == "IN_PROGRESS"]
        for job in pending:
            self.complete(job)
        return [j.job_id for j in pending]

    def complete(self, job: Job) -> None:
        """Run a job to its end: write outputs (or fail) and apply overwrite faults."""
        if job.fail:
            job.status, job.status_message = "FAILED", "Request has unsupported document format"
            return
        job.status = "SUCCEEDED"
        if job.kms_arn and not job.output_bucket:
            self._record_internal_kms(job)
        if not job.output_bucket:
            return
        writer = job.actor.on_behalf(SOURCE)
        session = f"textract:{job.job_id}"
        headers = self._output_encryption(job)
        objects = [(ACCESS_CHECK, b"")] + [
            (str(page), json.dumps(job.result_document(page)).encode())
            for page in range(1, job.pages + 1)
        ]
        for name, body in objects:
            reply = self.s3.put_object(job.output_bucket, f"{job.folder()}/{name}", body,
                                       headers, writer, session)
            if not reply.ok:
                job.status = "FAILED"
                job.status_message = f"Unable to write output to S3 (HTTP {reply.status})"
                return
        overwrite = self.faults.get("overwrite_after_completion")
        if overwrite:
            self._overwrite(job, overwrite.get("key_suffix", ""))

    def _output_encryption(self, job: Job) -> dict[str, str]:
        """SSE headers Textract sends for its output objects (table rows 2 and 4, faults)."""
        if self.faults.get("use_aws_s3_key"):
            return {SSE: "aws:kms"}
        if job.kms_arn is None:
            return {}
        if self.faults.get("sse_s3_instead_of_kms"):
            return {SSE: "AES256"}
        return {SSE: "aws:kms", SSE_KEY: self.faults.get("wrong_key") or job.kms_arn}

    def _overwrite(self, job: Job, suffix: str) -> None:
        """Another principal overwrites the job's outputs whose key ends with ``suffix``."""
        intruder = Actor(INTRUDER_ACCESS_KEY, job.actor.region, "198.51.100.7", "lab-intruder",
                         user_name=INTRUDER_USER)
        names = [ACCESS_CHECK] + [str(p) for p in range(1, job.pages + 1)]
        for name in names:
            key = f"{job.folder()}/{name}"
            if key.endswith(suffix):
                body = json.dumps({"Blocks": [], "tampered": True}).encode()
                self.s3.put_object(job.output_bucket or "", key, body, {}, intruder,
                                   INTRUDER_ACCESS_KEY)

    def _record_internal_kms(self, job: Job) -> None:
        """Row 3: Textract encrypts results it keeps with the customer's CMK (a guess)."""
        assert job.kms_arn is not None
        actor = job.actor.on_behalf(SOURCE, region=job.kms_arn.split(":")[3])
        self.recorder.add(make_record(
            actor, "kms.amazonaws.com", "GenerateDataKey", read_only=True,
            request={"keyId": job.kms_arn, "keySpec": "AES_256"}, response=None,
            resources=[{"accountId": ACCOUNT_ID, "type": "AWS::KMS::Key", "ARN": job.kms_arn}],
        ))

    # -- Get* ----------------------------------------------------------------------------

    def _get(self, api: Api, params: dict[str, Any]) -> Reply:
        with self._lock:
            job = self.jobs.get(params.get("JobId", ""))
        if job is None or job.api != api or self.faults.get("forget_jobs"):
            return _error("InvalidJobIdException", "An invalid job identifier was passed.")
        limit = int(params.get("MaxResults") or MAX_RESULTS)
        if not 1 <= limit <= MAX_RESULTS:
            return _error("InvalidParameterException", "MaxResults must be between 1 and 1000.")
        offset = _token_offset(job.job_id, params.get("NextToken"))
        if offset is None:
            return _error("InvalidParameterException", "Invalid NextToken.")
        body: dict[str, Any] = {"JobStatus": job.status}
        if job.status != "IN_PROGRESS":
            body["DocumentMetadata"] = {"Pages": job.pages}
        if job.status_message:
            body["StatusMessage"] = job.status_message
        if job.warnings:
            body["Warnings"] = job.warnings
        if job.status == "SUCCEEDED":
            items = job.items()
            body[api.items] = items[offset : offset + limit]
            if offset + limit < len(items):
                token = f"{job.job_id}:{offset + limit}".encode()
                body["NextToken"] = base64.b64encode(token).decode()
            body[api.model_version] = "1.0"
        return json_reply(body, content_type=JSON11)

    # -- CloudTrail ----------------------------------------------------------------------

    def _record(
        self, operation: str, params: dict[str, Any], response: dict[str, Any] | None,
        reply: Reply, actor: Actor, read_only: bool,
    ) -> None:
        error = None
        if not reply.ok:
            payload = json.loads(reply.body)
            error = (payload["__type"], payload["message"])
        self.recorder.add(make_record(
            actor, SOURCE, operation, read_only=read_only, request=_lower_camel(params),
            response=_lower_camel(response) if response else None, error=error,
        ))


def _error(code: str, message: str) -> Reply:
    return aws_json_error(code, message)


def _lower_camel(value: Any) -> Any:
    """CloudTrail's spelling of API members: first letter lower-cased (``KMSKeyId`` ->
    ``kMSKeyId``), recursively."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_camel(v) for v in value]
    return value


def _token_offset(job_id: str, token: str | None) -> int | None:
    if not token:
        return 0
    try:
        owner, offset = base64.b64decode(token).decode().rsplit(":", 1)
        return int(offset) if owner == job_id else None
    except ValueError:
        return None


def _page_count(document: bytes) -> int:
    """Pages of the input document: PDF ``/Type /Page`` objects, else one (images)."""
    if document.startswith(b"%PDF"):
        return max(1, len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", document)))
    return 1


def _geometry(left: float, top: float, width: float, height: float) -> dict[str, Any]:
    return {
        "BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top},
        "Polygon": [
            {"X": left, "Y": top}, {"X": left + width, "Y": top},
            {"X": left + width, "Y": top + height}, {"X": left, "Y": top + height},
        ],
    }


def _page_blocks(job_id: str, page: int) -> list[dict[str, Any]]:
    """A PAGE block with one LINE of three WORDs; ids are stable per job and page."""
    def block_id(n: int) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lab:{job_id}:{page}:{n}"))

    words = ["Lab", "page", str(page)]
    word_blocks = [
        {"BlockType": "WORD", "Confidence": 99.0, "Text": text, "TextType": "PRINTED",
         "Geometry": _geometry(0.1 + 0.1 * i, 0.1, 0.08, 0.03), "Id": block_id(2 + i),
         "Page": page}
        for i, text in enumerate(words)
    ]
    line = {"BlockType": "LINE", "Confidence": 99.0, "Text": " ".join(words),
            "Geometry": _geometry(0.1, 0.1, 0.28, 0.03), "Id": block_id(1),
            "Relationships": [{"Type": "CHILD", "Ids": [w["Id"] for w in word_blocks]}],
            "Page": page}
    page_block = {"BlockType": "PAGE", "Geometry": _geometry(0.0, 0.0, 1.0, 1.0),
                  "Id": block_id(0), "Relationships": [{"Type": "CHILD", "Ids": [line["Id"]]}],
                  "Page": page}
    return [page_block, line, *word_blocks]
