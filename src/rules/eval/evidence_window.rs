//! `evidence-window`: see `rules/evidence-window.toml` for what it checks and why.

use crate::model::rfc3339;
use crate::rules::{Expected, Outcome, Status};
use crate::timeline::JobTimeline;
use super::outcome;

pub(super) fn evaluate(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
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
