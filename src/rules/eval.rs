//! The evaluators: one pure function per rule, from a job timeline to outcomes.
//!
//! Each says what it found with the evidence; missing evidence is INCONCLUSIVE with the
//! reason, never PASS. Severity and wording of the rule live in the rule file.

use chrono::Duration;

use super::{DocumentedEncryption, DocumentedLocation, Expected, Outcome, Status};
use crate::access::readers_allowed::{self, Checker, JobReads};
use crate::facts::SseApplied;
use crate::model::rfc3339;
use crate::model::{EvidenceRef, Reading, Sse};
use crate::timeline::{
    JobTimeline, KEY_CHANGE_DURING_JOB, Logging, ObjectKind, OutputObject, ResolvedKey, TIE_BUCKET,
    TIE_OBJECT, Writer,
};

pub type Evaluator = fn(Option<&Expected>, &JobTimeline) -> Vec<Outcome>;

const EVALUATORS: &[(&str, Evaluator)] = &[
    ("documented-mode", documented_mode),
    ("requested-cmk", requested_cmk),
    ("row2-aws-managed-key", row2_aws_managed_key),
    ("bucket-default-override", bucket_default_override),
    ("output-integrity", output_integrity),
    ("results-present", results_present),
    ("evidence-start-event", evidence_start_event),
    ("evidence-data-events", evidence_data_events),
    ("evidence-kms-events", evidence_kms_events),
    ("evidence-window", evidence_window),
    ("evidence-readable", evidence_readable),
    ("cmk-state", cmk_state),
    ("evidence-consistent", evidence_consistent),
    ("evidence-integrity", evidence_integrity),
    ("readers-allowed", readers_allowed),
];

pub const EVALUATOR_IDS: &[&str] = &[
    "documented-mode",
    "requested-cmk",
    "row2-aws-managed-key",
    "bucket-default-override",
    "output-integrity",
    "results-present",
    "evidence-start-event",
    "evidence-data-events",
    "evidence-kms-events",
    "evidence-window",
    "evidence-readable",
    "cmk-state",
    "evidence-consistent",
    "evidence-integrity",
    "readers-allowed",
];

/// `readers-allowed` without an allow-list: the readers are the proof.
fn readers_allowed(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    readers_allowed_with(t, None)
}

/// `readers-allowed`, judged by [`crate::access::readers_allowed`] on the job's reads; with
/// `checker`, against its allow-list.
pub(super) fn readers_allowed_with(
    t: &JobTimeline,
    checker: Option<&mut Checker<'_>>,
) -> Vec<Outcome> {
    let folder = t
        .output
        .as_ref()
        .map(|o| (o.bucket.as_str(), o.job_prefix(&t.job_id)));
    let job = JobReads {
        reads: &t.reads,
        output: folder.as_ref().map(|(b, f)| (*b, f.as_str())),
        job_tag: t.request.as_ref().and_then(|r| r.job_tag.as_deref()),
        since: t.started(),
        coverage: &t.read_coverage,
    };
    readers_allowed::evaluate(&job, checker)
        .into_iter()
        .map(|f| Outcome {
            status: match f.status {
                readers_allowed::Status::Pass => Status::Pass,
                readers_allowed::Status::Inconclusive => Status::Inconclusive,
                readers_allowed::Status::Fail => Status::Fail,
            },
            stronger: false,
            message: f.message,
            object: f.object,
            evidence: f.evidence,
        })
        .collect()
}

pub fn evaluator(id: &str) -> Option<Evaluator> {
    EVALUATORS.iter().find(|(i, _)| *i == id).map(|(_, f)| *f)
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

fn documented_mode(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    let Some(exp) = expected else {
        return vec![outcome(
            Status::Inconclusive,
            "what the job asked for is unknown without its Start* record, so the documented mode is unknown",
            vec![],
        )];
    };
    let start = t
        .request
        .as_ref()
        .map(|r| r.event.clone())
        .into_iter()
        .collect::<Vec<_>>();
    if exp.row.location == DocumentedLocation::Textract {
        return vec![outcome(
            Status::Pass,
            format!(
                "no OutputConfig: results {} (not observable beyond the Start* request)",
                exp.row.documented
            ),
            start,
        )];
    }
    let mut out = Vec::new();
    for o in textract_objects(t) {
        let judge = |sse: &Sse, key: Option<&ResolvedKey>, what: &str, ev: EvidenceRef| {
            let seen = describe(sse, key);
            let (status, stronger, msg) = match compare(exp, sse, key) {
                Comparison::Match | Comparison::OtherKey => (
                    Status::Pass,
                    false,
                    format!("{what}: {} as documented", sse.label()),
                ),
                Comparison::Unrecognised(v) => (
                    Status::Inconclusive,
                    false,
                    format!("{what}: encryption {v} is not a value this tool recognises"),
                ),
                Comparison::KeyUnknown(_) => (
                    Status::Pass,
                    false,
                    format!(
                        "{what}: {} as documented (key checked by requested-cmk)",
                        sse.label()
                    ),
                ),
                Comparison::AwsS3ForSseS3 => (
                    Status::NotApplicable,
                    false,
                    format!("{what}: {seen}; see row2-aws-managed-key"),
                ),
                Comparison::Weaker => (
                    Status::Fail,
                    false,
                    format!(
                        "{what}: {seen}, weaker than documented ({})",
                        exp.row.documented
                    ),
                ),
                Comparison::Stronger => (
                    Status::Fail,
                    true,
                    format!(
                        "{what}: {seen}, stronger than documented ({})",
                        exp.row.documented
                    ),
                ),
                Comparison::KmsOfUnknownKind => (
                    Status::Fail,
                    true,
                    format!(
                        "{what}: {seen}, not the documented {} (whether the key is aws/s3 or a customer key is unknown without KMS metadata)",
                        exp.row.documented
                    ),
                ),
            };
            let mut res = on(o, outcome(status, msg, vec![ev]));
            res.stronger = stronger;
            res
        };
        match &o.head {
            Some(Ok(h)) => out.push(judge(&h.sse, o.head_key.as_ref(), "stored", o.evidence())),
            Some(Err(e)) => out.push(on(
                o,
                outcome(
                    Status::Inconclusive,
                    format!("stored encryption unknown: HeadObject failed ({e})"),
                    vec![o.evidence()],
                ),
            )),
            None if gone(t, o) => out.push(on(
                o,
                outcome(
                    Status::NotApplicable,
                    "no longer stored (absent from the complete listing; see output-integrity)",
                    vec![o.evidence()],
                ),
            )),
            None => out.push(on(
                o,
                outcome(
                    Status::Inconclusive,
                    "stored encryption unknown: HeadObject was not collected",
                    vec![o.evidence()],
                ),
            )),
        }
        if let Some(w) = o.textract_write() {
            let j = judge(
                &w.sse,
                w.key.as_ref(),
                "written by Textract",
                w.event.clone(),
            );
            if j.status == Status::Fail {
                out.push(j);
            }
        }
    }
    if out.is_empty() {
        out.push(outcome(
            Status::NotApplicable,
            "no result objects to check (see results-present)",
            vec![],
        ));
    }
    out
}

fn requested_cmk(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    let Some(exp) = expected.filter(|e| e.row.encryption == DocumentedEncryption::RequestedCmk)
    else {
        return na("no KMSKeyId requested");
    };
    let want = match exp.key.as_ref().map(|k| &k.arn) {
        Some(Ok(a)) => a.clone(),
        Some(Err(why)) => {
            return vec![outcome(
                Status::Inconclusive,
                format!("the requested key cannot be resolved: {why}"),
                vec![],
            )];
        }
        None => return na("no KMSKeyId requested"),
    };
    let key_ref = EvidenceRef::KmsKey { arn: want.clone() };
    let mut out = Vec::new();
    let mut judge_key = |what: String,
                         got: Option<&ResolvedKey>,
                         ev: EvidenceRef,
                         object: Option<&OutputObject>| {
        let mut o = match got.and_then(ResolvedKey::arn) {
            Some(a) if a == want => outcome(
                Status::Pass,
                format!("{what}: the requested key"),
                vec![ev, key_ref.clone()],
            ),
            Some(_) if got.is_some_and(ResolvedKey::is_aws_s3) => outcome(
                Status::Fail,
                format!("{what}: the AWS managed aws/s3 key, not the requested CMK {want}"),
                vec![ev],
            ),
            Some(a) => outcome(
                Status::Fail,
                format!("{what}: key {a}, not the requested {want}"),
                vec![ev],
            ),
            None if got.is_none() => outcome(
                Status::Fail,
                format!(
                    "{what}: aws:kms with no key id, i.e. the AWS managed aws/s3 key, not {want}"
                ),
                vec![ev],
            ),
            None => outcome(
                Status::Inconclusive,
                format!(
                    "{what}: key {} cannot be resolved",
                    got.map(|g| g.given.as_str()).unwrap_or("?")
                ),
                vec![ev],
            ),
        };
        o.object = object.map(|x| x.object.uri());
        out.push(o);
    };
    if exp.row.location == DocumentedLocation::CustomerBucket {
        for o in textract_objects(t) {
            if let Some(Ok(h)) = &o.head
                && (h.sse.key_id().is_some()
                    || matches!(h.sse, Sse::SseKms { .. } | Sse::DsseKms { .. }))
            {
                judge_key(
                    "stored under".into(),
                    o.head_key.as_ref(),
                    o.evidence(),
                    Some(o),
                );
            }
            for w in o
                .writes
                .iter()
                .filter(|w| matches!(w.sse, Sse::SseKms { .. } | Sse::DsseKms { .. }))
            {
                judge_key(
                    format!("{} at {}", w.operation, rfc3339(w.time)),
                    w.key.as_ref(),
                    w.event.clone(),
                    Some(o),
                );
            }
        }
    }
    let mut corroboration = Vec::new();
    for k in &t.kms_uses {
        let what = format!("kms:{} ({}) at {}", k.operation, k.tie, rfc3339(k.time));
        let on_want = k.key.as_ref().and_then(ResolvedKey::arn) == Some(want.as_str());
        if k.tie == TIE_BUCKET && !on_want {
            // A Bucket Key call on the bucket may be another job's: it corroborates, it
            // never convicts.
            corroboration.push(outcome(
                Status::Inconclusive,
                format!("{what}: a Bucket Key call on the output bucket under another key; it may belong to another job writing there"),
                vec![k.event.clone()],
            ));
            continue;
        }
        judge_key(what, k.key.as_ref(), k.event.clone(), None);
    }
    out.extend(corroboration);
    let saw_key_use = out.iter().any(|o| o.status == Status::Pass);
    if exp.row.location == DocumentedLocation::Textract && !saw_key_use && out.is_empty() {
        out.push(outcome(
            Status::Inconclusive,
            "no KMS record shows Textract using the requested key for this job (results are kept inside Textract; only KMS events can show the key)",
            vec![key_ref],
        ));
    } else if out.is_empty() {
        out.push(outcome(
            Status::NotApplicable,
            "no SSE-KMS objects or KMS records for this job (see documented-mode)",
            vec![],
        ));
    }
    out
}

fn row2_aws_managed_key(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    let Some(exp) = expected.filter(|e| e.row.encryption == DocumentedEncryption::SseS3) else {
        return na("applies to jobs with OutputConfig and no KMSKeyId");
    };
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for o in textract_objects(t) {
        let observed: Vec<_> = o
            .head
            .as_ref()
            .and_then(|h| h.as_ref().ok())
            .map(|h| (&h.sse, o.head_key.as_ref(), o.evidence()))
            .into_iter()
            .chain(
                o.textract_write()
                    .map(|w| (&w.sse, w.key.as_ref(), w.event.clone())),
            )
            .collect();
        if observed.is_empty() {
            // Known from a listing only: its encryption was never seen.
            out.push(on(
                o,
                outcome(
                    Status::Inconclusive,
                    "neither HeadObject nor a write record shows this object's encryption",
                    vec![o.evidence()],
                ),
            ));
            continue;
        }
        // One finding per object at its worst status, citing every record that shows it: the
        // stored state, Textract's write and, for aws/s3, the KMS calls made for the object.
        let mut judged: Option<Outcome> = None;
        for (sse, key, ev) in observed {
            let o = match compare(exp, sse, key) {
                Comparison::KmsOfUnknownKind => outcome(
                    Status::Inconclusive,
                    format!(
                        "SSE-KMS with {}: whether that is the aws/s3 key is unknown (DescribeKey/ListAliases not collected)",
                        key.map(ResolvedKey::label).unwrap_or_default()
                    ),
                    vec![ev],
                ),
                Comparison::Unrecognised(v) => outcome(
                    Status::Inconclusive,
                    format!("encryption {v} is not a value this tool recognises"),
                    vec![ev],
                ),
                Comparison::AwsS3ForSseS3 => outcome(
                    Status::Fail,
                    "SSE-KMS under the AWS managed aws/s3 key where SSE-S3 is documented. AWS documents this case two ways: the StartDocumentAnalysis API reference says SSE-S3, the OutputConfig reference says the AWS managed key for Amazon S3 (aws/s3); this tool holds SSE-S3 as the contract",
                    vec![ev],
                ),
                _ => {
                    seen.push(ev);
                    continue;
                }
            };
            judged = Some(match judged {
                Some(mut j) if j.status == o.status => {
                    j.evidence.extend(o.evidence);
                    j
                }
                Some(j) if j.status > o.status => j,
                _ => o,
            });
        }
        if let Some(j) = judged.as_mut().filter(|j| j.status == Status::Fail) {
            j.evidence.extend(
                t.kms_uses
                    .iter()
                    .filter(|k| {
                        k.tie == TIE_OBJECT
                            && k.object_key.as_deref() == Some(o.object.key.as_str())
                            && k.key.as_ref().is_some_and(ResolvedKey::is_aws_s3)
                    })
                    .map(|k| k.event.clone()),
            );
        }
        out.extend(judged.map(|j| on(o, j)));
    }
    if out.is_empty() {
        let any = !seen.is_empty();
        out.push(outcome(
            if any {
                Status::Pass
            } else {
                Status::NotApplicable
            },
            if any {
                "no result object uses the aws/s3 key"
            } else {
                "no result objects"
            },
            seen,
        ));
    }
    out
}

fn bucket_default_override(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    let Some(exp) = in_bucket(expected) else {
        return na("no OutputConfig: no bucket involved");
    };
    let mut out = Vec::new();
    for o in textract_objects(t) {
        let Some(w) = o.textract_write() else {
            continue;
        };
        let unknown = match &w.sse_applied {
            Reading::Read(a) => Err(a),
            Reading::Unrecognised(v) => Ok(format!(
                "SSEApplied {v} is not a value this tool recognises"
            )),
            Reading::Absent => Ok("record has no SSEApplied".to_owned()),
        };
        let applied = match unknown {
            Err(a) => a,
            Ok(why) => {
                out.push(on(
                    o,
                    outcome(
                        Status::Inconclusive,
                        format!("{} {why}: who chose the encryption is unknown", w.operation),
                        vec![w.event.clone()],
                    ),
                ));
                continue;
            }
        };
        let by_default = matches!(applied, SseApplied::Default(_));
        let applied = applied.value();
        if !by_default {
            out.push(on(
                o,
                outcome(
                    Status::Pass,
                    format!("SSEApplied {applied}: the request chose the encryption"),
                    vec![w.event.clone()],
                ),
            ));
            continue;
        }
        let seen = describe(&w.sse, w.key.as_ref());
        let mut res = match compare(exp, &w.sse, w.key.as_ref()) {
            Comparison::Unrecognised(v) => outcome(
                Status::Inconclusive,
                format!("SSEApplied {applied}: encryption {v} is not a value this tool recognises"),
                vec![w.event.clone()],
            ),
            Comparison::Match => outcome(
                Status::Pass,
                format!(
                    "SSEApplied {applied}: the bucket default chose {seen}, which is the documented mode"
                ),
                vec![w.event.clone()],
            ),
            c => {
                let mut x = outcome(
                    Status::Fail,
                    format!(
                        "SSEApplied {applied}: the bucket default chose {seen} instead of the documented {}",
                        exp.row.documented
                    ),
                    vec![w.event.clone()],
                );
                x.stronger = matches!(c, Comparison::Stronger | Comparison::AwsS3ForSseS3);
                x
            }
        };
        res.object = Some(o.object.uri());
        out.push(res);
    }
    if out.is_empty() {
        out.push(outcome(
            Status::NotApplicable,
            "no write records for the results (see evidence-data-events)",
            vec![],
        ));
    }
    out
}

fn output_integrity(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    if t.output.is_none()
        || expected.is_some_and(|e| e.row.location == DocumentedLocation::Textract)
    {
        return na("no output folder");
    }
    let mut out = Vec::new();
    for o in &t.objects {
        let mut bad = Vec::new();
        for w in &o.writes {
            let (status, why) = match &w.writer {
                Writer::Textract => continue,
                Writer::Other(why) => (Status::Fail, why.clone()),
                Writer::Unknown(why) => (
                    Status::Inconclusive,
                    format!("whether Textract wrote it is unknown ({why})"),
                ),
            };
            bad.push(outcome(
                status,
                format!(
                    "{} by {} at {}: {why}",
                    w.operation,
                    w.actor,
                    rfc3339(w.time)
                ),
                vec![w.event.clone()],
            ));
        }
        for d in &o.deletes {
            bad.push(outcome(
                Status::Fail,
                "deleted after Textract wrote it".to_string(),
                vec![d.clone()],
            ));
        }
        let first = o.textract_write();
        if first.is_some() && o.kind == ObjectKind::ResultPage && gone(t, o) {
            bad.push(outcome(
                Status::Fail,
                "written by Textract but absent from the complete listing at capture: removed since",
                vec![o.evidence()],
            ));
        }
        if let (Some(w), Some(Ok(h))) = (first, &o.head) {
            let last_textract = o
                .writes
                .iter()
                .filter(|w| w.by_textract())
                .map(|w| w.time)
                .max()
                .unwrap_or(w.time);
            match &h.last_modified {
                Reading::Read(lm) if *lm > last_textract + Duration::seconds(60) => {
                    bad.push(outcome(Status::Fail, format!("stored object last modified {} but Textract last wrote it at {}: changed afterwards", rfc3339(*lm), rfc3339(last_textract)), vec![o.evidence(), w.event.clone()]));
                }
                Reading::Read(_) => {}
                Reading::Unrecognised(v) => bad.push(outcome(
                    Status::Inconclusive,
                    format!("HeadObject LastModified {v} is unreadable: whether the object changed after Textract wrote it is unknown"),
                    vec![o.evidence()],
                )),
                Reading::Absent => bad.push(outcome(
                    Status::Inconclusive,
                    "HeadObject gave no LastModified: whether the object changed after Textract wrote it is unknown",
                    vec![o.evidence()],
                )),
            }
            if let Some(v) = [&h.sse, &w.sse].into_iter().find_map(|x| match x {
                Sse::Other { value } => Some(value),
                _ => None,
            }) {
                bad.push(outcome(
                    Status::Inconclusive,
                    format!("encryption {v} is not a value this tool recognises: whether the object was re-encrypted is unknown"),
                    vec![o.evidence(), w.event.clone()],
                ));
            } else if h.sse.label() != w.sse.label()
                || o.head_key.as_ref().and_then(|k| k.arn()) != w.key.as_ref().and_then(|k| k.arn())
            {
                bad.push(outcome(
                    Status::Fail,
                    format!(
                        "re-encrypted: Textract wrote {}, stored now as {}",
                        describe(&w.sse, w.key.as_ref()),
                        describe(&h.sse, o.head_key.as_ref())
                    ),
                    vec![o.evidence(), w.event.clone()],
                ));
            }
        }
        if !bad.is_empty() {
            out.extend(bad.into_iter().map(|b| on(o, b)));
        } else if let Some(w) = first {
            let since = if matches!(o.head, Some(Ok(_))) {
                "stored unchanged since"
            } else {
                "no later write or delete recorded"
            };
            out.push(on(
                o,
                outcome(
                    Status::Pass,
                    format!("written once by Textract at {}; {since}", rfc3339(w.time)),
                    vec![w.event.clone()],
                ),
            ));
        } else {
            let msg = match o.kind {
                ObjectKind::Other => {
                    "not a documented Textract output and no record says who wrote it"
                }
                _ => "no write record: who wrote it, and whether it changed since, is unknown",
            };
            out.push(on(
                o,
                outcome(Status::Inconclusive, msg, vec![o.evidence()]),
            ));
        }
    }
    if out.is_empty() {
        out.push(outcome(
            Status::NotApplicable,
            "no objects in the output folder (see results-present)",
            vec![],
        ));
    }
    out
}

fn results_present(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    let status = t
        .status
        .as_ref()
        .and_then(|s| s.as_ref().ok())
        .map(|s| s.status.as_str());
    let status_ev: Vec<EvidenceRef> = t.status_evidence.clone().into_iter().collect();
    let Some(exp) = in_bucket(expected) else {
        // Results kept by Textract: nothing to list, but a job still running has no results
        // yet, wherever they will be kept.
        return match status {
            Some("IN_PROGRESS") => vec![outcome(
                Status::Inconclusive,
                "the job was still IN_PROGRESS when the evidence was captured",
                status_ev,
            )],
            _ => na("no OutputConfig: results are kept by Textract"),
        };
    };
    let pages: Vec<&OutputObject> = t
        .objects
        .iter()
        .filter(|o| {
            o.kind == ObjectKind::ResultPage
                && (o.listed || !o.writes.is_empty() || matches!(o.head, Some(Ok(_))))
        })
        .collect();
    let location = exp.location.clone().unwrap_or_default();
    match status {
        Some("FAILED") => return na("the job FAILED: no results are expected"),
        Some("IN_PROGRESS") => {
            return vec![outcome(
                Status::Inconclusive,
                "the job was still IN_PROGRESS when the evidence was captured",
                status_ev,
            )];
        }
        _ => {}
    }
    if !pages.is_empty() {
        let ev = pages.iter().map(|p| p.evidence()).collect();
        return vec![outcome(
            Status::Pass,
            format!("{} result page(s) under {location}", pages.len()),
            ev,
        )];
    }
    let succeeded = matches!(status, Some("SUCCEEDED" | "PARTIAL_SUCCESS"));
    match (&t.listing, succeeded) {
        (Some(Ok(true)), true) => vec![outcome(
            Status::Fail,
            format!("the job SUCCEEDED but {location} holds no result pages"),
            status_ev,
        )],
        (Some(Ok(true)), false) => vec![outcome(
            Status::Inconclusive,
            format!("{location} holds no result pages and the job's status is unknown"),
            status_ev,
        )],
        (Some(Ok(false)), _) => vec![outcome(
            Status::Inconclusive,
            format!("the listing of {location} is incomplete"),
            status_ev,
        )],
        (Some(Err(e)), _) => vec![outcome(
            Status::Inconclusive,
            format!("listing {location} failed: {e}"),
            status_ev,
        )],
        (None, _) => vec![outcome(
            Status::Inconclusive,
            format!("{location} was not listed and no write records name a result page"),
            status_ev,
        )],
    }
}

fn evidence_start_event(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    match &t.request {
        Some(r) => vec![outcome(
            Status::Pass,
            format!("{} by {}", r.api.start_operation(), r.caller),
            vec![r.event.clone()],
        )],
        None => vec![outcome(
            Status::Inconclusive,
            "no Start* record returning this job id is in the evidence",
            vec![],
        )],
    }
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

fn evidence_data_events(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    if t.output.is_none() {
        return na("no OutputConfig: no S3 data events to expect");
    }
    let writes: Vec<EvidenceRef> = t
        .objects
        .iter()
        .flat_map(|o| o.writes.iter().map(|w| w.event.clone()))
        .collect();
    vec![logging_outcome(
        &t.coverage.data_events,
        writes,
        "no write record for the output folder is in the evidence (log files missing?)",
    )]
}

fn evidence_kms_events(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    let kms_involved = expected
        .is_some_and(|e| e.row.encryption == DocumentedEncryption::RequestedCmk)
        || t.objects.iter().any(|o| o.head_key.is_some());
    if !kms_involved {
        return na("no KMS key involved");
    }
    let found: Vec<EvidenceRef> = t.kms_uses.iter().map(|k| k.event.clone()).collect();
    // With Bucket Keys S3 calls KMS once per session, possibly before the window: a missing
    // record is then expected, so only the logging itself is required.
    let bucket_keys = t
        .objects
        .iter()
        .any(|o| matches!(&o.head, Some(Ok(h)) if h.bucket_key_enabled));
    // Results in a bucket, none stored under SSE-KMS: S3 had no reason to call KMS.
    // Vacuous without objects: no objects is no reason to expect no KMS calls.
    let no_kms_objects = t.output.is_some()
        && !t.objects.is_empty()
        && t.objects.iter().all(|o| {
            matches!(&o.head, Some(Ok(h)) if h.sse.key_id().is_none() && !matches!(h.sse, Sse::SseKms { .. } | Sse::DsseKms { .. }))
        });
    let expected_absence = if bucket_keys {
        Some("as expected with S3 Bucket Keys")
    } else if no_kms_objects {
        Some("consistent with no object stored under SSE-KMS (see documented-mode)")
    } else {
        None
    };
    match (
        &t.coverage.kms_events,
        expected_absence.filter(|_| found.is_empty()),
    ) {
        (Logging::Logged { trail }, Some(why)) => vec![outcome(
            Status::Pass,
            format!("logged by {trail}; no KMS record in the window, {why}"),
            vec![],
        )],
        (l, _) => vec![logging_outcome(
            l,
            found,
            "no KMS record tied to this job is in the evidence",
        )],
    }
}

fn evidence_window(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    match &t.coverage.job_window {
        Ok(w) => vec![outcome(
            Status::Pass,
            format!(
                "job window {} to {} is inside the CloudTrail evidence window",
                rfc3339(w.from),
                rfc3339(w.until)
            ),
            vec![],
        )],
        Err(why) => vec![outcome(Status::Inconclusive, why.clone(), vec![])],
    }
}

fn evidence_readable(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    let mut out: Vec<Outcome> = t
        .problems
        .iter()
        .map(|p| {
            outcome(
                Status::Inconclusive,
                format!("{}: {}", p.subject, p.reason),
                vec![EvidenceRef::Problem {
                    subject: p.subject.clone(),
                }],
            )
        })
        .collect();
    for o in &t.objects {
        if let Some(Err(e)) = &o.head {
            out.push(on(
                o,
                outcome(
                    Status::Inconclusive,
                    format!("HeadObject {} failed: {e}", o.object.uri()),
                    vec![o.evidence()],
                ),
            ));
        }
    }
    if let (Some(Ok(false)), Some(loc)) = (&t.listing, &t.output) {
        // Issue 9 route 8: objects beyond the last recorded page were never checked.
        out.push(outcome(
            Status::Inconclusive,
            format!(
                "the listing of s3://{}/{} is incomplete (a page was truncated and the next one is missing): objects beyond it were never checked",
                loc.bucket,
                loc.job_prefix(&t.job_id)
            ),
            vec![],
        ));
    }
    if let Some(Err(e)) = &t.status
        && e.code != "InvalidJobIdException"
    {
        out.push(outcome(
            Status::Inconclusive,
            format!("Textract job status could not be read: {e}"),
            t.status_evidence.clone().into_iter().collect(),
        ));
    }
    if out.is_empty() {
        out.push(outcome(
            Status::Pass,
            "every piece of evidence bearing on the job was readable",
            vec![],
        ));
    }
    out
}

fn evidence_consistent(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    if t.conflicts.is_empty() {
        return vec![outcome(
            Status::Pass,
            "no two pieces of evidence bearing on the job contradict each other",
            vec![],
        )];
    }
    t.conflicts
        .iter()
        .map(|c| {
            outcome(
                Status::Inconclusive,
                format!("{}: {}", c.subject, c.reason),
                c.evidence.clone(),
            )
        })
        .collect()
}

/// At most this many log files are named in one "not validated" outcome.
const NAMED_UNVALIDATED: usize = 5;

fn evidence_integrity(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    use crate::integrity::run::Mode;
    let Some(i) = &t.integrity else {
        return na("--integrity off: no log file was validated");
    };
    let mut out: Vec<Outcome> = i
        .failures
        .iter()
        .map(|f| outcome(Status::Inconclusive, f.clone(), vec![]))
        .collect();
    let total = i.validated + i.not_validated.len();
    let unvalidated = || {
        let mut named: Vec<&str> = i
            .not_validated
            .iter()
            .take(NAMED_UNVALIDATED)
            .map(String::as_str)
            .collect();
        let more = i.not_validated.len().saturating_sub(NAMED_UNVALIDATED);
        let more = format!("and {more} more");
        if i.not_validated.len() > NAMED_UNVALIDATED {
            named.push(&more);
        }
        named.join("; ")
    };
    if !i.not_validated.is_empty() {
        let what = if i.digests_found == 0 {
            format!(
                "no digests, not validated: {} of {total} log file(s) of the job's window",
                i.not_validated.len()
            )
        } else {
            format!(
                "{} of {total} log file(s) of the job's window not validated",
                i.not_validated.len()
            )
        };
        match i.mode {
            Mode::Require => out.push(outcome(
                Status::Inconclusive,
                format!("{what} (--integrity require): {}", unvalidated()),
                vec![],
            )),
            _ if out.is_empty() => out.push(outcome(
                Status::NotApplicable,
                format!(
                    "{what}; taken as read under --integrity auto ({} validated): {}",
                    i.validated,
                    unvalidated()
                ),
                vec![],
            )),
            _ => {}
        }
    }
    if out.is_empty() {
        out.push(if total == 0 {
            outcome(
                Status::NotApplicable,
                "no trail log file of the job's window was read: nothing to validate",
                vec![],
            )
        } else {
            outcome(
                Status::Pass,
                format!(
                    "all {total} log file(s) of the job's window validated against CloudTrail's signed digests, no chain gap or missing file"
                ),
                vec![],
            )
        });
    }
    out
}

fn cmk_state(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    let Some(key) = expected
        .filter(|e| e.row.encryption == DocumentedEncryption::RequestedCmk)
        .and_then(|e| e.key.as_ref())
    else {
        return na("no KMSKeyId requested");
    };
    let key_ref: Vec<EvidenceRef> = key
        .arn()
        .map(|a| EvidenceRef::KmsKey { arn: a.to_owned() })
        .into_iter()
        .collect();
    let mut out: Vec<Outcome> = t
        .key_changes
        .iter()
        .filter(|c| {
            c.tie == KEY_CHANGE_DURING_JOB
                && matches!(c.operation.as_str(), "DisableKey" | "ScheduleKeyDeletion")
        })
        .map(|c| {
            outcome(
                Status::Fail,
                format!(
                    "{} by {} at {}, while the job ran",
                    c.operation,
                    c.actor,
                    rfc3339(c.time)
                ),
                vec![c.event.clone()],
            )
        })
        .collect();
    let later: Vec<EvidenceRef> = t
        .key_changes
        .iter()
        .filter(|c| c.tie != KEY_CHANGE_DURING_JOB)
        .map(|c| c.event.clone())
        .collect();
    out.push(match key.key_state.as_deref() {
        Some("Enabled") => outcome(
            Status::Pass,
            format!("{} is Enabled at capture", key.label()),
            key_ref,
        ),
        Some(state) if state != "UNKNOWN" => outcome(
            Status::Fail,
            format!(
                "{} is {state} at capture: results encrypted under it cannot be decrypted{}",
                key.label(),
                if state == "PendingDeletion" {
                    ", and once it is deleted they are lost"
                } else {
                    ""
                }
            ),
            key_ref.into_iter().chain(later).collect(),
        ),
        _ => outcome(
            Status::Inconclusive,
            format!(
                "the state of {} is unknown: DescribeKey was not collected or did not say",
                key.label()
            ),
            key_ref,
        ),
    });
    out
}

#[cfg(test)]
mod tests;
