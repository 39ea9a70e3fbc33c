//! The evaluators: one module per rule, each a pure function from a job timeline to outcomes,
//! with its own wording; this file holds the registry and the helpers they share.
//!
//! Each says what it found with the evidence; missing evidence is INCONCLUSIVE with the
//! reason, never PASS. Severity and the rule's title, rationale and remediation live in its
//! rule file.

use super::{DocumentedEncryption, DocumentedLocation, Expected, Outcome, Status};
use crate::coverage::Logging;
use crate::model::{EvidenceRef, Sse};
use crate::timeline::{JobTimeline, OutputObject, ResolvedKey};

/// What an evaluator is: from what the documented table expects of the job (if its request is
/// known) and the job's timeline, to what the rule found.
pub type Evaluator = fn(Option<&Expected>, &JobTimeline) -> Vec<Outcome>;

/// A rule as compiled into the binary: its file in `rules/` and its evaluator.
pub struct Registered {
    pub id: &'static str,
    /// `{id}.toml`.
    pub file: &'static str,
    /// The file's contents, compiled in so the binary is self-contained.
    pub text: &'static str,
    pub evaluate: Evaluator,
}

/// Declares each rule's evaluator module and derives [`REGISTRY`] from the same line: the file
/// name and contents from the id, the evaluator from the module's `evaluate`.
macro_rules! register_rules {
    ($($module:ident => $id:literal,)*) => {
        $(pub(super) mod $module;)*

        /// Every rule, in the order its findings are reported.
        pub const REGISTRY: &[Registered] = &[$(Registered {
            id: $id,
            file: concat!($id, ".toml"),
            text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/", $id, ".toml")),
            evaluate: $module::evaluate,
        },)*];
    };
}

// One line per rule: `module => "rule-id"` (the module is `eval/{module}.rs`, the rule file
// `rules/{rule-id}.toml`).
register_rules! {
    documented_mode => "documented-mode",
    requested_cmk => "requested-cmk",
    row2_aws_managed_key => "row2-aws-managed-key",
    bucket_default_override => "bucket-default-override",
    output_integrity => "output-integrity",
    results_present => "results-present",
    evidence_start_event => "evidence-start-event",
    evidence_data_events => "evidence-data-events",
    evidence_kms_events => "evidence-kms-events",
    evidence_window => "evidence-window",
    evidence_readable => "evidence-readable",
    cmk_state => "cmk-state",
    evidence_consistent => "evidence-consistent",
    evidence_integrity => "evidence-integrity",
    readers_allowed => "readers-allowed",
}

/// The evaluator registered for a rule id.
pub fn evaluator(id: &str) -> Option<Evaluator> {
    REGISTRY.iter().find(|r| r.id == id).map(|r| r.evaluate)
}

fn outcome(status: Status, message: impl Into<String>, evidence: Vec<EvidenceRef>) -> Outcome {
    Outcome {
        status,
        stronger: false,
        message: message.into(),
        object: None,
        evidence,
    }
}

fn on(object: &OutputObject, mut o: Outcome) -> Outcome {
    o.object = Some(object.object.uri());
    o
}

fn na(message: impl Into<String>) -> Vec<Outcome> {
    vec![outcome(Status::NotApplicable, message, vec![])]
}

/// How an observed encryption compares with the documented one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Comparison {
    Match,
    /// Weaker than documented (SSE-S3 for SSE-KMS, no encryption, unknown algorithm).
    Weaker,
    /// Stronger than documented (SSE-KMS for SSE-S3, DSSE for SSE-KMS).
    Stronger,
    /// SSE-KMS as documented but under another key (incl. aws/s3 or no key id).
    OtherKey,
    /// SSE-KMS under aws/s3 where SSE-S3 is documented: the AWS documentation conflict.
    AwsS3ForSseS3,
    /// SSE-KMS where SSE-S3 is documented, under a key the evidence cannot tell apart from
    /// aws/s3 (no KMS metadata): a deviation either way, its kind unknown.
    KmsOfUnknownKind,
    /// The requested key could not be resolved, so keys cannot be compared.
    KeyUnknown(String),
    /// An encryption value this tool does not recognise: it cannot be compared.
    Unrecognised(String),
}

fn compare(expected: &Expected, sse: &Sse, key: Option<&ResolvedKey>) -> Comparison {
    // `aws:kms` without a key id means the AWS managed aws/s3 key.
    let aws_s3 = key.map_or(Some(true), ResolvedKey::aws_s3);
    match (expected.row.encryption, sse) {
        (_, Sse::Other { value }) => Comparison::Unrecognised(value.clone()),
        (DocumentedEncryption::SseS3, Sse::SseS3) => Comparison::Match,
        (DocumentedEncryption::SseS3, Sse::SseKms { .. }) if aws_s3 == Some(true) => {
            Comparison::AwsS3ForSseS3
        }
        (DocumentedEncryption::SseS3, Sse::SseKms { .. }) if aws_s3.is_none() => {
            Comparison::KmsOfUnknownKind
        }
        (DocumentedEncryption::SseS3, Sse::SseKms { .. } | Sse::DsseKms { .. }) => {
            Comparison::Stronger
        }
        (DocumentedEncryption::RequestedCmk, Sse::SseKms { .. } | Sse::DsseKms { .. }) => {
            let want = match expected.key.as_ref().map(|k| &k.arn) {
                Some(Ok(a)) => a,
                Some(Err(why)) => return Comparison::KeyUnknown(why.clone()),
                None => return Comparison::KeyUnknown("no key was requested".into()),
            };
            match key.and_then(ResolvedKey::arn) {
                Some(got) if got == want && matches!(sse, Sse::DsseKms { .. }) => {
                    Comparison::Stronger
                }
                Some(got) if got == want => Comparison::Match,
                _ => Comparison::OtherKey,
            }
        }
        _ => Comparison::Weaker,
    }
}

fn describe(sse: &Sse, key: Option<&ResolvedKey>) -> String {
    match (sse, key) {
        (Sse::SseKms { .. } | Sse::DsseKms { .. }, Some(k)) => {
            format!("{} with {}", sse.label(), k.label())
        }
        (Sse::SseKms { .. } | Sse::DsseKms { .. }, None) => {
            format!("{} with no key id (aws/s3)", sse.label())
        }
        _ => sse.label(),
    }
}

fn in_bucket(expected: Option<&Expected>) -> Option<&Expected> {
    expected.filter(|e| e.row.location == DocumentedLocation::CustomerBucket)
}

/// Known from write records but absent from a complete listing of the folder.
fn gone(t: &JobTimeline, o: &OutputObject) -> bool {
    !o.listed && o.head.is_none() && matches!(t.listing, Some(Ok(true)))
}

/// The objects whose encryption must match the table: every object in the job folder
/// (result pages, the lending layout's folders, the access check, and anything else that
/// appears there).
fn textract_objects(t: &JobTimeline) -> impl Iterator<Item = &OutputObject> {
    t.objects.iter()
}

fn logging_outcome(l: &Logging, found: Vec<EvidenceRef>, missing_msg: &str) -> Outcome {
    match l {
        Logging::Logged { trail } if !found.is_empty() => outcome(
            Status::Pass,
            format!("logged by {trail}; {} record(s) found", found.len()),
            found,
        ),
        Logging::Logged { trail } => outcome(
            Status::Inconclusive,
            format!("logged by {trail}, but {missing_msg}"),
            vec![],
        ),
        Logging::NotLogged { reason } | Logging::Unknown { reason } => {
            outcome(Status::Inconclusive, reason.clone(), vec![])
        }
    }
}

#[cfg(test)]
mod tests;
