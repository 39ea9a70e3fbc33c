//! `requested-cmk`: see `rules/requested-cmk.toml` for what it checks and why.

use crate::model::{EvidenceRef, Sse, rfc3339};
use crate::rules::{DocumentedEncryption, DocumentedLocation, Expected, Outcome, Status};
use crate::timeline::{JobTimeline, OutputObject, ResolvedKey, TIE_BUCKET};
use super::{na, outcome, textract_objects};

pub(super) fn evaluate(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
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
