"""IAM Access Analyzer's policy checks (moto has no Access Analyzer): ``CheckNoPublicAccess``
and ``CheckAccessNotGranted`` over REST-JSON (``POST /policy/check-no-public-access``,
``POST /policy/check-access-not-granted``, SigV4 scope ``access-analyzer``).

The judgement is the lab's deliberately small stand-in, not AWS's reasoning; the tests are
about the client (requests, recorded answers, conflicts, the failure fallback):

* public: some ``Allow`` statement has ``Principal`` ``"*"`` or ``{"AWS": "*"}`` and no
  ``Condition``;
* not granted: no ``Allow`` statement has an ``Action`` matching an asked action by IAM
  wildcard (``*``, ``?``, case-insensitive). Resources and ``Deny`` are not weighed.

The ``access_denied`` fault (``{"operation": "CheckNoPublicAccess"}``) answers
``AccessDeniedException``, in this protocol's shape.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from .common import Reply, json_reply

PATHS = {
    "/policy/check-no-public-access": "CheckNoPublicAccess",
    "/policy/check-access-not-granted": "CheckAccessNotGranted",
}


def error(code: str, message: str, status: int) -> Reply:
    """A REST-JSON error: the code in ``x-amzn-ErrorType`` and the body."""
    reply = json_reply({"message": message}, status)
    reply.headers.append(("x-amzn-ErrorType", code))
    return reply


def _statements(document: str) -> list[dict[str, Any]]:
    statements = json.loads(document).get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _everyone(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        return "*" in _listed(principal.get("AWS", []))
    return principal == "*"


def _answer(failing: list[tuple[int, dict[str, Any]]], why: str) -> dict[str, Any]:
    reasons = [{"description": why, "statementIndex": i,
                **({"statementId": s["Sid"]} if "Sid" in s else {})} for i, s in failing]
    return {"result": "FAIL" if failing else "PASS",
            "message": f"The policy {why}." if failing else "The policy does not, by the lab's "
            "reading.", "reasons": reasons}


def handle(operation: str, params: dict[str, Any]) -> Reply:
    """Answer one policy check."""
    try:
        statements = list(enumerate(_statements(params["policyDocument"])))
    except (KeyError, ValueError, AttributeError) as exc:
        return error("ValidationException", f"invalid policyDocument: {exc}", 400)
    allows = [(i, s) for i, s in statements if s.get("Effect") == "Allow"]
    if operation == "CheckNoPublicAccess":
        public = [(i, s) for i, s in allows if "Condition" not in s and _everyone(s)]
        return json_reply(_answer(public, "grants public access"))
    asked = [a.lower() for access in params.get("access", []) for a in access.get("actions", [])]
    granting = [(i, s) for i, s in allows
                if any(fnmatch.fnmatchcase(a, pattern.lower()) for a in asked
                       for pattern in _listed(s.get("Action", [])))]
    return json_reply(_answer(granting, "grants the access asked about"))
