//! The preflight: before any job starts, can the caller do what the jobs need, will the trail
//! record the evidence verification needs, and what does the documented table promise?
//!
//! Bucket, key and trail facts come as [`Evidence`] and are judged with the timeline's own
//! coverage functions and the rule set's table, so a preflight and a verification can never
//! disagree on what a trail logs or which row applies.

use chrono::{DateTime, Utc};

use super::{Document, Plan, s3_label};
use crate::coverage::{self, Logging};
use crate::evidence::WireError;
use crate::evidence::live::submit::Session;
use crate::model::{Evidence, Sse};
use crate::report::exit;
use crate::rules::RuleSet;

/// How a check came out, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckStatus {
    Ok,
    /// Cannot be confirmed before the job runs (or verification will be INCONCLUSIVE).
    Unconfirmed,
    /// The job will fail, or its result will not be what the table documents.
    WillFail,
}

impl CheckStatus {
    fn label(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Unconfirmed => "??",
            CheckStatus::WillFail => "FAIL",
        }
    }
}

/// One line of the preflight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `input`, `upload`, `output`, `key`, `trail`.
    pub subject: &'static str,
    pub status: CheckStatus,
    pub detail: String,
}

/// The preflight's answer.
#[derive(Debug, Clone)]
pub struct Preflight {
    pub checks: Vec<Check>,
    /// What the documented table says the stored result will be.
    pub expected: String,
}

impl Preflight {
    /// The worst check.
    pub fn status(&self) -> CheckStatus {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(CheckStatus::Ok)
    }

    /// `--dry-run`'s exit code: 0 all confirmed, 4 something unconfirmed, 3 something fails.
    pub fn exit_code(&self) -> u8 {
        match self.status() {
            CheckStatus::Ok => exit::PASS,
            CheckStatus::Unconfirmed => exit::INCONCLUSIVE,
            CheckStatus::WillFail => exit::FAIL,
        }
    }

    /// One screen for standard error.
    pub fn render(&self, plan: &Plan, region: &str) -> String {
        let mut out = format!(
            "preflight: {} of {} document(s) in {region}",
            plan.api.start_operation(),
            plan.documents.len()
        );
        if !plan.features.is_empty() {
            out.push_str(&format!(" ({})", plan.features.join(", ")));
        }
        out.push('\n');
        for c in &self.checks {
            out.push_str(&format!(
                "  {:<4}  {:<6}  {}\n",
                c.status.label(),
                c.subject,
                c.detail
            ));
        }
        out.push_str(&format!(
            "  {:<4}  {:<6}  {}\n",
            "=>", "table", self.expected
        ));
        let count = |s: CheckStatus| self.checks.iter().filter(|c| c.status == s).count();
        out.push_str(&format!(
            "preflight: {} ok, {} cannot be confirmed, {} will fail\n",
            count(CheckStatus::Ok),
            count(CheckStatus::Unconfirmed),
            count(CheckStatus::WillFail)
        ));
        out
    }
}

fn check(subject: &'static str, status: CheckStatus, detail: String) -> Check {
    Check {
        subject,
        status,
        detail,
    }
}

fn not_found(e: &WireError) -> bool {
    matches!(
        e.code.as_str(),
        "404" | "NotFound" | "NoSuchKey" | "NoSuchBucket" | "NoSuchVersion"
    )
}

fn denied(e: &WireError) -> bool {
    matches!(e.code.as_str(), "403" | "AccessDenied" | "Forbidden")
}

/// Runs every check for `plan` (`now` stands for the jobs' start).
pub async fn preflight(
    session: &mut Session,
    plan: &Plan,
    rules: &RuleSet,
    now: DateTime<Utc>,
) -> Preflight {
    use CheckStatus::{Ok as Good, Unconfirmed, WillFail};
    let mut checks = Vec::new();

    for document in &plan.documents {
        match document {
            Document::S3(o) => checks.push(match session.head_object(o).await {
                Ok(()) => check("input", Good, format!("{} is readable (HeadObject)", s3_label(o))),
                Err(e) if not_found(&e) => check(
                    "input",
                    WillFail,
                    format!("{} does not exist (HeadObject {}): check bucket, key, version and Region", s3_label(o), e.code),
                ),
                Err(e) if denied(&e) => check(
                    "input",
                    WillFail,
                    format!(
                        "{} is not readable by the caller (HeadObject {}): Textract reads it with the caller's permissions; grant s3:GetObject",
                        s3_label(o),
                        e.code
                    ),
                ),
                Err(e) => check(
                    "input",
                    Unconfirmed,
                    format!("{}: HeadObject failed: {}: {}", s3_label(o), e.code, e.message),
                ),
            }),
            Document::Upload { path, target } => checks.push(match std::fs::metadata(path) {
                Ok(m) if m.is_file() => check(
                    "upload",
                    Good,
                    format!("{} ({} bytes) -> {}", path.display(), m.len(), target.uri()),
                ),
                Ok(_) => check("upload", WillFail, format!("{} is not a file", path.display())),
                Err(e) => check("upload", WillFail, format!("{}: {e}", path.display())),
            }),
        }
    }
    let mut upload_buckets: Vec<&str> = plan
        .documents
        .iter()
        .filter_map(|d| match d {
            Document::Upload { target, .. } => Some(target.bucket.as_str()),
            Document::S3(_) => None,
        })
        .collect();
    upload_buckets.dedup();
    for bucket in upload_buckets {
        checks.push(bucket_check("upload", session, bucket, "the uploads").await);
    }

    let output_bucket = plan.output.as_ref().map(|(b, _)| b.as_str());
    if let Some(bucket) = output_bucket {
        checks.push(bucket_check("output", session, bucket, "the results").await);
    }
    let evidence = session
        .preflight_evidence(output_bucket, plan.kms_key.as_deref(), now)
        .await;
    let mut bucket_kms = false;
    if let Some(bucket) = output_bucket {
        let (status, detail) = match evidence
            .buckets
            .get(bucket)
            .and_then(|b| b.default_encryption.as_ref())
        {
            Some(Ok(d)) => {
                bucket_kms = d.sse.key_id().is_some() || matches!(d.sse, Sse::SseKms { .. });
                if bucket_kms && plan.kms_key.is_none() {
                    (
                        Unconfirmed,
                        format!(
                            "s3://{bucket} default encryption is {}: it applies to writes without encryption headers, so results may be stored SSE-KMS where the table documents SSE-S3 (rule bucket-default-override)",
                            d.sse.label()
                        ),
                    )
                } else {
                    (
                        Good,
                        format!("s3://{bucket} default encryption is {}", d.sse.label()),
                    )
                }
            }
            Some(Err(e)) if e.code == "ServerSideEncryptionConfigurationNotFoundError" => (
                Good,
                format!("s3://{bucket} has no default encryption (S3 applies SSE-S3)"),
            ),
            Some(Err(e)) => (
                Unconfirmed,
                format!("s3://{bucket}: GetBucketEncryption failed: {e}"),
            ),
            None => (
                Unconfirmed,
                format!("s3://{bucket}: default encryption not read"),
            ),
        };
        checks.push(check("output", status, detail));
    }
    if let Some(key) = &plan.kms_key {
        checks.push(key_check(&evidence, key));
    }
    checks.extend(trail_checks(
        &evidence,
        plan,
        session.region(),
        now,
        bucket_kms,
    ));

    Preflight {
        checks,
        expected: expected(rules, plan, &evidence),
    }
}

async fn bucket_check(subject: &'static str, session: &Session, bucket: &str, what: &str) -> Check {
    use CheckStatus::{Ok as Good, Unconfirmed, WillFail};
    match session.head_bucket(bucket).await {
        Ok(()) => check(
            subject,
            Good,
            format!(
                "s3://{bucket} exists and the caller may see it (HeadBucket); s3:PutObject for {what} is proven only by writing"
            ),
        ),
        Err(e) if not_found(&e) => check(
            subject,
            WillFail,
            format!(
                "s3://{bucket} does not exist (HeadBucket {}): create it in this Region",
                e.code
            ),
        ),
        Err(e) if denied(&e) => check(
            subject,
            Unconfirmed,
            format!(
                "s3://{bucket}: HeadBucket denied ({}): whether the caller may write {what} there cannot be told",
                e.code
            ),
        ),
        Err(e) => check(
            subject,
            Unconfirmed,
            format!(
                "s3://{bucket}: HeadBucket failed: {}: {}",
                e.code, e.message
            ),
        ),
    }
}

/// The requested key must be a customer key, enabled, for symmetric encryption.
fn key_check(evidence: &Evidence, given: &str) -> Check {
    use CheckStatus::{Ok as Good, Unconfirmed, WillFail};
    let Some(key) = evidence.keys.iter().find(|k| k.answers_to(given)) else {
        let problem = evidence
            .problems
            .iter()
            .find(|p| p.subject == format!("kms:DescribeKey {given}"));
        return match problem {
            Some(p) if p.reason.contains("NotFoundException") => check(
                "key",
                WillFail,
                format!("{given} does not exist in this Region ({})", p.reason),
            ),
            Some(p) => check(
                "key",
                Unconfirmed,
                format!(
                    "{given}: DescribeKey failed ({}); the caller needs kms:DescribeKey on it",
                    p.reason
                ),
            ),
            None => check(
                "key",
                Unconfirmed,
                format!("{given}: DescribeKey answered nothing usable"),
            ),
        };
    };
    let mut wrong = Vec::new();
    if key.key_state != "Enabled" {
        wrong.push(format!("KeyState is {} (must be Enabled)", key.key_state));
    }
    if key.key_manager != "CUSTOMER" {
        wrong.push(format!(
            "KeyManager is {} (rows 3 and 4 of the table need a customer managed key)",
            key.key_manager
        ));
    }
    if let Some(usage) = key.key_usage.as_deref().filter(|u| *u != "ENCRYPT_DECRYPT") {
        wrong.push(format!("KeyUsage is {usage} (must be ENCRYPT_DECRYPT)"));
    }
    if let Some(spec) = key
        .key_spec
        .as_deref()
        .filter(|s| *s != "SYMMETRIC_DEFAULT")
    {
        wrong.push(format!(
            "KeySpec is {spec} (S3 and Textract need SYMMETRIC_DEFAULT)"
        ));
    }
    if wrong.is_empty() {
        check(
            "key",
            Good,
            format!(
                "{given} -> {}: Enabled, CUSTOMER, ENCRYPT_DECRYPT; the caller also needs kms:GenerateDataKey, kms:Decrypt and kms:ReEncrypt* on it",
                key.arn
            ),
        )
    } else {
        check(
            "key",
            WillFail,
            format!("{given} -> {}: {}", key.arn, wrong.join("; ")),
        )
    }
}

/// Will a trail record the S3 data events of the results and the KMS events of the key?
fn trail_checks(
    evidence: &Evidence,
    plan: &Plan,
    region: &str,
    now: DateTime<Utc>,
    bucket_kms: bool,
) -> Vec<Check> {
    let judge = |logging: Logging, what: &str| match logging {
        Logging::Logged { trail } => {
            check("trail", CheckStatus::Ok, format!("{trail} logs {what}"))
        }
        Logging::NotLogged { reason } | Logging::Unknown { reason } => check(
            "trail",
            CheckStatus::Unconfirmed,
            format!("{reason}: verification will be INCONCLUSIVE for them"),
        ),
    };
    let mut checks = Vec::new();
    if let Some((bucket, folder)) = plan.output_folder() {
        checks.push(judge(
            coverage::data_event_logging(evidence, Some(region), Some(now), bucket, &folder),
            &format!("S3 write data events for s3://{bucket}/{folder}"),
        ));
    }
    if plan.kms_key.is_some() || bucket_kms {
        checks.push(judge(
            coverage::kms_event_logging(evidence, Some(region), Some(now)),
            "KMS management events",
        ));
    }
    checks
}

/// The documented row, where the results will be and under which key.
fn expected(rules: &RuleSet, plan: &Plan, evidence: &Evidence) -> String {
    let Some((n, row)) = rules.documented_row(plan.output.is_some(), plan.kms_key.is_some()) else {
        return "the documented table has no row for these settings".into();
    };
    let mut text = format!("row {n}: {}", row.documented);
    if let Some((bucket, folder)) = plan.output_folder() {
        text.push_str(&format!(", at s3://{bucket}/{folder}"));
    }
    if let Some(given) = &plan.kms_key {
        let arn = evidence
            .keys
            .iter()
            .find(|k| k.answers_to(given))
            .map_or(given.as_str(), |k| k.arn.as_str());
        text.push_str(&format!(", key {arn}"));
    }
    text
}
