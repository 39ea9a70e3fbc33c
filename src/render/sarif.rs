//! SARIF 2.1.0, for code-scanning dashboards (GitHub code scanning, Azure DevOps, …).
//!
//! - `tool.driver.rules`: every rule with its file's metadata (title, rationale, remediation,
//!   first reference as `helpUri`, severity in `properties`).
//! - `results`: FAIL and INCONCLUSIVE findings (PASS is left to the other formats). A FAIL's
//!   level comes from its severity: critical/high -> `error`, medium -> `warning`,
//!   low/info -> `note`. An INCONCLUSIVE finding is always `warning`: nothing was shown to be
//!   wrong, but missing evidence for a high-severity control must not sink among notes.
//! - Locations: the S3 object (or the job's output folder, or its input document) as the
//!   artifact URI, and the job as a logical location.
//! - Muted findings carry an accepted external `suppression` with the mute reason.
//! - Provenance: `invocations[0]` (exit code, skipped evidence as notifications) and the
//!   run's `properties` (the report's `tool`, `evidence`, `options`, `summary`, `mutelist`).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::report::{JobReport, Report, ReportedFinding};
use crate::rules::{RuleSet, Severity, Status};

pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// A FAIL finding's level.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's numeric `security-severity` (its bands: critical >= 9, high >= 7, medium >= 4).
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Info => "0.0",
    }
}

/// `documented-mode` -> `DocumentedMode` (SARIF's `name` is an identifier-like string).
fn pascal(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Percent-encodes what may not appear in a URI reference (S3 keys may hold spaces, `%`, …).
fn uri(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn location_of(j: &JobReport, f: &ReportedFinding) -> Value {
    let artifact = f
        .object
        .clone()
        .or_else(|| j.expected.as_ref().and_then(|e| e.output_location.clone()))
        .or_else(|| j.requested.as_ref().and_then(|r| r.output.clone()))
        .or_else(|| j.requested.as_ref().and_then(|r| r.document.clone()));
    let mut loc = json!({
        "logicalLocations": [{
            "name": j.job_id.0,
            "fullyQualifiedName": format!("textract-job/{}", j.job_id.0),
            "kind": "resource",
        }],
    });
    if let Some(a) = artifact {
        loc["physicalLocation"] = json!({ "artifactLocation": { "uri": uri(&a) } });
    }
    loc
}

fn result(j: &JobReport, f: &ReportedFinding, rule_index: Option<usize>) -> Value {
    let level = match f.status {
        Status::Fail => level(f.severity),
        _ => "warning",
    };
    let fingerprint = {
        let mut h = Sha256::new();
        for part in [&j.job_id.0, &f.rule_id, f.object.as_deref().unwrap_or("")] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    };
    let mut r = json!({
        "ruleId": f.rule_id,
        "level": level,
        "message": { "text": format!("{}: {}", f.status, f.message) },
        "locations": [location_of(j, f)],
        "partialFingerprints": { "textractAuditFinding/v1": fingerprint },
        "properties": {
            "job_id": j.job_id.0,
            "job_verdict": j.verdict.label(),
            "status": f.status.to_string(),
            "severity": f.severity.to_string(),
            "evidence": f.evidence.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        },
    });
    if let Some(i) = rule_index {
        r["ruleIndex"] = json!(i);
    }
    if let Some(m) = &f.muted {
        r["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": m.reason,
        }]);
    }
    r
}

pub fn render(report: &Report, rules: &RuleSet) -> String {
    let driver_rules: Vec<Value> = rules
        .rules
        .iter()
        .map(|r| {
            let mut d = json!({
                "id": r.id,
                "name": pascal(&r.id),
                "shortDescription": { "text": r.title },
                "fullDescription": { "text": r.rationale },
                "help": { "text": r.remediation },
                "defaultConfiguration": { "level": level(r.severity) },
                "properties": {
                    "severity": r.severity.to_string(),
                    "security-severity": security_severity(r.severity),
                    "tags": ["security", "textract", "encryption"],
                    "file": format!("rules/{}", r.file),
                },
            });
            if let Some(s) = r.severity_if_stronger {
                d["properties"]["severity_if_stronger"] = json!(s.to_string());
            }
            if let Some(u) = r.references.first() {
                d["helpUri"] = json!(u);
            }
            d
        })
        .collect();
    let results: Vec<Value> = report
        .jobs
        .iter()
        .flat_map(|j| {
            j.findings
                .iter()
                .filter(|f| matches!(f.status, Status::Fail | Status::Inconclusive))
                .map(move |f| (j, f))
        })
        .map(|(j, f)| result(j, f, rules.rules.iter().position(|r| r.id == f.rule_id)))
        .collect();
    let notifications: Vec<Value> = report
        .evidence
        .skipped
        .iter()
        .map(|p| {
            json!({
                "level": "warning",
                "message": { "text": format!("evidence not used: {}: {}", p.subject, p.reason) },
            })
        })
        .collect();
    let doc = json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": report.tool.name,
                    "version": report.tool.version,
                    "semanticVersion": report.tool.version,
                    "rules": driver_rules,
                    "properties": { "rules_sha256": report.tool.rules_sha256 },
                },
            },
            "invocations": [{
                "executionSuccessful": true,
                "exitCode": report.summary.exit_code,
                "endTimeUtc": crate::model::rfc3339(report.generated_at),
                "toolExecutionNotifications": notifications,
            }],
            "automationDetails": { "id": format!("textract-audit/{}", crate::model::rfc3339(report.generated_at)) },
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {
                "schema": report.schema,
                "generated_at": report.generated_at,
                "tool": report.tool,
                "evidence": report.evidence,
                "options": report.options,
                "summary": report.summary,
                "mutelist": report.mutelist,
            },
        }],
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("SARIF serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::demo_report;

    #[test]
    fn rules_carry_their_metadata_and_results_their_level() {
        let rules = RuleSet::builtin().unwrap();
        let report = demo_report();
        let v: Value = serde_json::from_str(&render(&report, &rules)).unwrap();
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        let driver_rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(driver_rules.len(), rules.rules.len());
        let dm = &driver_rules[0];
        let rule = &rules.rules[0];
        assert_eq!(dm["id"], rule.id.as_str());
        assert_eq!(dm["shortDescription"]["text"], rule.title.as_str());
        assert_eq!(dm["fullDescription"]["text"], rule.rationale.as_str());
        assert_eq!(dm["help"]["text"], rule.remediation.as_str());
        assert_eq!(dm["helpUri"], rule.references[0].as_str());
        let results = run["results"].as_array().unwrap();
        let not_passed: usize = report
            .jobs
            .iter()
            .flat_map(|j| &j.findings)
            .filter(|f| matches!(f.status, Status::Fail | Status::Inconclusive))
            .count();
        assert_eq!(results.len(), not_passed);
        for r in results {
            let idx = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(driver_rules[idx]["id"], r["ruleId"]);
            let status = r["properties"]["status"].as_str().unwrap();
            let severity: Severity =
                serde_json::from_value(r["properties"]["severity"].clone()).unwrap();
            let want = if status == "FAIL" {
                level(severity)
            } else {
                "warning"
            };
            assert_eq!(r["level"], want);
            assert!(r["locations"][0]["logicalLocations"][0]["name"].is_string());
        }
        assert!(results.iter().any(|r| r["properties"]["status"] == "FAIL"));
        assert!(
            results
                .iter()
                .any(|r| r["properties"]["status"] == "INCONCLUSIVE")
        );
        assert_eq!(run["invocations"][0]["exitCode"], 3);
        assert_eq!(
            run["properties"]["tool"]["rules_sha256"],
            report.tool.rules_sha256.as_str()
        );
    }

    #[test]
    fn names_levels_and_uris() {
        assert_eq!(pascal("row2-aws-managed-key"), "Row2AwsManagedKey");
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Info), "note");
        assert_eq!(uri("s3://b/a key%.pdf"), "s3://b/a%20key%25.pdf");
    }
}
