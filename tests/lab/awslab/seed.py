"""Scenarios: the AWS resources a test needs, created through the lab with boto3.

Every scenario creates the same named resources (input bucket with a 2-page PDF, output
bucket, a customer CMK with an alias, a logging trail into a trail bucket) and differs in
the output bucket's defaults, the trail's selectors and the Textract job it describes.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

import boto3
from botocore.config import Config

from . import readers
from .athena import LAKE_EDS_ARN, LAKE_EDS_ID, glue_table_input
from .common import ACCOUNT_ID, DEFAULT_REGION

ACCESS_KEY = "AKIALABTESTER0000000"
SECRET_KEY = "lab-secret"
INPUT_BUCKET = "lab-input"
INPUT_KEY = "docs/sample.pdf"
OUTPUT_BUCKET = "lab-output"
OUTPUT_PREFIX = "textract-results"
TRAIL_BUCKET = "lab-trail"
TRAIL_NAME = "lab-trail"
TRAIL_PREFIX = "ct"
ALIAS = "alias/lab-textract"
#: Athena over the trail bucket: Glue database and table, and a workgroup with a result
#: location (the ``primary`` workgroup has none). CloudTrail Lake: :data:`LAKE_EDS_ID`.
ATHENA_DATABASE = "lab_audit"
ATHENA_TABLE = "cloudtrail_logs"
ATHENA_WORKGROUP = "lab-audit"
ATHENA_RESULTS = "s3://lab-athena-results/"


@dataclass(frozen=True)
class Scenario:
    """One test setup. ``key_ref`` is how the job names the CMK."""

    name: str
    description: str
    output: bool
    kms: bool
    key_ref: str = "alias"  # alias | alias_arn | key_id | key_arn
    bucket_default: str = "AES256"  # or aws:kms (with the CMK)
    bucket_key: bool = False
    selectors: str = "basic"  # basic | advanced
    exclude_kms: bool = False
    api: str = "StartDocumentAnalysis"


SCENARIOS = {s.name: s for s in [
    Scenario("row1", "no OutputConfig, no KMSKeyId", output=False, kms=False),
    Scenario("row2", "OutputConfig, no KMSKeyId; bucket default SSE-S3", output=True, kms=False),
    Scenario("row2-text", "row 2 through StartDocumentTextDetection", output=True, kms=False,
             api="StartDocumentTextDetection"),
    Scenario("row2-bucket-default-kms", "row 2 into a bucket whose default is SSE-KMS with "
             "the CMK and Bucket Keys", output=True, kms=False, bucket_default="aws:kms",
             bucket_key=True),
    Scenario("row3", "no OutputConfig, KMSKeyId (key ARN)", output=False, kms=True,
             key_ref="key_arn"),
    Scenario("row4", "OutputConfig and KMSKeyId (alias name); bucket default SSE-S3",
             output=True, kms=True),
    Scenario("row4-bucket-key", "row 4 (key id) into a bucket with SSE-KMS default and "
             "Bucket Keys; advanced event selectors", output=True, kms=True, key_ref="key_id",
             bucket_default="aws:kms", bucket_key=True, selectors="advanced"),
    Scenario("row2-lending", "row 2 through StartLendingAnalysis", output=True, kms=False,
             api="StartLendingAnalysis"),
    Scenario("row4-no-kms-events", "row 4 (alias ARN); the trail excludes KMS events",
             output=True, kms=True, key_ref="alias_arn", exclude_kms=True),
]}
SCENARIOS.update(readers.scenarios(SCENARIOS))


def clients(endpoint: str) -> dict[str, Any]:
    """boto3 clients for the lab (path-style S3, fixed test credentials, no retries so
    that injected faults surface)."""
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        region_name=DEFAULT_REGION,
    )
    config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 1})
    return {name: session.client(name, endpoint_url=endpoint, config=config)
            for name in ("s3", "kms", "cloudtrail", "textract", "glue", "athena")}


def control(endpoint: str, name: str, document: dict[str, Any] | None = None) -> Any:
    """Call the lab control API (``POST`` with a JSON body, ``GET`` without)."""
    data = None if document is None else json.dumps(document).encode()
    request = urllib.request.Request(f"{endpoint}/_lab/{name}", data=data,
                                     method="GET" if data is None else "POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def sample_pdf(pages: int = 2) -> bytes:
    """A small valid PDF with ``pages`` empty pages."""
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode()]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _selectors(scenario: Scenario) -> dict[str, Any]:
    data_arn = f"arn:aws:s3:::{OUTPUT_BUCKET}/"
    if scenario.selectors == "advanced":
        management = [{"Field": "eventCategory", "Equals": ["Management"]}]
        if scenario.exclude_kms:
            management.append({"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]})
        return {"AdvancedEventSelectors": [
            {"Name": "Management events", "FieldSelectors": management},
            {"Name": "Textract outputs", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                {"Field": "resources.ARN", "StartsWith": [data_arn]},
            ]},
        ]}
    selector: dict[str, Any] = {
        "ReadWriteType": "All", "IncludeManagementEvents": True,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": [data_arn]}],
    }
    if scenario.exclude_kms:
        selector["ExcludeManagementEventSources"] = ["kms.amazonaws.com"]
    return {"EventSelectors": [selector]}


def seed(endpoint: str, name: str, run_job: bool, reset: bool = True) -> dict[str, Any]:
    """Create scenario ``name`` in the lab at ``endpoint``; optionally start its job."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {sorted(SCENARIOS)}")
    scenario = SCENARIOS[name]
    if reset:
        control(endpoint, "reset", {})
    aws = clients(endpoint)
    s3, kms, cloudtrail = aws["s3"], aws["kms"], aws["cloudtrail"]
    key = kms.create_key(Description="lab Textract CMK")["KeyMetadata"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=key["KeyId"])
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET, TRAIL_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=INPUT_BUCKET, Key=INPUT_KEY, Body=sample_pdf(),
                  ContentType="application/pdf")
    s3.put_bucket_versioning(Bucket=OUTPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    default: dict[str, Any] = {"SSEAlgorithm": scenario.bucket_default}
    if scenario.bucket_default == "aws:kms":
        default["KMSMasterKeyID"] = key["Arn"]
    s3.put_bucket_encryption(Bucket=OUTPUT_BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": scenario.bucket_key}
    ]})
    trail = cloudtrail.create_trail(Name=TRAIL_NAME, S3BucketName=TRAIL_BUCKET,
                                    S3KeyPrefix=TRAIL_PREFIX)
    cloudtrail.put_event_selectors(TrailName=TRAIL_NAME, **_selectors(scenario))
    cloudtrail.start_logging(Name=TRAIL_NAME)
    aws["glue"].create_database(DatabaseInput={"Name": ATHENA_DATABASE})
    aws["glue"].create_table(DatabaseName=ATHENA_DATABASE, TableInput=glue_table_input(
        ATHENA_TABLE, TRAIL_BUCKET, TRAIL_PREFIX, "2020/01/01"))
    aws["athena"].create_work_group(Name=ATHENA_WORKGROUP, Configuration={
        "ResultConfiguration": {"OutputLocation": ATHENA_RESULTS}})
    references = {
        "alias": ALIAS,
        "alias_arn": f"arn:aws:kms:{DEFAULT_REGION}:{ACCOUNT_ID}:{ALIAS}",
        "key_id": key["KeyId"],
        "key_arn": key["Arn"],
    }
    params: dict[str, Any] = {
        "DocumentLocation": {"S3Object": {"Bucket": INPUT_BUCKET, "Name": INPUT_KEY}},
    }
    if scenario.api == "StartDocumentAnalysis":
        params["FeatureTypes"] = ["TABLES", "FORMS"]
    if scenario.output:
        params["OutputConfig"] = {"S3Bucket": OUTPUT_BUCKET, "S3Prefix": OUTPUT_PREFIX}
    if scenario.kms:
        params["KMSKeyId"] = references[scenario.key_ref]
    job: dict[str, Any] = {"api": scenario.api, "params": params}
    if run_job:
        operation = getattr(aws["textract"], _snake(scenario.api))
        job["JobId"] = operation(**params)["JobId"]
    seeded = {
        "scenario": asdict(scenario),
        "endpoint": endpoint,
        "account": ACCOUNT_ID,
        "region": DEFAULT_REGION,
        "credentials": {"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY},
        "input": {"bucket": INPUT_BUCKET, "key": INPUT_KEY},
        "output": {"bucket": OUTPUT_BUCKET, "prefix": OUTPUT_PREFIX},
        "kms": {"key_id": key["KeyId"], "key_arn": key["Arn"], "alias": ALIAS},
        "trail": {"name": TRAIL_NAME, "arn": trail["TrailARN"], "bucket": TRAIL_BUCKET,
                  "prefix": TRAIL_PREFIX},
        "athena": {"database": ATHENA_DATABASE, "table": ATHENA_TABLE,
                   "workgroup": ATHENA_WORKGROUP, "results": ATHENA_RESULTS},
        "lake": {"event_data_store": LAKE_EDS_ID, "arn": LAKE_EDS_ARN},
        "job": job,
    }
    readers.setup(name, aws, seeded)
    return seeded


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
