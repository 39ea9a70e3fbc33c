//! `evidence-start-event`: see `rules/evidence-start-event.toml` for what it checks and why.

use crate::rules::{Expected, Outcome, Status};
use crate::timeline::JobTimeline;
use super::outcome;

pub(super) fn evaluate(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
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
