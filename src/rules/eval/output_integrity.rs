//! `output-integrity`: see `rules/output-integrity.toml` for what it checks and why.

use chrono::Duration;
use crate::model::{Reading, Sse, rfc3339};
use crate::rules::{DocumentedLocation, Expected, Outcome, Status};
use crate::timeline::{JobTimeline, ObjectKind, Writer};
use super::{describe, gone, na, on, outcome};

pub(super) fn evaluate(expected: Option<&Expected>, t: &JobTimeline) -> Vec<Outcome> {
    if t.output.is_none()
        || expected.is_some_and(|e| e.row.location == DocumentedLocation::Textract)
    {
        return na("no output folder");
    }
    let mut out = Vec::new();
    for o in &t.objects {
        let mut bad = Vec::new();
        for w in &o.writes {
            let (status, why) = match &w.writer {
                Writer::Textract => continue,
                Writer::Other(why) => (Status::Fail, why.clone()),
                Writer::Unknown(why) => (
                    Status::Inconclusive,
                    format!("whether Textract wrote it is unknown ({why})"),
                ),
            };
            bad.push(outcome(
                status,
                format!(
                    "{} by {} at {}: {why}",
                    w.operation,
                    w.actor,
                    rfc3339(w.time)
                ),
                vec![w.event.clone()],
            ));
        }
        for d in &o.deletes {
            bad.push(outcome(
                Status::Fail,
                "deleted after Textract wrote it".to_string(),
                vec![d.clone()],
            ));
        }
        let first = o.textract_write();
        if first.is_some() && o.kind == ObjectKind::ResultPage && gone(t, o) {
            bad.push(outcome(
                Status::Fail,
                "written by Textract but absent from the complete listing at capture: removed since",
                vec![o.evidence()],
            ));
        }
        if let (Some(w), Some(Ok(h))) = (first, &o.head) {
            let last_textract = o
                .writes
                .iter()
                .filter(|w| w.by_textract())
                .map(|w| w.time)
                .max()
                .unwrap_or(w.time);
            match &h.last_modified {
                Reading::Read(lm) if *lm > last_textract + Duration::seconds(60) => {
                    bad.push(outcome(Status::Fail, format!("stored object last modified {} but Textract last wrote it at {}: changed afterwards", rfc3339(*lm), rfc3339(last_textract)), vec![o.evidence(), w.event.clone()]));
                }
                Reading::Read(_) => {}
                Reading::Unrecognised(v) => bad.push(outcome(
                    Status::Inconclusive,
                    format!("HeadObject LastModified {v} is unreadable: whether the object changed after Textract wrote it is unknown"),
                    vec![o.evidence()],
                )),
                Reading::Absent => bad.push(outcome(
                    Status::Inconclusive,
                    "HeadObject gave no LastModified: whether the object changed after Textract wrote it is unknown",
                    vec![o.evidence()],
                )),
            }
            if let Some(v) = [&h.sse, &w.sse].into_iter().find_map(|x| match x {
                Sse::Other { value } => Some(value),
                _ => None,
            }) {
                bad.push(outcome(
                    Status::Inconclusive,
                    format!("encryption {v} is not a value this tool recognises: whether the object was re-encrypted is unknown"),
                    vec![o.evidence(), w.event.clone()],
                ));
            } else if h.sse.label() != w.sse.label()
                || o.head_key.as_ref().and_then(|k| k.arn()) != w.key.as_ref().and_then(|k| k.arn())
            {
                bad.push(outcome(
                    Status::Fail,
                    format!(
                        "re-encrypted: Textract wrote {}, stored now as {}",
                        describe(&w.sse, w.key.as_ref()),
                        describe(&h.sse, o.head_key.as_ref())
                    ),
                    vec![o.evidence(), w.event.clone()],
                ));
            }
        }
        if !bad.is_empty() {
            out.extend(bad.into_iter().map(|b| on(o, b)));
        } else if let Some(w) = first {
            let since = if matches!(o.head, Some(Ok(_))) {
                "stored unchanged since"
            } else {
                "no later write or delete recorded"
            };
            out.push(on(
                o,
                outcome(
                    Status::Pass,
                    format!("written once by Textract at {}; {since}", rfc3339(w.time)),
                    vec![w.event.clone()],
                ),
            ));
        } else {
            let msg = match o.kind {
                ObjectKind::Other => {
                    "not a documented Textract output and no record says who wrote it"
                }
                _ => "no write record: who wrote it, and whether it changed since, is unknown",
            };
            out.push(on(
                o,
                outcome(Status::Inconclusive, msg, vec![o.evidence()]),
            ));
        }
    }
    if out.is_empty() {
        out.push(outcome(
            Status::NotApplicable,
            "no objects in the output folder (see results-present)",
            vec![],
        ));
    }
    out
}
