#!/usr/bin/env python3
"""Self-check of the local AWS lab: starts it, runs every table row and the faults through
boto3 (path-style S3), and asserts objects, headers, events and log files are as AWS
documents them. Prints ``N passed, N failed`` last; exits non-zero on any failure.

    .venv/bin/python tests/lab/selfcheck.py [--endpoint URL]   (default: start a private lab)
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from botocore.exceptions import ClientError  # noqa: E402

from awslab.seed import OUTPUT_BUCKET, TRAIL_BUCKET, clients, control, seed  # noqa: E402

LOG_KEY = re.compile(
    r"^ct/AWSLogs/123456789012/CloudTrail/us-east-1/\d{4}/\d{2}/\d{2}/"
    r"123456789012_CloudTrail_us-east-1_\d{8}T\d{4}Z_[0-9a-f]{16}\.json\.gz$"
)


class Checks:
    """Counts assertions; each failure is printed with its detail."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, condition: bool, detail: Any = "") -> bool:
        """Record one assertion."""
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}")
        return condition


class Lab:
    """A client view of one running lab."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        aws = clients(endpoint)
        self.s3, self.kms = aws["s3"], aws["kms"]
        self.ct, self.tx = aws["cloudtrail"], aws["textract"]

    def events(self) -> list[dict[str, Any]]:
        """Every record the lab made."""
        return control(self.endpoint, "events")["Records"]

    def faults(self, document: dict[str, Any]) -> None:
        """Set faults."""
        control(self.endpoint, "faults", document)

    def outputs(self, job_id: str) -> list[str]:
        """Keys in the output bucket's folder of a job."""
        listing = self.s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix="textract-results/")
        return sorted(o["Key"] for o in listing.get("Contents", []) if job_id in o["Key"])

    def log_records(self) -> tuple[list[str], list[dict[str, Any]]]:
        """Flush the trail; return the delivered log keys and their records."""
        control(self.endpoint, "flush-trail", {})
        listing = self.s3.list_objects_v2(Bucket=TRAIL_BUCKET)
        keys = [o["Key"] for o in listing.get("Contents", [])]
        records: list[dict[str, Any]] = []
        for key in keys:
            body = self.s3.get_object(Bucket=TRAIL_BUCKET, Key=key)["Body"].read()
            records += json.loads(gzip.decompress(body))["Records"]
        return keys, records


def error_code(call: Any, **kwargs: Any) -> tuple[str, int]:
    """Call a boto3 operation expected to fail; return (error code, HTTP status)."""
    try:
        call(**kwargs)
    except ClientError as exc:
        return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]
    return "", 200


def run_scenario(c: Checks, lab: Lab, name: str) -> dict[str, Any]:
    """Seed a scenario, run its job and check everything the table says about it."""
    setup = seed(lab.endpoint, name, run_job=True)
    scenario, job_id, cmk = setup["scenario"], setup["job"]["JobId"], setup["kms"]["key_arn"]
    tag = f"[{name}]"
    c.check(f"{tag} JobId is 64 hex", re.fullmatch(r"[0-9a-f]{64}", job_id) is not None, job_id)
    get = (lab.tx.get_document_text_detection if scenario["api"] == "StartDocumentTextDetection"
           else lab.tx.get_document_analysis)
    first = get(JobId=job_id, MaxResults=3)
    c.check(f"{tag} Get SUCCEEDED", first["JobStatus"] == "SUCCEEDED", first["JobStatus"])
    c.check(f"{tag} DocumentMetadata.Pages", first["DocumentMetadata"] == {"Pages": 2},
            first.get("DocumentMetadata"))
    blocks, token = list(first["Blocks"]), first.get("NextToken")
    c.check(f"{tag} MaxResults honoured", len(first["Blocks"]) == 3 and token is not None)
    while token:
        page = get(JobId=job_id, MaxResults=3, NextToken=token)
        blocks += page["Blocks"]
        token = page.get("NextToken")
    c.check(f"{tag} paging returns every block once",
            len(blocks) == 10 and len({b["Id"] for b in blocks}) == 10, len(blocks))

    keys = lab.outputs(job_id)
    folder = f"textract-results/{job_id}/"
    expected_keys = sorted(folder + n for n in (".s3_access_check", "1", "2"))
    c.check(f"{tag} output objects", keys == (expected_keys if scenario["output"] else []), keys)

    # Expected storage per the documented table (and the bucket default for row 2).
    if scenario["output"] and scenario["kms"]:
        want = ("aws:kms", cmk, scenario["bucket_key"], "SSE_KMS")
    elif scenario["output"] and scenario["bucket_default"] == "aws:kms":
        want = ("aws:kms", cmk, scenario["bucket_key"], "Default_SSE_KMS")
    else:
        want = ("AES256", None, False, "Default_SSE_S3")
    for key in keys:
        head = lab.s3.head_object(Bucket=OUTPUT_BUCKET, Key=key)
        got = (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId"),
               bool(head.get("BucketKeyEnabled")))
        c.check(f"{tag} HeadObject {key.rsplit('/', 1)[1]}", got == want[:3], got)
    if keys:
        document = json.loads(lab.s3.get_object(Bucket=OUTPUT_BUCKET, Key=folder + "1")["Body"]
                              .read())
        c.check(f"{tag} result page shape", document["DocumentMetadata"] == {"Pages": 2}
                and isinstance(document["Blocks"], list) and document["JobStatus"] == "SUCCEEDED",
                list(document))

    records = lab.events()
    starts = [r for r in records if r["eventName"] == scenario["api"]]
    c.check(f"{tag} one Start record", len(starts) == 1, len(starts))
    if starts:
        start = starts[0]
        request = start["requestParameters"]
        c.check(f"{tag} Start documentLocation",
                request["documentLocation"]["s3Object"] == {"bucket": "lab-input",
                                                            "name": "docs/sample.pdf"}, request)
        c.check(f"{tag} Start outputConfig", request.get("outputConfig") == (
            {"s3Bucket": OUTPUT_BUCKET, "s3Prefix": "textract-results"} if scenario["output"]
            else None), request.get("outputConfig"))
        c.check(f"{tag} Start kMSKeyId", ("kMSKeyId" in request) == scenario["kms"], request)
        c.check(f"{tag} Start jobId", start["responseElements"] == {"jobId": job_id},
                start["responseElements"])
        c.check(f"{tag} Start is a management event", start["eventCategory"] == "Management"
                and start["eventSource"] == "textract.amazonaws.com")
    puts = [r for r in records if r["eventName"] == "PutObject"
            and r["requestParameters"]["bucketName"] == OUTPUT_BUCKET]
    c.check(f"{tag} PutObject data event per output", sorted(
        f"{r['requestParameters']['bucketName']}/{r['requestParameters']['key']}" for r in puts)
        == [f"{OUTPUT_BUCKET}/{k}" for k in keys], len(puts))
    for record in puts:
        c.check(f"{tag} SSEApplied {record['requestParameters']['key'][-1]}",
                record["additionalEventData"]["SSEApplied"] == want[3]
                and record["eventCategory"] == "Data"
                and record["userIdentity"].get("invokedBy") == "textract.amazonaws.com"
                and [r["type"] for r in record["resources"]] == ["AWS::S3::Object",
                                                                 "AWS::S3::Bucket"],
                record["additionalEventData"])
        c.check(f"{tag} response SSE", record["responseElements"].get(
            "x-amz-server-side-encryption") == want[0], record["responseElements"])
    generate = [r for r in records if r["eventName"] == "GenerateDataKey"]
    if want[0] == "aws:kms":
        contexts = sorted(r["requestParameters"]["encryptionContext"]["aws:s3:arn"]
                          for r in generate)
        expected = ([f"arn:aws:s3:::{OUTPUT_BUCKET}"] if want[2]
                    else sorted(f"arn:aws:s3:::{OUTPUT_BUCKET}/{k}" for k in keys))
        c.check(f"{tag} GenerateDataKey contexts", contexts == expected, contexts)
        c.check(f"{tag} GenerateDataKey key", all(
            r["requestParameters"]["keyId"] == cmk and r["resources"][0]["ARN"] == cmk
            for r in generate))
    elif scenario["kms"]:
        c.check(f"{tag} row 3 GenerateDataKey by Textract", len(generate) == 1
                and generate[0]["userIdentity"].get("invokedBy") == "textract.amazonaws.com",
                generate)
    else:
        c.check(f"{tag} no KMS events", generate == [], generate)

    looked = lab.ct.lookup_events(LookupAttributes=[
        {"AttributeKey": "EventName", "AttributeValue": scenario["api"]}])["Events"]
    c.check(f"{tag} LookupEvents finds Start", len(looked) == 1 and json.loads(
        looked[0]["CloudTrailEvent"])["responseElements"]["jobId"] == job_id, looked)
    everything = lab.ct.lookup_events()["Events"]
    c.check(f"{tag} LookupEvents has no data events", all(
        json.loads(e["CloudTrailEvent"])["eventCategory"] == "Management" for e in everything))

    log_keys, logged = lab.log_records()
    c.check(f"{tag} log file layout", bool(log_keys) and all(LOG_KEY.match(k) for k in log_keys),
            log_keys)
    logged_data = sorted(f"{r['requestParameters']['bucketName']}/{r['requestParameters']['key']}"
                         for r in logged if r["eventName"] == "PutObject")
    c.check(f"{tag} log has output PutObject events only", logged_data == sorted(
        f"{OUTPUT_BUCKET}/{k}" for k in keys), logged_data)
    logged_kms = [r for r in logged if r["eventName"] == "GenerateDataKey"]
    c.check(f"{tag} KMS events in log per selectors",
            len(logged_kms) == (0 if scenario["exclude_kms"] else len(generate)), len(logged_kms))
    c.check(f"{tag} Start in log", any(r["eventName"] == scenario["api"] for r in logged))
    return setup


def run_faults(c: Checks, lab: Lab) -> None:
    """Each fault changes what AWS would show, in the way its name says."""
    setup = seed(lab.endpoint, "row4", run_job=False)
    params, cmk = setup["job"]["params"], setup["kms"]["key_arn"]

    def run(faults: dict[str, Any]) -> str:
        """Start the row-4 job with ``faults`` set, then clear them."""
        lab.faults(faults)
        job_id = lab.tx.start_document_analysis(**params)["JobId"]
        clear = urllib.request.Request(f"{lab.endpoint}/_lab/faults", method="DELETE")
        urllib.request.urlopen(clear, timeout=10).read()
        return job_id

    def head(job_id: str, name: str) -> dict[str, Any]:
        return lab.s3.head_object(Bucket=OUTPUT_BUCKET, Key=f"textract-results/{job_id}/{name}")

    other = lab.kms.create_key(Description="not the requested key")["KeyMetadata"]["Arn"]
    job = run({"wrong_key": other})
    c.check("[fault] wrong_key", head(job, "1").get("SSEKMSKeyId") == other)
    job = run({"sse_s3_instead_of_kms": True})
    c.check("[fault] sse_s3_instead_of_kms", head(job, "1").get("ServerSideEncryption") == "AES256")
    job = run({"use_aws_s3_key": True})
    used = head(job, "2").get("SSEKMSKeyId", "")
    c.check("[fault] use_aws_s3_key", used not in ("", cmk) and lab.kms.describe_key(
        KeyId="alias/aws/s3")["KeyMetadata"]["Arn"] == used and lab.kms.describe_key(
        KeyId=used)["KeyMetadata"]["KeyManager"] == "AWS", used)
    job = run({"overwrite_after_completion": {"key_suffix": "/1"}})
    writes = [r for r in lab.events() if r["eventName"] == "PutObject"
              and r["requestParameters"]["key"] == f"textract-results/{job}/1"]
    c.check("[fault] overwrite recorded", len(writes) == 2
            and writes[1]["userIdentity"]["userName"] == "lab-intruder", len(writes))
    versions = lab.s3.list_object_versions(Bucket=OUTPUT_BUCKET,
                                           Prefix=f"textract-results/{job}/1")["Versions"]
    c.check("[fault] overwrite leaves two versions", len(versions) == 2, len(versions))
    job = run({"drop_data_events": True})
    c.check("[fault] drop_data_events", not any(
        r["eventCategory"] == "Data" and job in r["requestParameters"]["key"]
        for r in lab.events()))
    job = run({"job_status": "FAILED"})
    failed = lab.tx.get_document_analysis(JobId=job)
    c.check("[fault] job FAILED", failed["JobStatus"] == "FAILED" and failed.get("StatusMessage")
            and not lab.outputs(job), failed)
    job = run({"job_status": "IN_PROGRESS"})
    waiting = lab.tx.get_document_analysis(JobId=job)
    c.check("[fault] job IN_PROGRESS", waiting["JobStatus"] == "IN_PROGRESS"
            and "DocumentMetadata" not in waiting and not lab.outputs(job), waiting)
    control(lab.endpoint, "complete-jobs", {})
    c.check("[fault] complete-jobs", lab.tx.get_document_analysis(JobId=job)["JobStatus"]
            == "SUCCEEDED" and len(lab.outputs(job)) == 3)
    lab.faults({"throttle": {"operation": "LookupEvents", "count": 1}})
    c.check("[fault] throttle", error_code(lab.ct.lookup_events) == ("ThrottlingException", 400))
    c.check("[fault] throttle count used up", "Events" in lab.ct.lookup_events())
    for answer, json_code, s3_code in (("throttle", ("ThrottlingException", 400), ("SlowDown", 503)),
                                       ("500", ("InternalFailure", 500), ("InternalError", 500)),
                                       ("503", ("ServiceUnavailable", 503),
                                        ("ServiceUnavailable", 503))):
        lab.faults({"wire": [{"operation": "ListKeys", "answer": answer},
                             {"operation": "ListObjectsV2", "answer": answer}]})
        c.check(f"[wire] {answer} JSON", error_code(lab.kms.list_keys) == json_code)
        c.check(f"[wire] {answer} S3", error_code(lab.s3.list_objects_v2, Bucket=OUTPUT_BUCKET)
                == s3_code)
    lab.faults({"wire": [{"operation": "ListKeys", "answer": "500", "count": 1}]})
    c.check("[wire] count", error_code(lab.kms.list_keys) == ("InternalFailure", 500)
            and "Keys" in lab.kms.list_keys())
    rule = control(lab.endpoint, "faults")["faults"]["wire"][0]
    c.check("[wire] count used up, hits counted", (rule["hits"], rule["count"]) == (1, 0), rule)
    lab.faults({"wire": None})
    lab.faults({"access_denied": {"operation": "HeadObject", "key_suffix": "2"}})
    c.check("[fault] access_denied", error_code(
        lab.s3.head_object, Bucket=OUTPUT_BUCKET, Key=f"textract-results/{job}/2")[1] == 403)
    c.check("[fault] access_denied spares other keys", head(job, "1")["ResponseMetadata"][
        "HTTPStatusCode"] == 200)
    lab.faults({"access_denied": None, "exclude_kms_events": True})
    _, logged = lab.log_records()
    c.check("[fault] exclude_kms_events", logged and not any(
        r["eventSource"] == "kms.amazonaws.com" for r in logged) and any(
        r["eventSource"] == "kms.amazonaws.com" for r in lab.events()))
    lab.faults({"exclude_kms_events": None})


def run_api_shapes(c: Checks, lab: Lab) -> None:
    """Errors, idempotency, paging and the moto fixes outside the table."""
    setup = seed(lab.endpoint, "row2", run_job=True)
    params, job_id = setup["job"]["params"], setup["job"]["JobId"]
    c.check("[api] unknown JobId", error_code(lab.tx.get_document_analysis, JobId="0" * 64)[0]
            == "InvalidJobIdException")
    c.check("[api] missing input object", error_code(
        lab.tx.start_document_analysis, **{**params, "DocumentLocation": {
            "S3Object": {"Bucket": "lab-input", "Name": "nope.pdf"}}})[0]
            == "InvalidS3ObjectException")
    c.check("[api] unknown KMS key", error_code(
        lab.tx.start_document_analysis, **{**params, "KMSKeyId": "alias/none"})[0]
            == "InvalidKMSKeyException")
    first = lab.tx.start_document_analysis(**params, ClientRequestToken="tok-1")["JobId"]
    again = lab.tx.start_document_analysis(**params, ClientRequestToken="tok-1")["JobId"]
    c.check("[api] ClientRequestToken idempotent", first == again)
    c.check("[api] token reuse with other params", error_code(
        lab.tx.start_document_analysis, **{**params, "FeatureTypes": ["TABLES"]},
        ClientRequestToken="tok-1")[0] == "IdempotentParameterMismatchException")
    for _ in range(55):
        lab.tx.get_document_analysis(JobId=job_id, MaxResults=1)
    lookup = {"LookupAttributes": [{"AttributeKey": "EventName",
                                    "AttributeValue": "GetDocumentAnalysis"}]}
    page = lab.ct.lookup_events(**lookup)
    rest = lab.ct.lookup_events(**lookup, NextToken=page["NextToken"])
    # 55 calls above plus the failed call with an unknown JobId (failed calls are logged).
    c.check("[api] LookupEvents pages of 50", len(page["Events"]) == 50
            and len(rest["Events"]) == 6 and "NextToken" not in rest,
            (len(page["Events"]), len(rest["Events"])))
    c.check("[api] LookupEvents EndTime", lab.ct.lookup_events(
        EndTime=time.time() - 3600)["Events"] == [])
    plain = lab.tx.start_document_analysis(
        DocumentLocation=params["DocumentLocation"], FeatureTypes=["TABLES"],
        OutputConfig={"S3Bucket": OUTPUT_BUCKET})
    listing = lab.s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix="textract_output/")
    c.check("[api] default prefix textract_output", sorted(
        o["Key"] for o in listing.get("Contents", [])) == [
        f"textract_output/{plain['JobId']}/{n}" for n in (".s3_access_check", "1", "2")])
    lab.faults({"wrong_key": "alias/does-not-exist"})
    broken = lab.tx.start_document_analysis(**params, KMSKeyId=setup["kms"]["alias"])["JobId"]
    lab.faults({"wrong_key": None})
    c.check("[api] failed output write fails the job", lab.tx.get_document_analysis(
        JobId=broken)["JobStatus"] == "FAILED")
    raw: list[bytes] = []
    lab.s3.meta.events.register("after-call.s3.GetBucketVersioning",
                                lambda http_response, **_: raw.append(http_response.content))
    status = lab.s3.get_bucket_versioning(Bucket=OUTPUT_BUCKET).get("Status")
    c.check("[api] GetBucketVersioning root", status == "Enabled" and b"<VersioningConfiguration"
            in raw[0], raw)
    policy = lab.kms.get_key_policy(KeyId=setup["kms"]["key_id"])
    c.check("[api] GetKeyPolicy without PolicyName", bool(policy.get("Policy")))


def run_digests(c: Checks, lab: Lab) -> None:
    """Digest files and ListPublicKeys, as CloudTrail documents them (docs/integrity.md)."""
    import hashlib

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    seed(lab.endpoint, "row4", run_job=True)
    c.check("[digest] none without validation", not control(lab.endpoint, "flush-trail", {})["digests"])
    lab.ct.update_trail(Name="lab-trail", EnableLogFileValidation=True)
    flushes = [control(lab.endpoint, "flush-trail", {})]  # nothing new: an empty period
    lab.s3.put_object(Bucket=OUTPUT_BUCKET, Key="textract-results/extra", Body=b"x")
    flushes.append(control(lab.endpoint, "flush-trail", {}))  # one data event
    flushes.append(control(lab.endpoint, "flush-trail", {}))  # nothing new
    digests = [f["digests"] for f in flushes]
    c.check("[digest] one per flush", [len(d) for d in digests] == [1, 1, 1], digests)
    keys = lab.ct.list_public_keys()["PublicKeyList"]
    c.check("[digest] ListPublicKeys answers one key", len(keys) == 1, keys)
    der = keys[0]["Value"]  # boto3 decodes the blob
    public = serialization.load_der_public_key(
        serialization.load_der_public_key(der).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    c.check("[digest] fingerprint is the MD5 of the DER", keys[0]["Fingerprint"] == hashlib.md5(der).hexdigest())
    old = lab.ct.list_public_keys(StartTime=datetime(2001, 1, 1), EndTime=datetime(2001, 1, 2))
    c.check("[digest] no key outside its validity", old["PublicKeyList"] == [], old)
    previous = None
    for flush, [entry] in zip(flushes, digests):
        got = lab.s3.get_object(Bucket=entry["bucket"], Key=entry["key"])
        content = gzip.decompress(got["Body"].read())
        doc = json.loads(content)
        c.check("[digest] key layout", re.match(
            r"^ct/AWSLogs/123456789012/CloudTrail-Digest/us-east-1/\d{4}/\d{2}/\d{2}/"
            r"123456789012_CloudTrail-Digest_us-east-1_lab-trail_us-east-1_\d{8}T\d{6}Z\.json\.gz$",
            entry["key"]) is not None, entry["key"])
        c.check("[digest] in place", (doc["digestS3Bucket"], doc["digestS3Object"]) == (entry["bucket"], entry["key"]))
        meta = got["Metadata"]
        c.check("[digest] metadata", meta.get("signature-algorithm") == "SHA256withRSA" and "signature" in meta, meta)
        prev_sig = doc["previousDigestSignature"] or "null"
        to_sign = (f"{doc['digestEndTime']}\n{doc['digestS3Bucket']}/{doc['digestS3Object']}\n"
                   f"{hashlib.sha256(content).hexdigest()}\n{prev_sig}").encode()
        try:
            public.verify(bytes.fromhex(meta["signature"]), to_sign, padding.PKCS1v15(), hashes.SHA256())
            verified = True
        except Exception:  # noqa: BLE001 - any failure is a failed check
            verified = False
        c.check("[digest] signature verifies", verified, entry["key"])
        if previous is not None:
            c.check("[digest] chains to the previous digest",
                    doc["previousDigestS3Object"] == previous[0]
                    and doc["previousDigestHashValue"] == previous[1]
                    and doc["previousDigestSignature"] == previous[2]
                    and doc["digestStartTime"] == previous[3], doc)
        previous = (entry["key"], hashlib.sha256(content).hexdigest(), meta["signature"], doc["digestEndTime"])
        c.check("[digest] lists the log files of its period",
                [f["s3Object"] for f in doc["logFiles"]] == [d["key"] for d in flush["delivered"]],
                (doc["logFiles"], flush["delivered"]))
        for log in doc["logFiles"]:
            body = gzip.decompress(lab.s3.get_object(Bucket=log["s3Bucket"], Key=log["s3Object"])["Body"].read())
            c.check("[digest] log hash", log["hashValue"] == hashlib.sha256(body).hexdigest(), log)
    c.check("[digest] logs delivered before validation are in no digest; the write's log is",
            [len(f["delivered"]) for f in flushes] == [0, 1, 0], [f["delivered"] for f in flushes])
    c.check("[digest] an empty period still has a digest", doc["logFiles"] == []
            and doc["newestEventTime"] is None, doc)


def _athena(lab: Lab, sql: str, **kwargs: Any) -> tuple[dict[str, Any], list[list[Any]]]:
    """Run one Athena query to the end; its execution and every row (header first)."""
    ath = clients(lab.endpoint)["athena"]
    query_id = ath.start_query_execution(
        QueryString=sql, QueryExecutionContext={"Database": "lab_audit"},
        WorkGroup="lab-audit", **kwargs)["QueryExecutionId"]
    execution: dict[str, Any] = {}
    for _ in range(10):
        execution = ath.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if execution["Status"]["State"] not in ("QUEUED", "RUNNING"):
            break
    rows: list[list[Any]] = []
    if execution["Status"]["State"] == "SUCCEEDED":
        token = None
        while True:
            page = ath.get_query_results(QueryExecutionId=query_id, MaxResults=2,
                                         **({"NextToken": token} if token else {}))
            rows += [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]]
            token = page.get("NextToken")
            if not token:
                break
    return execution, rows


def run_athena(c: Checks, lab: Lab) -> None:
    """Athena (Glue table with projection, sqlglot -> DuckDB) and Lake answer real SQL."""
    seeded = seed(lab.endpoint, "row4", run_job=True)
    job_id = seeded["job"]["JobId"]
    control(lab.endpoint, "complete-jobs", {})
    lab.tx.get_document_analysis(JobId=job_id)
    _, records = lab.log_records()
    today = records[0]["eventTime"][:10].replace("-", "/")
    glue = clients(lab.endpoint)["glue"].get_table(DatabaseName="lab_audit", Name="cloudtrail_logs")
    c.check("[athena] Glue table has account/region/timestamp projection",
            [k["Name"] for k in glue["Table"]["PartitionKeys"]] == ["account", "region", "timestamp"]
            and glue["Table"]["Parameters"]["projection.timestamp.type"] == "date", glue["Table"])
    sql = ("SELECT eventname, json_extract_scalar(requestparameters, '$.kMSKeyId') AS k, "
           "useridentity, json_format(CAST(useridentity AS JSON)) AS u FROM cloudtrail_logs "
           f"WHERE \"timestamp\" = '{today}' AND account = '123456789012' AND region = 'us-east-1' "
           "ORDER BY eventtime, eventid")
    execution, rows = _athena(lab, sql)
    c.check("[athena] query succeeds", execution["Status"]["State"] == "SUCCEEDED", execution)
    c.check("[athena] header row then one row per delivered record, paged",
            rows[:1] == [["eventname", "k", "useridentity", "u"]] and len(rows) == len(records) + 1,
            (len(rows), len(records)))
    start = [r for r in rows if r[0] == "StartDocumentAnalysis"]
    c.check("[athena] JSON string column reads the Start* key id",
            len(start) == 1 and start[0][1] == "alias/lab-textract", start)
    c.check("[athena] a struct renders {k=v} (not JSON); CAST AS JSON gives JSON",
            bool(start) and start[0][2].startswith("{type=IAMUser")
            and json.loads(start[0][3])["username"] == "lab-user", start)
    c.check("[athena] bytes scanned are the log files read",
            execution["Statistics"]["DataScannedInBytes"] > 0, execution["Statistics"])
    queries = control(lab.endpoint, "queries")["queries"]
    c.check("[athena] partitions read are the ones the WHERE allows",
            queries[-1]["Partitions"] == [{"account": "123456789012", "region": "us-east-1",
                                           "timestamp": today}], queries[-1])
    execution, rows = _athena(lab, (
        "SELECT eventname FROM \"AwsDataCatalog\".\"lab_audit\".\"cloudtrail_logs\" WHERE "
        "any_match(resources, r -> starts_with(r.arn, 'arn:aws:s3:::lab-output/')) "
        "ORDER BY eventname"))
    c.check("[athena] catalog-qualified table and any_match over resources",
            execution["Status"]["State"] == "SUCCEEDED" and rows[1:]
            and all(r[0] in ("PutObject", "GetObject", "HeadObject") for r in rows[1:]),
            (execution["Status"], rows))
    execution, rows = _athena(lab, "SELECT count(*) FROM cloudtrail_logs WHERE "
                                   "\"timestamp\" = '2021/01/01'")
    c.check("[athena] a pruned-away day scans nothing",
            execution["Statistics"]["DataScannedInBytes"] == 0 and rows[1] == ["0"], (execution, rows))
    for name, bad, reason in [
        ("syntax", "SELECT FROM WHERE", "SYNTAX_ERROR"),
        ("unknown column", "SELECT nope FROM cloudtrail_logs", "SYNTAX_ERROR"),
        ("unknown table", "SELECT 1 FROM missing", "TABLE_NOT_FOUND"),
    ]:
        execution, _ = _athena(lab, bad)
        c.check(f"[athena] {name} fails with its reason",
                execution["Status"]["State"] == "FAILED"
                and execution["Status"]["StateChangeReason"].startswith(reason), execution)
    c.check("[athena] a query over 262,144 bytes is refused",
            error_code(clients(lab.endpoint)["athena"].start_query_execution,
                       QueryString="SELECT 1 " + " " * 262_144, WorkGroup="lab-audit")[0]
            == "InvalidRequestException")
    c.check("[athena] primary workgroup has no result location",
            error_code(clients(lab.endpoint)["athena"].start_query_execution,
                       QueryString="SELECT 1")[0] == "InvalidRequestException")
    lab.faults({"query_state": {"state": "CANCELLED", "reason": "lab cancelled"}})
    execution, _ = _athena(lab, sql)
    lab.faults({"query_state": None})
    c.check("[athena] query_state fault cancels", execution["Status"]["State"] == "CANCELLED"
            and execution["Status"]["StateChangeReason"] == "lab cancelled", execution)
    lake = lab.ct
    eds = seeded["lake"]["event_data_store"]
    query_id = lake.start_query(QueryStatement=(
        "SELECT eventName, element_at(requestParameters, 'outputConfig') AS o, userIdentity "
        f"FROM {eds} WHERE eventName = 'StartDocumentAnalysis'"))["QueryId"]
    states = [lake.describe_query(QueryId=query_id)["QueryStatus"] for _ in range(2)]
    c.check("[lake] query runs (polled)", states == ["RUNNING", "FINISHED"], states)
    result = lake.get_query_results(QueryId=query_id)
    rows = result["QueryResultRows"]
    c.check("[lake] one Start* row; a nested map value is a JSON string",
            len(rows) == 1 and json.loads(rows[0][1]["o"]) == {"s3Bucket": "lab-output",
                                                               "s3Prefix": "textract-results"},
            rows)
    c.check("[lake] a statement over 10,000 characters is refused",
            error_code(lake.start_query, QueryStatement=f"SELECT 1 FROM {eds}" + " " * 10_000)[0]
            == "InvalidQueryStatementException")


def main() -> int:
    """Run the self-check; 0 when every assertion passed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", help="use a running lab instead of starting one")
    args = parser.parse_args()
    c = Checks()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lab-selfcheck-") as state:
        endpoint = args.endpoint
        if endpoint is None:
            endpoint = subprocess.run([str(HERE / "start.sh"), state, sys.executable],
                                      check=True, capture_output=True, text=True).stdout.strip()
        try:
            lab = Lab(endpoint)
            for name in ("row1", "row2", "row2-text", "row2-bucket-default-kms", "row3", "row4",
                         "row4-bucket-key", "row4-no-kms-events"):
                run_scenario(c, lab, name)
            run_faults(c, lab)
            run_api_shapes(c, lab)
            run_digests(c, lab)
            run_athena(c, lab)
        except Exception as exc:  # any crash is a failed check, with its trace
            traceback.print_exc()
            c.check("no unexpected error", False, repr(exc))
        finally:
            if args.endpoint is None:
                subprocess.run([str(HERE / "stop.sh"), state], check=False)
    print(f"selfcheck took {time.monotonic() - started:.1f} s")
    print(f"{c.passed} passed, {c.failed} failed")
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
