//! `results-present`: see `rules/results-present.toml` for what it checks and why.

use crate::model::EvidenceRef;
use crate::rules::{Expected, Outcome, Status};
use crate::timeline::{JobTimeline, ObjectKind, OutputObject};
use super::{in_bucket, na, outcome};

pub(super) fn evaluate(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    let status = t
        .status
        .as_ref()
        .and_then(|s| s.as_ref().ok())
        .map(|s| s.status.as_str());
    let status_ev: Vec<EvidenceRef> = t.status_evidence.clone().into_iter().collect();
    let Some(exp) = in_bucket(expected) else {
        // Results kept by Textract: nothing to list, but a job still running has no results
        // yet, wherever they will be kept.
        return match status {
            Some("IN_PROGRESS") => vec![outcome(
                Status::Inconclusive,
                "the job was still IN_PROGRESS when the evidence was captured",
                status_ev,
            )],
            _ => na("no OutputConfig: results are kept by Textract"),
        };
    };
    let pages: Vec<&OutputObject> = t
        .objects
        .iter()
        .filter(|o| {
            o.kind == ObjectKind::ResultPage
                && (o.listed || !o.writes.is_empty() || matches!(o.head, Some(Ok(_))))
        })
        .collect();
    let location = exp.location.clone().unwrap_or_default();
    match status {
        Some("FAILED") => return na("the job FAILED: no results are expected"),
        Some("IN_PROGRESS") => {
            return vec![outcome(
                Status::Inconclusive,
                "the job was still IN_PROGRESS when the evidence was captured",
                status_ev,
            )];
        }
        _ => {}
    }
    if !pages.is_empty() {
        let ev = pages.iter().map(|p| p.evidence()).collect();
        return vec![outcome(
            Status::Pass,
            format!("{} result page(s) under {location}", pages.len()),
            ev,
        )];
    }
    let succeeded = matches!(status, Some("SUCCEEDED" | "PARTIAL_SUCCESS"));
    match (&t.listing, succeeded) {
        (Some(Ok(true)), true) => vec![outcome(
            Status::Fail,
            format!("the job SUCCEEDED but {location} holds no result pages"),
            status_ev,
        )],
        (Some(Ok(true)), false) => vec![outcome(
            Status::Inconclusive,
            format!("{location} holds no result pages and the job's status is unknown"),
            status_ev,
        )],
        (Some(Ok(false)), _) => vec![outcome(
            Status::Inconclusive,
            format!("the listing of {location} is incomplete"),
            status_ev,
        )],
        (Some(Err(e)), _) => vec![outcome(
            Status::Inconclusive,
            format!("listing {location} failed: {e}"),
            status_ev,
        )],
        (None, _) => vec![outcome(
            Status::Inconclusive,
            format!("{location} was not listed and no write records name a result page"),
            status_ev,
        )],
    }
}
