"""S3 through the lab: moto answers, the lab fixes what moto gets wrong and logs data events.

Only path-style addressing is understood (``/{bucket}/{key}``), which is what the AWS SDKs
use when given an endpoint on 127.0.0.1.

What the lab changes on the way to and from moto:

* Object writes (``PutObject``, ``CopyObject``, ``CreateMultipartUpload``) get their effective
  encryption decided here, as S3 does: the request's SSE headers, else the bucket default
  (SSE-S3 when the bucket has none). KMS key references are resolved to the key ARN (and
  ``aws:kms`` without a key to the AWS managed ``aws/s3`` key) before moto stores them, so
  ``HeadObject``/``GetObject``/``PutObject`` answer the key ARN like S3 does.
* ``GetBucketVersioning`` is answered with S3's ``VersioningConfiguration`` root.
* Object-level calls are recorded as CloudTrail data events (with ``SSEApplied``), and the
  KMS calls S3 makes for SSE-KMS (``GenerateDataKey``, ``Decrypt``) as management events,
  one per requester session when S3 Bucket Keys are on.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from moto.s3.models import s3_backends
from werkzeug.test import EnvironBuilder, run_wsgi_app

from .common import ACCOUNT_ID, Actor, Faults, Reply, s3_error
from .kms import AWS_S3_ALIAS, UnknownKey, key_arn
from .trail import Recorder, make_record

SSE = "x-amz-server-side-encryption"
SSE_KEY = SSE + "-aws-kms-key-id"
SSE_BUCKET_KEY = SSE + "-bucket-key-enabled"
SSE_CUSTOMER = SSE + "-customer-algorithm"

#: Writes whose stored encryption S3 decides at request time.
ENCRYPTING_WRITES = {"PutObject", "CopyObject", "CreateMultipartUpload"}
#: Object-level operations logged as data events (the subset the lab models).
DATA_OPERATIONS = ENCRYPTING_WRITES | {
    "GetObject",
    "HeadObject",
    "DeleteObject",
    "UploadPart",
    "CompleteMultipartUpload",
}
READ_ONLY = {"GetObject", "HeadObject"}
APPLIED = {"AES256": "SSE_S3", "aws:kms": "SSE_KMS", "aws:kms:dsse": "DSSE_KMS"}
OBJECT_SUBRESOURCES = {"acl", "tagging", "retention", "legal-hold", "attributes", "torrent",
                       "restore", "select"}


@dataclass(frozen=True)
class S3Call:
    """One S3 REST call, classified from method, path and query."""

    operation: str
    bucket: str | None
    key: str | None


def classify(method: str, path: str, query: dict[str, list[str]], headers: Any) -> S3Call:
    """Name the S3 operation of a path-style request (``S3:Other`` when not modelled)."""
    parts = unquote(path).lstrip("/").split("/", 1)
    bucket = parts[0] or None
    key = parts[1] if len(parts) > 1 and parts[1] else None
    op = "S3:Other"
    if bucket is None:
        op = "ListBuckets" if method == "GET" else op
    elif key is not None:
        sub = OBJECT_SUBRESOURCES & set(query)
        if method == "HEAD":
            op = "HeadObject"
        elif method == "GET" and not sub and "uploadId" not in query:
            op = "GetObject"
        elif method == "PUT" and "partNumber" in query:
            op = "UploadPart"
        elif method == "PUT" and not sub:
            op = "CopyObject" if headers.get("x-amz-copy-source") else "PutObject"
        elif method == "POST" and "uploads" in query:
            op = "CreateMultipartUpload"
        elif method == "POST" and "uploadId" in query:
            op = "CompleteMultipartUpload"
        elif method == "DELETE" and "uploadId" not in query:
            op = "DeleteObject"
    else:
        bucket_ops = {
            ("GET", "versioning"): "GetBucketVersioning",
            ("GET", "encryption"): "GetBucketEncryption",
            ("GET", "location"): "GetBucketLocation",
            ("GET", "versions"): "ListObjectVersions",
            ("PUT", "versioning"): "PutBucketVersioning",
            ("PUT", "encryption"): "PutBucketEncryption",
        }
        for (verb, marker), name in bucket_ops.items():
            if method == verb and marker in query:
                op = name
                break
        else:
            if method == "GET":
                op = "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
            elif not query:
                op = {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(
                    method, op
                )
    return S3Call(op, bucket, key)


@dataclass(frozen=True)
class Encryption:
    """How S3 stores one object write, and who chose it (CloudTrail ``SSEApplied``)."""

    algorithm: str
    key_arn: str | None
    bucket_key: bool
    applied: str


class MotoBridge:
    """Calls moto's WSGI application in-process and buffers its answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def call(self, environ: dict[str, Any]) -> Reply:
        """Run one request through moto."""
        app_iter, status, headers = run_wsgi_app(self.app, environ, buffered=True)
        try:
            body = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close:
                close()
        return Reply(int(status.split()[0]), list(headers.items()), body)


def _bucket(name: str) -> Any:
    """moto's bucket object, or ``None``."""
    return s3_backends[ACCOUNT_ID]["aws"].buckets.get(name)


def object_exists(bucket: str, key: str, version: str | None = None) -> bool:
    """True if moto holds ``bucket/key`` (and the version, when given)."""
    found = _bucket(bucket)
    if found is None or key not in found.keys:
        return False
    if version is None:
        return True
    return any(v.version_id == version for v in found.keys.getlist(key))


def object_body(bucket: str, key: str) -> bytes:
    """The stored bytes of an existing object."""
    return _bucket(bucket).keys[key].value


def bucket_default(bucket: str) -> tuple[str, str | None, bool]:
    """A bucket's default encryption: algorithm, KMS key reference, Bucket Key setting."""
    found = _bucket(bucket)
    rule = (found.encryption or {}).get("Rule") if found else None
    if not rule:
        return "AES256", None, False
    default = rule["ApplyServerSideEncryptionByDefault"]
    enabled = str(rule.get("BucketKeyEnabled", "false")).lower() == "true"
    return default["SSEAlgorithm"], default.get("KMSMasterKeyID"), enabled


def bucket_region(bucket: str) -> str | None:
    """The Region a bucket lives in, or ``None`` if it does not exist."""
    found = _bucket(bucket)
    return found.region_name if found else None


def effective_encryption(bucket: str, headers: dict[str, str]) -> Encryption | None:
    """Decide the stored encryption of a write, as S3 does. ``None`` for SSE-C.

    Raises ``UnknownKey`` when the KMS key named by the request or the bucket default
    does not exist.
    """
    if headers.get(SSE_CUSTOMER):
        return None
    default_algorithm, default_key, default_bucket_key = bucket_default(bucket)
    requested = headers.get(SSE)
    if requested:
        algorithm, reference, applied = requested, headers.get(SSE_KEY), APPLIED.get(requested)
    else:
        algorithm, reference = default_algorithm, default_key
        applied = "Default_" + APPLIED.get(algorithm, algorithm)
    if not algorithm.startswith("aws:kms"):
        return Encryption(algorithm, None, False, applied or algorithm)
    region = bucket_region(bucket) or "us-east-1"
    arn = key_arn(reference or AWS_S3_ALIAS, region)
    asked = headers.get(SSE_BUCKET_KEY)
    bucket_key = asked.lower() == "true" if asked is not None else default_bucket_key
    return Encryption(algorithm, arn, bucket_key, applied or algorithm)


class S3Front:
    """The lab's S3: fault injection, encryption decisions, moto, data events."""

    def __init__(self, bridge: MotoBridge, recorder: Recorder, faults: Faults) -> None:
        self.bridge = bridge
        self.recorder = recorder
        self.faults = faults
        self._kms_sessions: set[tuple[str, str, str, str]] = set()
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget Bucket Key sessions (lab reset)."""
        with self._lock:
            self._kms_sessions.clear()

    # -- entry points ------------------------------------------------------------------

    def handle(
        self, environ: dict[str, Any], actor: Actor, session: str, external: bool = True,
        record: bool = True,
    ) -> Reply:
        """Serve one S3 request (from a client, or made by the lab for a service)."""
        method = environ["REQUEST_METHOD"]
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        call = classify(method, environ.get("PATH_INFO", "/"), query, headers)
        head = method == "HEAD"
        if external:
            if self.faults.denies(call.operation, call.key):
                return s3_error("AccessDenied", "Access Denied", 403, head=head)
        encryption = None
        if call.operation in ENCRYPTING_WRITES and call.bucket and _bucket(call.bucket):
            try:
                encryption = effective_encryption(call.bucket, headers)
            except UnknownKey as missing:
                return s3_error(
                    "KMS.NotFoundException", f"Invalid keyId '{missing}'", 400, head=head
                )
            if encryption is not None:
                _set_encryption_headers(environ, encryption)
        reply = self.bridge.call(environ)
        if call.operation == "GetBucketVersioning" and reply.ok:
            reply = _fix_versioning(reply)
        if record and reply.ok and call.operation in DATA_OPERATIONS and call.bucket and call.key:
            self._record(call, headers, reply, encryption, actor, session)
        return reply

    def put_object(
        self, bucket: str, key: str, body: bytes, sse_headers: dict[str, str], actor: Actor,
        session: str, record: bool = True,
    ) -> Reply:
        """A ``PutObject`` made by the lab itself (Textract output, trail delivery)."""
        headers = {"Content-Type": "application/octet-stream", **sse_headers}
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={actor.access_key}/20000101/{actor.region}/s3/"
            "aws4_request, SignedHeaders=host, Signature=0"
        )
        headers["User-Agent"] = actor.agent
        environ = EnvironBuilder(
            path=f"/{bucket}/{quote(key)}", method="PUT", headers=headers, data=body
        ).get_environ()
        return self.handle(environ, actor, session, external=False, record=record)

    # -- CloudTrail ----------------------------------------------------------------------

    def _record(
        self, call: S3Call, headers: dict[str, str], reply: Reply,
        encryption: Encryption | None, actor: Actor, session: str,
    ) -> None:
        assert call.bucket is not None and call.key is not None
        object_arn = f"arn:aws:s3:::{call.bucket}/{call.key}"
        bucket_arn = f"arn:aws:s3:::{call.bucket}"
        stored_key = reply.header(SSE_KEY)
        bucket_key = (reply.header(SSE_BUCKET_KEY) or "false").lower() == "true"
        if not self.faults.get("drop_data_events"):
            self.recorder.add(_data_event(call, headers, reply, encryption, actor))
        kms_call = None
        if call.operation in ENCRYPTING_WRITES and encryption and encryption.key_arn:
            kms_call = "GenerateDataKey"
        elif call.operation == "GetObject" and stored_key:
            kms_call = "Decrypt"
        if kms_call is None or stored_key is None:
            return
        context = bucket_arn if bucket_key else object_arn
        if bucket_key:
            marker = (session, kms_call, bucket_arn, stored_key)
            with self._lock:
                if marker in self._kms_sessions:
                    return
                self._kms_sessions.add(marker)
        request: dict[str, Any] = {"encryptionContext": {"aws:s3:arn": context}}
        if kms_call == "GenerateDataKey":
            request = {"keyId": stored_key, **request, "keySpec": "AES_256"}
        else:
            request["encryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
        kms_actor = actor.on_behalf("s3.amazonaws.com", region=stored_key.split(":")[3])
        self.recorder.add(
            make_record(
                kms_actor, "kms.amazonaws.com", kms_call, read_only=True, request=request,
                response=None,
                resources=[{"accountId": ACCOUNT_ID, "type": "AWS::KMS::Key", "ARN": stored_key}],
            )
        )


def _set_encryption_headers(environ: dict[str, Any], encryption: Encryption) -> None:
    """Make the decided encryption explicit for moto (it then stores the key ARN)."""
    environ["HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION"] = encryption.algorithm
    if encryption.key_arn:
        environ["HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_AWS_KMS_KEY_ID"] = encryption.key_arn
        environ["HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_BUCKET_KEY_ENABLED"] = str(
            encryption.bucket_key
        ).lower()
    else:
        environ.pop("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_AWS_KMS_KEY_ID", None)
        environ.pop("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_BUCKET_KEY_ENABLED", None)


def _fix_versioning(reply: Reply) -> Reply:
    """Rewrite moto's ``GetBucketVersioningResponse`` root to S3's ``VersioningConfiguration``."""
    text = reply.body.decode()
    inner = ""
    for tag in ("Status", "MfaDelete"):
        match = re.search(rf"<{tag}>([^<]+)</{tag}>", text)
        if match:
            inner += f"<{tag}>{match.group(1)}</{tag}>"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}'
        "</VersioningConfiguration>"
    ).encode()
    headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in reply.headers]
    return Reply(reply.status, headers, body)


def _data_event(
    call: S3Call, headers: dict[str, str], reply: Reply, encryption: Encryption | None,
    actor: Actor,
) -> dict[str, Any]:
    """The CloudTrail data event S3 writes for one object-level call."""
    request: dict[str, Any] = {
        "bucketName": call.bucket,
        "Host": headers.get("host", "127.0.0.1"),
        "key": call.key,
    }
    for name in (SSE, SSE_KEY, SSE_BUCKET_KEY, SSE_CUSTOMER, "x-amz-copy-source"):
        if headers.get(name):
            request[name] = headers[name]
    response: dict[str, Any] | None = None
    if call.operation not in READ_ONLY:
        response = {}
        for name in (SSE, SSE_KEY, SSE_BUCKET_KEY, "x-amz-version-id"):
            value = reply.header(name)
            if value:
                response[name] = value
        response = response or None
    size_in = int(headers.get("x-amz-decoded-content-length") or headers.get("content-length") or 0)
    size_out = len(reply.body) if call.operation == "GetObject" else 0
    additional: dict[str, Any] = {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": float(size_in if call.operation not in READ_ONLY else 0),
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": secrets.token_urlsafe(48),
        "bytesTransferredOut": float(size_out),
    }
    if encryption is not None:
        additional["SSEApplied"] = encryption.applied
    return make_record(
        actor, "s3.amazonaws.com", call.operation, read_only=call.operation in READ_ONLY,
        request=request, response=response, additional=additional, data_event=True,
        resources=[
            {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{call.bucket}/{call.key}"},
            {"accountId": ACCOUNT_ID, "type": "AWS::S3::Bucket",
             "ARN": f"arn:aws:s3:::{call.bucket}"},
        ],
    )
