"""Read-side scenarios: who may read a job's results (key and bucket policies, a grant), and
principals of their own, so that reads by different principals are told apart.

* Principals by access key: requests signed with ``READER_ACCESS_KEY`` are IAM user
  ``lab-reader`` (the read-only principal of the AWS post's design), with
  ``ANALYST_ACCESS_KEY`` ``lab-analyst`` (a third principal); any other key stays the default
  ``lab-user``, which starts the jobs.
* KMS grants: moto's ``ListGrants`` has no ``CreationDate`` or ``IssuingAccount``, gives
  ``KeyId`` as the bare id and ``null`` for absent members; the lab answers as KMS does
  (creation time recorded at ``CreateGrant``, the key ARN, absent members left out).
* Scenarios (row 4, ``KMSKeyId`` alias name, on top of the common set-up):
  ``readers`` (the post's design: key policy and bucket policy name the start principal and
  the read-only principal), ``readers-open-key`` (the key policy also lets ``Principal: *``
  decrypt, with no condition), ``readers-writes-only`` (the post's design; the trail logs S3
  data events for writes only).
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any, Callable

from .common import ACCOUNT_ID, DEFAULT_USER, Reply, json_reply, utcnow

READER_ACCESS_KEY = "AKIALABREADER0000000"
READER_USER = "lab-reader"
ANALYST_ACCESS_KEY = "AKIALABANALYST000000"
ANALYST_USER = "lab-analyst"
_USERS = {READER_ACCESS_KEY: READER_USER, ANALYST_ACCESS_KEY: ANALYST_USER}

#: The KMS operations the lab answers itself (moto behind it).
KMS_TARGETS = {"TrentService.CreateGrant", "TrentService.ListGrants"}

_grant_times: dict[str, float] = {}
_lock = threading.Lock()


def user_for(access_key: str) -> str:
    """The IAM user name the lab attributes a request signed with ``access_key`` to."""
    return _USERS.get(access_key, DEFAULT_USER)


def user_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT_ID}:user/{name}"


def reset() -> None:
    """Forget grant creation times (lab reset)."""
    with _lock:
        _grant_times.clear()


def kms(target: str, region: str, call_moto: Callable[[], Reply]) -> Reply:
    """``CreateGrant`` (recording when) and ``ListGrants`` (in KMS's own shape), in ``region``."""
    reply = call_moto()
    if not reply.ok:
        return reply
    answer = json.loads(reply.body)
    if target == "TrentService.CreateGrant":
        with _lock:
            _grant_times[answer["GrantId"]] = utcnow().timestamp()
        return reply
    for grant in answer.get("Grants", []):
        for member in [k for k, v in grant.items() if v is None]:
            del grant[member]
        grant["KeyId"] = f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{grant['KeyId']}"
        grant["IssuingAccount"] = f"arn:aws:iam::{ACCOUNT_ID}:root"
        with _lock:
            created = _grant_times.get(grant["GrantId"])
        if created is not None:
            grant["CreationDate"] = created
    return json_reply(answer, content_type="application/x-amz-json-1.1")


def scenarios(base: dict[str, Any]) -> dict[str, Any]:
    """The read-side scenarios, each a copy of ``row4`` under its own name."""
    row4 = base["row4"]
    return {s.name: s for s in [
        replace(row4, name="readers", description="row 4 with the post's design: a start and a "
                "read-only principal in the key and bucket policies"),
        replace(row4, name="readers-open-key", description="readers, and the key policy lets "
                "Principal * decrypt with no condition"),
        replace(row4, name="readers-writes-only", description="readers, and the trail logs S3 "
                "data events for writes only"),
    ]}


def _key_policy(open_to_all: bool) -> dict[str, Any]:
    statements = [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Start jobs and write results", "Effect": "Allow",
         "Principal": {"AWS": user_arn(DEFAULT_USER)},
         "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey"],
         "Resource": "*"},
        {"Sid": "Read results", "Effect": "Allow", "Principal": {"AWS": user_arn(READER_USER)},
         "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"},
    ]
    if open_to_all:
        statements.append({"Sid": "Anyone may decrypt", "Effect": "Allow", "Principal": "*",
                           "Action": "kms:Decrypt", "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


def _bucket_policy(bucket: str, prefix: str) -> dict[str, Any]:
    objects = f"arn:aws:s3:::{bucket}/{prefix}/*"
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Textract pipeline", "Effect": "Allow", "Principal": {"AWS": user_arn(DEFAULT_USER)},
         "Action": ["s3:PutObject", "s3:GetObject"], "Resource": objects},
        {"Sid": "Results readers", "Effect": "Allow", "Principal": {"AWS": user_arn(READER_USER)},
         "Action": "s3:GetObject", "Resource": objects}]}


def setup(name: str, aws: dict[str, Any], seeded: dict[str, Any]) -> None:
    """The read-side additions of scenario ``name`` (nothing for other scenarios)."""
    if name not in ("readers", "readers-open-key", "readers-writes-only"):
        return
    output = seeded["output"]
    aws["kms"].put_key_policy(KeyId=seeded["kms"]["key_id"], PolicyName="default",
                              Policy=json.dumps(_key_policy(name == "readers-open-key")))
    aws["s3"].put_bucket_policy(Bucket=output["bucket"],
                                Policy=json.dumps(_bucket_policy(output["bucket"], output["prefix"])))
    if name == "readers-writes-only":
        aws["cloudtrail"].put_event_selectors(TrailName=seeded["trail"]["name"], AdvancedEventSelectors=[
            {"Name": "Management events", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Management"]}]},
            {"Name": "Textract output writes", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                {"Field": "readOnly", "Equals": ["false"]},
                {"Field": "resources.ARN", "StartsWith": [f"arn:aws:s3:::{output['bucket']}/"]}]}])
    seeded["principals"] = {
        "start": user_arn(DEFAULT_USER),
        "reader": {"arn": user_arn(READER_USER), "access_key_id": READER_ACCESS_KEY},
        "third": {"arn": user_arn(ANALYST_USER), "access_key_id": ANALYST_ACCESS_KEY},
    }
