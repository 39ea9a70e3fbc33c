//! Stage 1: sources of raw evidence.
//!
//! Every source (an on-disk bundle, live AWS, trail log files) produces the same two things:
//! CloudTrail records and *recorded API calls*, each call kept as its request and its response
//! or error in the API's own JSON shape ([`CallRecord`]). One interpreter ([`interpret`]) turns
//! recorded calls into the [`Evidence`] model, so a live run and a run on the bundle it was
//! collected into read exactly the same facts the same way.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One AWS API call as evidence: the request and either the response or the error, with
/// members named as in the API reference (PascalCase). Stored in bundles under
/// `api/{service}/{Operation}.json`, produced the same way by the live collector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRecord {
    #[serde(rename = "Request", default)]
    pub request: Value,
    #[serde(rename = "Response", default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    #[serde(rename = "Error", default, skip_serializing_if = "Option::is_none")]
    pub error: Option<WireError>,
}

/// An API error as recorded: `{"Code": "AccessDenied", "Message": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireError {
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Message", default)]
    pub message: String,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

/// Recorded calls keyed by `(service, Operation)`, e.g. `("s3", "HeadObject")`.
pub type RecordedCalls = BTreeMap<(String, String), Vec<CallRecord>>;

pub mod bundle;
pub mod interpret;
pub mod live;
pub mod local;
pub mod policies;

use chrono::{DateTime, Utc};

use crate::model::rfc3339;
use crate::model::{
    Conflict, ConflictAbout, Evidence, EvidenceProblem, ProblemScope, Provenance, TimeWindow,
    TrailEvent,
};
use crate::trail;

/// What a source gathered before interpretation; exactly what a bundle stores, so that
/// verifying a source and verifying the bundle collected from it give the same report.
#[derive(Debug, Clone)]
pub struct Gathered {
    pub provenance: Provenance,
    pub calls: RecordedCalls,
    /// CloudTrail records as CloudTrail writes them (`LookupEvents`' parsed `CloudTrailEvent`).
    pub records: Vec<Value>,
    /// The window the CloudTrail records were read for; `None` when it could not be read.
    pub cloudtrail_window: Option<TimeWindow>,
    /// Evidence met while collecting that could not be used (a trail log file that would not
    /// decode, a download that failed): kept, so the bundle's report says so too.
    pub problems: Vec<EvidenceProblem>,
}

impl Gathered {
    /// `{"Records": […]}`: the records as a trail log file holds them.
    pub fn log_file(&self) -> Vec<u8> {
        let mut text =
            serde_json::to_string_pretty(&serde_json::json!({ "Records": self.records }))
                .expect("JSON values serialize");
        text.push('\n');
        text.into_bytes()
    }

    /// The evidence model. The records are decoded as the bundle loader decodes a log file,
    /// so a malformed record rejects them all here exactly as it rejects the collected file.
    pub fn into_evidence(self) -> Evidence {
        let mut problems = self.problems.clone();
        let events = match trail::decode_log_file(bundle::LOOKUP_EVENTS_FILE, &self.log_file()) {
            Ok(events) => events,
            Err(e) => {
                problems.push(EvidenceProblem {
                    subject: "cloudtrail:LookupEvents records".into(),
                    reason: format!("{e}; the records are not used"),
                    scope: ProblemScope::CloudTrail {
                        from: self.cloudtrail_window.map(|w| w.from),
                        until: self.cloudtrail_window.map(|w| w.until),
                    },
                });
                Vec::new()
            }
        };
        assemble(
            self.provenance,
            &self.calls,
            events,
            self.cloudtrail_window,
            problems,
        )
    }
}

/// Builds the evidence model from what a source gathered: recorded calls are interpreted,
/// CloudTrail records are kept as they are (deduplicated by `eventID`, as the same record
/// can arrive from a log file and from `LookupEvents`).
pub fn assemble(
    provenance: Provenance,
    calls: &RecordedCalls,
    events: Vec<TrailEvent>,
    cloudtrail_window: Option<TimeWindow>,
    problems: Vec<EvidenceProblem>,
) -> Evidence {
    let mut evidence = Evidence::new(provenance);
    evidence.problems = problems;
    interpret::interpret(calls, &mut evidence);
    evidence.add_records(events);
    evidence.cloudtrail_window = cloudtrail_window;
    evidence
}

impl Evidence {
    /// The one way CloudTrail records from any source join the evidence: the merge of
    /// records seen by several sources happens here and nowhere else.
    pub fn add_records(&mut self, records: impl IntoIterator<Item = TrailEvent>) {
        // Done in place: an audit of a busy day holds millions of records, and a second
        // buffer of them (or a merge sort's scratch half) would double the peak.
        if self.events.is_empty() {
            self.events = records.into_iter().collect();
        } else {
            self.events.extend(records);
        }
        // Ordered by time; exact repeats dropped (the same record can come from a log file,
        // `LookupEvents` and a bundle). Two *different* records with one `eventID` are a
        // conflict: both are kept, and the conflict is named.
        let mut order: Vec<usize> = (0..self.events.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&self.events[a], &self.events[b]);
            (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id))
        });
        permute(&mut self.events, order);
        // A repeat has the repeated record's time and id, so it is in its run of equal keys.
        let mut keep = vec![true; self.events.len()];
        let mut run = 0;
        for i in 0..self.events.len() {
            let e = &self.events[i];
            if (e.event_time, &e.event_id)
                != (self.events[run].event_time, &self.events[run].event_id)
            {
                run = i;
            }
            keep[i] = !(run..i).any(|j| keep[j] && self.events[j] == *e);
        }
        let mut kept = keep.into_iter();
        self.events.retain(|_| kept.next().unwrap_or(true));
        self.events.shrink_to_fit();
        let kept = &self.events;
        let mut by_id: Vec<usize> = (0..kept.len()).collect();
        by_id.sort_by(|&a, &b| kept[a].event_id.cmp(&kept[b].event_id));
        let twice: Vec<(String, Vec<usize>)> = by_id
            .chunk_by(|&a, &b| kept[a].event_id == kept[b].event_id)
            .filter(|at| at.len() > 1)
            .map(|at| (kept[at[0]].event_id.clone(), at.to_vec()))
            .collect();
        self.conflicts
            .retain(|c| !matches!(c.about, ConflictAbout::Event(_)));
        for (id, at) in twice {
            self.conflicts.push(Conflict {
                subject: format!("eventID {id}"),
                reason: format!(
                    "{} different CloudTrail records carry this eventID ({}); none is believed over the others",
                    at.len(),
                    at.iter()
                        .map(|&i| format!("{} at {}", kept[i].event_name, crate::model::rfc3339(kept[i].event_time)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                about: ConflictAbout::Event(id),
                evidence: at.iter().map(|&i| kept[i].evidence()).collect(),
            });
        }
    }
}

/// Reorders `items` in place so that the item at `k` is the one that was at `order[k]`
/// (`order` a permutation of the indices).
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..items.len() {
        let mut at = start;
        loop {
            let from = std::mem::replace(&mut order[at], at);
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

/// CloudTrail records a source found, before they join the evidence ([`Part::add_to`]): the
/// records, problems, provenance lines and integrity inputs, and the window they cover by the
/// weakest claim (log file names, queried partitions).
#[derive(Debug, Clone)]
pub struct Part {
    pub evidence: Evidence,
    /// What the log files' names cover, cut to the window they were read for.
    pub covered: Option<TimeWindow>,
}

impl Part {
    /// Adds the scan to `evidence`. The window file names cover fills an unknown CloudTrail
    /// window only: file names do not prove that no file is missing, so they never widen
    /// what another source proves.
    pub fn add_to(self, evidence: &mut Evidence) {
        let part = self.evidence;
        evidence.provenance.sources.extend(part.provenance.sources);
        evidence.add_records(part.events);
        evidence.problems.extend(part.problems);
        let inputs = &mut evidence.integrity_inputs;
        inputs.extend(&part.integrity_inputs);
        let Some(covered) = self.covered else {
            return;
        };
        let note = format!(
            "trail log file names cover {} to {}",
            rfc3339(covered.from),
            rfc3339(covered.until)
        );
        match evidence.cloudtrail_window {
            None => {
                evidence.cloudtrail_window = Some(covered);
                evidence
                    .provenance
                    .sources
                    .push(format!("CloudTrail window: {note}"));
            }
            Some(had) => evidence.provenance.sources.push(format!(
                "{note}; not added to the CloudTrail window of the other sources ({} to {}): \
                 log file names do not prove that no file is missing",
                rfc3339(had.from),
                rfc3339(had.until)
            )),
        }
    }
}

/// The capture time a source stamps on its evidence: now, to the second.
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(0)
}

#[cfg(test)]
mod tests {
    use super::permute;

    #[test]
    fn permute_puts_each_item_where_the_order_says() {
        let mut state = 0x9e37_79b9_u64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for n in 0..40 {
            let mut order: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                order.swap(i, next(i + 1));
            }
            let items: Vec<String> = (0..n).map(|i| format!("item {i}")).collect();
            let expected: Vec<String> = order.iter().map(|&i| items[i].clone()).collect();
            let mut got = items;
            permute(&mut got, order);
            assert_eq!(got, expected, "n = {n}");
        }
    }
}
