//! `evidence-kms-events`: see `rules/evidence-kms-events.toml` for what it checks and why.

use crate::model::{EvidenceRef, Sse};
use crate::rules::{DocumentedEncryption, Expected, Outcome, Status};
use crate::coverage::Logging;
use crate::timeline::JobTimeline;
use super::{logging_outcome, na, outcome};

pub(super) fn evaluate(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
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
