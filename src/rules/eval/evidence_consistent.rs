//! `evidence-consistent`: see `rules/evidence-consistent.toml` for what it checks and why.

use crate::rules::{Expected, Outcome, Status};
use crate::timeline::JobTimeline;
use super::outcome;

pub(super) fn evaluate(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
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
