//! `evidence-integrity`: see `rules/evidence-integrity.toml` for what it checks and why.

use crate::rules::{Expected, Outcome, Status};
use crate::timeline::JobTimeline;
use super::{na, outcome};

/// At most this many log files are named in one "not validated" outcome.
const NAMED_UNVALIDATED: usize = 5;

pub(super) fn evaluate(_: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    use crate::integrity::run::Mode;
    let Some(i) = &t.integrity else {
        return na("--integrity off: no log file was validated");
    };
    let mut out: Vec<Outcome> = i
        .failures
        .iter()
        .map(|f| outcome(Status::Inconclusive, f.clone(), vec![]))
        .collect();
    let total = i.validated + i.not_validated.len();
    let unvalidated = || {
        let mut named: Vec<&str> = i
            .not_validated
            .iter()
            .take(NAMED_UNVALIDATED)
            .map(String::as_str)
            .collect();
        let more = i.not_validated.len().saturating_sub(NAMED_UNVALIDATED);
        let more = format!("and {more} more");
        if i.not_validated.len() > NAMED_UNVALIDATED {
            named.push(&more);
        }
        named.join("; ")
    };
    if !i.not_validated.is_empty() {
        let what = if i.digests_found == 0 {
            format!(
                "no digests, not validated: {} of {total} log file(s) of the job's window",
                i.not_validated.len()
            )
        } else {
            format!(
                "{} of {total} log file(s) of the job's window not validated",
                i.not_validated.len()
            )
        };
        match i.mode {
            Mode::Require => out.push(outcome(
                Status::Inconclusive,
                format!("{what} (--integrity require): {}", unvalidated()),
                vec![],
            )),
            _ if out.is_empty() => out.push(outcome(
                Status::NotApplicable,
                format!(
                    "{what}; taken as read under --integrity auto ({} validated): {}",
                    i.validated,
                    unvalidated()
                ),
                vec![],
            )),
            _ => {}
        }
    }
    if out.is_empty() {
        out.push(if total == 0 {
            outcome(
                Status::NotApplicable,
                "no trail log file of the job's window was read: nothing to validate",
                vec![],
            )
        } else {
            outcome(
                Status::Pass,
                format!(
                    "all {total} log file(s) of the job's window validated against CloudTrail's signed digests, no chain gap or missing file"
                ),
                vec![],
            )
        });
    }
    out
}
