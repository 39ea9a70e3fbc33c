//! `readers-allowed`: see `rules/readers-allowed.toml` for what it checks and why.

use crate::access::readers_allowed::{self, Checker, JobReads};
use crate::rules::{Expected, Outcome, Status};
use crate::timeline::JobTimeline;

/// `readers-allowed` without an allow-list: the readers are the proof.
pub(super) fn evaluate(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    with_checker(t, None)
}

/// `readers-allowed`, judged by [`crate::access::readers_allowed`] on the job's reads; with
/// `checker`, against its allow-list.
pub(in crate::rules) fn with_checker(
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
