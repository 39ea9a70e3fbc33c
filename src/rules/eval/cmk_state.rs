//! `cmk-state`: see `rules/cmk-state.toml` for what it checks and why.

use crate::model::{EvidenceRef, rfc3339};
use crate::rules::{DocumentedEncryption, Expected, Outcome, Status};
use crate::timeline::{JobTimeline, KEY_CHANGE_DURING_JOB};
use super::{na, outcome};

pub(super) fn evaluate(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    let Some(key) = expected
        .filter(|e| e.row.encryption == DocumentedEncryption::RequestedCmk)
        .and_then(|e| e.key.as_ref())
    else {
        return na("no KMSKeyId requested");
    };
    let key_ref: Vec<EvidenceRef> = key
        .arn()
        .map(|a| EvidenceRef::KmsKey { arn: a.to_owned() })
        .into_iter()
        .collect();
    let mut out: Vec<Outcome> = t
        .key_changes
        .iter()
        .filter(|c| {
            c.tie == KEY_CHANGE_DURING_JOB
                && matches!(c.operation.as_str(), "DisableKey" | "ScheduleKeyDeletion")
        })
        .map(|c| {
            outcome(
                Status::Fail,
                format!(
                    "{} by {} at {}, while the job ran",
                    c.operation,
                    c.actor,
                    rfc3339(c.time)
                ),
                vec![c.event.clone()],
            )
        })
        .collect();
    let later: Vec<EvidenceRef> = t
        .key_changes
        .iter()
        .filter(|c| c.tie != KEY_CHANGE_DURING_JOB)
        .map(|c| c.event.clone())
        .collect();
    out.push(match key.key_state.as_deref() {
        Some("Enabled") => outcome(
            Status::Pass,
            format!("{} is Enabled at capture", key.label()),
            key_ref,
        ),
        Some(state) if state != "UNKNOWN" => outcome(
            Status::Fail,
            format!(
                "{} is {state} at capture: results encrypted under it cannot be decrypted{}",
                key.label(),
                if state == "PendingDeletion" {
                    ", and once it is deleted they are lost"
                } else {
                    ""
                }
            ),
            key_ref.into_iter().chain(later).collect(),
        ),
        _ => outcome(
            Status::Inconclusive,
            format!(
                "the state of {} is unknown: DescribeKey was not collected or did not say",
                key.label()
            ),
            key_ref,
        ),
    });
    out
}
