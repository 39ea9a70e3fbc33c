//! `evidence-data-events`: see `rules/evidence-data-events.toml` for what it checks and why.

use crate::model::EvidenceRef;
use crate::rules::{Expected, Outcome};
use crate::timeline::JobTimeline;
use super::{logging_outcome, na};

pub(super) fn evaluate(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
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
