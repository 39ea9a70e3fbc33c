//! `row2-aws-managed-key`: see `rules/row2-aws-managed-key.toml` for what it checks and why.

use crate::rules::{DocumentedEncryption, Expected, Outcome, Status};
use crate::timeline::{JobTimeline, ResolvedKey, TIE_OBJECT};
use super::{Comparison, compare, na, on, outcome, textract_objects};

pub(super) fn evaluate(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
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
