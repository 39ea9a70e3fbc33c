//! `evidence-readable`: see `rules/evidence-readable.toml` for what it checks and why.

use crate::model::EvidenceRef;
use crate::rules::{Expected, Outcome, Status};
use crate::timeline::JobTimeline;
use super::{on, outcome};

pub(super) fn evaluate(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
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
