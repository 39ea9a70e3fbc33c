"""Wire faults: what a flaky or hostile network path to AWS does to a call, per operation.

The lab front applies them to every request from a client (never to the calls the lab makes
for a service) before anything else, so a faulted request has no side effect unless the fault
forwards it (``truncate``, ``cut``, ``stall``). Set with ``POST /_lab/faults``:

    {"wire": [{"operation": "HeadObject", "answer": "503", "count": 2}, ...]}

* ``operation``: the ``X-Amz-Target`` operation name, the S3 operation (``HeadObject``,
  ``ListObjectsV2``, ...), ``ListRegions``, or ``*`` for every request.
* ``answer``: ``throttle`` (JSON APIs ``ThrottlingException`` 400, S3 ``SlowDown`` 503),
  ``500`` (``InternalFailure`` / S3 ``InternalError``), ``503`` (``ServiceUnavailable``),
  ``reset`` (the connection is dropped without an answer), ``stall`` (no byte for ``seconds``,
  default 60, then the real answer), ``truncate`` (the real answer's status and headers with
  the first half of its body, ``Content-Length`` matching: a well-formed message whose
  payload is cut) or ``cut`` (``Content-Length`` of the whole body, half of it sent, then
  the connection closes).
* ``count``: how many matching requests the rule takes (SDK retries consume it); without
  it the rule stays until cleared. ``hits`` (in ``GET /_lab/faults``) counts the requests
  it took.

The first rule that matches a request takes it. The older ``{"throttle": {"operation", "count"}}``
fault is the rule ``{"answer": "throttle"}`` and is applied here too.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any, Callable

from werkzeug.wsgi import get_input_stream

from .common import FaultError, Reply, aws_json_error, s3_error

ANSWERS = ("throttle", "500", "503", "reset", "stall", "truncate", "cut")
DEFAULT_STALL_SECONDS = 60.0
#: Marks a ``cut`` reply: the front keeps its ``Content-Length`` (and drops this header).
CUT_HEADER = "X-Lab-Cut"


def validate(rules: Any) -> None:
    """Refuse a ``wire`` fault document the lab does not understand."""
    if not isinstance(rules, list):
        raise FaultError("wire must be a list of rules")
    for rule in rules:
        if not isinstance(rule, dict) or not isinstance(rule.get("operation"), str):
            raise FaultError(f"wire rule {rule!r}: needs an 'operation' string")
        if rule.get("answer") not in ANSWERS:
            raise FaultError(f"wire rule {rule!r}: 'answer' must be one of {list(ANSWERS)}")
        unknown = sorted(set(rule) - {"operation", "answer", "count", "seconds", "hits"})
        if unknown:
            raise FaultError(f"wire rule {rule!r}: unknown member(s) {unknown}")
        for name in ("count", "seconds"):
            value = rule.get(name)
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise FaultError(f"wire rule {rule!r}: {name} must be a number >= 0")


def take(rules: list[dict[str, Any]], operation: str) -> dict[str, Any] | None:
    """The first rule covering ``operation`` with requests left, counted as taken (the
    caller holds the faults' lock). A used-up rule stays listed, with its hits."""
    for rule in rules:
        if rule["operation"] not in ("*", operation):
            continue
        count = rule.get("count")
        if count is not None and count <= 0:
            continue
        rule["hits"] = rule.get("hits", 0) + 1
        if count is not None:
            rule["count"] = count - 1
        return dict(rule)
    return None


def error_reply(answer: str, s3: bool, head: bool) -> Reply:
    """The error answer of ``throttle``/``500``/``503`` in the service's protocol."""
    if s3:
        code, message, status = {
            "throttle": ("SlowDown", "Please reduce your request rate.", 503),
            "500": ("InternalError", "We encountered an internal error. Please try again.", 500),
            "503": ("ServiceUnavailable", "Service is unable to handle request.", 503),
        }[answer]
        return s3_error(code, message, status, head=head)
    code, message, status = {
        "throttle": ("ThrottlingException", "Rate exceeded", 400),
        "500": ("InternalFailure", "The request processing has failed.", 500),
        "503": ("ServiceUnavailable", "The service is unavailable. Please try again.", 503),
    }[answer]
    return aws_json_error(code, message, status)


class Dropped(ConnectionResetError):
    """Raised to end a request without an answer; the server treats it as a dropped client."""


def reset(environ: dict[str, Any]) -> None:
    """Drop the request's connection with no answer (``SO_LINGER`` 0: the close is abortive).
    The request body is read first, so that the server does not take it for a next request."""
    get_input_stream(environ).read()
    conn = environ.get("werkzeug.socket")
    if isinstance(conn, socket.socket):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The server would wait for another request on the connection: end its reading.
        conn.shutdown(socket.SHUT_RD)
    raise Dropped("lab wire fault: connection reset")


def apply(
    rule: dict[str, Any],
    environ: dict[str, Any],
    s3: bool,
    forward: Callable[[], Reply],
) -> Reply | None:
    """What ``rule`` makes of the request: a reply to send instead, or ``None`` when the
    request is forwarded untouched (after a stall)."""
    head = environ["REQUEST_METHOD"] == "HEAD"
    answer = rule["answer"]
    if answer in ("throttle", "500", "503"):
        return error_reply(answer, s3, head)
    if answer == "reset":
        reset(environ)
    if answer == "stall":
        time.sleep(float(rule.get("seconds", DEFAULT_STALL_SECONDS)))
        return None
    reply = forward()
    half = reply.body[: len(reply.body) // 2]
    headers = [(k, v) for k, v in reply.headers if k.lower() != "content-length"]
    if answer == "truncate":
        return Reply(reply.status, headers, half)
    # cut: promise the whole body, send half, close (the server closes after every answer).
    headers.append(("Content-Length", str(len(reply.body))))
    return Reply(reply.status, headers + [(CUT_HEADER, "1")], half)
