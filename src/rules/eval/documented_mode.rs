//! `documented-mode`: see `rules/documented-mode.toml` for what it checks and why.

use crate::model::{EvidenceRef, Sse};
use crate::rules::{DocumentedLocation, Expected, Outcome, Status};
use crate::timeline::{JobTimeline, ResolvedKey};
use super::{Comparison, compare, describe, gone, on, outcome, textract_objects};

pub(super) fn evaluate(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
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
