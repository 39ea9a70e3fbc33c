//! Stage 4: verdicts, summary and exit code, as the versioned report every renderer reads.
//!
//! [`Report`] *is* the `textract-audit/v1` JSON document: its field names are a contract and
//! change only additively. It is built from the internal types here, so refactoring the
//! timeline or rules never changes what pipelines read.
//!
//! Everything that judges findings beyond the rules happens here, once: the mute list, the
//! `--fail-on` threshold for the exit code, and `--redact`. Renderers only draw.

pub mod lifecycle;
pub mod mutelist;
pub mod redact;

use std::collections::BTreeMap;
use std::ops::Deref;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::access::allowlist::AllowList;
use crate::access::observed::{self, ReaderRow};
use crate::access::possible;
use crate::access::readers_allowed::{self, Checker};
use crate::model::{Evidence, EvidenceProblem, EvidenceRef, JobId, ProblemScope, Sse};
use crate::rules::{DocumentedEncryption, DocumentedLocation, Finding, RuleSet, Severity, Status};
use crate::timeline::{self, JobTimeline, ObjectKind, ResolvedKey};
pub use lifecycle::TimelineRow;
use mutelist::{Applier, Muted, Mutelist, MutelistReport, Subject};
use redact::Redact;

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
    /// One evidence summary per account and Region, when the report covers several (then
    /// `evidence` sums them up and each job names its `account` and `region`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<EvidenceSummary>,
    /// The options that shaped this report.
    pub options: Options,
    /// Each mute list entry's outcome; present when a mute list was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutelist: Option<MutelistReport>,
    /// What CloudTrail digest validation found for the log files read (docs/integrity.md);
    /// absent under `--integrity off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrity: Option<crate::integrity::run::RunIntegrity>,
    /// Each allow-list entry's outcome; present when `--allowed-readers` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_readers: Option<AllowedReadersReport>,
}

/// Who could read a job's results ([`crate::access::possible`]), as the report shows it:
/// every answer labelled with its policy, every flag in words.
#[derive(Debug, Clone, Serialize)]
pub struct PossibleOut {
    /// How it was reached: a static reading, never an evaluation.
    pub method: String,
    /// Who may `kms:Decrypt` with the job's key, by its key policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypt: Option<PolicyAnswerOut>,
    /// The grantees of the key's grants that decrypt; `null` when the grants are unknown
    /// (a flag says why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypt_grants: Option<Vec<String>>,
    /// Who may `s3:GetObject` the job's folder, by the bucket policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub get_object: Option<PolicyAnswerOut>,
    pub flags: Vec<FlagOut>,
    /// What the reading cannot see.
    pub notes: Vec<String>,
    /// IAM Access Analyzer's answers about the same policies, labelled as its answers (each
    /// line in words); absent when it was not asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_analyzer: Vec<crate::access::analyzer::AnalyzerReading>,
}

/// One policy's answer.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyAnswerOut {
    pub document: String,
    /// `read`, `no-policy` or `unknown`.
    pub state: &'static str,
    /// The principals it lets act, each marked when a condition (not evaluated) restricts it
    /// or it covers only part of the target.
    pub principals: Vec<String>,
    /// Why it is unknown, or which statements could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlagOut {
    /// `everyone`, `other-account`, `full-key-access`, `grant-outlives-job`, …
    pub flag: &'static str,
    pub message: String,
}

impl PolicyAnswerOut {
    fn of(a: &possible::Answer) -> PolicyAnswerOut {
        match a {
            possible::Answer::Read {
                document,
                access,
                unreadable,
            } => PolicyAnswerOut {
                document: document.clone(),
                state: "read",
                principals: access
                    .grantees
                    .iter()
                    .map(|g| {
                        let mut p = g.principal.to_string();
                        if !g.conditions.is_empty() {
                            p.push_str(" (under a condition, not evaluated)");
                        }
                        if g.scope != crate::access::glob::Cover::All {
                            p.push_str(" (part of it, or depending on a policy variable)");
                        }
                        p
                    })
                    .collect(),
                reason: (!unreadable.is_empty()).then(|| {
                    let why: Vec<String> = unreadable.iter().map(|e| e.to_string()).collect();
                    format!("statements not read: {}", why.join("; "))
                }),
            },
            possible::Answer::NoPolicy { document } => PolicyAnswerOut {
                document: document.clone(),
                state: "no-policy",
                principals: Vec::new(),
                reason: None,
            },
            possible::Answer::Unknown { document, reason } => PolicyAnswerOut {
                document: document.clone(),
                state: "unknown",
                principals: Vec::new(),
                reason: Some(reason.clone()),
            },
        }
    }
}

/// The static reading of who could read the job's results; `None` when it has neither a key
/// nor an output bucket.
fn possible_out(t: &JobTimeline) -> Option<PossibleOut> {
    let folder = t
        .output
        .as_ref()
        .map(|o| (o.bucket.as_str(), o.job_prefix(&t.job_id)));
    if t.key.is_none() && folder.is_none() {
        return None;
    }
    let region = t.request.as_ref().map_or("", |r| r.region.as_str());
    // The job's account: its caller's (the bucket and key owner's when they are its own).
    let account = t
        .request
        .as_ref()
        .and_then(|r| r.caller.split(':').nth(4))
        .filter(|a| !a.is_empty());
    let r = possible::possible_readers(
        t.key.as_ref(),
        t.bucket.as_ref(),
        &possible::JobScope {
            partition: crate::model::partition_of_region(region),
            account,
            output: folder.as_ref().map(|(b, f)| (*b, f.as_str())),
            job: t.results_window(),
            captured_at: t.captured_at,
        },
    );
    Some(PossibleOut {
        method: r.method.to_owned(),
        decrypt: r.decrypt.as_ref().map(PolicyAnswerOut::of),
        decrypt_grants: match &r.grants {
            Some(possible::Grants::Read { grants }) => Some(
                grants
                    .iter()
                    .filter(|g| g.decrypts)
                    .map(|g| g.grantee.clone())
                    .collect(),
            ),
            _ => None,
        },
        get_object: r.get_object.as_ref().map(PolicyAnswerOut::of),
        flags: r
            .flags
            .iter()
            .map(|f| FlagOut {
                flag: f.kind(),
                message: f.message(),
            })
            .collect(),
        notes: r.notes,
        access_analyzer: r.analyzer,
    })
}

/// The allow-list's part of the report, as the mute list's: what each entry matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowedReadersReport {
    pub file: String,
    /// Expiry is judged at this time: the report's `generated_at`, the run's time.
    pub evaluated_at: DateTime<Utc>,
    pub entries: Vec<AllowedEntryOut>,
}

/// One allow-list entry's outcome, with its reason and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowedEntryOut {
    #[serde(flatten)]
    pub outcome: readers_allowed::EntryOutcome,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
}

/// How a report is judged and shown beyond the rules.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The run's time: the report's `generated_at`, and the time mute-list expiry is judged
    /// at (never the evidence's capture time: an old bundle must not revive an expired mute).
    pub now: DateTime<Utc>,
    pub mutelist: Option<Mutelist>,
    /// `--allowed-readers`: who may read the results, for `readers-allowed`.
    pub allowed_readers: Option<AllowList>,
    /// The lowest severity of a FAIL finding that makes exit code 3; `None`: any.
    pub fail_on: Option<Severity>,
    pub redact: bool,
    /// The jobs were discovered from the evidence (`audit`, `verify` without `--job-id`), so
    /// skipped CloudTrail or Textract evidence may hide a job that is not in the report.
    pub discovery: bool,
    /// `--status`: only jobs with these verdicts are reported (the summary counts all).
    pub status: Option<Vec<Verdict>>,
}

/// The policy as the report states it.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// `null`: every FAIL finding counts for the exit code.
    pub fail_on: Option<Severity>,
    pub redacted: bool,
    /// The mute list file, as given.
    pub mutelist: Option<String>,
    /// The `--allowed-readers` file, as given.
    pub allowed_readers: Option<String>,
    /// `--status`: the verdicts of the jobs reported; the summary and exit code count every
    /// job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Vec<Verdict>>,
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
    /// How much of each kind of evidence was read.
    pub collected: Collected,
    /// Every piece of evidence that was not used, with the reason.
    pub skipped: Vec<EvidenceProblem>,
}

/// Counts of the evidence read, beside `cloudtrail_records`.
#[derive(Debug, Clone, Serialize)]
pub struct Collected {
    pub trails: usize,
    pub job_statuses: usize,
    pub prefix_listings: usize,
    pub object_heads: usize,
    pub buckets: usize,
    pub kms_keys: usize,
    /// `null` when aliases were not listed.
    pub kms_aliases: Option<usize>,
}

/// A finding as reported: the rule's finding, and whether the mute list muted it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    /// Muted findings keep their status; the job's verdict and the exit code ignore them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted: Option<Muted>,
}

impl Deref for ReportedFinding {
    type Target = Finding;
    fn deref(&self) -> &Finding {
        &self.finding
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub job_id: JobId,
    pub verdict: Verdict,
    /// The account and Region section the job was found in (reports over several only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// What the `Start*` record asked for; `null` when it is not in the evidence.
    pub requested: Option<Requested>,
    /// What the documented table says follows; `null` when the request is unknown.
    pub expected: Option<ExpectedOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_status: Option<String>,
    pub objects: Vec<ObjectOut>,
    /// The output bucket's settings, when collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_bucket: Option<BucketOut>,
    /// The requested KMS key as KMS describes it, when collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<KeyOut>,
    pub timeline: Vec<TimelineRow>,
    /// Who read the job's results, one row per principal (S3 reads, KMS `Decrypt` of its
    /// objects, Textract `Get*`), in order of first read.
    pub readers: Vec<ReaderRow>,
    /// Who could read them, by a static reading of the collected key policy, grants and
    /// bucket policy; absent when the job has neither a key nor an output bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub possible_readers: Option<PossibleOut>,
    pub findings: Vec<ReportedFinding>,
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

/// The output bucket's settings; each `null` when not collected, `error: …` when denied.
#[derive(Debug, Clone, Serialize)]
pub struct BucketOut {
    pub name: String,
    /// The default encryption (`SSE-S3`, `SSE-KMS with …`) and whether Bucket Keys are on.
    pub default_encryption: Option<String>,
    pub versioning: Option<String>,
    /// `blocked` when all four S3 public access blocks are on, `not blocked` otherwise.
    pub public_access: Option<String>,
}

/// The requested key as KMS describes it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyOut {
    pub arn: String,
    pub key_manager: String,
    pub key_state: String,
    pub rotation_enabled: Option<bool>,
    /// The key policy document (who may decrypt the results), when collected.
    pub policy: Option<String>,
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
    /// Findings muted by the mute list (still counted in `findings` under their status).
    pub muted: usize,
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
    verdict_of(findings.iter().map(|f| f.status))
}

fn verdict_of(statuses: impl Iterator<Item = Status>) -> Verdict {
    match statuses.max() {
        Some(Status::Fail) => Verdict::Fail,
        Some(Status::Pass) => Verdict::Pass,
        _ => Verdict::Inconclusive,
    }
}

/// A job's verdict: the worst status among its findings that are not muted.
fn job_verdict(findings: &[ReportedFinding]) -> Verdict {
    verdict_of(
        findings
            .iter()
            .filter(|f| f.muted.is_none())
            .map(|f| f.status),
    )
}

/// The verdict the exit code sees: as [`job_verdict`], with FAIL findings below `fail_on`
/// counted as passed. Verdicts in the report are never changed by `fail_on`.
fn exit_verdict(findings: &[ReportedFinding], fail_on: Option<Severity>) -> Verdict {
    verdict_of(
        findings
            .iter()
            .filter(|f| f.muted.is_none())
            .map(|f| match (f.status, fail_on) {
                (Status::Fail, Some(min)) if f.severity < min => Status::Pass,
                (s, _) => s,
            }),
    )
}

fn key_arn(k: &ResolvedKey) -> Option<String> {
    k.arn().map(str::to_owned)
}

/// The bucket of an `s3://bucket/key` URI.
fn bucket_of(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("s3://")?;
    Some(rest.split_once('/').map_or(rest, |(b, _)| b)).filter(|b| !b.is_empty())
}

/// The mute list applied to one job's findings (FAIL and INCONCLUSIVE only: a PASS has
/// nothing to mute).
fn apply_mutes(
    job: &mut JobReport,
    account: Option<&str>,
    region: Option<&str>,
    applier: &mut Applier<'_>,
) {
    let job_region = job.requested.as_ref().map(|r| r.region.as_str()).or(region);
    let job_bucket = job
        .requested
        .as_ref()
        .and_then(|r| r.output.as_deref())
        .or(job
            .expected
            .as_ref()
            .and_then(|e| e.output_location.as_deref()))
        .and_then(bucket_of);
    for f in &mut job.findings {
        if !matches!(f.status, Status::Fail | Status::Inconclusive) {
            continue;
        }
        let subject = Subject {
            account,
            region: job_region,
            job_id: &job.job_id.0,
            bucket: f.object.as_deref().and_then(bucket_of).or(job_bucket),
            rule: &f.rule_id,
            evidence_gap: f.status == Status::Inconclusive && f.rule_id.starts_with("evidence-"),
        };
        f.muted = applier.apply(&subject);
    }
    job.verdict = job_verdict(&job.findings);
    // A job muted into PASS is proved by its passing findings like any other.
    job.proof = proof(job.verdict, &job.findings);
}

/// For a PASS, the evidence its passing findings cite (each once); nothing otherwise.
fn proof(verdict: Verdict, findings: &[ReportedFinding]) -> Vec<EvidenceRef> {
    if verdict != Verdict::Pass {
        return Vec::new();
    }
    let mut p: Vec<EvidenceRef> = findings
        .iter()
        .filter(|f| f.status == Status::Pass)
        .flat_map(|f| f.evidence.iter().cloned())
        .collect();
    p.sort();
    p.dedup();
    p
}

fn job_report(rules: &RuleSet, t: &JobTimeline, readers: Option<&mut Checker<'_>>) -> JobReport {
    let findings: Vec<ReportedFinding> = rules
        .evaluate_with(t, readers)
        .into_iter()
        .filter(|f| f.status != Status::NotApplicable)
        .map(|finding| ReportedFinding {
            finding,
            muted: None,
        })
        .collect();
    let verdict = job_verdict(&findings);
    let expected = rules.expected(t);
    let proof = proof(verdict, &findings);
    JobReport {
        job_id: t.job_id.clone(),
        account: None,
        region: None,
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
                        last_modified: h.last_modified.read().copied(),
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
        output_bucket: t.output.as_ref().zip(t.bucket.as_ref()).map(|(o, b)| {
            let show = |r: &Result<String, crate::model::CallError>| match r {
                Ok(v) => v.clone(),
                Err(e) => format!("error: {e}"),
            };
            BucketOut {
                name: o.bucket.clone(),
                default_encryption: b.default_encryption.as_ref().map(|d| {
                    show(
                        &d.as_ref()
                            .map(|d| {
                                let key = d
                                    .sse
                                    .key_id()
                                    .map(|k| format!(" with {k}"))
                                    .unwrap_or_default();
                                let bk = if d.bucket_key_enabled {
                                    ", Bucket Key on"
                                } else {
                                    ""
                                };
                                format!("{}{key}{bk}", d.sse.label())
                            })
                            .map_err(Clone::clone),
                    )
                }),
                versioning: b.versioning.as_ref().map(|v| {
                    show(
                        &v.as_ref()
                            .map(|v| v.clone().unwrap_or_else(|| "never enabled".into()))
                            .map_err(Clone::clone),
                    )
                }),
                public_access: b.public_access_blocked.as_ref().map(|p| {
                    show(
                        &p.as_ref()
                            .map(|&blocked| {
                                if blocked { "blocked" } else { "not blocked" }.to_owned()
                            })
                            .map_err(Clone::clone),
                    )
                }),
            }
        }),
        kms_key: t.key.as_ref().map(|k| KeyOut {
            arn: k.arn.clone(),
            key_manager: k.key_manager.clone(),
            key_state: k.key_state.clone(),
            rotation_enabled: k.rotation_enabled,
            policy: k.policy.clone(),
        }),
        timeline: t.entries.iter().map(TimelineRow::from).collect(),
        readers: observed::readers(&t.reads),
        possible_readers: possible_out(t),
        findings,
        proof,
    }
}

/// One account and Region's evidence and the jobs to report from it.
pub struct Part<'a> {
    pub evidence: &'a Evidence,
    pub jobs: Vec<JobId>,
}

/// Builds the report for exactly these jobs of one evidence set.
pub fn build(evidence: &Evidence, rules: &RuleSet, jobs: &[JobId], policy: &Policy) -> Report {
    build_parts(
        &[Part {
            evidence,
            jobs: jobs.to_vec(),
        }],
        rules,
        policy,
    )
}

fn evidence_summary(evidence: &Evidence) -> EvidenceSummary {
    EvidenceSummary {
        sources: evidence.provenance.sources.clone(),
        account: evidence.provenance.account.clone(),
        region: evidence.provenance.region.clone(),
        captured_at: evidence.provenance.captured_at,
        cloudtrail_window: evidence.cloudtrail_window,
        cloudtrail_records: evidence.events.len(),
        collected: Collected {
            trails: evidence.trails.len(),
            job_statuses: evidence.job_statuses.len(),
            prefix_listings: evidence.listings.len(),
            object_heads: evidence.heads.len(),
            buckets: evidence.buckets.len(),
            kms_keys: evidence.keys.len(),
            kms_aliases: evidence.aliases.as_ref().map(Vec::len),
        },
        skipped: evidence.problems.clone(),
    }
}

/// The summary of several sections: sources, records and skipped items added up; account,
/// Region and window only where every section agrees.
fn combined_summary(sections: &[EvidenceSummary]) -> EvidenceSummary {
    let same = |f: &dyn Fn(&EvidenceSummary) -> Option<String>| {
        let first = f(&sections[0]);
        sections
            .iter()
            .all(|s| f(s) == first)
            .then_some(first)
            .flatten()
    };
    let sum = |f: &dyn Fn(&Collected) -> usize| sections.iter().map(|s| f(&s.collected)).sum();
    EvidenceSummary {
        sources: sections.iter().flat_map(|s| s.sources.clone()).collect(),
        account: same(&|s| s.account.clone()),
        region: same(&|s| s.region.clone()),
        captured_at: sections
            .iter()
            .map(|s| s.captured_at)
            .max()
            .expect("sections"),
        cloudtrail_window: sections
            .iter()
            .all(|s| s.cloudtrail_window == sections[0].cloudtrail_window)
            .then_some(sections[0].cloudtrail_window)
            .flatten(),
        cloudtrail_records: sections.iter().map(|s| s.cloudtrail_records).sum(),
        collected: Collected {
            trails: sum(&|c| c.trails),
            job_statuses: sum(&|c| c.job_statuses),
            prefix_listings: sum(&|c| c.prefix_listings),
            object_heads: sum(&|c| c.object_heads),
            buckets: sum(&|c| c.buckets),
            kms_keys: sum(&|c| c.kms_keys),
            kms_aliases: sections.iter().map(|s| s.collected.kms_aliases).sum(),
        },
        // Trail problems are offered to every section: list each once.
        skipped: sections.iter().flat_map(|s| s.skipped.iter()).fold(
            Vec::new(),
            |mut all: Vec<EvidenceProblem>, p| {
                if !all.contains(p) {
                    all.push(p.clone());
                }
                all
            },
        ),
    }
}

/// Builds one report over several account and Region parts; the mute list is applied once
/// across all of them (an entry is stale only when it matched nothing anywhere).
pub fn build_parts(parts: &[Part<'_>], rules: &RuleSet, policy: &Policy) -> Report {
    let sections: Vec<EvidenceSummary> =
        parts.iter().map(|p| evidence_summary(p.evidence)).collect();
    let evidence = match sections.as_slice() {
        [one] => one.clone(),
        many => combined_summary(many),
    };
    let generated_at = policy.now;
    let several = parts.len() > 1;
    let mut reports: Vec<JobReport> = Vec::new();
    let mut applier = policy
        .mutelist
        .as_ref()
        .map(|list| Applier::new(list, generated_at));
    let mut checker = policy
        .allowed_readers
        .as_ref()
        .map(|list| Checker::new(list, generated_at));
    for part in parts {
        let account = part.evidence.provenance.account.as_deref();
        let region = part.evidence.provenance.region.as_deref();
        // Each job gets its own checker (jobs are judged in parallel), absorbed in job order.
        let judged = timeline::correlate_all(part.evidence, &part.jobs, |t| {
            let mut own = policy
                .allowed_readers
                .as_ref()
                .map(|list| Checker::new(list, generated_at));
            (job_report(rules, &t, own.as_mut()), own)
        });
        for (mut r, own) in judged {
            if let (Some(all), Some(own)) = (checker.as_mut(), own) {
                all.absorb(own);
            }
            if several {
                r.account = account.map(str::to_owned);
                r.region = region.map(str::to_owned);
            }
            if let Some(applier) = applier.as_mut() {
                apply_mutes(&mut r, account, region, applier);
            }
            reports.push(r);
        }
    }
    let mutelist = applier.map(Applier::finish);
    let allowed_readers = checker
        .zip(policy.allowed_readers.as_ref())
        .map(|(c, list)| AllowedReadersReport {
            file: list.file.clone(),
            evaluated_at: generated_at,
            entries: c
                .finish()
                .into_iter()
                .zip(&list.entries)
                .map(|(outcome, e)| AllowedEntryOut {
                    outcome,
                    reason: e.reason.clone(),
                    expires: e.expires,
                })
                .collect(),
        });
    let mut summary = Summary {
        jobs: reports.len(),
        skipped_evidence: evidence.skipped.len(),
        ..Summary::default()
    };
    for r in &reports {
        match r.verdict {
            Verdict::Pass => summary.pass += 1,
            Verdict::Fail => summary.fail += 1,
            Verdict::Inconclusive => summary.inconclusive += 1,
        }
        for f in &r.findings {
            summary.muted += usize::from(f.muted.is_some());
            *summary
                .findings
                .entry(f.rule_id.clone())
                .or_default()
                .entry(f.status.to_string().to_lowercase())
                .or_default() += 1;
        }
    }
    summary.exit_code = exit_code(&reports, &evidence.skipped, policy);
    if let Some(keep) = &policy.status {
        reports.retain(|r| keep.contains(&r.verdict));
    }
    let mut report = Report {
        schema: SCHEMA,
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
            rules_sha256: rules.sha256.clone(),
        },
        generated_at,
        evidence,
        jobs: reports,
        summary,
        sections: if several { sections } else { Vec::new() },
        options: Options {
            fail_on: policy.fail_on,
            redacted: policy.redact,
            mutelist: policy.mutelist.as_ref().map(|m| m.file.clone()),
            allowed_readers: policy.allowed_readers.as_ref().map(|l| l.file.clone()),
            status: policy.status.clone(),
        },
        mutelist,
        allowed_readers,
        // Every part was offered the same trail files: the first speaks for them.
        integrity: parts
            .first()
            .and_then(|p| p.evidence.integrity.as_deref().cloned()),
    };
    if policy.redact {
        report.redact(&mut redact::Redactor::default());
    }
    report
}

/// 3 when any job has an unmuted FAIL finding at or above `fail_on`, 4 when none does but
/// some job is inconclusive (or no job was found at all while evidence was skipped), else 0.
fn exit_code(jobs: &[JobReport], skipped: &[EvidenceProblem], policy: &Policy) -> u8 {
    let worst = jobs
        .iter()
        .map(|j| exit_verdict(&j.findings, policy.fail_on))
        .max();
    // Skipped evidence a job may be hiding in: the report cannot say it found every job.
    let may_hide_a_job = || {
        skipped.iter().any(|p| {
            matches!(
                p.scope,
                ProblemScope::CloudTrail { .. } | ProblemScope::Textract
            )
        })
    };
    match worst {
        Some(Verdict::Fail) => exit::FAIL,
        Some(Verdict::Inconclusive) => exit::INCONCLUSIVE,
        // Every job found passed, but discovery itself was incomplete: not green.
        Some(Verdict::Pass) if policy.discovery && may_hide_a_job() => exit::INCONCLUSIVE,
        Some(Verdict::Pass) => exit::PASS,
        None if may_hide_a_job() => exit::INCONCLUSIVE,
        None => exit::PASS,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn demo_evidence() -> Evidence {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
        crate::evidence::bundle::load(&dir).unwrap()
    }

    pub(crate) fn demo_report_with(policy: &Policy) -> Report {
        let evidence = demo_evidence();
        let rules = RuleSet::builtin().unwrap();
        let jobs = timeline::discover_jobs(&evidence);
        build(&evidence, &rules, &jobs, policy)
    }

    /// The demo bundle's report: one PASS, one FAIL, one INCONCLUSIVE job.
    pub(crate) fn demo_report() -> Report {
        demo_report_with(&Policy::default())
    }

    fn mutes(text: &str) -> Mutelist {
        Mutelist::parse(
            std::path::Path::new("mute.toml"),
            text,
            &RuleSet::builtin().unwrap(),
        )
        .unwrap()
    }

    fn job(r: &Report, v: Verdict) -> &JobReport {
        r.jobs.iter().find(|j| j.verdict == v).unwrap()
    }

    #[test]
    fn demo_has_one_job_of_each_verdict() {
        let r = demo_report();
        let mut v: Vec<Verdict> = r.jobs.iter().map(|j| j.verdict).collect();
        v.sort();
        assert_eq!(v, [Verdict::Pass, Verdict::Inconclusive, Verdict::Fail]);
        assert_eq!(r.summary.exit_code, exit::FAIL);
        assert_eq!(r.summary.muted, 0);
        assert!(r.mutelist.is_none());
    }

    #[test]
    fn muting_every_fail_of_the_failing_job_changes_its_verdict_but_not_its_findings() {
        let plain = demo_report();
        let failing = job(&plain, Verdict::Fail);
        let fail_rules: std::collections::BTreeSet<&str> = failing
            .findings
            .iter()
            .filter(|f| f.status == Status::Fail)
            .map(|f| f.rule_id.as_str())
            .collect();
        let mut text = String::new();
        for rule in &fail_rules {
            text += &format!(
                "[[mute]]\njob_id = \"{}\"\nrule = \"{rule}\"\nreason = \"accepted risk\"\n",
                failing.job_id
            );
        }
        text += "[[mute]]\njob_id = \"no-such-job\"\nreason = \"left over\"\n";
        let r = demo_report_with(&Policy {
            mutelist: Some(mutes(&text)),
            ..Policy::default()
        });
        let j = r.jobs.iter().find(|j| j.job_id == failing.job_id).unwrap();
        assert_ne!(j.verdict, Verdict::Fail);
        assert_eq!(j.findings.len(), failing.findings.len(), "nothing hidden");
        let muted: Vec<&ReportedFinding> =
            j.findings.iter().filter(|f| f.muted.is_some()).collect();
        assert!(
            muted.iter().all(|f| f.status == Status::Fail),
            "status kept"
        );
        assert_eq!(r.summary.muted, muted.len());
        assert_eq!(r.summary.fail, 0);
        assert_ne!(r.summary.exit_code, exit::FAIL);
        let m = r.mutelist.unwrap();
        let stale = m.entries.last().unwrap();
        assert_eq!(stale.state, mutelist::EntryState::Stale);
        assert!(
            m.entries[..fail_rules.len()]
                .iter()
                .all(|e| e.state == mutelist::EntryState::Applied && e.matched > 0)
        );
    }

    #[test]
    fn an_expired_mute_stops_muting_and_is_reported() {
        let plain = demo_report();
        let failing = job(&plain, Verdict::Fail);
        // The demo evidence was captured 2026-11-20T11:00:00Z; expiry is judged at the run's
        // time, so a run on 2026-12-01 over that old bundle no longer honours a mute that
        // expired on 2026-11-25.
        for (now, expires, muting) in [
            ("2026-11-20T11:00:00Z", "2026-11-20", true),
            ("2026-11-20T11:00:00Z", "2026-11-19", false),
            ("2026-12-01T00:00:00Z", "2026-11-25", false),
            ("2026-12-01T00:00:00Z", "2026-12-01", true),
        ] {
            let r = demo_report_with(&Policy {
                now: now.parse().unwrap(),
                mutelist: Some(mutes(&format!(
                    "[[mute]]\njob_id = \"{}\"\nreason = \"r\"\nexpires = {expires}\n",
                    failing.job_id
                ))),
                ..Policy::default()
            });
            assert_eq!(
                crate::model::rfc3339(r.generated_at),
                now,
                "the report's time is the run's"
            );
            assert_eq!(
                crate::model::rfc3339(r.evidence.captured_at),
                "2026-11-20T11:00:00Z",
                "the capture time stays apart"
            );
            let j = r.jobs.iter().find(|j| j.job_id == failing.job_id).unwrap();
            let e = &r.mutelist.as_ref().unwrap().entries[0];
            assert!(e.matched > 0);
            if muting {
                assert_eq!(e.state, mutelist::EntryState::Applied);
                assert_ne!(j.verdict, Verdict::Fail);
            } else {
                assert_eq!(e.state, mutelist::EntryState::Expired);
                assert_eq!(j.verdict, Verdict::Fail);
                assert!(j.findings.iter().all(|f| f.muted.is_none()));
            }
        }
    }

    #[test]
    fn mutes_match_on_account_region_and_bucket() {
        let plain = demo_report();
        let failing = job(&plain, Verdict::Fail);
        let bucket = failing
            .requested
            .as_ref()
            .and_then(|r| r.output.as_deref())
            .and_then(bucket_of)
            .unwrap()
            .to_owned();
        for (entry, applies) in [
            (
                format!("account = \"111122223333\"\nbucket = \"{bucket}\""),
                true,
            ),
            (
                format!("account = \"1111*\"\nregion = \"us-*\"\nbucket = \"{bucket}\""),
                true,
            ),
            (
                format!("account = \"999999999999\"\nbucket = \"{bucket}\""),
                false,
            ),
            (format!("region = \"eu-*\"\nbucket = \"{bucket}\""), false),
        ] {
            let r = demo_report_with(&Policy {
                mutelist: Some(mutes(&format!("[[mute]]\n{entry}\nreason = \"r\"\n"))),
                ..Policy::default()
            });
            let e = &r.mutelist.as_ref().unwrap().entries[0];
            assert_eq!(e.matched > 0, applies, "{entry}");
        }
    }

    /// Discovery is only as complete as the evidence: when the jobs were discovered, skipped
    /// CloudTrail evidence may hide a job, so jobs that all PASS do not make the run green;
    /// for jobs named by id, only each job's own evidence counts.
    #[test]
    fn skipped_trail_evidence_keeps_a_discovery_run_from_green() {
        let pass = job(&demo_report(), Verdict::Pass).clone();
        let broken = EvidenceProblem {
            subject: "a log file".into(),
            reason: "not gzip data".into(),
            scope: ProblemScope::CloudTrail {
                from: None,
                until: None,
            },
        };
        let named = Policy::default();
        let discovered = Policy {
            discovery: true,
            ..Policy::default()
        };
        let jobs = std::slice::from_ref(&pass);
        assert_eq!(exit_code(jobs, &[], &discovered), exit::PASS);
        assert_eq!(
            exit_code(jobs, std::slice::from_ref(&broken), &named),
            exit::PASS
        );
        assert_eq!(
            exit_code(jobs, std::slice::from_ref(&broken), &discovered),
            exit::INCONCLUSIVE
        );
        assert_eq!(
            exit_code(&[], std::slice::from_ref(&broken), &named),
            exit::INCONCLUSIVE
        );
    }

    #[test]
    fn fail_on_changes_the_exit_code_only() {
        let plain = demo_report();
        let failing = job(&plain, Verdict::Fail);
        let worst = failing
            .findings
            .iter()
            .filter(|f| f.status == Status::Fail)
            .map(|f| f.severity)
            .max()
            .unwrap();
        let at = demo_report_with(&Policy {
            fail_on: Some(worst),
            ..Policy::default()
        });
        assert_eq!(at.summary.exit_code, exit::FAIL);
        let above = match worst {
            Severity::Info => Severity::Low,
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        };
        assert!(above > worst, "the demo's worst FAIL is below critical");
        let r = demo_report_with(&Policy {
            fail_on: Some(above),
            ..Policy::default()
        });
        assert_eq!(r.summary.fail, 1, "verdicts unchanged");
        assert_eq!(
            r.summary.exit_code,
            exit::INCONCLUSIVE,
            "the inconclusive job still counts"
        );
        assert_eq!(r.options.fail_on, Some(above));
    }

    #[test]
    fn redaction_hides_accounts_and_principals_everywhere_in_the_json() {
        let r = demo_report_with(&Policy {
            redact: true,
            ..Policy::default()
        });
        let json = serde_json::to_string(&r).unwrap();
        for secret in ["111122223333", "etl-worker", "DocPipeline"] {
            assert!(!json.contains(secret), "{secret} survived");
        }
        assert!(json.contains("account-1"));
        assert!(json.contains("principal-"));
        assert!(r.options.redacted);
        let plain = demo_report();
        assert_eq!(
            r.jobs.iter().map(|j| j.verdict).collect::<Vec<_>>(),
            plain.jobs.iter().map(|j| j.verdict).collect::<Vec<_>>()
        );
    }
}
