//! Stage 4: verdicts, summary and exit code, as the versioned report every renderer reads.
//!
//! [`Report`] *is* the `textract-audit/v1` JSON document: its field names are a contract and
//! change only additively. It is built from the internal types here, so refactoring the
//! timeline or rules never changes what pipelines read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{Evidence, EvidenceProblem, EvidenceRef, JobId, ProblemScope, Sse};
use crate::rules::{DocumentedEncryption, DocumentedLocation, Finding, RuleSet, Status};
use crate::timeline::{self, Entry, JobTimeline, ObjectKind, ResolvedKey};

/// The JSON schema identifier.
pub const SCHEMA: &str = "textract-audit/v1";

/// A job's overall verdict: its worst finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Inconclusive,
    Fail,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Fail => "FAIL",
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub tool: Tool,
    pub generated_at: DateTime<Utc>,
    pub evidence: EvidenceSummary,
    pub jobs: Vec<JobReport>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
    /// SHA-256 over the rule files, so a report says which rules judged it.
    pub rules_sha256: String,
}

/// Where the evidence came from, and what of it could not be used.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceSummary {
    pub sources: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub captured_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloudtrail_window: Option<crate::model::TimeWindow>,
    pub cloudtrail_records: usize,
    /// Every piece of evidence that was not used, with the reason.
    pub skipped: Vec<EvidenceProblem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub job_id: JobId,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// What the `Start*` record asked for; `null` when it is not in the evidence.
    pub requested: Option<Requested>,
    /// What the documented table says follows; `null` when the request is unknown.
    pub expected: Option<ExpectedOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_status: Option<String>,
    pub objects: Vec<ObjectOut>,
    pub timeline: Vec<Entry>,
    pub findings: Vec<Finding>,
    /// For a PASS: the evidence that proved it.
    pub proof: Vec<EvidenceRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Requested {
    pub start_event: EvidenceRef,
    pub time: DateTime<Utc>,
    pub caller: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// `s3://bucket/prefix/`, or `null` for results kept by Textract.
    pub output: Option<String>,
    pub output_prefix_defaulted: bool,
    /// `KMSKeyId` as given, and resolved.
    pub kms_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpectedOut {
    pub location: DocumentedLocation,
    pub encryption: DocumentedEncryption,
    pub documented: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectOut {
    pub uri: String,
    pub kind: ObjectKind,
    pub listed: bool,
    /// `HeadObject` at capture: the stored encryption, or the error.
    pub stored: Option<Stored>,
    pub writes: usize,
    pub written_by_textract: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Stored {
    Head {
        encryption: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        kms_key_arn: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        kms_key_alias: Option<String>,
        bucket_key: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        last_modified: Option<DateTime<Utc>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        etag: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        version_id: Option<String>,
    },
    Error {
        error: String,
    },
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub jobs: usize,
    pub pass: usize,
    pub fail: usize,
    pub inconclusive: usize,
    /// Findings by rule id and status (`n/a` left out).
    pub findings: BTreeMap<String, BTreeMap<String, usize>>,
    /// Evidence items not used (see `evidence.skipped`).
    pub skipped_evidence: usize,
    pub exit_code: u8,
}

/// Exit codes: the contract documented in the README and `--help`.
pub mod exit {
    pub const PASS: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const FAIL: u8 = 3;
    pub const INCONCLUSIVE: u8 = 4;
}

/// The verdict of a set of findings: the worst status; n/a only never passes a job.
pub fn verdict(findings: &[Finding]) -> Verdict {
    match findings.iter().map(|f| f.status).max() {
        Some(Status::Fail) => Verdict::Fail,
        Some(Status::Pass) => Verdict::Pass,
        _ => Verdict::Inconclusive,
    }
}

fn key_arn(k: &ResolvedKey) -> Option<String> {
    k.arn().map(str::to_owned)
}

fn job_report(rules: &RuleSet, t: &JobTimeline) -> JobReport {
    let findings = rules.evaluate(t);
    let verdict = verdict(&findings);
    let expected = rules.expected(t);
    let proof = if verdict == Verdict::Pass {
        let mut p: Vec<EvidenceRef> = findings
            .iter()
            .filter(|f| f.status == Status::Pass)
            .flat_map(|f| f.evidence.iter().cloned())
            .collect();
        p.sort();
        p.dedup();
        p
    } else {
        Vec::new()
    };
    JobReport {
        job_id: t.job_id.clone(),
        verdict,
        api: t.api.map(|a| a.start_operation().to_owned()),
        requested: t.request.as_ref().map(|r| Requested {
            start_event: r.event.clone(),
            time: r.time,
            caller: r.caller.clone(),
            region: r.region.clone(),
            document: r.document.as_ref().map(|d| d.uri()),
            output: r
                .output
                .as_ref()
                .map(|o| format!("s3://{}/{}/", o.bucket, o.prefix.trim_end_matches('/'))),
            output_prefix_defaulted: r.output.as_ref().is_some_and(|o| !o.prefix_given),
            kms_key_id: r.kms_key.as_ref().map(|k| k.given.clone()),
            kms_key_arn: r.kms_key.as_ref().and_then(key_arn),
        }),
        expected: expected.map(|e| ExpectedOut {
            location: e.row.location,
            encryption: e.row.encryption,
            documented: e.row.documented,
            output_location: e.location,
            kms_key_arn: e.key.as_ref().and_then(key_arn),
        }),
        job_status: t.status.as_ref().map(|s| match s {
            Ok(f) => f.status.clone(),
            Err(e) => format!("unavailable ({})", e.code),
        }),
        objects: t
            .objects
            .iter()
            .map(|o| ObjectOut {
                uri: o.object.uri(),
                kind: o.kind,
                listed: o.listed,
                stored: o.head.as_ref().map(|h| match h {
                    Ok(h) => Stored::Head {
                        encryption: match &h.sse {
                            Sse::Other { value } => value.clone(),
                            s => s.label(),
                        },
                        kms_key_arn: o.head_key.as_ref().and_then(key_arn),
                        kms_key_alias: o.head_key.as_ref().and_then(|k| k.aliases.first().cloned()),
                        bucket_key: h.bucket_key_enabled,
                        last_modified: h.last_modified,
                        etag: h.etag.clone(),
                        version_id: h.version_id.clone(),
                    },
                    Err(e) => Stored::Error {
                        error: e.to_string(),
                    },
                }),
                writes: o.writes.len(),
                written_by_textract: o.textract_write().is_some(),
            })
            .collect(),
        timeline: t.entries.clone(),
        findings: findings
            .into_iter()
            .filter(|f| f.status != Status::NotApplicable)
            .collect(),
        proof,
    }
}

/// Builds the report for `jobs` (every job in the evidence when empty).
pub fn build(evidence: &Evidence, rules: &RuleSet, jobs: &[JobId]) -> Report {
    let ids = if jobs.is_empty() {
        timeline::discover_jobs(evidence)
    } else {
        jobs.to_vec()
    };
    let reports: Vec<JobReport> = ids
        .iter()
        .map(|id| job_report(rules, &timeline::build(evidence, id)))
        .collect();
    let mut summary = Summary {
        jobs: reports.len(),
        skipped_evidence: evidence.problems.len(),
        ..Summary::default()
    };
    for r in &reports {
        match r.verdict {
            Verdict::Pass => summary.pass += 1,
            Verdict::Fail => summary.fail += 1,
            Verdict::Inconclusive => summary.inconclusive += 1,
        }
        for f in &r.findings {
            *summary
                .findings
                .entry(f.rule_id.clone())
                .or_default()
                .entry(f.status.to_string().to_lowercase())
                .or_default() += 1;
        }
    }
    summary.exit_code = exit_code(&reports, evidence);
    Report {
        schema: SCHEMA,
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            rules_sha256: rules.sha256.clone(),
        },
        generated_at: evidence.provenance.captured_at,
        evidence: EvidenceSummary {
            sources: evidence.provenance.sources.clone(),
            account: evidence.provenance.account.clone(),
            region: evidence.provenance.region.clone(),
            captured_at: evidence.provenance.captured_at,
            cloudtrail_window: evidence.cloudtrail_window,
            cloudtrail_records: evidence.events.len(),
            skipped: evidence.problems.clone(),
        },
        jobs: reports,
        summary,
    }
}

/// 3 when any job failed, 4 when none failed but some are inconclusive (or no job was found
/// at all while evidence was skipped), else 0.
fn exit_code(jobs: &[JobReport], evidence: &Evidence) -> u8 {
    let worst = jobs.iter().map(|j| j.verdict).max();
    match worst {
        Some(Verdict::Fail) => exit::FAIL,
        Some(Verdict::Inconclusive) => exit::INCONCLUSIVE,
        Some(Verdict::Pass) => exit::PASS,
        // Nothing to judge: if evidence was skipped, a job may be hiding in it.
        None if evidence.problems.iter().any(|p| {
            matches!(
                p.scope,
                ProblemScope::CloudTrail { .. } | ProblemScope::Textract
            )
        }) =>
        {
            exit::INCONCLUSIVE
        }
        None => exit::PASS,
    }
}
